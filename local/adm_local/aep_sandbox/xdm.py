"""Row validation against a resolved XDM schema, as AEP does when it promotes a batch.

Checked: ``required`` at every object level, JSON types (``integer`` with its range),
``enum``, ``pattern``, ``maxLength``, ``format`` (``date``, ``date-time`` in RFC 3339 or epoch
milliseconds, ``email``), maps (``meta:xdmType: map`` → ``additionalProperties``), and AEP's rule
that no field is null or empty (the key must be left out). A field the schema does not define
is refused too (a sandbox choice: it catches a mapping typo rather than dropping the value).
Messages name the path and the rule, never the value (the value may be PII).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class RowProblem:
    """One violation: the dotted path, the rule broken, and whether it is a missing/null field
    (AEP reports those as ``1555``)."""

    path: str
    rule: str
    missing: bool = False

    def __str__(self) -> str:
        return f"{self.path or '<row>'}: {self.rule}"


def validate_row(schema: Mapping[str, Any], row: Any) -> list[RowProblem]:
    """Every violation of ``row`` against the resolved schema ``schema``."""
    problems: list[RowProblem] = []
    _check(schema, row, "", problems)
    return problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (dict, list)) and not value)


def _check(schema: Mapping[str, Any], value: Any, path: str, out: list[RowProblem]) -> None:
    if _is_empty(value):
        out.append(RowProblem(path, "null or empty value", missing=True))
        return
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            out.append(RowProblem(path, "type object"))
            return
        if schema.get("meta:xdmType") == "map":
            items = schema.get("additionalProperties", {})
            for key, item in value.items():
                _check(items, item, _join(path, key), out)
            return
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                out.append(RowProblem(_join(path, name), "required", missing=True))
        for name, item in value.items():
            if name not in properties:
                out.append(RowProblem(_join(path, name), "not in schema"))
            else:
                _check(properties[name], item, _join(path, name), out)
    elif kind == "array":
        if not isinstance(value, list):
            out.append(RowProblem(path, "type array"))
            return
        for index, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{index}]", out)
    elif kind == "string":
        _check_string(schema, value, path, out)
    elif kind in ("integer", "number"):
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not is_number or (kind == "integer" and not isinstance(value, int)):
            out.append(RowProblem(path, f"type {kind}"))
            return
        if "minimum" in schema and value < schema["minimum"]:
            out.append(RowProblem(path, "minimum"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(RowProblem(path, "maximum"))
    elif kind == "boolean" and not isinstance(value, bool):
        out.append(RowProblem(path, "type boolean"))
    if "enum" in schema and value not in schema["enum"]:
        out.append(RowProblem(path, "enum"))


def _check_string(schema: Mapping[str, Any], value: Any, path: str, out: list[RowProblem]) -> None:
    fmt = schema.get("format")
    if fmt == "date-time" and isinstance(value, int) and not isinstance(value, bool):
        return  # epoch milliseconds convert to date-time (AEP-NOTES §7)
    if not isinstance(value, str):
        out.append(RowProblem(path, "type string"))
        return
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(RowProblem(path, "maxLength"))
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        out.append(RowProblem(path, "pattern"))
    if fmt == "date-time" and not _valid_date_time(value):
        out.append(RowProblem(path, "format date-time"))
    elif fmt == "date" and not _valid_date(value):
        out.append(RowProblem(path, "format date"))
    elif fmt == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        out.append(RowProblem(path, "format email"))


def _valid_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid_date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    try:  # the calendar check; fractions beyond microseconds are fine in RFC 3339
        datetime.fromisoformat(re.sub(r"\.\d+", "", value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
