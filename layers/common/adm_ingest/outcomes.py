"""Accounting for what happened to every record: accepted, rejected (line + reason) or failed.

A :class:`Tally` is kept per unit of work (a dry-run, a chunk) and is merged into the file's
ledger; the invariant everyone relies on is ``read == accepted + rejected + failed``. Lines the
reader recognised as not being records at all (report footers) are counted apart, in ``skipped``,
and are not part of ``read``.
Identifier coverage counts, per canonical PII field, how many values were hashed (``valid``) and
how many were present but empty/invalid after normalization (``invalid`` — omitted, never sent).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from adm_ingest.records import PreparedRecord
from adm_ingest.request_times import minute_key

REJECTED = "rejected"
FAILED = "failed"


class Failure(StrEnum):
    """Why records ``failed`` when no retry could deliver them (besides a permanent refusal of
    the whole request by ADM, ``adm_<status>_<code>``)."""

    UNCONFIRMED_DELIVERY = "unconfirmed_delivery"
    """Sent, but the answer was lost (a read timeout, a connection dropped after the body went
    out) and the retries ran out: ADM may hold these records. A redrive or a re-drop of the
    file resolves it idempotently (members are keyed by externalUserId, events by
    clientDedupeId)."""
    NOT_DELIVERED = "not_delivered"
    """Never reached ADM: refused transiently on every attempt (429/5xx), the connection could
    not be opened, the credentials were refused, or time ran out before sending."""


@dataclass(frozen=True, slots=True)
class RecordFate:
    """One record that did not end accepted: its line, its outcome and why (never its data)."""

    line: int
    outcome: str
    reason: str


class Coverage:
    """Per-field identifier coverage: ``valid`` and ``invalid`` counts by canonical field."""

    __slots__ = ("_shapes", "_valid", "invalid")

    def __init__(self) -> None:
        self._valid: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()
        # Records mostly share a handful of field sets, so count each set once per record
        # and expand to per-field counts only when asked (this runs once per record).
        self._shapes: dict[tuple[str, ...], int] = {}

    @property
    def valid(self) -> Counter[str]:
        if self._shapes:
            for shape, count in self._shapes.items():
                for name in shape:
                    self._valid[name] += count
            self._shapes.clear()
        return self._valid

    def add(self, record: PreparedRecord) -> None:
        shapes = self._shapes
        for hashed in record.hashed_sets:
            shape = tuple(hashed)
            # A plain dict and try: a Counter's += costs a Python-level __missing__ check.
            try:
                shapes[shape] += 1
            except KeyError:
                shapes[shape] = 1
        if record.invalid_fields:
            self.invalid.update(record.invalid_fields)

    def to_dict(self) -> dict[str, dict[str, int]]:
        valid = self.valid
        names = sorted(set(valid) | set(self.invalid))
        return {n: {"valid": valid[n], "invalid": self.invalid[n]} for n in names}


@dataclass(slots=True)
class Tally:
    """Outcome counts for a unit of work, plus the fate of every record that was not accepted."""

    read: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    fates: list[RecordFate] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)
    requests: Counter[str] = field(default_factory=Counter)
    """Requests by final HTTP status (or ``"dry_run"``): one per batch that got an answer."""
    attempts: Counter[str] = field(default_factory=Counter)
    """Every attempt of every request, retries included, by HTTP status, ``dropped`` (no
    answer; may have reached ADM) or ``unreachable`` (no connection: nothing sent)."""
    retry_wait_ms: int = 0
    """Time spent waiting before retries (``Retry-After`` or backoff), in milliseconds."""
    ingress_ids: list[str] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)
    """File-level observations by code (``naive_timestamp_as_utc``…), from the destination."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Lines that are not records (``report_footer``), by reason: not part of ``read``."""
    country_sources: Counter[str] = field(default_factory=Counter)
    """Records by where their country came from (a ``consent.CountrySource``)."""
    countries: Counter[str] = field(default_factory=Counter)
    """Records by their resolved country (ISO alpha-2)."""
    consent_sources: Counter[str] = field(default_factory=Counter)
    """Records by where their consent came from (a ``consent.ConsentSource``); records
    rejected for their consent are not among them."""
    request_minutes: Counter[str] = field(default_factory=Counter)
    """Requests by the UTC minute their final answer came and that status, keyed
    ``"2026-12-01T14:12Z 200"`` (:mod:`adm_ingest.request_times`): sums to ``requests``."""

    def reject(self, line: int, reason: str, detail: str = "") -> None:
        """Count a rejection by its code; its fate (the rejects file's row) also says where,
        when ``detail`` does (``invalid_xdm: homeAddress.postalCode maxLength``). ``detail`` is
        value-free by :class:`~adm_ingest.records.Rejection`'s contract."""
        reason = str(reason)  # a Reason member becomes its plain code
        self.rejected[reason] += 1
        self.fates.append(RecordFate(line, REJECTED, f"{reason}: {detail}" if detail else reason))

    def fail(self, lines: Iterable[int], reason: str) -> None:
        reason = str(reason)
        for line in lines:
            self.failed[reason] += 1
            self.fates.append(RecordFate(line, FAILED, reason))

    def count_request(self, status: str, minute: str | None) -> None:
        """One request's final answer: by ``status`` and, with its ``minute``
        (:func:`~adm_ingest.request_times.minute_of`), by when it came. Once per request, not
        per record: a chunk pays a few dictionary updates for it. ``None`` only where no
        answer came (a dry run sends nothing)."""
        self.requests[status] += 1
        if minute is not None:
            self.request_minutes[minute_key(minute, status)] += 1

    def count_attempts(self, by_outcome: Mapping[str, int], retry_wait_ms: int) -> None:
        """Add the attempts of one request (or of an earlier run of the chunk)."""
        self.attempts.update(by_outcome)
        self.retry_wait_ms += retry_wait_ms

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def balanced(self) -> bool:
        """True when every record read has exactly one outcome."""
        return self.read == self.accepted + self.rejected_total + self.failed_total

    def summary(self) -> dict[str, object]:
        """Counts only (no per-record fates) — what a report or a log line carries."""
        return {
            "records_read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected_total,
            "failed": self.failed_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "failed_by_reason": dict(sorted(self.failed.items())),
            "identifier_coverage": self.coverage.to_dict(),
            "requests": dict(sorted(self.requests.items())),
            "notes": dict(sorted(self.notes.items())),
            "lines_skipped": dict(sorted(self.skipped.items())),
            "country_sources": dict(sorted(self.country_sources.items())),
            "records_by_country": dict(sorted(self.countries.items())),
            "consent_sources": dict(sorted(self.consent_sources.items())),
        }
