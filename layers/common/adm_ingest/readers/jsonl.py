"""JSON Lines: one flat object per line, as blocks of consecutive records with the same keys."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from adm_ingest.readers.blocks import BLOCK_ROWS, ReadItem, RecordBlock, too_large
from adm_ingest.readers.json_values import is_orjson_depth_error, json_record, too_deep
from adm_ingest.readers.lines import BlockEnd, Raw, Run
from adm_ingest.records import Reason, Rejection


def json_lines_blocks(
    raws: Iterator[Raw | Run | BlockEnd], max_depth: int, max_rows: int = BLOCK_ROWS
) -> Iterator[ReadItem]:
    """The records of ``raws`` (from :func:`~adm_ingest.readers.lines.split_records` with
    ``block_ends``, no runs), each line parsed by orjson."""
    # A line is at most MAX_RECORD_BYTES, so orjson (itself capped at ORJSON_DEPTH levels)
    # parses even a deep one in bounded memory: depth is checked after parsing, and only for
    # the rare value that is not a flat object.
    header: tuple[str, ...] = ()
    lines: list[int] = []
    rows: list[list[str]] = []
    for raw in raws:
        if type(raw) is BlockEnd:
            # The stream is read next: hand over every record taken from it so far.
            if rows:
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
            continue
        _, line, data, oversized = raw  # type: ignore[misc]  # a Raw: block ends are handled above
        if oversized or data is None:
            record: tuple[tuple[str, ...], list[str]] | Rejection = too_large(line)
        else:
            try:
                record = json_record(line, orjson.loads(data), max_depth)
            except orjson.JSONDecodeError as error:
                record = _unparsed(line, data, error, max_depth)
        if type(record) is Rejection:
            if rows:
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
            yield record
            continue
        keys, values = record
        if rows and (keys != header or len(rows) >= max_rows):
            yield RecordBlock(header, lines, rows)
            lines, rows = [], []
        header = keys
        lines.append(line)
        rows.append(values)
    if rows:
        yield RecordBlock(header, lines, rows)


def _unparsed(line: int, data: bytes, error: orjson.JSONDecodeError, max_depth: int) -> Rejection:
    if is_orjson_depth_error(error):
        return too_deep(line, max_depth)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(line, Reason.UNDECODABLE_BYTES, "not valid UTF-8")
    return Rejection(line, Reason.INVALID_JSON, "not valid JSON")
