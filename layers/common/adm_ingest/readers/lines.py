"""Cutting a byte stream into records (the one rule shared by the boundary scan and every
line-based reader), and runs of quote-free CSV lines decoded at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from adm_ingest.readers.encoding import UTF8, Decoding
from adm_ingest.readers.formats import MAX_RECORD_BYTES
from adm_ingest.readers.opening import CONTENT
from adm_ingest.readers.progress import ReadProgress

Raw = tuple[int, int, bytes | None, bool]
"""(byte offset, line, record bytes or None when not kept, oversized) of one record."""


@dataclass(frozen=True, slots=True)
class Run:
    """Whole lines with no ``"`` in them, decoded at once: each non-blank line is one record.

    Without a quote every LF ends a record, so such a span needs no per-record splitting; the
    CSV reader takes it apart with ``str.split`` instead of one :data:`Raw` per record.
    """

    line: int
    """Line of the first line of ``text``."""
    text: str
    """The lines, each ending with its LF."""


class BlockEnd:
    """The type of :data:`BLOCK_END`."""

    __slots__ = ()


BLOCK_END = BlockEnd()
"""What :func:`split_records` yields (with ``block_ends``) when it has cut every record of
one block of the stream and is about to read the next: a reader that collects records into
blocks hands them over here, so that everything it has taken from the stream has been
yielded whenever the stream is read (see :class:`~adm_ingest.readers.ReadProgress`)."""


def split_raw_records(
    blocks: Iterable[bytes],
    *,
    quoted: bool,
    offset: int,
    line: int,
    keep_bytes: bool = True,
    keep_first: bool = False,
    progress: ReadProgress | None = None,
) -> Iterator[Raw]:
    """:func:`split_records` without runs and block ends (what a boundary scan reads): every
    item is a :data:`Raw`."""
    records = split_records(
        blocks,
        quoted=quoted,
        offset=offset,
        line=line,
        keep_bytes=keep_bytes,
        keep_first=keep_first,
        progress=progress,
    )
    return cast("Iterator[Raw]", records)  # runs=False, block_ends=False: only Raws


def split_records(
    blocks: Iterable[bytes],
    *,
    quoted: bool,
    offset: int,
    line: int,
    keep_bytes: bool = True,
    keep_first: bool = False,
    runs: bool = False,
    decoding: Decoding | None = None,
    progress: ReadProgress | None = None,
    block_ends: bool = False,
) -> Iterator[Raw | Run | BlockEnd]:
    """Cut a byte stream into records, skipping blank lines.

    A record ends at an LF where the number of ``"`` since the record start is even (always,
    when not ``quoted``), or at the first LF once it is longer than :data:`MAX_RECORD_BYTES`.
    The decision depends only on the bytes since the record start, so cutting anywhere this
    function reports a record start and resuming there reproduces the same records.
    ``keep_bytes`` keeps every record's bytes (``keep_first`` only the first record's); bytes
    of oversized records are never kept. With ``runs``, every stretch of whole lines after the
    first record that has no ``"`` and decodes comes as one :class:`Run` instead
    (the first record stays a :data:`Raw`, as a CSV header must be); a run may contain blank
    and oversized lines, which its reader must recognise. Runs are decoded with ``decoding``'s
    encoding of the moment (UTF-8 without one). ``progress`` gets the start of the record in
    progress (or of the blank space after the last one) at the end of every block; then, with
    ``block_ends``, :data:`BLOCK_END` comes.
    """
    keep = keep_bytes or keep_first
    start, start_line = offset, line
    odd = 0
    has_content = False
    pending = b""
    base = offset
    content = CONTENT.search
    run_from = -1  # a run is tried at record starts from this block position; -1: not yet
    for block in blocks:
        find, count = block.find, block.count
        record_pos = pos = 0
        newline = find(b"\n")
        while newline != -1:
            if runs and 0 <= run_from <= pos and start == base + pos:
                run, run_from = _quote_free_run(
                    block, pos, line, decoding.encoding if decoding else UTF8
                )
                if run is not None:
                    yield run
                    pos = record_pos = run_from
                    line += run.text.count("\n")
                    start, start_line = base + pos, line
                    newline = find(b"\n", pos)
                    continue
            if quoted:
                odd ^= count(b'"', pos, newline) & 1
            # Most lines start with a visible byte: test that before running the regex.
            if not has_content and (
                (newline > pos and block[pos] > 32) or content(block, pos, newline)
            ):
                has_content = True
            line += 1
            end = base + newline + 1
            if not odd or end - start > MAX_RECORD_BYTES:
                if has_content:
                    oversized = end - start > MAX_RECORD_BYTES
                    data = None
                    if keep and not oversized:
                        data = pending + block[record_pos : newline + 1]
                        keep = keep_bytes
                    yield start, start_line, data, oversized
                    run_from = max(run_from, newline + 1)  # enables runs after the first record
                start, start_line = end, line
                odd, has_content, pending, record_pos = 0, False, b"", newline + 1
            pos = newline + 1
            newline = find(b"\n", pos)
        if quoted:
            odd ^= count(b'"', pos) & 1
        if not has_content and content(block, pos):
            has_content = True
        if keep:
            pending += block[record_pos:]
            if len(pending) > MAX_RECORD_BYTES:
                pending = b""  # the record is oversized: its bytes are never needed
        base += len(block)
        run_from = min(run_from, 0)
        if progress is not None:
            progress.offset, progress.line = start, start_line
        if block_ends:
            yield BLOCK_END
    if has_content:
        oversized = base - start > MAX_RECORD_BYTES
        yield start, start_line, (pending if keep and not oversized else None), oversized


def _quote_free_run(block: bytes, pos: int, line: int, encoding: str) -> tuple[Run | None, int]:
    """The whole lines of ``block`` from ``pos`` (a record start) up to its next ``"``.

    Returns the run (``None`` when there is no whole line before the quote, or its bytes do not
    decode: those records are then cut one by one, so each bad one is rejected alone) and the
    block position from which another run may be tried.
    """
    quote = block.find(b'"', pos)
    stop = len(block) if quote == -1 else quote
    end = block.rfind(b"\n", pos, stop) + 1
    if end <= pos:
        return None, stop + 1
    try:
        text = block[pos:end].decode(encoding)
    except UnicodeDecodeError:
        return None, stop + 1
    return Run(line, text), end
