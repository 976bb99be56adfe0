"""Streaming readers: CSV, JSON Lines and top-level JSON arrays (each optionally gzipped).

Every reader consumes a binary stream (``open(..., "rb")``, an S3 ``StreamingBody``, a byte-range
body) in :data:`BLOCK_SIZE` blocks, so memory stays flat whatever the file size, and produces one
:class:`~adm_ingest.model.SourceRecord` or :class:`~adm_ingest.model.Rejection` per record. A
record's ``line`` is the 1-based physical line where it starts (CSV, JSON Lines) or its 1-based
element number (JSON array).

Public API
----------
``open_records(stream, *, format=None, delimiter=None, header=None, first_line=1, rows=False)``
    Iterate the records of a whole file or of a byte range of one. For a range, pass the
    file's ``header`` (the range has no header row), its ``delimiter`` and the ``first_line``
    of the range's first byte — all three come from :func:`scan_boundaries`. With ``rows``,
    runs of quote-free CSV lines come as :class:`CsvRows` blocks (iterating one yields its
    records), for a consumer that takes fields by position.
``scan_boundaries(stream, *, format=None, delimiter=None) -> BoundaryScan``
    Read an uncompressed CSV or JSON Lines file once and yield ``(byte_offset, line)`` for every
    record start, so the splitter can cut byte ranges at record boundaries. The scan exposes the
    detected ``format``, ``delimiter`` and ``header``. Gzip files and JSON arrays cannot be cut
    into byte ranges: for them it raises :class:`RangeScanUnsupported` (the splitter then reads
    the file with :func:`open_records` and stages re-serialized chunks).

Rules
-----
* Format: an explicit ``format`` wins; otherwise the first non-whitespace byte decides
  (``[`` → JSON array, ``{`` → JSON Lines, anything else → CSV). Gzip is detected by its magic
  bytes, never by file name. A UTF-8 byte-order mark is skipped. Both only at the start of a
  file: a byte range is read byte for byte.
* CSV: the first non-blank record is the header; delimiter ``,`` ``;`` tab or ``|`` is the one
  occurring most often in the header line (or the configured one); LF or CRLF line ends; fields
  quoted with ``"`` may contain delimiters, ``""`` and line breaks. A record ends at the first LF
  after which the count of ``"`` since the record start is even — the one rule shared by the
  scanner and the readers, so ranges cut at scanned offsets read exactly like the whole file.
  A stray quote inside an unquoted field therefore makes the record run on to the next odd
  quote; that span is rejected as one ``malformed_record`` (or ``record_too_large``: a record
  is always cut at the first LF after :data:`MAX_RECORD_BYTES`, which bounds the damage).
* Blank (whitespace-only) lines are skipped in every line-based format and are not records.
* JSON values become strings: strings as-is, numbers via ``str``, booleans as ``true`` /
  ``false``; ``null`` leaves the field out; a nested object or array rejects the record
  (``malformed_record``) because it cannot be a column value.
* Per-record problems become rejections and reading continues: undecodable (non-UTF-8) bytes,
  bad quoting, wrong field count, invalid JSON, a JSON value that is not an object, records over
  :data:`MAX_RECORD_BYTES`. File-level problems raise :class:`FileFormatError`: empty file, a
  header that is missing, malformed, undecodable or has empty / duplicate names, a file with no
  records, a binary or UTF-16 file, an unknown format, a corrupt gzip stream, and any syntax or
  encoding error inside a JSON array (a streaming parser cannot find the next element after it).
  No message or rejection detail ever contains a value from the file.
"""

from __future__ import annotations

import csv
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain
from typing import Protocol

import ijson
import orjson

from adm_ingest.model import Reason, Rejection, SourceRecord

BLOCK_SIZE = 4 << 20
"""Bytes requested per ``read`` call; big blocks keep the per-call overhead negligible."""
MAX_RECORD_BYTES = 128 << 10
"""Largest accepted record (and the csv module's default field size limit)."""
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
"""Detectable CSV delimiters, in order of preference when counts tie."""

_SNIFF_BYTES = 64 << 10
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CONTENT = re.compile(rb"[^ \t\r\n]")
_LOOKS_LIKE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LOOKS_LIKE_NUMBER = re.compile(r"[+\d\s().-]*\d[+\d\s().-]*")
_LOOKS_LIKE_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class Format(StrEnum):
    """Record layout of a file (compression is orthogonal)."""

    CSV = "csv"
    JSON_LINES = "jsonl"
    JSON_ARRAY = "json"


class FileFormatError(Exception):
    """The file as a whole cannot be read. The message names positions, never values."""


class RangeScanUnsupported(Exception):
    """The file cannot be cut into byte ranges (gzip, or a JSON array); read it whole instead."""

    def __init__(self, format: Format, compressed: bool) -> None:
        self.format = format
        self.compressed = compressed
        why = "gzip-compressed" if compressed else "a JSON array"
        super().__init__(f"byte ranges of {why} file cannot be read; read the file whole")


class Readable(Protocol):
    """The part of a binary file object the readers use."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Opened:
    """A stream after compression, BOM and format detection."""

    format: Format
    compressed: bool
    data_offset: int
    """Bytes skipped before ``blocks`` starts (a BOM); a file offset only when not compressed."""
    blocks: Iterator[bytes]


def open_records(
    stream: Readable,
    *,
    format: Format | str | None = None,
    delimiter: str | None = None,
    header: Sequence[str] | None = None,
    first_line: int = 1,
    rows: bool = False,
) -> Iterator[SourceRecord | Rejection | CsvRows]:
    """Stream the records of ``stream``.

    Args:
        stream: binary file-like object positioned at the start of a file or of a byte range
            that starts on a record boundary.
        format: force a :class:`Format` (or its value) instead of sniffing.
        delimiter: force the CSV delimiter instead of detecting it from the header.
        header: CSV column names when the stream has no header row (a byte range of a file);
            ``delimiter`` is then required.
        first_line: line (or element) number of the stream's first byte. A stream with a
            ``header`` or a ``first_line`` past 1 is a byte range: it is read byte for byte (no
            gzip or BOM detection) and may not be empty-checked as a whole file is.
        rows: hand CSV lines over in :class:`CsvRows` blocks, unsplit, wherever the file
            allows (runs of lines without quotes); iterating a block yields its records, so
            the stream holds the same records either way. For a consumer that works on field
            lists (the record path's row lane) rather than on one object per record.

    Raises:
        FileFormatError: on a file-level problem (see the module docstring); raised when the
            iterator is first advanced, or later for corruption found mid-stream.
        ValueError: ``header`` given without ``delimiter``, or an invalid ``delimiter``.
    """
    if delimiter is not None:
        _check_delimiter(delimiter)
    known_header = None
    if header is not None:
        if delimiter is None:
            raise ValueError("a delimiter is required when the header is given")
        known_header = _validated_header([name.strip() for name in header])
    return _records(stream, format, delimiter, known_header, first_line, rows)


def _records(
    stream: Readable,
    format: Format | str | None,
    delimiter: str | None,
    header: tuple[str, ...] | None,
    first_line: int,
    rows: bool,
) -> Iterator[SourceRecord | Rejection | CsvRows]:
    # A stream with a known header, or starting past line 1, is a byte range of a file.
    whole_file = header is None and first_line == 1
    opened = _open(stream, Format.CSV if header is not None else format, at_file_start=whole_file)
    if opened.format is Format.JSON_ARRAY:
        records = _json_array_records(opened.blocks, first_line)
    else:
        raws = _split_records(
            opened.blocks,
            quoted=opened.format is Format.CSV,
            offset=opened.data_offset,
            line=first_line,
            runs=opened.format is Format.CSV,
        )
        if opened.format is Format.JSON_LINES:
            records = _json_lines_records(raws)
        else:
            if header is None:
                header, delimiter = _read_header(next(raws, None), delimiter)
            assert delimiter is not None
            records = _csv_records(raws, header, delimiter, rows)
    empty = True
    for record in records:
        if empty:
            empty = type(record) is CsvRows and not any(record.rows())
        yield record
    if whole_file and empty:
        raise FileFormatError(
            "the file has a header but no records"
            if opened.format is Format.CSV
            else "the file contains no records"
        )


class BoundaryScan:
    """One pass over an uncompressed CSV / JSON Lines file yielding record starts.

    Iterating yields ``(byte_offset, line)`` for each record (the header excluded), in file
    order; ``byte_offset`` is relative to the start of the stream given to
    :func:`scan_boundaries`. A byte range ``[offset_i, offset_j)`` read with
    ``open_records(range, format=scan.format, header=scan.header, delimiter=scan.delimiter,
    first_line=line_i)`` yields exactly the records ``i .. j-1`` of the whole file, and the
    range from the last offset to the end of the file yields the rest. The scan can be iterated
    once; like a whole-file read, it raises :class:`FileFormatError` at the end if the file has
    no records.
    """

    def __init__(
        self,
        format: Format,
        delimiter: str | None,
        header: tuple[str, ...] | None,
        starts: Iterator[tuple[int, int]],
    ) -> None:
        self.format = format
        """Detected or forced format: CSV or JSON Lines."""
        self.delimiter = delimiter
        """CSV delimiter (``None`` for JSON Lines)."""
        self.header = header
        """CSV column names (``None`` for JSON Lines)."""
        self._starts = starts

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self._starts


def scan_boundaries(
    stream: Readable,
    *,
    format: Format | str | None = None,
    delimiter: str | None = None,
) -> BoundaryScan:
    """Start a boundary scan of ``stream`` (see :class:`BoundaryScan`).

    Reads and validates the CSV header before returning, so ``header`` / ``delimiter`` are
    available immediately. Scanning only tracks line ends and quote parity with ``bytes.find``
    / ``bytes.count`` on whole blocks; it never decodes or parses records.

    Raises:
        RangeScanUnsupported: the file is gzip-compressed or a JSON array.
        FileFormatError: as for :func:`open_records`.
    """
    if delimiter is not None:
        _check_delimiter(delimiter)
    opened = _open(stream, format, at_file_start=True)
    if opened.compressed or opened.format is Format.JSON_ARRAY:
        raise RangeScanUnsupported(opened.format, opened.compressed)
    is_csv = opened.format is Format.CSV
    raws = _split_records(
        opened.blocks,
        quoted=is_csv,
        offset=opened.data_offset,
        line=1,
        keep_bytes=False,
        keep_first=is_csv,
    )
    header = None
    if is_csv:
        header, delimiter = _read_header(next(raws, None), delimiter)
    else:
        delimiter = None
    return BoundaryScan(opened.format, delimiter, header, _starts(raws, is_csv))


def _starts(raws: Iterator[_Raw], is_csv: bool) -> Iterator[tuple[int, int]]:
    count = 0
    for count, (offset, line, _, _) in enumerate(raws, 1):  # noqa: B007
        yield offset, line
    if count == 0:
        raise FileFormatError(
            "the file has a header but no records" if is_csv else "the file contains no records"
        )


# --- opening: compression, BOM, format -------------------------------------------------------


def _open(stream: Readable, format: Format | str | None, *, at_file_start: bool) -> _Opened:
    """Detect compression, skip a BOM and settle the format.

    Only the start of a file can be compressed or carry a BOM; a byte range (not
    ``at_file_start``) is taken byte for byte, so it reads exactly as it did within the file.
    """
    fmt = _parse_format(format)
    blocks = _read_blocks(stream)
    if not at_file_start:
        if fmt is None:
            head, rest = _peek(blocks, _SNIFF_BYTES, until=_CONTENT)
            fmt, blocks = _sniff(head), chain((head,), rest)
        return _Opened(fmt, False, 0, blocks)
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
    head, rest = _peek(chain((head,), rest), _SNIFF_BYTES, until=_CONTENT)
    if b"\x00" in head[:_SNIFF_BYTES]:
        raise FileFormatError("the file holds binary data: unknown format")
    if not _CONTENT.search(head):
        raise FileFormatError(
            "the file is empty" if len(head) < _SNIFF_BYTES else "no data in the first 64 KiB"
        )
    return _Opened(fmt or _sniff(head), compressed, data_offset, chain((head,), rest))


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
    first = _CONTENT.search(head)
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


# --- cutting bytes into records ----------------------------------------------------------------

_Raw = tuple[int, int, bytes | None, bool]
"""(byte offset, line, record bytes or None when not kept, oversized) of one record."""


@dataclass(frozen=True, slots=True)
class _Run:
    """Whole lines with no ``"`` in them, decoded at once: each non-blank line is one record.

    Without a quote every LF ends a record, so such a span needs no per-record splitting; the
    CSV reader takes it apart with ``str.split`` instead of one :data:`_Raw` per record.
    """

    line: int
    """Line of the first line of ``text``."""
    text: str
    """The lines, each ending with its LF."""


def _split_records(
    blocks: Iterable[bytes],
    *,
    quoted: bool,
    offset: int,
    line: int,
    keep_bytes: bool = True,
    keep_first: bool = False,
    runs: bool = False,
) -> Iterator[_Raw | _Run]:
    """Cut a byte stream into records, skipping blank lines.

    A record ends at an LF where the number of ``"`` since the record start is even (always,
    when not ``quoted``), or at the first LF once it is longer than :data:`MAX_RECORD_BYTES`.
    The decision depends only on the bytes since the record start, so cutting anywhere this
    function reports a record start and resuming there reproduces the same records.
    ``keep_bytes`` keeps every record's bytes (``keep_first`` only the first record's); bytes
    of oversized records are never kept. With ``runs``, every stretch of whole lines after the
    first record that has no ``"`` and decodes as UTF-8 comes as one :class:`_Run` instead
    (the first record stays a :data:`_Raw`, as a CSV header must be); a run may contain blank
    and oversized lines, which its reader must recognise.
    """
    keep = keep_bytes or keep_first
    start, start_line = offset, line
    odd = 0
    has_content = False
    pending = b""
    base = offset
    content = _CONTENT.search
    run_from = -1  # a run is tried at record starts from this block position; -1: not yet
    for block in blocks:
        find, count = block.find, block.count
        record_pos = pos = 0
        newline = find(b"\n")
        while newline != -1:
            if runs and 0 <= run_from <= pos and start == base + pos:
                run, run_from = _quote_free_run(block, pos, line)
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
    if has_content:
        oversized = base - start > MAX_RECORD_BYTES
        yield start, start_line, (pending if keep and not oversized else None), oversized


def _quote_free_run(block: bytes, pos: int, line: int) -> tuple[_Run | None, int]:
    """The whole lines of ``block`` from ``pos`` (a record start) up to its next ``"``.

    Returns the run (``None`` when there is no whole line before the quote, or its bytes are not
    UTF-8: those records are then cut one by one, so each bad one is rejected alone) and the
    block position from which another run may be tried.
    """
    quote = block.find(b'"', pos)
    stop = len(block) if quote == -1 else quote
    end = block.rfind(b"\n", pos, stop) + 1
    if end <= pos:
        return None, stop + 1
    try:
        text = block[pos:end].decode("utf-8")
    except UnicodeDecodeError:
        return None, stop + 1
    return _Run(line, text), end


# --- CSV ---------------------------------------------------------------------------------------


def _read_header(raw: _Raw | _Run | None, delimiter: str | None) -> tuple[tuple[str, ...], str]:
    if raw is None:
        raise FileFormatError("the file is empty")
    assert not isinstance(raw, _Run), "the splitter never starts with a run"
    _, _, data, oversized = raw
    if oversized or data is None:
        raise FileFormatError(f"the header line is longer than {MAX_RECORD_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileFormatError("the header line is not valid UTF-8") from None
    if delimiter is None:
        delimiter = max(DELIMITERS, key=text.count)
    fields = _csv_fields(text, delimiter)
    if fields is None:
        raise FileFormatError("the header line is malformed (bad quoting)")
    names = [name.strip() for name in fields]
    for position, name in enumerate(names, 1):
        if _looks_like_data(name):
            raise FileFormatError(
                f"no header row: column {position} of the first line looks like a data value"
            )
    return _validated_header(names), delimiter


def _validated_header(names: list[str]) -> tuple[str, ...]:
    if not names:
        raise FileFormatError("the header has no columns")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if not name:
            raise FileFormatError(f"header column {position} has no name")
        if name in seen:
            raise FileFormatError(
                f"header column {position} has the same name as column {seen[name]}"
            )
        seen[name] = position
    return tuple(names)


def _looks_like_data(name: str) -> bool:
    """True for a header cell that is evidently a value: an email, a phone number, a hash."""
    return bool(
        _LOOKS_LIKE_EMAIL.fullmatch(name)
        or (_LOOKS_LIKE_NUMBER.fullmatch(name) and sum(c.isdigit() for c in name) >= 5)
        or _LOOKS_LIKE_SHA256.fullmatch(name)
    )


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError("the delimiter must be one character other than a quote or line break")


def _csv_fields(text: str, delimiter: str) -> list[str] | None:
    """Split one record's text into fields; ``None`` when its quoting is malformed."""
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if '"' not in text and "\r" not in text and "\n" not in text:
        return text.split(delimiter)
    try:
        rows = list(csv.reader((text,), delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _csv_records(
    raws: Iterator[_Raw | _Run], header: tuple[str, ...], delimiter: str, rows: bool
) -> Iterator[SourceRecord | Rejection | CsvRows]:
    for raw in raws:
        if isinstance(raw, _Run):
            lines = raw.text.split("\n")
            lines.pop()  # the empty remainder after the run's last LF
            block = CsvRows(header, delimiter, raw.line, lines)
            if rows:
                yield block
            else:
                yield from block
            continue
        _, line, data, oversized = raw
        if oversized or data is None:
            yield _too_large(line)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            yield Rejection(line, Reason.UNDECODABLE_BYTES, "not valid UTF-8")
            continue
        if '"' in text or "\r" in text:
            fields = _csv_fields(text, delimiter)
        else:
            # The common record (no quote, LF end) inlined: its only LF is the record end (the
            # splitter cuts at the first even-quote LF), so splitting and then trimming the last
            # field is _csv_fields' result without a call and a copy of the whole line.
            fields = text.split(delimiter)
            if text[-1] == "\n":
                fields[-1] = fields[-1][:-1]
        yield _csv_record(line, fields, header)


def _csv_record(
    line: int, fields: list[str] | None, header: tuple[str, ...]
) -> SourceRecord | Rejection:
    if fields is None:
        return Rejection(line, Reason.MALFORMED_RECORD, "bad quoting")
    if len(fields) != len(header):
        return Rejection(
            line, Reason.WRONG_FIELD_COUNT, f"{len(fields)} fields; the header has {len(header)}"
        )
    # The length is checked above, so zip needs no strict mode.
    return SourceRecord(line, dict(zip(header, fields)))  # noqa: B905


_SURELY_SHORT = MAX_RECORD_BYTES // 4
"""Characters below which a line cannot exceed :data:`MAX_RECORD_BYTES` (≤ 4 UTF-8 bytes each)."""


@dataclass(frozen=True, slots=True)
class CsvRows:
    """A run of whole CSV lines without a quote, not yet cut into fields.

    Without quotes every line is one record (or a blank line, which is none), so the lines can
    be split with ``str.split`` — by :meth:`rows` for a consumer that works on field lists,
    or by iterating the block, which yields exactly the records the line-by-line reader would.
    """

    header: tuple[str, ...]
    delimiter: str
    line: int
    """Line number of ``lines[0]``."""
    lines: list[str]
    """The lines' text, without their LFs."""

    def rows(self) -> Iterator[tuple[int, list[str] | SourceRecord | Rejection]]:
        """Each record's line number and either its fields — a well-formed row: as many as the
        header has, no CR, surely under :data:`MAX_RECORD_BYTES` — or, for any other line,
        the record or rejection the line-by-line reader makes of it. Blank lines are skipped.
        """
        delimiter = self.delimiter
        width = len(self.header)
        line = self.line - 1
        for text in self.lines:
            line += 1
            # A blank line is no record (the test on the first character spares most lines a
            # strip).
            if text[:1] in " \t\r" and not text.strip(" \t\r"):
                continue
            fields = text.split(delimiter)
            if len(fields) == width and len(text) < _SURELY_SHORT and "\r" not in text:
                yield line, fields
            elif len(text.encode("utf-8")) >= MAX_RECORD_BYTES:  # with its LF, over the limit
                yield line, _too_large(line)
            else:
                # A CR or a wrong field count: the line-by-line path decides, from the same
                # text.
                yield line, _csv_record(line, _csv_fields(text + "\n", delimiter), self.header)

    def __iter__(self) -> Iterator[SourceRecord | Rejection]:
        header = self.header
        for line, row in self.rows():
            if type(row) is list:
                # rows() checked the length, so zip needs no strict mode.
                yield SourceRecord(line, dict(zip(header, row)))  # noqa: B905
            else:
                yield row  # type: ignore[misc]


def _too_large(line: int) -> Rejection:
    return Rejection(line, Reason.RECORD_TOO_LARGE, f"longer than {MAX_RECORD_BYTES} bytes")


# --- JSON --------------------------------------------------------------------------------------


def _json_lines_records(raws: Iterator[_Raw]) -> Iterator[SourceRecord | Rejection]:
    for _, line, data, oversized in raws:
        if oversized or data is None:
            yield _too_large(line)
            continue
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                yield Rejection(line, Reason.UNDECODABLE_BYTES, "not valid UTF-8")
            else:
                yield Rejection(line, Reason.INVALID_JSON, "not valid JSON")
            continue
        yield _json_record(line, value)


class _BlockFile:
    """Minimal file object over an iterator of blocks, for ijson."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks

    def read(self, size: int = -1) -> bytes:
        # ijson probes the data type with read(0): that must not consume a block.
        return b"" if size == 0 else next(self._blocks, b"")


def _json_array_records(
    blocks: Iterator[bytes], first_line: int
) -> Iterator[SourceRecord | Rejection]:
    number = first_line - 1
    try:
        for value in ijson.items(_BlockFile(blocks), "item", use_float=True):
            number += 1
            yield _json_record(number, value)
    except ijson.JSONError:
        # ijson's message quotes the surrounding input: never pass it on.
        raise FileFormatError(
            f"the JSON array is invalid or not UTF-8 after element {number}"
        ) from None


def _json_record(line: int, value: object) -> SourceRecord | Rejection:
    if not isinstance(value, dict):
        return Rejection(line, Reason.NOT_AN_OBJECT, "a JSON value that is not an object")
    values: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            values[key] = item
        elif item is None:
            continue
        elif isinstance(item, bool):
            values[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            values[key] = str(item)
        else:
            return Rejection(line, Reason.MALFORMED_RECORD, "a nested object or array value")
    return SourceRecord(line, values)
