"""Test helpers for the one record path: records written as ``(line, {column: value})``, the
blocks a reader would yield for them, and a reader's blocks opened back into such records.

The library has one shape on the record path — :class:`~adm_ingest.readers.RecordBlock` s of
field lists and rejections — and no per-record object; tests that state records one by one use
these to speak it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from adm_ingest.mapping import MappingPlan, RecordLayout
from adm_ingest.readers import ReadItem, RecordBlock, blocks_from_records
from adm_ingest.records import Rejection


class Record(NamedTuple):
    """One record as a reader reads it: its line and its columns' raw values."""

    line: int
    values: dict[str, str]


def blocks(records: Iterable[Record | Rejection]) -> Iterator[ReadItem]:
    """``records`` as a reader yields them: consecutive records with the same columns in one
    block, rejections in place."""
    return blocks_from_records(
        record if isinstance(record, Rejection) else (record.line, record.values)
        for record in records
    )


def flat(items: Iterable[ReadItem]) -> list[Record | Rejection]:
    """A reader's blocks opened into one :class:`Record` per record (rejections in place)."""
    out: list[Record | Rejection] = []
    for item in items:
        if isinstance(item, RecordBlock):
            out += [
                Record(line, dict(zip(item.header, row, strict=True)))
                for line, row in zip(item.lines, item.rows, strict=True)
            ]
        else:
            out.append(item)
    return out


def mapped(
    line: int,
    attributes: Mapping[str, str],
    pii_sets: Iterable[Mapping[str, str]],
    hashed: Iterable[tuple[int, str]] = (),
) -> tuple[int, list[str], RecordLayout]:
    """``Preparer.prepare``'s arguments for a record already in canonical fields: its
    ``attributes``, its PII sets in order, and the (set index, field) pairs declared hashed —
    one column per value, laid out as a mapping plan would."""
    declared = frozenset(hashed)
    fields: list[str] = []
    columns: list[tuple[int, str]] = []
    for name, value in attributes.items():
        columns.append((len(fields), name))
        fields.append(value)
    sets: list[tuple[tuple[int, str, bool], ...]] = []
    for number, pii in enumerate(pii_sets):
        pii_columns = []
        for name, value in pii.items():
            pii_columns.append((len(fields), name, (number, name) in declared))
            fields.append(value)
        sets.append(tuple(pii_columns))
    return line, fields, RecordLayout({}, tuple(columns), tuple(sets))


class Mapped(NamedTuple):
    """A record in canonical fields as a plan's layout reads it: the attributes (the defaults,
    then the record's stripped non-empty values), the PII sets with a value (in set order) and
    the (set position, field) pairs whose column is declared hashed."""

    line: int
    attributes: dict[str, str]
    pii_sets: list[dict[str, str]]
    hashed: frozenset[tuple[int, str]] = frozenset()


def apply(plan: MappingPlan, record: Record) -> Mapped:
    """What ``plan`` makes of ``record``, through its layout for the record's columns."""
    layout = plan.layout_for(tuple(record.values))
    fields = list(record.values.values())
    attributes = dict(layout.defaults)
    for index, name in layout.attributes:
        if value := fields[index].strip():
            attributes[name] = value
    sets: list[dict[str, str]] = []
    hashed: set[tuple[int, str]] = set()
    for columns in layout.pii_sets:
        pii: dict[str, str] = {}
        for index, name, declared in columns:
            if value := fields[index].strip():
                pii[name] = value
                if declared:
                    hashed.add((len(sets), name))
        if pii:
            sets.append(pii)
    return Mapped(record.line, attributes, sets, frozenset(hashed))
