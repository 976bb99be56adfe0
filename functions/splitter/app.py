"""Splitter Lambda: S3 ObjectCreated events (and its own continuation messages) → chunk pointers.

A continuation message of a version this code can't read is poison: counted in the ledger (by
kind, with a digest, never its bytes) and dropped — retrying would only fail the same way.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.pipeline.chunks import UnsupportedMessage
from adm_ingest.pipeline.continuation import SplitContinuation
from adm_ingest.pipeline.deadletter import poison
from adm_ingest.pipeline.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
runtime = Runtime()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    if event.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        return {"files": []}
    outcomes = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":  # a continuation of a large file
            try:
                message = SplitContinuation.from_message(record["body"])
            except UnsupportedMessage:
                found = poison("unreadable_continuation", record["body"])
                queue = str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1]
                runtime.ledger.record_poison_message(queue, found.kind, found.digest)
                logger.error(
                    "unreadable continuation message dropped",
                    extra={"kind": found.kind, "digest": found.digest, "size": found.size},
                )
                metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)
                continue
            outcome = runtime.splitter.handle_continuation(message, time_left)
        elif record.get("eventName", "").startswith("ObjectCreated"):
            outcome = runtime.splitter.handle_s3_record(record, time_left)
        else:
            continue
        logger.info(
            "split",
            extra={
                "file_id": outcome.file_id,
                "status": outcome.status,
                "chunks": outcome.chunks,
                "records": outcome.records,
                "error": outcome.error,
            },
        )
        metrics.add_metric(name="ChunksQueued", unit=MetricUnit.Count, value=outcome.chunks)
        if outcome.status == "error":
            metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        outcomes.append({"file_id": outcome.file_id, "status": outcome.status})
    return {"files": outcomes}
