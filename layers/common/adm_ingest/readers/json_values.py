"""A parsed JSON value as a record: a flat object's values as strings, or why it is none."""

from __future__ import annotations

import orjson

from adm_ingest.records import Reason, Rejection

ORJSON_DEPTH = 1024
"""orjson refuses deeper input (whatever ``max_depth`` says): such lines are ``too_deep``."""


def is_orjson_depth_error(error: orjson.JSONDecodeError) -> bool:
    # orjson has no error code for it; its message says "depth limit exceeded" (older releases
    # "recursion limit"). A golden test pins this.
    message = str(error)
    return message.startswith("depth limit") or "recursion limit" in message


JsonRecord = tuple[tuple[str, ...], list[str]]
"""A flat object as a record: its keys (those whose value is not ``null``) and their values."""


def json_record(line: int, value: object, max_depth: int) -> JsonRecord | Rejection:
    """``value`` as a record — strings as they are, numbers via ``str``, booleans as ``true`` /
    ``false``, ``null`` leaves the key out — or why it is none (not an object, a nested value,
    nested deeper than ``max_depth``)."""
    if not isinstance(value, dict):
        if isinstance(value, list) and _depth(value) > max_depth:
            return too_deep(line, max_depth)
        return not_object(line)
    keys: list[str] = []
    values: list[str] = []
    for key, item in value.items():
        if isinstance(item, str):
            text = item
        elif item is None:
            continue
        elif isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, int | float):
            text = str(item)
        elif _depth(value) > max_depth:
            return too_deep(line, max_depth)
        else:
            return nested(line)
        keys.append(key)
        values.append(text)
    return tuple(keys), values


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value (a scalar 0, ``[]`` 1, ``[{}]`` 2), iteratively:
    a parsed line can be nested up to :data:`ORJSON_DEPTH` levels, past Python's recursion
    limit."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        level += 1
        deepest = max(deepest, level)
        pending.extend((child, level) for child in item)
    return deepest


def too_deep(line: int, max_depth: int) -> Rejection:
    return Rejection(line, Reason.TOO_DEEP, f"nested deeper than {max_depth} levels")


def not_object(line: int) -> Rejection:
    return Rejection(line, Reason.NOT_AN_OBJECT, "a JSON value that is not an object")


def nested(line: int) -> Rejection:
    return Rejection(line, Reason.MALFORMED_RECORD, "a nested object or array value")
