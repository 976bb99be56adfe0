"""Boundary scans: the record starts of an uncompressed CSV / JSON Lines file, so the splitter
can cut it into byte ranges, and the header read back from its bytes."""

from __future__ import annotations

from collections.abc import Iterator

from adm_ingest.readers.encoding import UTF8, Decoding, check_encoding
from adm_ingest.readers.formats import Format, NoRecordsError, RangeScanUnsupported
from adm_ingest.readers.header import check_delimiter, read_header_line
from adm_ingest.readers.lines import Raw, split_raw_records
from adm_ingest.readers.opening import Readable, open_stream
from adm_ingest.readers.progress import ReadProgress


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

    The scan counts every record-shaped line, report footers included (it never decodes a
    line, so it cannot tell them apart): a range's reader yields those as ``report_footer``
    rejections, which the processor counts as skipped lines, not records.

    Pass :attr:`encoding` with every range: it is settled while scanning, at the file's first
    non-ASCII byte (when the scan yields a start, every byte before it has been looked at, so a
    range cut there and read with the encoding of that moment is read right — before the first
    non-ASCII byte a range is ASCII and reads the same in any encoding).
    """

    def __init__(
        self,
        format: Format,
        delimiter: str | None,
        header: tuple[str, ...] | None,
        starts: Iterator[tuple[int, int]],
        decoding: Decoding,
        header_range: tuple[int, int] | None = None,
        body_start: tuple[int, int] = (0, 1),
    ) -> None:
        self.format = format
        """Detected or forced format: CSV or JSON Lines."""
        self.delimiter = delimiter
        """CSV delimiter (``None`` for JSON Lines)."""
        self.header = header
        """CSV column names (``None`` for JSON Lines)."""
        self.header_range = header_range
        """``[start, end)`` of the header line in the stream (after a BOM and blank lines, with
        its line end): what :func:`read_header` reads the same ``header`` back from, so a chunk
        pointer can name the header's bytes instead of carrying its names. ``None`` for JSON
        Lines."""
        self.body_start = body_start
        """``(byte_offset, line)`` just past the CSV header (JSON Lines: the data's start, after
        a BOM): the stream's first ``body_start[0]`` bytes are all a resumed scan needs to
        re-read before a later record boundary."""
        self._starts = starts
        self._decoding = decoding

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self._starts

    @property
    def encoding(self) -> str:
        """The encoding to read ranges with, as far as the scan has got (see the class doc)."""
        return self._decoding.encoding

    @property
    def encoding_settled(self) -> bool:
        """True once the encoding is final: a non-ASCII byte was seen, a BOM or the format
        decided it, or it was given. Until then only ASCII was seen, and a resumed scan must
        detect it again rather than be told ``"utf-8"``."""
        return self._decoding.settled


def scan_boundaries(
    stream: Readable,
    *,
    format: Format | str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: ReadProgress | None = None,
) -> BoundaryScan:
    """Start a boundary scan of ``stream`` (see :class:`BoundaryScan`).

    Reads and validates the CSV header before returning, so ``header`` / ``delimiter`` are
    available immediately. Scanning only tracks line ends and quote parity with ``bytes.find``
    / ``bytes.count`` on whole blocks; it never decodes or parses records. ``encoding`` forces
    the encoding instead of detecting it (a resumed scan passes the one settled before).
    ``progress`` is kept up to date as for :func:`open_records`.

    Raises:
        RangeScanUnsupported: the file is gzip-compressed or a JSON array.
        FileFormatError: as for :func:`open_records`.
    """
    if delimiter is not None:
        check_delimiter(delimiter)
    decoding = Decoding(check_encoding(encoding) if encoding is not None else None)
    opened = open_stream(stream, format, at_file_start=True, decoding=decoding)
    if opened.compressed or opened.format is Format.JSON_ARRAY:
        raise RangeScanUnsupported(opened.format, opened.compressed)
    is_csv = opened.format is Format.CSV
    raws = split_raw_records(
        opened.blocks,
        quoted=is_csv,
        offset=opened.data_offset,
        line=1,
        keep_bytes=False,
        keep_first=is_csv,
        progress=progress,
    )
    header = header_range = None
    body_start = (opened.data_offset, 1)
    if is_csv:
        first = next(raws, None)
        if first is not None and first[2] is not None:
            header_range = (first[0], first[0] + len(first[2]))
        header, delimiter = read_header_line(first, delimiter, decoding.encoding)
        assert first is not None and first[2] is not None
        body_start = (first[0] + len(first[2]), first[1] + first[2].count(b"\n"))
    else:
        delimiter = None
    if progress is not None:
        progress.format, progress.header, progress.delimiter = opened.format, header, delimiter
    return BoundaryScan(
        opened.format,
        delimiter,
        header,
        _starts(raws, is_csv),
        decoding,
        header_range=header_range,
        body_start=body_start,
    )


def read_header(
    stream: Readable, *, delimiter: str, encoding: str | None = None
) -> tuple[str, ...]:
    """The column names of a CSV header line read on its own — the bytes a scan's
    :attr:`BoundaryScan.header_range` names, read with the scan's ``delimiter`` and
    ``encoding`` — exactly as the scan read them (the same checks, the same errors).

    Raises:
        FileFormatError: the bytes are not a valid header line (see :func:`open_records`).
        ValueError: an invalid ``delimiter`` or ``encoding``.
    """
    check_delimiter(delimiter)
    decoding = Decoding(check_encoding(encoding) if encoding is not None else UTF8)
    opened = open_stream(stream, Format.CSV, at_file_start=False, decoding=decoding)
    raws = split_raw_records(
        opened.blocks, quoted=True, offset=0, line=1, keep_bytes=False, keep_first=True
    )
    header, _ = read_header_line(next(raws, None), delimiter, decoding.encoding)
    return header


def _starts(raws: Iterator[Raw], is_csv: bool) -> Iterator[tuple[int, int]]:
    count = 0
    for count, (offset, line, _, _) in enumerate(raws, 1):  # noqa: B007
        yield offset, line
    if count == 0:
        raise NoRecordsError(
            "the file has a header but no records" if is_csv else "the file contains no records"
        )
