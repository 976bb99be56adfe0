"""Staged chunks: the records of a file that can't be range-read (gzip, a JSON array), written
by the splitter as plain JSON Lines under ``_staging/`` for the workers.

A staged line is ``{"__line": n, <column>: <value>…}`` for a record (every value a string, the
columns in the record's order) or ``{"__line": n, "__rejected": reason}`` for a reader's
rejection; its ``n`` is the record's line in the original file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from adm_ingest.readers.blocks import ReadItem, blocks_from_records
from adm_ingest.records import Rejection

_LINE = "__line"
_REJECTED = "__rejected"
_READ_SIZE = 1 << 20


def staged_lines(
    items: Iterable[ReadItem], line_shift: int = 0, skip: int = 0
) -> Iterator[tuple[int, bytes]]:
    """``(line, staged line)`` per record of ``items`` after the first ``skip`` (records staged
    before, or a resumed reader's placeholders); ``line_shift`` is added to every record's
    line (a resumed reader counts from the point it resumed at)."""
    dumps = orjson.dumps
    for item in items:
        if type(item) is Rejection:
            if skip:
                skip -= 1
                continue
            line = item.line + line_shift
            yield line, dumps({_LINE: line, _REJECTED: item.reason}) + b"\n"
            continue
        header = item.header
        lines, rows = item.lines, item.rows
        if skip:
            lines, rows, skip = lines[skip:], rows[skip:], max(0, skip - len(rows))
        for line, row in zip(lines, rows):  # noqa: B905
            line += line_shift
            yield line, dumps({_LINE: line, **dict(zip(header, row))}) + b"\n"  # noqa: B905


def read_staged(stream: Any) -> Iterator[ReadItem]:
    """The records of a staged chunk, exactly as the splitter read them."""
    return blocks_from_records(_staged_records(stream))


def _staged_records(stream: Any) -> Iterator[tuple[int, dict[str, str]] | Rejection]:
    pending = b""
    while True:
        block = stream.read(_READ_SIZE)
        if not block:
            break
        pending += block
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line:
                yield _unstage(line)
    if pending.strip():
        yield _unstage(pending)


def _unstage(line: bytes) -> tuple[int, dict[str, str]] | Rejection:
    data = orjson.loads(line)
    number = int(data.pop(_LINE))
    if _REJECTED in data:
        return Rejection(number, str(data[_REJECTED]))
    return number, data
