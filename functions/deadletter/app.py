"""Dead-letter Lambda: chunks SQS gave up on are marked failed in the ledger and reported."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.deadletter import record_dead_letter
from adm_ingest.pipeline.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
runtime = Runtime()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:
        pointer = ChunkPointer.from_message(record.body)
        result = record_dead_letter(runtime.worker, pointer)
        metrics.add_metric(name="ChunksDeadLettered", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=result.failed)
        results.append(result.as_dict())
    return {"chunks": results}
