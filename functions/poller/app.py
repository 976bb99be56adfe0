"""Poller Lambda: the task of the poller state machine (functions/poller/poller.asl.json).

One committed file per invocation: poll its destination's remote state, or record that polling
timed out or failed; a terminal state gets the file its final report. All in the library
(:mod:`adm_ingest.pipeline.poller`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.pipeline.poller import PollRequest
from adm_ingest.pipeline.runtime import Runtime

logger = Logger()
tracer = Tracer()
runtime = Runtime()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PollRequest.from_event(event)
    logger.append_keys(file_id=request.file_id, action=request.action)
    return runtime.poller.handle(request).to_event()
