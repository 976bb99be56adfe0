"""The match rate of a file's target: the remote facts that carry it, and the report's
``match_rate`` section built from them.

A destination whose remote system tells how many of a dataset's records it matched (resolved
to its own users) reports that in its terminal remote state under the generic fact names
below; the report reads them without knowing which destination wrote them. Facts are counts
and codes: the percentage travels as text (remote facts are whole numbers or text in the
ledger) and is read back as a float here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MATCHED = "matched"
"""Records of the dataset the remote system matched (an int)."""
MATCH_PERCENTAGE = "match_percentage"
"""The remote system's match percentage, 0–100 (text: ``"61.54"``)."""
RECORDS_RESOLVED = "records_resolved"
"""Records the remote system resolved to one of its users, as it counts them (an int)."""
MATCH_READ_AT = "match_read_at"
"""When the metrics were read (ISO 8601, UTC)."""
MATCH_UNAVAILABLE = "match_unavailable"
"""Why the metrics could not be read (a reason code): there is no match rate."""


def match_rate_section(
    facts: Mapping[str, int | str], *, minimum_audience_size: int
) -> dict[str, Any] | None:
    """The report's ``match_rate``: ``matched``, ``match_percentage``, ``records_resolved``
    (each None when the remote system did not say), ``read_at``, ``minimum_audience_size``
    and ``below_minimum`` (matched known and under the minimum). None when no metrics were
    read (the destination reads none, or they were unavailable)."""
    read_at = facts.get(MATCH_READ_AT)
    if not read_at or MATCH_UNAVAILABLE in facts:
        return None
    matched = _count(facts.get(MATCHED))
    return {
        "matched": matched,
        "match_percentage": _percentage(facts.get(MATCH_PERCENTAGE)),
        "records_resolved": _count(facts.get(RECORDS_RESOLVED)),
        "read_at": str(read_at),
        "minimum_audience_size": minimum_audience_size,
        "below_minimum": matched is not None and matched < minimum_audience_size,
    }


def unavailable_reason(facts: Mapping[str, int | str]) -> str | None:
    """The reason code of metrics that could not be read, or None."""
    reason = facts.get(MATCH_UNAVAILABLE)
    return str(reason) if reason else None


def _count(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _percentage(value: int | str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
