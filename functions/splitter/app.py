"""Splitter Lambda: S3 ObjectCreated events (and its own continuation messages) → chunk pointers."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

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
            outcome = runtime.splitter.handle_continuation(orjson.loads(record["body"]), time_left)
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
