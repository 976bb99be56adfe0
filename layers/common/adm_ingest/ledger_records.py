"""The ledger's records, typed: what goes into the ledger and what comes out of it.

This module is the one place that knows the DynamoDB item shapes: every ``*_from_item`` turns
an item (DynamoDB's ``Decimal`` numbers, sets) into a record of plain Python values, and every
``to_item`` does the reverse. Callers of :class:`~adm_ingest.ledger.Ledger` read attributes,
never item keys.

* :class:`FileEntry` — identity and routing of a new file (``register_file``);
* :class:`FileFacts` — what the split learned about it (``record_file_facts``);
* :class:`PinnedMapping` — the validated mapping the file's chunks use (``pin_mapping``);
* :class:`FileRecord` — the file item as read (``get_file``, ``claim_finalization``);
* :class:`RemoteOutcome` — the terminal remote state of a file whose destination's commit was
  pending, as the poller records it (``record_remote_state``);
* :class:`DeliveredBatch` — one batch of a chunk the worker delivered, or that the API refused
  as a whole (``record_delivered_batch``), replayed by a retry instead of being sent again;
* :class:`ChunkRecord` — the chunk item as read (``get_chunk``);
* :class:`DeadLetter` — what a dead-lettered chunk keeps so it can be redriven: its pointer
  and the exact counts its failure added to the file (``complete_chunk(dead_letter=…)``).

Nothing here holds a record value: names, codes, counts and ids only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from adm_ingest.attempts import AttemptStats
from adm_ingest.mapping_config import PinnedMapping

RETENTION_SECONDS = 90 * 24 * 3600
"""Ledger items expire (DynamoDB TTL) this long after their file was registered."""
COUNTER_MAPS = (
    "rejected",
    "failed",
    "coverage_valid",
    "coverage_invalid",
    "requests",
    "request_attempts",
    "notes",
    "skipped",
    "country_sources",
    "countries",
    "consent_sources",
    "request_minutes",
)
"""The file item's maps of counters, each created empty with the file (chunks add into them)."""

__all__ = [
    "ChunkRecord",
    "DeliveredBatch",
    "FileEntry",
    "FileFacts",
    "FileRecord",
    "PinnedMapping",
    "RemoteOutcome",
    "plain",
]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """Identity and routing of one input file (no content, never PII)."""

    file_id: str
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int
    destination: str
    """The destination's stable name (``audience_members``…), ``unknown`` for an unroutable key."""
    target_name: str
    target_id: str
    target_attributes: Mapping[str, str] = field(default_factory=dict)
    """The resolved target's registry attributes, pinned for every chunk (e.g. an AEP
    dataset's class and validator form): what the worker builds the destination with."""

    def new_item(self, now: float) -> dict[str, Any]:
        """The file's ledger item as registered at ``now``: nothing split, nothing counted."""
        item: dict[str, Any] = {
            "pk": f"file#{self.file_id}",
            "sk": "file",
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "destination": self.destination,
            "target_name": self.target_name,
            "target_id": self.target_id,
            **(
                {"target_attributes": dict(self.target_attributes)}
                if self.target_attributes
                else {}
            ),
            "status": "splitting",
            "created_at": iso_time(now),
            "created_epoch": int(now),
            "chunks_done": 0,
            "read": 0,
            "accepted": 0,
            "ingress_ids": [],
            "expires_at": int(now) + RETENTION_SECONDS,
            **{name: {} for name in COUNTER_MAPS},
        }
        if self.version_id:
            item["version_id"] = self.version_id
        if self.etag:
            item["etag"] = self.etag
        return item


def iso_time(epoch: float) -> str:
    """A ledger timestamp: UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the splitter learns about a file before its chunks run (column names, codes and
    counts only — never a value), stored on the file item for the report. A field left
    ``None`` is not written (the split records the final ``encoding`` on its own, later)."""

    mapping: Mapping[str, Any] | None = None
    """The report's ``mapping`` section (``report.mapping_section``)."""
    encoding: str | None = None
    country_column: bool | None = None
    default_country: str | None = None
    default_country_source: str | None = None
    country_profile: Mapping[str, Any] | None = None

    def to_item(self) -> dict[str, Any]:
        """The attributes to set (the ``None`` fields left out)."""
        return {
            f.name: _stored(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class RemoteOutcome:
    """How a pending commit ended: the terminal remote state the poller recorded on the file
    (the destination's status and facts — ids and counts, never data — or the poller's own
    ``timed_out`` / ``poll_failed``). The report's ``remote`` section shows it."""

    status: str
    succeeded: bool
    facts: Mapping[str, int | str] = field(default_factory=dict)
    finished_at: str | None = None
    """When the poller recorded it: the final report's ``finished_at``."""
    failed: Mapping[str, int] = field(default_factory=dict)
    """Delivered records the remote system did not take, by reason: they move from accepted
    to failed in the final report."""

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "status": self.status,
            "succeeded": self.succeeded,
            "facts": {str(k): v for k, v in self.facts.items()},
        }
        if self.finished_at is not None:
            item["finished_at"] = self.finished_at
        if self.failed:
            item["failed"] = {str(k): int(v) for k, v in self.failed.items()}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RemoteOutcome:
        data = plain(item)
        return cls(
            status=str(data.get("status") or ""),
            succeeded=bool(data.get("succeeded")),
            facts={str(k): _fact(v) for k, v in (data.get("facts") or {}).items()},
            finished_at=data.get("finished_at"),
            failed=_counts(data.get("failed")),
        )


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A ledger file item, as read. Counters are ints; counter maps are name → int."""

    file_id: str
    bucket: str = ""
    key: str = ""
    version_id: str | None = None
    etag: str | None = None
    size: int = 0
    destination: str = ""
    target_name: str = ""
    target_id: str = ""
    status: str = ""
    """``splitting`` · ``processing`` · ``error`` · then the report's status once reported."""
    error: str | None = None
    """The file-level error (a message naming a position or a limit, never a value)."""
    created_at: str | None = None
    split_done: bool = False
    split_done_at: str | None = None
    split_checkpoint: Mapping[str, Any] | None = None
    """Where a split that ran out of time continues (the splitter's ``SplitCheckpoint``)."""
    chunks_total: int = 0
    records_total: int | None = None
    """Records the split queued (``None`` until it is done)."""
    chunks_done: int = 0
    counted_chunks: frozenset[int] = frozenset()
    """Indexes of the chunks whose outcome is in the counters."""
    read: int = 0
    accepted: int = 0
    ingress_ids: tuple[str, ...] = ()
    retry_wait_ms: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, int] = field(default_factory=dict)
    coverage_valid: Mapping[str, int] = field(default_factory=dict)
    coverage_invalid: Mapping[str, int] = field(default_factory=dict)
    requests: Mapping[str, int] = field(default_factory=dict)
    request_attempts: Mapping[str, int] = field(default_factory=dict)
    notes: Mapping[str, int] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)
    country_sources: Mapping[str, int] = field(default_factory=dict)
    countries: Mapping[str, int] = field(default_factory=dict)
    consent_sources: Mapping[str, int] = field(default_factory=dict)
    request_minutes: Mapping[str, int] = field(default_factory=dict)
    """Requests by answer minute and status (``Tally.request_minutes``'s keys)."""
    mapping: Mapping[str, Any] | None = None
    encoding: str | None = None
    country_column: bool | None = None
    default_country: str | None = None
    default_country_source: str | None = None
    country_profile: Mapping[str, Any] | None = None
    target_attributes: Mapping[str, str] = field(default_factory=dict)
    """The target's registry attributes as pinned at split time (:class:`FileEntry`)."""
    session: Mapping[str, str] = field(default_factory=dict)
    """The destination's opaque remote ids for the file (``open_file`` / ``commit``); ``{}``
    for ADM. Every chunk pointer carries the same."""
    mapping_prefix: str = ""
    mapping_config: str | None = None
    """The pinned mapping's canonical JSON (``None``: not pinned yet): :meth:`pinned_mapping`."""
    mapping_hash: str = ""
    finalize_owner: str | None = None
    finalize_attempts: int = 0
    finalized_at: str | None = None
    """Set by the first finalization claim: the report's ``finished_at``."""
    report_written_at: str | None = None
    reported_at: str | None = None
    last_finalize_error: str | None = None
    committed_at: str | None = None
    """When the destination's commit said *pending* (``None``: it never did — a file that
    finished at delivery); the file is then polled (:mod:`adm_ingest.pipeline.poller`)."""
    committed_epoch: int | None = None
    """``committed_at`` in epoch seconds: where the poller's deadline counts from."""
    commit_session: Mapping[str, str] = field(default_factory=dict)
    """The session the pending commit returned (opaque remote ids, kept from the first
    commit): what is polled, unless empty (then the file's ``session``)."""
    awaiting_remote: bool = False
    """Parked: committed, its ``committed`` report written, no claim granted until the
    poller records :attr:`remote_state`."""
    remote_state: RemoteOutcome | None = None
    """The terminal remote state of a pending commit (``None``: not known yet, or no pending
    commit)."""

    def pinned_mapping(self) -> PinnedMapping | None:
        """The mapping every chunk of the file uses, checked against its hash (``None``: the
        file was split before mappings were pinned, or its split has not pinned one yet).

        Raises:
            MappingMismatch: the stored text does not hash to the stored hash.
        """
        if self.mapping_config is None:
            return None
        return PinnedMapping.from_stored(
            self.mapping_prefix, self.mapping_config, self.mapping_hash
        )

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> FileRecord:
        data = plain(item)
        records_total = data.get("records_total")
        committed_epoch = data.get("committed_epoch")
        remote_state = data.get("remote_state")
        return cls(
            file_id=str(data["pk"]).removeprefix("file#"),
            bucket=str(data.get("bucket") or ""),
            key=str(data.get("key") or ""),
            version_id=data.get("version_id"),
            etag=data.get("etag"),
            size=int(data.get("size") or 0),
            destination=str(data.get("destination") or ""),
            target_name=str(data.get("target_name") or ""),
            target_id=str(data.get("target_id") or ""),
            status=str(data.get("status") or ""),
            error=data.get("error"),
            created_at=data.get("created_at"),
            split_done=bool(data.get("split_done")),
            split_done_at=data.get("split_done_at"),
            split_checkpoint=data.get("split_checkpoint"),
            chunks_total=int(data.get("chunks_total") or 0),
            records_total=None if records_total is None else int(records_total),
            chunks_done=int(data.get("chunks_done") or 0),
            counted_chunks=frozenset(int(n) for n in data.get("counted_chunks") or ()),
            read=int(data.get("read") or 0),
            accepted=int(data.get("accepted") or 0),
            ingress_ids=tuple(str(i) for i in data.get("ingress_ids") or ()),
            retry_wait_ms=int(data.get("retry_wait_ms") or 0),
            rejected=_counts(data.get("rejected")),
            failed=_counts(data.get("failed")),
            coverage_valid=_counts(data.get("coverage_valid")),
            coverage_invalid=_counts(data.get("coverage_invalid")),
            requests=_counts(data.get("requests")),
            request_attempts=_counts(data.get("request_attempts")),
            notes=_counts(data.get("notes")),
            skipped=_counts(data.get("skipped")),
            country_sources=_counts(data.get("country_sources")),
            countries=_counts(data.get("countries")),
            consent_sources=_counts(data.get("consent_sources")),
            request_minutes=_counts(data.get("request_minutes")),
            mapping=data.get("mapping"),
            encoding=data.get("encoding"),
            country_column=data.get("country_column"),
            default_country=data.get("default_country"),
            default_country_source=data.get("default_country_source"),
            country_profile=data.get("country_profile"),
            target_attributes=_strings(data.get("target_attributes")),
            session=_strings(data.get("session")),
            mapping_prefix=str(data.get("mapping_prefix") or ""),
            mapping_config=data.get("mapping_config"),
            mapping_hash=str(data.get("mapping_hash") or ""),
            finalize_owner=data.get("finalize_owner"),
            finalize_attempts=int(data.get("finalize_attempts") or 0),
            finalized_at=data.get("finalized_at"),
            report_written_at=data.get("report_written_at"),
            reported_at=data.get("reported_at"),
            last_finalize_error=data.get("last_finalize_error"),
            committed_at=data.get("committed_at"),
            committed_epoch=None if committed_epoch is None else int(committed_epoch),
            commit_session=_strings(data.get("commit_session")),
            awaiting_remote=bool(data.get("awaiting_remote")),
            remote_state=None if remote_state is None else RemoteOutcome.from_item(remote_state),
        )


@dataclass(frozen=True, slots=True)
class DeliveredBatch:
    """What the worker records for one batch of a chunk once the API gave its final answer:
    delivered (``status``, the items it refused, its ingress id) or refused as a whole
    (``failed``: the reason its records are failed with). A retry of the chunk replays these
    instead of sending the batches again (batching is deterministic)."""

    status: int = 200
    rejected: Mapping[int, str] = field(default_factory=dict)
    """Refused items: position in the batch → reason code."""
    ingress_id: str | None = None
    failed: str | None = None
    """The reason the whole batch was refused (``None``: delivered)."""
    attempts: AttemptStats = field(default_factory=AttemptStats)
    """Every attempt its request took (retries included)."""
    answered_at: str | None = None
    """The UTC minute its final answer came (:func:`~adm_ingest.request_times.minute_of`):
    a replay counts the request then, not at its own time. ``None``: recorded by a release
    that kept no time (the replay counts it at the replay's minute)."""

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"status": self.status, "attempts": self.attempts.to_dict()}
        if self.answered_at is not None:
            item["answered_at"] = self.answered_at
        if self.rejected:
            item["rejected"] = {str(k): v for k, v in self.rejected.items()}
        if self.ingress_id:
            item["ingress_id"] = self.ingress_id
        if self.failed is not None:
            item["failed"] = self.failed
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> DeliveredBatch:
        data = plain(item)
        failed = data.get("failed")
        return cls(
            status=int(data.get("status") or (0 if failed is not None else 200)),
            rejected={int(k): str(v) for k, v in (data.get("rejected") or {}).items()},
            ingress_id=data.get("ingress_id"),
            failed=None if failed is None else str(failed),
            attempts=AttemptStats.from_dict(data.get("attempts") or {}),
            answered_at=None if data.get("answered_at") is None else str(data["answered_at"]),
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-lettered chunk's redrive record (chunk item attribute ``dead_letter``).

    ``counted`` is what :meth:`~adm_ingest.ledger.Ledger.complete_chunk` added to the file
    item — ``read``, ``accepted``, ``retry_wait_ms``, ``ingress_ids`` and ``maps``
    (counter map → name → count, countries folded as applied) — so a redrive subtracts exactly
    that. ``lines`` is the ``[first, last]`` line of the chunk's fates (the rejects file's rows
    it wrote), ``None`` when it wrote none. The pointer carries no record value (see
    :mod:`adm_ingest.pipeline.chunks`)."""

    pointer: str
    """The chunk message (:meth:`ChunkPointer.to_message`) of the run that dead-lettered."""
    generation: int = 0
    """The pointer's redrive generation (0: never redriven)."""
    lines: tuple[int, int] | None = None
    counted: Mapping[str, Any] = field(default_factory=dict)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pointer": self.pointer,
            "generation": self.generation,
            "counted": _stored(self.counted),
        }
        if self.lines is not None:
            item["lines"] = list(self.lines)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> DeadLetter:
        data = plain(item)
        lines = data.get("lines")
        return cls(
            pointer=str(data["pointer"]),
            generation=int(data.get("generation") or 0),
            lines=(int(lines[0]), int(lines[1])) if lines else None,
            counted=data.get("counted") or {},
        )


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A ledger chunk item, as read."""

    file_id: str
    index: int
    status: str | None = None
    """``done`` · ``failed`` once the chunk's outcome was added to its file; ``None`` before."""
    completed_at: str | None = None
    delivered_batches: tuple[DeliveredBatch, ...] = ()
    """The chunk's batches with a final answer, in batch order."""
    last_error: str | None = None
    """Why the last failed run stopped: ``not_delivered:<detail>`` / ``unconfirmed_delivery:…``."""
    attempts: int = 0
    """Failed runs."""
    attempt_log: tuple[AttemptStats, ...] = ()
    """The attempts of each failed run (counted into the chunk's outcome)."""
    unconfirmed_batches: frozenset[int] = frozenset()
    """Batches whose request went unanswered after it may have reached the API."""
    dead_letter: DeadLetter | None = None
    """Set when the dead-letter recorder counted the chunk failed (kept after a redrive: the
    pointer to send again if the redrive's send was lost)."""
    redrives: int = 0
    """How often the chunk was redriven: the generation its current pointer carries."""
    redrive_sent: int = 0
    """The last generation whose pointer is known to be on the chunk queue."""

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ChunkRecord:
        data = plain(item)
        return cls(
            file_id=str(data["pk"]).removeprefix("file#"),
            index=int(str(data["sk"]).removeprefix("chunk#")),
            status=data.get("status"),
            completed_at=data.get("completed_at"),
            delivered_batches=tuple(
                DeliveredBatch.from_item(batch) for batch in data.get("delivered_batches") or ()
            ),
            last_error=data.get("last_error"),
            attempts=int(data.get("attempts") or 0),
            attempt_log=tuple(AttemptStats.from_dict(run) for run in data.get("attempt_log") or ()),
            unconfirmed_batches=frozenset(int(n) for n in data.get("unconfirmed_batches") or ()),
            dead_letter=DeadLetter.from_item(data["dead_letter"])
            if data.get("dead_letter")
            else None,
            redrives=int(data.get("redrives") or 0),
            redrive_sent=int(data.get("redrive_sent") or 0),
        )


def _counts(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _fact(value: Any) -> int | str:
    """A remote fact as read: whole numbers stay numbers, anything else is text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


def _stored(value: Any) -> Any:
    """A record's value as DynamoDB takes it (read-only maps become dicts)."""
    if isinstance(value, Mapping):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stored(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def plain(value: Any) -> Any:
    """DynamoDB resource values (Decimal, sets) → plain JSON-able Python: whole numbers as
    ``int``, others as ``float``; sets as lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
