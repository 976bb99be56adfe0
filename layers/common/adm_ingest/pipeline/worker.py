"""The worker: one chunk pointer → records read, hashed, sent, and every outcome recorded.

Safe to run twice on the same chunk, concurrently or one after the other:

* every delivered batch is recorded in the ledger (a :class:`DeliveredBatch`) before the next
  one is sent, and a retry replays them instead of posting those batches again (batching is
  deterministic);
* the chunk's outcome is added to its file under a condition, exactly once;
* the handler wraps :meth:`ChunkWorker.process` in Powertools Idempotency keyed on the chunk id,
  so a duplicate delivery that arrives while the first is still running is refused, not re-run.

Every chunk maps its records with the file's pinned mapping — the version its pointer names by
content hash, read from the file's ledger item once per warm worker and checked against that
hash — never the registry's current one (see :mod:`adm_ingest.mapping_config`).

Transient API trouble (429/5xx past the retry budget, the Lambda running out of time) raises
:class:`ChunkRetryable`, leaving the message for SQS to redeliver; after ``maxReceiveCount``
the chunk lands in the dead-letter queue and :mod:`~adm_ingest.pipeline.deadletter` accounts
for it. An API answer that no retry can change (a 400 for the whole body, a dataset that does
not exist) fails that batch's records with a reason and the chunk moves on.

Each failed run records on the chunk item why (``last_error``: ``not_delivered:<detail>`` or
``unconfirmed_delivery:<detail>``), the attempts it made, and — when an attempt went unanswered
after the request may have reached ADM — the batch's number in ``unconfirmed_batches``, so a
dead-lettered chunk fails exactly those batches as ``unconfirmed_delivery`` and the others as
``not_delivered``. Every attempt of every run (retries, drops, time waited) reaches the tally.

Each request with a final answer is counted by its status and by the UTC minute the answer
came (the worker's one ``clock``); the minute is kept with the delivered batch, so a replay
counts it when it happened (:mod:`adm_ingest.request_times`). One clock read per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from adm_ingest import registry as names
from adm_ingest.attempts import AttemptStats
from adm_ingest.batching import Batch
from adm_ingest.clients import ClientProvider
from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import (
    BatchPosition,
    Delivery,
    DeliveryFailed,
    FailureClass,
    destination_for,
)
from adm_ingest.ledger import DeadLetter, DeliveredBatch, Ledger
from adm_ingest.mapping_config import MappingConfig, MappingMismatch, PinnedMapping
from adm_ingest.outcomes import Failure, Tally
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.delivered_rows import DeliveredRows
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef, open_object, read_header_range
from adm_ingest.processing import Processor, record_processor
from adm_ingest.readers import MAX_JSON_DEPTH, ReadItem, open_records, read_staged
from adm_ingest.report import fates_csv, fates_key
from adm_ingest.request_times import minute_of

logger = logging.getLogger(__name__)

_HEADER_CACHE_FILES = 64
"""Files whose column names a warm worker keeps (one small GET per chunk of any other)."""
_FILE_CACHE = 64
"""Files whose pinned mapping and target a warm worker keeps (one ledger read for any other)."""


class ChunkRetryable(Exception):
    """The chunk should be retried later (its delivered batches so far are recorded)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class ChunkResult:
    chunk_id: str
    status: str
    """``done`` · ``already_done``."""
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    """Requests sent by final HTTP status."""
    attempts: dict[str, int] = field(default_factory=dict)
    """Every attempt by HTTP status, ``dropped`` or ``unreachable`` (retries included)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "status": self.status,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
            "requests": self.requests,
            "attempts": self.attempts,
        }


class ChunkWorker:
    """Processes chunk pointers, each with its destination's client (from ``clients``)."""

    def __init__(
        self,
        *,
        s3: Any,
        ledger: Ledger,
        registry: names.Registry,
        finalizer: Finalizer,
        clients: ClientProvider,
        time_left: Callable[[], float] = lambda: float("inf"),
        margin_seconds: float = 20.0,
        max_json_depth: int = MAX_JSON_DEPTH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.s3 = s3
        self.ledger = ledger
        self.registry = registry
        self.finalizer = finalizer
        self.clients = clients
        self.time_left = time_left
        self.margin_seconds = margin_seconds
        self._headers: dict[tuple[str, tuple[int, int]], tuple[str, ...]] = {}
        """Column names by (file id, header range): a file id pins the object's version."""
        self._files: dict[str, tuple[PinnedMapping, Mapping[str, str]]] = {}
        """Each file's pinned mapping and target attributes, by file id."""
        self.delivered_rows = DeliveredRows(s3)
        self.max_json_depth = max_json_depth
        self.clock = clock
        """Wall-clock seconds: when a request's answer came (its minute is counted)."""

    # -- public ------------------------------------------------------------------------------

    def process(self, pointer: ChunkPointer) -> ChunkResult:
        """Process one chunk to completion, or raise :class:`ChunkRetryable`."""
        existing = self.ledger.get_chunk(pointer.file_id, pointer.index)
        if existing is not None and existing.status:
            self.finalizer.finalize_if_complete(pointer.file_id)
            return ChunkResult(pointer.chunk_id, "already_done")
        if existing is not None and pointer.redrive < existing.redrives:
            # A duplicate of a message from before the chunk's last redrive: the redriven
            # pointer processes the chunk; two runs of one chunk at once could send a batch twice.
            return ChunkResult(pointer.chunk_id, "superseded")

        tally = self.run(
            pointer,
            existing.delivered_batches if existing else (),
            send=True,
            earlier_attempts=existing.attempt_log if existing else (),
        )
        return self.complete(pointer, tally, status="done")

    def run(
        self,
        pointer: ChunkPointer,
        delivered: Sequence[DeliveredBatch],
        *,
        send: bool = True,
        unsent_reason: str = "not_sent",
        unconfirmed_batches: Collection[int] = (),
        earlier_attempts: Sequence[AttemptStats] = (),
    ) -> Tally:
        """Read and process the chunk. Batches already ``delivered`` (the chunk record's) are
        replayed, not re-sent. With ``send=False`` (the dead-letter path) the other batches
        are not sent: their records are failed with ``unsent_reason`` — or
        ``unconfirmed_delivery`` for the batch numbers in ``unconfirmed_batches`` (sent once,
        answer lost). ``earlier_attempts`` are the failed runs' attempts (the chunk record's
        ``attempt_log``), added to the tally.

        Raises:
            MappingMismatch: the file's pinned mapping is not the version the pointer names.
        """
        config, attributes = self._mapping(pointer)
        # Validated at split time with the same country (a file-level error there): cannot fail.
        policy = ConsentPolicy.from_defaults(
            config.defaults or {},
            country=pointer.default_country,
            country_source=pointer.default_country_source,
        )
        target = replace(pointer.target, attributes=attributes)
        destination = destination_for(target, config.parse_options)
        header = self._header(pointer)
        records = self._records(pointer, header)
        processor = record_processor(destination, config, header, policy)
        for run in earlier_attempts:
            _count_attempts(processor.tally, run)
        client = self.clients(type(destination), target)
        delivered_lines: list[Sequence[int]] = []
        undelivered = False
        for number, batch in enumerate(processor.batches(records)):
            if number < len(delivered):
                _replay(processor, batch, delivered[number], self._minute)
                if delivered[number].failed is None:
                    delivered_lines.append(batch.lines)
                continue
            if not send:
                unconfirmed = number in unconfirmed_batches
                processor.record_failure(
                    batch, Failure.UNCONFIRMED_DELIVERY if unconfirmed else unsent_reason
                )
                undelivered = True
                continue
            if self.time_left() < self.margin_seconds:
                reason = f"{Failure.NOT_DELIVERED}:out_of_time"
                self.ledger.record_chunk_error(pointer.file_id, pointer.index, reason)
                raise ChunkRetryable(reason)
            if destination.keeps_delivered_rows:  # before the batch leaves: never a gap
                self.delivered_rows.record(
                    pointer.bucket, pointer.file_id, pointer.index, [*delivered_lines, batch.lines]
                )
            outcome = self._deliver(pointer, processor, batch, client, number)
            self.ledger.record_delivered_batch(pointer.file_id, pointer.index, outcome)
            if outcome.failed is None:
                delivered_lines.append(batch.lines)
            else:
                undelivered = True
        if undelivered and destination.keeps_delivered_rows:
            # The index lists the delivered records only: a batch refused for good, or not
            # sent (the dead-letter path), is failed here already, and a failed or aborted
            # remote batch must not fail its records a second time (the report would count
            # them twice and accepted would go negative).
            self.delivered_rows.record(
                pointer.bucket, pointer.file_id, pointer.index, delivered_lines
            )
        # The splitter's count covers every line the reader yields, report footers included
        # (its scan does not classify lines), so those are added back before comparing.
        skipped = sum(processor.tally.skipped.values())
        if processor.tally.read + skipped != pointer.records:
            logger.warning(
                "chunk record count differs from the splitter's",
                extra={
                    "chunk_id": pointer.chunk_id,
                    "expected": pointer.records,
                    "read": processor.tally.read,
                    "skipped": skipped,
                },
            )
        return processor.tally

    def complete(
        self,
        pointer: ChunkPointer,
        tally: Tally,
        *,
        status: str,
        dead_letter: DeadLetter | None = None,
    ) -> ChunkResult:
        """Record the chunk's outcome (once) and finalize the file if it was the last
        (``dead_letter``: the recorder's redrive record, see ``Ledger.complete_chunk``)."""
        if tally.fates:
            self.s3.put_object(
                Bucket=pointer.bucket,
                Key=fates_key(pointer.file_id, pointer.index),
                Body=fates_csv(tally.fates),
            )
        counted = self.ledger.complete_chunk(
            pointer.file_id, pointer.index, tally, status=status, dead_letter=dead_letter
        )
        self.finalizer.finalize_if_complete(pointer.file_id)
        return ChunkResult(
            pointer.chunk_id,
            status if counted else "already_done",
            read=tally.read,
            accepted=tally.accepted,
            rejected=tally.rejected_total,
            failed=tally.failed_total,
            requests=dict(tally.requests),
            attempts=dict(tally.attempts),
        )

    # -- internals ---------------------------------------------------------------------------

    def _deliver(
        self,
        pointer: ChunkPointer,
        processor: Processor,
        batch: Batch,
        client: Any,
        number: int,
    ) -> DeliveredBatch:
        """Deliver one batch and account for it; returns what the ledger keeps of it. A
        transient (or needs-a-human) failure raises :class:`ChunkRetryable` after recording
        why on the chunk; a permanent one fails the batch's records and returns."""
        started = time.monotonic()
        destination = processor.destination
        try:
            delivery = destination.deliver(
                client, batch, pointer.session, BatchPosition(pointer.index, number)
            )
        except DeliveryFailed as failed:
            attempts = failed.attempts
            _count_attempts(processor.tally, attempts)
            if failed.failure is FailureClass.PERMANENT:
                answered_at = self._minute()
                processor.record_failure(batch, failed.reason)
                processor.tally.count_request(str(failed.status or "error"), answered_at)
                logger.error(
                    "batch refused",
                    extra={
                        "chunk_id": pointer.chunk_id,
                        "status": failed.status,
                        "reason": failed.reason,
                        "records": len(batch),
                    },
                )
                return DeliveredBatch(
                    status=failed.status or 0,
                    failed=failed.reason,
                    attempts=attempts,
                    answered_at=answered_at,
                )
            # Unconfirmed when some attempt went unanswered after the request may have reached
            # the remote system (then retries ran out, or the credentials failed on a refresh).
            unconfirmed = attempts.maybe_delivered or failed.maybe_delivered
            code = Failure.UNCONFIRMED_DELIVERY if unconfirmed else Failure.NOT_DELIVERED
            reason = f"{code}:{failed.reason}"
            self.ledger.record_chunk_error(
                pointer.file_id,
                pointer.index,
                reason,
                unconfirmed_batch=number if unconfirmed else None,
                attempts=attempts,
            )
            # Needs a human or not, the chunk is kept for a retry or a redrive.
            raise ChunkRetryable(reason) from failed
        answered_at = self._minute()
        attempts = delivery.attempts
        _count_attempts(processor.tally, attempts)
        processor.record_delivery(batch, delivery, minute=answered_at)
        logger.info(
            "batch delivered",
            extra={
                "chunk_id": pointer.chunk_id,
                "records": len(batch),
                "refused": len(delivery.rejected),
                "status": delivery.status,
                "attempts": attempts.attempts,
                "latency_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return DeliveredBatch(
            status=delivery.status,
            rejected=dict(delivery.rejected),
            ingress_id=delivery.ingress_id,
            attempts=attempts,
            answered_at=answered_at,
        )

    def _minute(self) -> str:
        return minute_of(self.clock())

    def _mapping(self, pointer: ChunkPointer) -> tuple[MappingConfig, Mapping[str, str]]:
        """The file's pinned mapping, the version ``pointer.mapping_hash`` names, and its
        pinned target attributes (cached per file). A translated v2 pointer names no mapping:
        the file's pinned one if it has one, else — a file split before mappings were pinned
        — the registry's, as v2 did."""
        cached = self._files.get(pointer.file_id)
        if cached is not None and cached[0].content_hash == pointer.mapping_hash:
            return cached[0].config, cached[1]
        file = self.ledger.get_file(pointer.file_id)
        pinned = file.pinned_mapping() if file is not None else None
        attributes = dict(file.target_attributes) if file is not None else {}
        if pinned is None:
            if pointer.mapping_hash:
                raise MappingMismatch("the chunk names a mapping its file has not pinned")
            return self._registered_mapping(pointer.mapping_prefix), attributes
        if pointer.mapping_hash and pinned.content_hash != pointer.mapping_hash:
            raise MappingMismatch("the file's pinned mapping is not the one the chunk names")
        if len(self._files) >= _FILE_CACHE:
            self._files.clear()
        self._files[pointer.file_id] = (pinned, attributes)
        return pinned.config, attributes

    def _registered_mapping(self, prefix: str) -> MappingConfig:
        """The registry's mapping for ``prefix`` (only for a v2 pointer of an unpinned file)."""
        entry = self.registry.get(names.MAPPING, prefix) if prefix else None
        config = entry.attributes.get("config") if entry is not None else None
        if not config:
            return MappingConfig({})
        return MappingConfig.from_json(config if isinstance(config, str) else orjson.dumps(config))

    def _header(self, pointer: ChunkPointer) -> tuple[str, ...] | None:
        """The CSV column names of the pointer's file: read from the object's header bytes
        (``layout.header_range``), once per file per warm worker. ``None`` for JSON Lines and
        staged chunks (their records name their fields)."""
        layout = pointer.layout
        if pointer.staged_key or layout.header_range is None:
            return None
        cache_key = (pointer.file_id, layout.header_range)
        header = self._headers.get(cache_key)
        if header is None:
            assert layout.delimiter is not None, "a CSV pointer names its delimiter"
            header = read_header_range(
                self.s3,
                ObjectRef(pointer.bucket, pointer.key, pointer.version_id, pointer.etag),
                layout.header_range,
                delimiter=layout.delimiter,
                encoding=layout.encoding,
            )
            if len(self._headers) >= _HEADER_CACHE_FILES:
                self._headers.clear()
            self._headers[cache_key] = header
        return header

    def _records(self, pointer: ChunkPointer, header: tuple[str, ...] | None) -> Iterator[ReadItem]:
        ref = ObjectRef(pointer.bucket, pointer.key, pointer.version_id, pointer.etag)
        if pointer.staged_key:
            staged = ObjectRef(pointer.bucket, pointer.staged_key)
            return read_staged(open_object(self.s3, staged))
        layout = pointer.layout
        return open_records(
            open_object(self.s3, ref, pointer.byte_range),
            format=layout.format,
            delimiter=layout.delimiter,
            header=header,
            encoding=layout.encoding,
            first_line=pointer.first_line,
            max_depth=self.max_json_depth,
        )


def _count_attempts(tally: Tally, attempts: AttemptStats) -> None:
    tally.count_attempts(attempts.by_outcome, round(attempts.retry_wait_seconds * 1000))


def _replay(
    processor: Processor, batch: Batch, delivered: DeliveredBatch, now: Callable[[], str]
) -> None:
    """Account for a batch a previous run delivered (or saw refused) as that run did, at the
    minute its answer came. A batch recorded before answer times were kept counts at ``now``
    (the replay's minute: later than the answer by the retry's delay, but counted)."""
    _count_attempts(processor.tally, delivered.attempts)
    minute = delivered.answered_at or now()
    if delivered.failed is not None:
        processor.record_failure(batch, delivered.failed)
        processor.tally.count_request(str(delivered.status or "error"), minute)
        return
    delivery = Delivery(
        status=delivered.status, rejected=dict(delivered.rejected), ingress_id=delivered.ingress_id
    )
    processor.record_delivery(batch, delivery, minute=minute)
