"""Worker Lambda: SQS chunk pointers → ADM requests, with partial batch responses.

Each message is one chunk; Powertools Idempotency (DynamoDB) keyed on the chunk id makes a
duplicate delivery a no-op, and a chunk that must be retried is reported as a batch item
failure so only it returns to the queue.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.adm import Deadline
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.runtime import Runtime
from adm_ingest.pipeline.worker import ChunkRetryable

logger = Logger()
tracer = Tracer()
metrics = Metrics()
runtime = Runtime()
processor = BatchProcessor(event_type=EventType.SQS)
idempotency = IdempotencyConfig(
    event_key_jmespath="chunk_id",
    expires_after_seconds=7 * 24 * 3600,
    raise_on_no_idempotency_key=True,
)
persistence = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE", ""))


@idempotent_function(
    data_keyword_argument="chunk", config=idempotency, persistence_store=persistence
)
def process_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    result = runtime.worker.process(ChunkPointer.from_message(chunk["message"]))
    return result.as_dict()


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    pointer = ChunkPointer.from_message(record.body)
    logger.append_keys(file_id=pointer.file_id, chunk_id=pointer.chunk_id)
    try:
        result = process_chunk(chunk={"chunk_id": pointer.work_id, "message": record.body})
    except ChunkRetryable as retry:
        metrics.add_metric(name="ChunksRetried", unit=MetricUnit.Count, value=1)
        logger.warning("chunk will be retried", extra={"reason": retry.reason})
        raise
    finally:
        logger.remove_keys(["file_id", "chunk_id"])
    for name, key in (
        ("RecordsAccepted", "accepted"),
        ("RecordsRejected", "rejected"),
        ("RecordsFailed", "failed"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.get(key, 0))
    for name, counts in (("Requests", "requests"), ("RequestAttempts", "attempts")):
        # Requests: final answers by status; RequestAttempts: every attempt, retries included
        # (by status, "dropped", "unreachable").
        for status, count in (result.get(counts) or {}).items():
            with single_metric(
                name=name, unit=MetricUnit.Count, value=count, namespace=metrics.namespace
            ) as metric:
                metric.add_dimension(name="status", value=str(status))
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    worker = runtime.worker
    worker.time_left = lambda: context.get_remaining_time_in_millis() / 1000
    runtime.clients.set_deadline(
        Deadline.from_lambda_context(context, margin_seconds=worker.margin_seconds)
    )
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
