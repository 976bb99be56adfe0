"""Sweeper Lambda (scheduled): finish file finalizations whose claim expired or was released.

Finalization normally completes in the invocation that saw the file's last chunk, and a failed
step is retried by the next delivery; this catches the rest (a finalizer that crashed, a
message that was never redelivered) through the ledger's sparse finalizing index — and times
out the files parked for a remote state whose poller never concluded.
"""

from __future__ import annotations

from typing import Any

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

    result = runtime.finalizer.sweep(time_left=time_left)
    if result.stale:
        logger.warning("stale finalizations swept", extra=result.as_dict())
    overdue = runtime.poller.sweep_overdue(time_left=time_left)
    if overdue:
        logger.warning("overdue remote states timed out", extra={"files": overdue})
    metrics.add_metric(name="RemoteStatesTimedOut", unit=MetricUnit.Count, value=overdue)
    metrics.add_metric(name="FinalizationsRecovered", unit=MetricUnit.Count, value=result.reported)
    metrics.add_metric(name="FinalizationsFailed", unit=MetricUnit.Count, value=result.failed)
    return {**result.as_dict(), "timed_out": overdue}
