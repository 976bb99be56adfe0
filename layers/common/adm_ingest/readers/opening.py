"""Opening a stream: compression, byte-order mark and format, detected at the start of a file."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

from adm_ingest.readers.encoding import UTF8, Decoding
from adm_ingest.readers.formats import BLOCK_SIZE, FileFormatError, Format

_SNIFF_BYTES = 64 << 10
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CONTENT = re.compile(rb"[^ \t\r\n]")


class Readable(Protocol):
    """The part of a binary file object the readers use."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Opened:
    """A stream after compression, BOM and format detection."""

    format: Format
    compressed: bool
    data_offset: int
    """Bytes skipped before ``blocks`` starts (a BOM); a file offset only when not compressed."""
    blocks: Iterator[bytes]


def open_stream(
    stream: Readable, format: Format | str | None, *, at_file_start: bool, decoding: Decoding
) -> Opened:
    """Detect compression, skip a BOM, settle the format and watch for the encoding.

    Only the start of a file can be compressed or carry a BOM; a byte range (not
    ``at_file_start``) is taken byte for byte, so it reads exactly as it did within the file.
    A BOM or a JSON format settles ``decoding`` as UTF-8; otherwise the blocks pass through
    :meth:`Decoding.watch` (a no-op once the encoding is settled).
    """
    fmt = _parse_format(format)
    blocks = _read_blocks(stream)
    if not at_file_start:
        if fmt is None:
            head, rest = _peek(blocks, _SNIFF_BYTES, until=CONTENT)
            fmt, blocks = _sniff(head), chain((head,), rest)
        return Opened(fmt, False, 0, blocks)
    head, rest = _peek(blocks, len(_GZIP_MAGIC))
    compressed = head.startswith(_GZIP_MAGIC)
    blocks = chain((head,), rest)
    if compressed:
        blocks = _gunzip(blocks)
    head, rest = _peek(blocks, len(_UTF8_BOM))
    if head.startswith(_UTF16_BOMS):
        raise FileFormatError("the file is UTF-16 encoded; only UTF-8 is supported")
    data_offset = 0
    if head.startswith(_UTF8_BOM):
        head, data_offset = head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    head, rest = _peek(chain((head,), rest), _SNIFF_BYTES, until=CONTENT)
    if b"\x00" in head[:_SNIFF_BYTES]:
        raise FileFormatError("the file holds binary data: unknown format")
    if not CONTENT.search(head):
        raise FileFormatError(
            "the file is empty" if len(head) < _SNIFF_BYTES else "no data in the first 64 KiB"
        )
    fmt = fmt or _sniff(head)
    if data_offset or fmt is not Format.CSV:
        decoding.settle(UTF8)  # a UTF-8 BOM says so; JSON is UTF-8 (RFC 8259)
    return Opened(fmt, compressed, data_offset, decoding.watch(chain((head,), rest)))


def _parse_format(format: Format | str | None) -> Format | None:
    if format is None:
        return None
    try:
        return Format(format)
    except ValueError:
        raise FileFormatError(
            f"unknown format; expected one of {', '.join(f.value for f in Format)}"
        ) from None


def _sniff(head: bytes) -> Format:
    """``[`` → JSON array, ``{`` → JSON Lines, anything else (or nothing) → CSV."""
    first = CONTENT.search(head)
    char = head[first.start() : first.start() + 1] if first else b""
    return {b"[": Format.JSON_ARRAY, b"{": Format.JSON_LINES}.get(char, Format.CSV)


def _read_blocks(stream: Readable) -> Iterator[bytes]:
    while block := stream.read(BLOCK_SIZE):
        yield block


def _peek(
    blocks: Iterator[bytes], size: int, until: re.Pattern[bytes] | None = None
) -> tuple[bytes, Iterator[bytes]]:
    """Collect at least ``size`` bytes (or, with ``until``, up to the first match of it)."""
    head = b""
    for block in blocks:
        head += block
        if len(head) >= size or (until is not None and until.search(head, len(head) - len(block))):
            break
    return head, blocks


def _gunzip(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress gzip (all members, as ``gzip`` does) block by block with bounded output."""
    inflater = zlib.decompressobj(wbits=31)
    started = False
    try:
        for block in blocks:
            data = block
            while data:
                started = True
                out = inflater.decompress(data, BLOCK_SIZE)
                if out:
                    yield out
                if inflater.eof:
                    data = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
                    started = False
                else:
                    data = inflater.unconsumed_tail
        if out := inflater.flush():
            yield out
    except zlib.error:
        raise FileFormatError("the gzip stream is corrupt") from None
    if started and not inflater.eof:
        raise FileFormatError("the gzip stream is truncated")
