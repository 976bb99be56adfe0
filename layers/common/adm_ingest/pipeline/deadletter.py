"""The dead-letter recorder: a chunk SQS gave up on is accounted for, never silently lost.

Batches the worker delivered before giving up keep their real outcome (the chunk record's
delivered batches); every other record of the chunk is marked failed, and the file's report is
finalized as usual. The failure reason says what is known about the batch:

* ``unconfirmed_delivery`` — some attempt at it went unanswered after the request may have
  reached ADM (the chunk item's ``unconfirmed_batches``): ADM may hold these records; a
  redrive (or re-dropping the file) sends them again, idempotently;
* ``not_delivered`` — every attempt was answered with a refusal (429/5xx), or never connected,
  or the credentials failed, or time ran out before sending; or the batch was never tried.

The chunk item's ``last_error`` (``<code>:<detail>``, e.g. ``not_delivered:throttled``) is logged.
The chunk item keeps a :class:`~adm_ingest.ledger.DeadLetter` record — its pointer, the lines
of its fates and the exact counts added to the file — so ``adm-ingest redrive`` can reverse the
failure and queue the chunk again (:mod:`adm_ingest.pipeline.redrive`). A dead letter older
than the chunk's last redrive is dropped (``superseded``).
If the chunk can't even be read any more (the object was deleted), its records are failed by
count from the splitter's pointer, ``unconfirmed_delivery`` if any batch of it was.

A message that is no chunk pointer of a registered file (not JSON, another message version,
missing fields, an S3 event or a split continuation that landed in the chunk queue…) can be
attributed to no file: it is a :class:`PoisonMessage`, counted — by kind, with a SHA-256 of its
first bytes, never the bytes — and removed, so it can't fail the dead-letter batches forever.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from adm_ingest.ledger import ChunkRecord, DeadLetter
from adm_ingest.outcomes import Failure, Tally
from adm_ingest.pipeline.chunks import MESSAGE_VERSION, READABLE_VERSIONS, ChunkPointer
from adm_ingest.pipeline.worker import ChunkResult, ChunkWorker

logger = logging.getLogger(__name__)

DIGEST_BYTES = 64
"""How much of a poison message is hashed for its digest (enough to tell repeats apart)."""
MAX_CHUNK_RECORDS = 1_000_000
"""A pointer claiming more records than this is no pointer the splitter wrote (it cuts
≤ 5,000): failing its records by count would only exhaust memory."""


@dataclass(frozen=True, slots=True)
class PoisonMessage:
    """A message the dead-letter recorder can attribute to no file."""

    kind: str
    """``not_json`` · ``not_an_object`` · ``s3_event`` · ``split_continuation`` ·
    ``wrong_version`` · ``invalid_pointer`` · ``unknown_file`` (chunk queues);
    ``unreadable_continuation`` (the split queue)."""
    digest: str
    """SHA-256 (hex) of the message's first :data:`DIGEST_BYTES` bytes."""
    size: int
    """The message's length in bytes."""


def poison(kind: str, body: str | bytes) -> PoisonMessage:
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    return PoisonMessage(kind, hashlib.sha256(raw[:DIGEST_BYTES]).hexdigest(), len(raw))


def read_dead_letter(body: str | bytes) -> ChunkPointer | PoisonMessage:
    """The chunk pointer in a dead-letter message, or why there is none."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return poison("not_json", body)
    if not isinstance(data, dict):
        return poison("not_an_object", body)
    if "Records" in data or data.get("Event") == "s3:TestEvent":
        return poison("s3_event", body)
    if "checkpoint" in data and "object" in data:
        return poison("split_continuation", body)
    if data.get("v", MESSAGE_VERSION) not in READABLE_VERSIONS:
        return poison("wrong_version", body)
    try:
        pointer = ChunkPointer.from_message(body)
    except (KeyError, TypeError, ValueError, AttributeError):
        return poison("invalid_pointer", body)
    if not _plausible(pointer):
        return poison("invalid_pointer", body)
    return pointer


def _plausible(pointer: ChunkPointer) -> bool:
    numbers: tuple[Any, ...] = (pointer.index, pointer.first_line, pointer.records)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return False
    # The message is untrusted JSON: its "str" fields may hold anything.
    file_id: object = pointer.file_id
    return (
        isinstance(file_id, str)
        and bool(file_id)
        and pointer.index >= 0
        and pointer.first_line >= 0
        and 0 <= pointer.records <= MAX_CHUNK_RECORDS
    )


def handle_dead_letter(
    worker: ChunkWorker, body: str | bytes, *, queue: str
) -> ChunkResult | PoisonMessage:
    """Account for one message of the chunk dead-letter ``queue``: a chunk of a registered
    file is failed in its ledger (:func:`record_dead_letter`); anything else is recorded as
    poison (ledger counter, log line) and returned, for the caller to count and drop."""
    found = read_dead_letter(body)
    if isinstance(found, ChunkPointer) and worker.ledger.get_file(found.file_id) is None:
        found = poison("unknown_file", body)
    if isinstance(found, PoisonMessage):
        worker.ledger.record_poison_message(queue, found.kind, found.digest)
        logger.error(
            "poison message removed from the dead-letter queue",
            extra={"queue": queue, "kind": found.kind, "digest": found.digest, "size": found.size},
        )
        return found
    return record_dead_letter(worker, found)


def record_dead_letter(worker: ChunkWorker, pointer: ChunkPointer) -> ChunkResult:
    """Mark ``pointer``'s chunk failed in the ledger (once) and finalize its file if due."""
    chunk = worker.ledger.get_chunk(pointer.file_id, pointer.index) or ChunkRecord(
        pointer.file_id, pointer.index
    )
    if chunk.status:
        # Counted already; a finalization that failed after it may still be owed.
        worker.finalizer.finalize_if_complete(pointer.file_id)
        return ChunkResult(pointer.chunk_id, "already_done")
    if pointer.redrive < chunk.redrives:
        # The old message of a chunk redriven since (a redelivery of it): the redriven pointer
        # owns the chunk now. Failing it here would count it failed behind the redrive's back.
        logger.warning(
            "stale dead letter of a redriven chunk dropped",
            extra={"chunk_id": pointer.chunk_id, "generation": pointer.redrive},
        )
        return ChunkResult(pointer.chunk_id, "superseded")
    last_error = chunk.last_error or "unknown"
    unconfirmed = chunk.unconfirmed_batches
    try:
        tally = worker.run(
            pointer,
            chunk.delivered_batches,
            send=False,
            unsent_reason=Failure.NOT_DELIVERED,
            unconfirmed_batches=unconfirmed,
            earlier_attempts=chunk.attempt_log,
        )
    except Exception:  # the chunk itself is unreadable: account for it by count
        logger.exception("dead-lettered chunk unreadable", extra={"chunk_id": pointer.chunk_id})
        tally = Tally(read=pointer.records)
        tally.fail(
            range(pointer.first_line, pointer.first_line + pointer.records),
            Failure.UNCONFIRMED_DELIVERY if unconfirmed else Failure.NOT_DELIVERED,
        )
        for run in chunk.attempt_log:
            tally.count_attempts(run.by_outcome, round(run.retry_wait_seconds * 1000))
    logger.error(
        "chunk dead-lettered",
        extra={
            "chunk_id": pointer.chunk_id,
            "last_error": last_error,
            "unconfirmed_batches": len(unconfirmed),
            "failed": tally.failed_total,
        },
    )
    lines = [fate.line for fate in tally.fates]
    record = DeadLetter(
        pointer.to_message(),
        pointer.redrive,
        (min(lines), max(lines)) if lines else None,
    )
    return worker.complete(pointer, tally, status="failed", dead_letter=record)
