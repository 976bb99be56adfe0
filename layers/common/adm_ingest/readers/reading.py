"""Reading a file, or a byte range of one, as blocks of records (:func:`open_records`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from adm_ingest.readers.blocks import ReadItem
from adm_ingest.readers.csv import csv_blocks
from adm_ingest.readers.encoding import UTF8, Decoding, check_encoding
from adm_ingest.readers.formats import MAX_JSON_DEPTH, Format, NoRecordsError
from adm_ingest.readers.header import check_delimiter, read_header_line, validated_header
from adm_ingest.readers.json_array import json_array_blocks
from adm_ingest.readers.jsonl import json_lines_blocks
from adm_ingest.readers.lines import BlockEnd, Raw, Run, split_records
from adm_ingest.readers.opening import Readable, open_stream
from adm_ingest.readers.progress import ReadProgress


def open_records(
    stream: Readable,
    *,
    format: Format | str | None = None,
    delimiter: str | None = None,
    header: Sequence[str] | None = None,
    first_line: int = 1,
    encoding: str | None = None,
    max_depth: int = MAX_JSON_DEPTH,
    progress: ReadProgress | None = None,
) -> RecordReader:
    """Stream the records of ``stream``: :class:`~adm_ingest.readers.RecordBlock` s of records
    that share their column names, and :class:`~adm_ingest.records.Rejection` s, in file order.

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
        encoding: the CSV text encoding. ``None``: detected for a whole file (see the module
            docstring), UTF-8 for a byte range — a range's encoding is the one its file's scan
            settled on (:attr:`BoundaryScan.encoding`). JSON is always read as UTF-8.
        max_depth: deepest nesting of a JSON record; deeper ones are rejected ``too_deep``.
        progress: kept up to date with where reading could resume (see :class:`ReadProgress`).

    Returns:
        A :class:`RecordReader`: iterate it for the records; its ``encoding`` tells what the
        text was decoded with.

    Raises:
        FileFormatError: on a file-level problem (see the module docstring); raised when the
            iterator is first advanced, or later for corruption found mid-stream.
        ValueError: ``header`` given without ``delimiter``, an invalid ``delimiter``, or a
            ``max_depth`` below 1.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1 (a flat object is one level deep)")
    if delimiter is not None:
        check_delimiter(delimiter)
    if encoding is not None:
        encoding = check_encoding(encoding)
    known_header = None
    if header is not None:
        if delimiter is None:
            raise ValueError("a delimiter is required when the header is given")
        known_header = validated_header([name.strip() for name in header])
    # A stream with a known header, or starting past line 1, is a byte range of a file: its
    # encoding was settled by the file's scan (an old chunk pointer without one means UTF-8).
    whole_file = known_header is None and first_line == 1
    decoding = Decoding(encoding if encoding is not None or whole_file else UTF8)
    return RecordReader(
        _records(
            stream, format, delimiter, known_header, first_line, decoding, max_depth, progress
        ),
        decoding,
    )


class RecordReader:
    """The records of one stream (what :func:`open_records` returns).

    Iterating it yields blocks of records and rejections; :attr:`encoding` is the text encoding
    they were decoded with. It is settled at the file's first non-ASCII byte, so read it once
    the records are consumed (before that, everything read was ASCII and ``"utf-8"`` is as
    true as any).
    """

    __slots__ = ("_decoding", "_records")

    def __init__(self, records: Iterator[ReadItem], decoding: Decoding) -> None:
        self._records = records
        self._decoding = decoding

    def __iter__(self) -> Iterator[ReadItem]:
        # The generator itself: a for loop over the reader costs nothing per record.
        return self._records

    def __next__(self) -> ReadItem:
        return next(self._records)

    @property
    def encoding(self) -> str:
        """``"utf-8"`` or the detected single-byte encoding (``"cp1252"``, ``"cp1250"``…)."""
        return self._decoding.encoding

    @property
    def encoding_settled(self) -> bool:
        """True once :attr:`encoding` is final (see :attr:`BoundaryScan.encoding_settled`)."""
        return self._decoding.settled


def _records(
    stream: Readable,
    format: Format | str | None,
    delimiter: str | None,
    header: tuple[str, ...] | None,
    first_line: int,
    decoding: Decoding,
    max_depth: int,
    progress: ReadProgress | None,
) -> Iterator[ReadItem]:
    whole_file = header is None and first_line == 1
    opened = open_stream(
        stream,
        Format.CSV if header is not None else format,
        at_file_start=whole_file,
        decoding=decoding,
    )
    if progress is not None:
        progress.format = opened.format
        progress.offset, progress.line = opened.data_offset, first_line
    if opened.format is Format.JSON_ARRAY:
        records = json_array_blocks(
            opened.blocks, first_line, max_depth, opened.data_offset, progress
        )
    else:
        raws = split_records(
            opened.blocks,
            quoted=opened.format is Format.CSV,
            offset=opened.data_offset,
            line=first_line,
            runs=opened.format is Format.CSV,
            decoding=decoding,
            progress=progress,
            block_ends=True,
        )
        if opened.format is Format.JSON_LINES:
            records = json_lines_blocks(raws, max_depth)
        else:
            header_range = None
            if header is None:
                # (A header line longer than a block ends a block before it is cut.)
                first: Raw | Run | None = None
                for raw in raws:
                    if not isinstance(raw, BlockEnd):
                        first = raw
                        break
                if first is not None and not isinstance(first, Run) and first[2] is not None:
                    header_range = (first[0], first[0] + len(first[2]))
                header, delimiter = read_header_line(first, delimiter, decoding.encoding)
            assert delimiter is not None
            if progress is not None:
                progress.header, progress.delimiter = header, delimiter
                progress.header_range = header_range
            records = csv_blocks(raws, header, delimiter, decoding)
    empty = True
    for record in records:  # never an empty block: the first item is a record
        empty = False
        yield record
    if whole_file and empty:
        raise NoRecordsError(
            "the file has a header but no records"
            if opened.format is Format.CSV
            else "the file contains no records"
        )
