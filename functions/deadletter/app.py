"""Dead-letter Lambda: chunks SQS gave up on are marked failed in the ledger and reported.

Partial batch responses: a message whose recording fails (the ledger unreachable) is retried on
its own; a message no file can claim (poison) is counted and removed, never retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.pipeline.deadletter import PoisonMessage, handle_dead_letter
from adm_ingest.pipeline.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
runtime = Runtime()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    queue = record.event_source_arn.rsplit(":", 1)[-1]
    outcome = handle_dead_letter(runtime.worker, record.body, queue=queue)
    if isinstance(outcome, PoisonMessage):
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)
        return {"poison": outcome.kind, "digest": outcome.digest}
    metrics.add_metric(name="ChunksDeadLettered", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=outcome.failed)
    return outcome.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
