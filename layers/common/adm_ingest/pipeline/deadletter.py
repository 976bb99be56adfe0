"""The dead-letter recorder: a chunk SQS gave up on is accounted for, never silently lost.

Batches the worker delivered before giving up keep their real outcome (from the ledger's
checkpoints); every other record of the chunk is marked failed, and the file's report is
finalized as usual. The failure reason says what is known about the batch:

* ``unconfirmed_delivery`` — some attempt at it went unanswered after the request may have
  reached ADM (the chunk item's ``unconfirmed_batches``): ADM may hold these records; a
  redrive (or re-dropping the file) sends them again, idempotently;
* ``not_delivered`` — every attempt was answered with a refusal (429/5xx), or never connected,
  or the credentials failed, or time ran out before sending; or the batch was never tried.

The chunk item's ``last_error`` (``<code>:<detail>``, e.g. ``not_delivered:throttled``) is logged.
If the chunk can't even be read any more (the object was deleted), its records are failed by
count from the splitter's pointer, ``unconfirmed_delivery`` if any batch of it was.
"""

from __future__ import annotations

import logging

from adm_ingest.outcomes import Failure, Tally
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.worker import ChunkResult, ChunkWorker

logger = logging.getLogger(__name__)


def record_dead_letter(worker: ChunkWorker, pointer: ChunkPointer) -> ChunkResult:
    """Mark ``pointer``'s chunk failed in the ledger (once) and finalize its file if due."""
    chunk = worker.ledger.get_chunk(pointer.file_id, pointer.index) or {}
    if chunk.get("status"):
        return ChunkResult(pointer.chunk_id, "already_done")
    last_error = chunk.get("last_error") or "unknown"
    unconfirmed = {int(n) for n in chunk.get("unconfirmed_batches") or ()}
    try:
        tally = worker.run(
            pointer,
            chunk.get("batches") or [],
            send=False,
            unsent_reason=Failure.NOT_DELIVERED,
            unconfirmed_batches=unconfirmed,
            earlier_attempts=chunk.get("attempt_log") or (),
        )
    except Exception:  # the chunk itself is unreadable: account for it by count
        logger.exception("dead-lettered chunk unreadable", extra={"chunk_id": pointer.chunk_id})
        tally = Tally(read=pointer.records)
        tally.fail(
            range(pointer.first_line, pointer.first_line + pointer.records),
            Failure.UNCONFIRMED_DELIVERY if unconfirmed else Failure.NOT_DELIVERED,
        )
        for run in chunk.get("attempt_log") or ():
            tally.count_attempts(run.get("by_outcome") or {}, int(run.get("retry_wait_ms") or 0))
    logger.error(
        "chunk dead-lettered",
        extra={
            "chunk_id": pointer.chunk_id,
            "last_error": last_error,
            "unconfirmed_batches": len(unconfirmed),
            "failed": tally.failed_total,
        },
    )
    return worker.complete(pointer, tally, status="failed")
