"""Text encoding of a CSV file: UTF-8 unless its first non-ASCII bytes say otherwise."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

UTF8 = "utf-8"
_ENCODING_SAMPLE = 64 << 10
"""Bytes from a file's first non-ASCII byte on that decide its encoding."""
SINGLE_BYTE_ENCODINGS: tuple[str, ...] = ("cp1252", "cp1250", "iso8859_15")
"""Encodings a non-UTF-8 file may be detected as; the first is preferred when text reads
equally well in several (Windows "ANSI" as Excel saves a CSV in Western Europe and the US)."""
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_DECODED_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")


class Decoding:
    """The text encoding of one file: UTF-8 until its first non-ASCII byte says otherwise.

    Mutable on purpose: it is settled while the blocks stream through :meth:`watch`, and the
    decoders downstream look it up when they decode — always after the block holding the bytes
    they decode went through ``watch``, so they never decode with a stale value.
    """

    __slots__ = ("encoding", "settled")

    def __init__(self, encoding: str | None) -> None:
        self.encoding = encoding or UTF8
        self.settled = encoding is not None

    def settle(self, encoding: str) -> None:
        if not self.settled:
            self.encoding, self.settled = encoding, True

    def watch(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass ``blocks`` through, settling the encoding at the first non-ASCII byte."""
        if self.settled:
            return blocks
        return self._watch(blocks)

    def _watch(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            if block.isascii():
                yield block
                continue
            found = _NON_ASCII.search(block)
            assert found is not None
            held = [block]
            sample = block[found.start() : found.start() + _ENCODING_SAMPLE]
            complete = True
            while len(sample) < _ENCODING_SAMPLE:
                more = next(blocks, None)
                if more is None:
                    break
                held.append(more)
                sample += more[: _ENCODING_SAMPLE - len(sample)]
            else:
                complete = False
            self.settle(detect_encoding(sample, complete=complete))
            yield from held
            yield from blocks
            return


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    """The encoding of a CSV file, from ``sample``: the bytes from its first non-ASCII byte.

    UTF-8 unless the sample's non-ASCII bytes are mostly not UTF-8: a UTF-8 file with a stray
    byte or two stays UTF-8 (those records are rejected as ``undecodable_bytes``). Otherwise the
    single-byte encoding of :data:`SINGLE_BYTE_ENCODINGS` in which the sample reads best
    (charset-normalizer's judgement), cp1252 when it reads as well as any. ``complete``: the
    sample runs to the end of the file (else a sequence cut at its end is not held against it).
    """
    text = codecs.getincrementaldecoder(UTF8)("replace").decode(sample, final=complete)
    invalid = text.count("\ufffd")
    if not invalid or len(_DECODED_NON_ASCII.findall(text)) >= invalid:
        return UTF8
    from charset_normalizer import from_bytes  # only for the rare non-UTF-8 file

    matches = list(from_bytes(sample, cp_isolation=list(SINGLE_BYTE_ENCODINGS)))
    if not matches:
        return SINGLE_BYTE_ENCODINGS[0]
    least = min(match.chaos for match in matches)
    readable = [match for match in matches if match.chaos <= least + _CHAOS_TOLERANCE]
    for candidate in SINGLE_BYTE_ENCODINGS:
        if any(candidate in match.could_be_from_charset for match in readable):
            return candidate
    return SINGLE_BYTE_ENCODINGS[0]


_CHAOS_TOLERANCE = 0.05
"""How much worse (charset-normalizer's "chaos", 0..1) a preferred encoding may read and still
be chosen. Names and addresses are too short for its language models to tell cp1252 from
cp1250 (it calls German cp1252 "cp1250", as the two agree on äöüß): only clearly worse
mess makes it give up the preferred one."""


def check_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError("unknown text encoding") from None
    return UTF8 if name == "utf-8" else name


def encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == UTF8 else encoding
