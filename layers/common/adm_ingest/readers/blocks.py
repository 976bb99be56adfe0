"""The one shape every reader yields: :class:`RecordBlock` s of records that share their column
names, and :class:`~adm_ingest.records.Rejection` s between them, in file order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from adm_ingest.readers.formats import MAX_RECORD_BYTES
from adm_ingest.records import Reason, Rejection

BLOCK_ROWS = 64
"""Most records in one block. Small enough that the rows alive at once stay well below the
garbage collector's young-generation threshold (700 tracked objects: each row is a list), so a
file causes no more collections than reading it record by record — with 512-row blocks a 300k
full-field file took 437 young and 3 full collections instead of 267 and 1, which cost ≈ 2 %
of its CPU; the per-block costs (a header test, a loop set-up) are spread over 64 records."""


@dataclass(slots=True)
class RecordBlock:
    """Consecutive records of one file with the same column names, as field lists.

    ``rows[i]`` holds the values of ``header``'s columns, in order, of the record that starts at
    line (JSON array: element) ``lines[i]``. A CSV block's header is the file's; a JSON block's
    is the keys its records have, in their order (a key whose value is ``null`` is not one), so
    consecutive JSON records with the same keys share a block. Raw values: PII, never in a repr.
    """

    header: tuple[str, ...]
    lines: list[int]
    rows: list[list[str]]

    def __repr__(self) -> str:  # rows are raw PII: never in a repr / traceback
        return f"RecordBlock(header={self.header!r}, lines={self.lines!r})"

    def __len__(self) -> int:
        return len(self.rows)


ReadItem = RecordBlock | Rejection
"""What a reader yields."""


def blocks_from_records(
    records: Iterable[tuple[int, Mapping[str, str]] | Rejection], max_rows: int = BLOCK_ROWS
) -> Iterator[ReadItem]:
    """``(line, {column: value})`` records (and rejections, passed on in place) as blocks:
    consecutive records with the same columns, in the same order, share one."""
    header: tuple[str, ...] = ()
    lines: list[int] = []
    rows: list[list[str]] = []
    for record in records:
        if type(record) is Rejection:
            if rows:
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
            yield record
            continue
        line, values = record
        columns = tuple(values)
        if rows and (columns != header or len(rows) >= max_rows):
            yield RecordBlock(header, lines, rows)
            lines, rows = [], []
        header = columns
        lines.append(line)
        rows.append(list(values.values()))
    if rows:
        yield RecordBlock(header, lines, rows)


def count_records(items: Iterable[ReadItem]) -> int:
    """Records in ``items`` (a reader's rejection is one)."""
    return sum(1 if type(item) is Rejection else len(item) for item in items)


def head(
    items: Iterable[ReadItem], limit: int, into: list[ReadItem] | None = None
) -> list[ReadItem]:
    """The first ``limit`` records of ``items`` (a block cut if need be); reads no further
    item than the one holding the last of them. They are appended to ``into`` (a new list by
    default) as they come, so what was read stays there if reading fails."""
    taken: list[ReadItem] = [] if into is None else into
    if limit <= 0:
        return taken
    count = 0
    for item in items:
        if type(item) is Rejection:
            taken.append(item)
            count += 1
        else:
            block: RecordBlock = item
            room = limit - count
            if len(block) > room:
                block = RecordBlock(block.header, block.lines[:room], block.rows[:room])
            taken.append(block)
            count += len(block)
        if count >= limit:
            break
    return taken


def too_large(line: int) -> Rejection:
    return Rejection(line, Reason.RECORD_TOO_LARGE, f"longer than {MAX_RECORD_BYTES} bytes")
