"""When requests got their final answer: counts by UTC minute and final status.

A tally counts each request once by its final status (``Tally.requests``) and, beside it, by
the minute its answer arrived (``Tally.request_minutes``), keyed ``"<minute> <status>"`` —
``"2026-12-01T14:12Z 200"``: a minute (:data:`MINUTE_FORMAT`, UTC), one space, the status
(an HTTP status, or ``error`` for a refusal without one). Both are counted in the same place
(:meth:`~adm_ingest.outcomes.Tally.count_request`), so the series sums to the totals.

The ledger adds a chunk's keys into the file item's ``request_minutes`` map. That map grows
with the time the file takes to deliver: at most one key per minute and status, ~25 bytes
each in DynamoDB — a file delivering for 10 hours with two statuses holds 1,200 keys (~30 KB),
24 hours with three ~105 KB, well inside the 400 KB item limit beside ``counted_chunks``.

This module knows the key and the shapes built from it: the report's ``requests_over_time``
(:func:`series`), a chunk's keys folded to fit one ledger update (:func:`fold_oldest`) and
the page's buckets (:func:`buckets`). Stdlib only, no record values: minutes and statuses.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

MINUTE_FORMAT = "%Y-%m-%dT%H:%MZ"
"""A request's minute: UTC, ``2026-12-01T14:12Z``."""
BUCKET_MINUTES = (1, 5, 15, 30, 60, 180, 360, 720, 1440)
"""The widths the page's chart may use, narrowest first (each divides a day)."""
MAX_BUCKETS = 60
"""Bars the page's chart shows at most: the narrowest width that fits is used."""


def minute_of(epoch: float) -> str:
    """The UTC minute of ``epoch`` (seconds), as keys and the report spell it."""
    return time.strftime(MINUTE_FORMAT, time.gmtime(epoch))


def minute_key(minute: str, status: str) -> str:
    """The ``request_minutes`` key of one request answered in ``minute`` with ``status``."""
    return f"{minute} {status}"


def parse_key(key: str) -> tuple[int, str] | None:
    """``(epoch minute, status)`` of a key (epoch minute: minutes since 1970-01-01 UTC), or
    ``None`` for a key that is not one (the report is read back as untrusted input)."""
    minute, _, status = key.partition(" ")
    number = parse_minute(minute)
    if number is None or not status:
        return None
    return number, status


def parse_minute(minute: str) -> int | None:
    """Minutes since the epoch of a :data:`MINUTE_FORMAT` minute (``None``: not one)."""
    try:
        return calendar.timegm(time.strptime(minute, MINUTE_FORMAT)) // 60
    except (ValueError, OverflowError):
        return None


def format_minute(number: int) -> str:
    return time.strftime(MINUTE_FORMAT, time.gmtime(number * 60))


class RequestsAt(TypedDict):
    """One entry of the report's ``requests_over_time``."""

    minute: str
    requests: dict[str, int]


def series(request_minutes: Mapping[str, int]) -> list[RequestsAt]:
    """The report's ``requests_over_time``: ``[{"minute": …, "requests": {status: count}}]``,
    by minute (statuses sorted; zero counts and keys that are not keys left out)."""
    by_minute: dict[int, dict[str, int]] = {}
    for key, count in request_minutes.items():
        parsed = parse_key(key)
        if parsed is None or count <= 0:
            continue
        number, status = parsed
        statuses = by_minute.setdefault(number, {})
        statuses[status] = statuses.get(status, 0) + count
    return [
        RequestsAt(minute=format_minute(number), requests=dict(sorted(by_minute[number].items())))
        for number in sorted(by_minute)
    ]


def fold_oldest(request_minutes: Mapping[str, int], max_keys: int) -> dict[str, int]:
    """``request_minutes`` in at most ``max_keys`` keys: while there are more, the oldest
    minute's counts move into the next minute's (each status into the same status), so every
    status keeps its total and a count is only ever shown later than its answer came, by the
    folded span — never earlier. Keys that are not keys are kept as they are. A chunk's
    requests span a minute or three, so this only acts on a pathological chunk.

    Raises:
        ValueError: even one minute's statuses (plus the unparsed keys) exceed ``max_keys``.
    """
    minutes: dict[int, dict[str, int]] = {}
    unparsed: dict[str, int] = {}
    for key, count in request_minutes.items():
        parsed = parse_key(key)
        if parsed is None:
            unparsed[key] = count
            continue
        minutes.setdefault(parsed[0], {})[parsed[1]] = count
    order = sorted(minutes)

    def size() -> int:
        return len(unparsed) + sum(len(minutes[m]) for m in order)

    while size() > max_keys and len(order) > 1:
        oldest = order.pop(0)
        later = minutes[order[0]]
        for status, count in minutes.pop(oldest).items():
            later[status] = later.get(status, 0) + count
    if size() > max_keys:
        raise ValueError("the chunk's request minutes do not fit one ledger update")
    folded = dict(unparsed)
    for number in order:
        for status, count in minutes[number].items():
            folded[minute_key(format_minute(number), status)] = count
    return folded


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of the page's chart: ``width`` minutes from ``start`` (epoch minutes)."""

    start: int
    requests: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def bucket_width(first: int, last: int, *, max_buckets: int = MAX_BUCKETS) -> int:
    """The narrowest of :data:`BUCKET_MINUTES` that shows minutes ``first``…``last`` in at
    most ``max_buckets`` aligned buckets (past a day: whole days, as many as it takes)."""
    width = BUCKET_MINUTES[0]
    for width in BUCKET_MINUTES:
        if last // width - first // width + 1 <= max_buckets:
            return width
    while last // width - first // width + 1 > max_buckets:
        width += BUCKET_MINUTES[-1]
    return width


def buckets(
    points: Iterable[tuple[int, Mapping[str, int]]], *, max_buckets: int = MAX_BUCKETS
) -> tuple[int, list[Bucket]]:
    """``(width, buckets)``: the counts of ``points`` (epoch minute, ``{status: count}``)
    summed into consecutive buckets of ``width`` minutes aligned to UTC multiples of it, from
    the first point's bucket to the last's, empty ones included (the axis is time). No points:
    ``(1, [])``. Every status keeps its total."""
    summed: dict[int, dict[str, int]] = {}
    pending = [(number, counts) for number, counts in points]
    if not pending:
        return 1, []
    first = min(number for number, _ in pending)
    last = max(number for number, _ in pending)
    width = bucket_width(first, last, max_buckets=max_buckets)
    for number, counts in pending:
        bucket = summed.setdefault(number // width * width, {})
        for status, count in counts.items():
            bucket[status] = bucket.get(status, 0) + count
    start, end = first // width * width, last // width * width
    return width, [
        Bucket(at, dict(sorted(summed.get(at, {}).items()))) for at in range(start, end + 1, width)
    ]
