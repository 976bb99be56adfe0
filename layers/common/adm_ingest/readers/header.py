"""The CSV header line: delimiter detection, validation, and the test that the first line is
a header at all (not a record of a file without one)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adm_ingest.column_names import classify_column
from adm_ingest.readers.csv import csv_fields
from adm_ingest.readers.encoding import encoding_name
from adm_ingest.readers.formats import MAX_RECORD_BYTES, FileFormatError
from adm_ingest.readers.lines import Raw, Run

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
"""Detectable CSV delimiters, in order of preference when counts tie."""
_LOOKS_LIKE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LOOKS_LIKE_NUMBER = re.compile(r"[+\d\s().-]*\d[+\d\s().-]*")
_LOOKS_LIKE_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# Weaker shapes: a header could hold one of these only as an odd column name, so they count only
# in a first line where no name is a known column (see _headerless_column).
_LOOKS_LIKE_POSTCODE = re.compile(
    r"\d{4}(?:-\d{3,4})?"  # AT/CH/DK/AU 1010 · BR 01310-100 · US ZIP+4 (12345 is a number)
    r"|\d{3}-\d{4}|\d{2}-\d{3}"  # JP 100-0001 · PL 00-950
    r"|\d{4} ?[A-Za-z]{2}"  # NL 1012 AB
    r"|[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}"  # GB SW1A 1AA
    r"|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d"  # CA K1A 0B1
)
_LOOKS_LIKE_AMOUNT = re.compile(r"[-+]?[$€£¥]?\d+(?:[.,' ]\d+)*(?: ?[$€£¥%])?")
_LOOKS_LIKE_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d.*)?")
_LOOKS_LIKE_STREET = re.compile(r"\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?,? +[^\d\s].*")
"""A street address that starts with its house number (``742 Evergreen Terrace``)."""
NO_HEADER_HINT = "add one (column names like email, phone, first_name…)"


def read_header_line(
    raw: Raw | Run | None, delimiter: str | None, encoding: str
) -> tuple[tuple[str, ...], str]:
    if raw is None:
        raise FileFormatError("the file is empty")
    assert not isinstance(raw, Run), "the splitter never starts with a run"
    _, _, data, oversized = raw
    if oversized or data is None:
        raise FileFormatError(f"the header line is longer than {MAX_RECORD_BYTES} bytes")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FileFormatError(f"the header line is not valid {encoding_name(encoding)}") from None
    if delimiter is None:
        delimiter = max(DELIMITERS, key=text.count)
    fields = csv_fields(text, delimiter)
    if fields is None:
        raise FileFormatError("the header line is malformed (bad quoting)")
    names = [name.strip() for name in fields]
    position, known = _headerless_column(names)
    if position:
        why = "" if known else " and no column name is recognised"
        raise FileFormatError(
            f"the file seems to have no header row: column {position} of the first line "
            f"looks like a data value{why}; {NO_HEADER_HINT}"
        )
    return validated_header(names), delimiter


def validated_header(names: list[str]) -> tuple[str, ...]:
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


def _headerless_column(names: Sequence[str]) -> tuple[int, bool]:
    """The first cell (1-based; 0: none) that says the first line is a record, not a header,
    and whether the line names a known column.

    A cell that is evidently a value — an email, a phone number (5+ digits), a SHA-256 hash —
    says so alone. Weaker shapes — a number or an amount, a date, a postcode, a street address
    led by its house number — say so only when no cell is a column name the vocabulary knows
    (:func:`~adm_ingest.column_names.classify_column`: mapped, known but not sent, or known
    ambiguous): an export header names at least one such column, while an odd name like
    ``2024`` or ``Q3 Total`` beside ``Email`` stays a header. Names-only first lines have no
    shape to tell them by and remain headers (the report then lists them as unknown columns).
    """
    for position, name in enumerate(names, 1):
        if _looks_like_data(name):
            return position, _names_a_known_column(names)
    weak = next((p for p, name in enumerate(names, 1) if _looks_like_a_value(name)), 0)
    if weak and not _names_a_known_column(names):
        return weak, False
    return 0, True


def _looks_like_data(name: str) -> bool:
    """True for a header cell that is evidently a value: an email, a phone number, a hash."""
    return bool(
        _LOOKS_LIKE_EMAIL.fullmatch(name)
        or (_LOOKS_LIKE_NUMBER.fullmatch(name) and sum(c.isdigit() for c in name) >= 5)
        or _LOOKS_LIKE_SHA256.fullmatch(name)
    )


def _looks_like_a_value(name: str) -> bool:
    """True for a cell shaped like a value that an odd column name could also have."""
    return bool(
        _LOOKS_LIKE_AMOUNT.fullmatch(name)
        or _LOOKS_LIKE_DATE.fullmatch(name)
        or _LOOKS_LIKE_POSTCODE.fullmatch(name)
        or _LOOKS_LIKE_STREET.fullmatch(name)
    )


def _names_a_known_column(names: Sequence[str]) -> bool:
    for name in names:
        found = classify_column(name)
        if found.field is not None or found.why_not is not None or found.hint is not None:
            return True
    return False


def check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError("the delimiter must be one character other than a quote or line break")
