"""The dry-run's chunks: a local file cut exactly where the splitter would cut it.

The pipeline processes a file chunk by chunk (one worker invocation each), and some of what it
sends depends on the cut: a destination that uploads one remote file per chunk sends one body
per chunk, and the record path starts afresh in each (its batches, its duplicate check). So the
dry-run cuts the file by the destination's :class:`~adm_ingest.destinations.ChunkSize` with the
splitter's rules:

* a plain CSV / JSON Lines file by its records' byte offsets (the boundary scan the splitter
  range-reads by): a chunk ends at the first record that starts ``bytes`` past the chunk's
  first record, or after ``records`` records;
* a gzip file or a JSON array by the size of its records as the splitter stages them
  (re-serialized JSON Lines): a chunk ends once it holds ``bytes`` staged bytes or ``records``
  records.

:func:`chunk_starts` finds the cuts in a first pass (the scan never decodes a record);
:func:`split_items` cuts the reader's items there in the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from adm_ingest.destinations import ChunkSize
from adm_ingest.readers import (
    RangeScanUnsupported,
    ReadItem,
    RecordBlock,
    open_records,
    scan_boundaries,
    staged_lines,
)
from adm_ingest.records import Rejection

_UNBOUNDED = 1 << 62


def scanned_header(path: Path) -> list[str] | None:
    """A CSV file's header as the splitter's boundary scan reads it (``None``: a file the scan
    does not range, e.g. gzip or a JSON array) — known even when every record is rejected."""
    with path.open("rb") as stream:
        try:
            header = scan_boundaries(stream).header
        except RangeScanUnsupported:
            return None
    return list(header) if header is not None else None


def chunk_starts(path: Path, size: ChunkSize, *, max_depth: int) -> list[int]:
    """The first line (JSON array: element) of every chunk but the first, in file order.

    Raises:
        FileFormatError: as the reader does for a file-level problem.
    """
    limit = max(1, size.records)
    byte_limit = size.bytes or _UNBOUNDED
    starts: list[int] = []
    with path.open("rb") as stream:
        try:
            scan = scan_boundaries(stream)
        except RangeScanUnsupported:
            pass
        else:
            chunk_offset: int | None = None
            count = 0
            for offset, line in scan:
                if chunk_offset is None:
                    chunk_offset = offset
                elif count >= limit or offset - chunk_offset >= byte_limit:
                    starts.append(line)
                    chunk_offset, count = offset, 0
                count += 1
            return starts
    with path.open("rb") as stream:  # the splitter's staged split
        count = buffered = 0
        for line, staged in staged_lines(open_records(stream, max_depth=max_depth)):
            if count >= limit or buffered >= byte_limit:
                if count:
                    starts.append(line)
                count = buffered = 0
            count += 1
            buffered += len(staged)
    return starts


def split_items(items: Iterable[ReadItem], starts: list[int]) -> Iterator[Iterator[ReadItem]]:
    """The reader's items, chunk by chunk: one lazy iterator per chunk, cut before the lines in
    ``starts`` (a block that straddles a cut is split in two with the same header). Each chunk
    must be read to its end before the next is taken (as the record path does): nothing but the
    current block is held, so a chunk of any size streams."""
    source = iter(items)
    carry: list[ReadItem] = []
    for cut in [*starts, None]:
        yield _until(source, carry, cut)


def _until(
    source: Iterator[ReadItem], carry: list[ReadItem], cut: int | None
) -> Iterator[ReadItem]:
    """``source``'s items before line ``cut`` (``None``: all the rest); what lies past the cut
    is left in ``carry`` for the next chunk."""
    while True:
        if carry:
            item = carry.pop()
        else:
            found = next(source, None)
            if found is None:
                return
            item = found
        if cut is None:
            yield item
            continue
        if type(item) is Rejection:
            if item.line >= cut:
                carry.append(item)
                return
            yield item
            continue
        assert isinstance(item, RecordBlock)
        lines, rows = item.lines, item.rows
        if not lines or lines[-1] < cut:
            yield item
            continue
        keep = next(i for i, line in enumerate(lines) if line >= cut)
        if keep:
            yield RecordBlock(item.header, lines[:keep], rows[:keep])
        carry.append(RecordBlock(item.header, lines[keep:], rows[keep:]))
        return
