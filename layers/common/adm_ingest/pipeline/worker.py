"""The worker: one chunk pointer → records read, hashed, sent, and every outcome recorded.

Safe to run twice on the same chunk, concurrently or one after the other:

* every delivered batch is checkpointed in the ledger before the next one is sent, and a retry
  replays the checkpoints instead of posting those batches again (batching is deterministic);
* the chunk's outcome is added to its file under a condition, exactly once;
* the handler wraps :meth:`ChunkWorker.process` in Powertools Idempotency keyed on the chunk id,
  so a duplicate delivery that arrives while the first is still running is refused, not re-run.

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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from adm_ingest import registry as names
from adm_ingest.attempts import AttemptStats
from adm_ingest.batching import Batch
from adm_ingest.clients import ClientProvider
from adm_ingest.consent import ConsentError, ConsentPolicy
from adm_ingest.destinations import (
    Delivery,
    DeliveryFailed,
    FailureClass,
    destination_class,
    destination_for,
)
from adm_ingest.ledger import Ledger
from adm_ingest.mapping import build_plan
from adm_ingest.outcomes import Failure, Tally
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef, open_object, read_header_range, read_staged
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import MAX_JSON_DEPTH, CsvRows, open_records
from adm_ingest.records import Rejection, SourceRecord
from adm_ingest.report import fates_csv, fates_key
from adm_ingest.values import ParseOptions

logger = logging.getLogger(__name__)

_HEADER_CACHE_FILES = 64
"""Files whose column names a warm worker keeps (one small GET per chunk of any other)."""


class ChunkRetryable(Exception):
    """The chunk should be retried later (its progress so far is checkpointed)."""

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
        self.max_json_depth = max_json_depth

    # -- public ------------------------------------------------------------------------------

    def process(self, pointer: ChunkPointer) -> ChunkResult:
        """Process one chunk to completion, or raise :class:`ChunkRetryable`."""
        existing = self.ledger.get_chunk(pointer.file_id, pointer.index) or {}
        if existing.get("status"):
            self.finalizer.finalize_if_complete(pointer.file_id)
            return ChunkResult(pointer.chunk_id, "already_done")

        tally = self.run(
            pointer,
            existing.get("batches") or [],
            send=True,
            earlier_attempts=existing.get("attempt_log") or (),
        )
        return self.complete(pointer, tally, status="done")

    def run(
        self,
        pointer: ChunkPointer,
        checkpoints: list[Mapping[str, Any]],
        *,
        send: bool = True,
        unsent_reason: str = "not_sent",
        unconfirmed_batches: Collection[int] = (),
        earlier_attempts: Sequence[Mapping[str, Any]] = (),
    ) -> Tally:
        """Read and process the chunk. Batches with a checkpoint are replayed, not re-sent.
        With ``send=False`` (the dead-letter path) the other batches are not sent: their
        records are failed with ``unsent_reason`` — or ``unconfirmed_delivery`` for the batch
        numbers in ``unconfirmed_batches`` (sent once, answer lost). ``earlier_attempts`` are
        the failed runs' attempt counts (the chunk item's ``attempt_log``), added to the
        tally."""
        config = self._mapping_config(pointer.mapping_prefix)
        try:
            policy = ConsentPolicy.from_defaults(
                (config or {}).get("defaults", {}),
                country=pointer.default_country,
                country_source=pointer.default_country_source,
            )
        except ConsentError as error:
            raise ChunkRetryable(f"invalid_mapping_defaults:{error.reason}") from error
        try:
            options = ParseOptions.from_config(config)
        except ValueError as error:
            raise ChunkRetryable("invalid_mapping_parse_options") from error
        destination = destination_for(pointer.target, options)
        header = self._header(pointer)
        records = self._records(pointer, header)
        plan = build_plan(header, config)
        processor = RecordProcessor(destination, plan, policy)
        for run in earlier_attempts:
            _count_attempts(processor.tally, AttemptStats.from_dict(run))
        client = self.clients(destination_class(pointer.destination))
        for number, batch in enumerate(processor.batches(records)):
            if number < len(checkpoints):
                _replay(processor, batch, checkpoints[number])
                continue
            if not send:
                unconfirmed = number in unconfirmed_batches
                processor.record_failure(
                    batch, Failure.UNCONFIRMED_DELIVERY if unconfirmed else unsent_reason
                )
                continue
            if self.time_left() < self.margin_seconds:
                reason = f"{Failure.NOT_DELIVERED}:out_of_time"
                self.ledger.record_chunk_error(pointer.file_id, pointer.index, reason)
                raise ChunkRetryable(reason)
            checkpoint = self._deliver(pointer, processor, batch, client, number)
            self.ledger.checkpoint_batch(pointer.file_id, pointer.index, checkpoint)
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

    def complete(self, pointer: ChunkPointer, tally: Tally, *, status: str) -> ChunkResult:
        """Record the chunk's outcome (once) and finalize the file if it was the last."""
        if tally.fates:
            self.s3.put_object(
                Bucket=pointer.bucket,
                Key=fates_key(pointer.file_id, pointer.index),
                Body=fates_csv(tally.fates),
            )
        counted = self.ledger.complete_chunk(pointer.file_id, pointer.index, tally, status=status)
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
        processor: RecordProcessor,
        batch: Batch,
        client: Any,
        number: int,
    ) -> dict[str, Any]:
        """Deliver one batch and account for it; returns its delivered-batch record. A
        transient (or needs-a-human) failure raises :class:`ChunkRetryable` after recording
        why on the chunk; a permanent one fails the batch's records and returns."""
        started = time.monotonic()
        destination = processor.destination
        try:
            delivery = destination.deliver(client, batch, pointer.session)
        except DeliveryFailed as failed:
            attempts = failed.attempts
            _count_attempts(processor.tally, attempts)
            if failed.failure is FailureClass.PERMANENT:
                processor.record_failure(batch, failed.reason)
                processor.tally.requests[str(failed.status or "error")] += 1
                logger.error(
                    "batch refused",
                    extra={
                        "chunk_id": pointer.chunk_id,
                        "status": failed.status,
                        "reason": failed.reason,
                        "records": len(batch),
                    },
                )
                return {
                    "failed": failed.reason,
                    "status": failed.status,
                    "attempts": attempts.to_dict(),
                }
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
                attempts=attempts.to_dict(),
            )
            # Needs a human or not, the chunk is kept for a retry or a redrive.
            raise ChunkRetryable(reason) from failed
        attempts = delivery.attempts
        _count_attempts(processor.tally, attempts)
        processor.record_delivery(batch, delivery)
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
        return {**_delivery_checkpoint(delivery), "attempts": attempts.to_dict()}

    def _mapping_config(self, prefix: str) -> dict[str, Any] | None:
        if not prefix:
            return None
        entry = self.registry.get(names.MAPPING, prefix)
        if entry is None:
            return None
        config = entry.attributes.get("config")
        if isinstance(config, str):
            return dict(orjson.loads(config))
        return dict(config) if config else None

    def _header(self, pointer: ChunkPointer) -> tuple[str, ...] | None:
        """The CSV column names of the pointer's file: read from the object's header bytes
        (``layout.header_range``), once per file per warm worker; a version-1 message carried
        them. ``None`` for JSON Lines and staged chunks (their records name their fields)."""
        layout = pointer.layout
        if pointer.staged_key or layout.header is not None or layout.header_range is None:
            return layout.header
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

    def _records(
        self, pointer: ChunkPointer, header: tuple[str, ...] | None
    ) -> Iterator[SourceRecord | Rejection | CsvRows]:
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
            rows=True,  # the record path's row lane takes CSV lines as field lists
            max_depth=self.max_json_depth,
        )


def _delivery_checkpoint(delivery: Delivery) -> dict[str, Any]:
    checkpoint: dict[str, Any] = {"status": delivery.status}
    if delivery.rejected:
        checkpoint["rejected"] = {str(k): v for k, v in delivery.rejected.items()}
    if delivery.ingress_id:
        checkpoint["ingress_id"] = delivery.ingress_id
    return checkpoint


def _count_attempts(tally: Tally, attempts: AttemptStats) -> None:
    tally.count_attempts(attempts.by_outcome, round(attempts.retry_wait_seconds * 1000))


def _replay(processor: RecordProcessor, batch: Batch, checkpoint: Mapping[str, Any]) -> None:
    if attempts := checkpoint.get("attempts"):
        _count_attempts(processor.tally, AttemptStats.from_dict(attempts))
    if "failed" in checkpoint:
        processor.record_failure(batch, str(checkpoint["failed"]))
        processor.tally.requests[str(checkpoint.get("status", "error"))] += 1
        return
    delivery = Delivery(
        status=int(checkpoint.get("status", 200)),
        rejected={int(k): str(v) for k, v in (checkpoint.get("rejected") or {}).items()},
        ingress_id=checkpoint.get("ingress_id"),
    )
    processor.record_delivery(batch, delivery)
