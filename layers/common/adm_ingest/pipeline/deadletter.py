"""The dead-letter recorder: a chunk SQS gave up on is accounted for, never silently lost.

Batches the worker delivered before giving up keep their real outcome (from the ledger's
checkpoints); every other record of the chunk is marked failed with the chunk's last error, and
the file's report is finalized as usual. If the chunk can't even be read any more (the object
was deleted), its records are failed by count from the splitter's pointer.
"""

from __future__ import annotations

import logging

from adm_ingest.outcomes import Tally
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.worker import ChunkResult, ChunkWorker

logger = logging.getLogger(__name__)


def record_dead_letter(worker: ChunkWorker, pointer: ChunkPointer) -> ChunkResult:
    """Mark ``pointer``'s chunk failed in the ledger (once) and finalize its file if due."""
    chunk = worker.ledger.get_chunk(pointer.file_id, pointer.index) or {}
    if chunk.get("status"):
        return ChunkResult(pointer.chunk_id, "already_done")
    reason = f"dead_letter_{chunk.get('last_error') or 'unknown'}"
    try:
        tally = worker.run(pointer, chunk.get("batches") or [], send=False, unsent_reason=reason)
    except Exception:  # the chunk itself is unreadable: account for it by count
        logger.exception("dead-lettered chunk unreadable", extra={"chunk_id": pointer.chunk_id})
        tally = Tally(read=pointer.records)
        tally.fail(
            range(pointer.first_line, pointer.first_line + pointer.records),
            f"{reason}_unreadable",
        )
    logger.error(
        "chunk dead-lettered",
        extra={"chunk_id": pointer.chunk_id, "reason": reason, "failed": tally.failed_total},
    )
    return worker.complete(pointer, tally, status="failed")
