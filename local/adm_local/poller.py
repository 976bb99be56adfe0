"""The poller state machine locally: the real ``functions/poller/poller.asl.json`` on moto's
Step Functions, its task running ``functions/poller/app.py`` in this process.

The same harness as the setup workflow (:mod:`adm_local.stepfunctions`): the definition is
rendered with the DefinitionSubstitutions template.yaml passes (the local function's ARN, and
short retry intervals), deployed to moto, and moto's Lambda invocations of
:data:`POLLER_FUNCTION` are routed to the handler while :func:`poller_router`'s router is
installed. The local stack deploys it at start and keeps the router installed while it runs,
so a finalizer that starts a poll (``POLLER_STATE_MACHINE_ARN``) gets the real loop.
"""

from __future__ import annotations

from typing import Any

from adm_local.functions import FUNCTIONS, load_function
from adm_local.stepfunctions import LambdaRouter, deploy_state_machine, render_definition

ASL_PATH = FUNCTIONS / "poller" / "poller.asl.json"
POLLER_FUNCTION = "adm-ingest-poller"
STATE_MACHINE_NAME = "adm-ingest-poller"


def substitutions(
    *,
    region: str,
    account_id: str,
    max_attempts: int = 1000,
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
) -> dict[str, str]:
    """The DefinitionSubstitutions template.yaml passes, for the local function name."""
    return {
        "PollFunctionArn": f"arn:aws:lambda:{region}:{account_id}:function:{POLLER_FUNCTION}",
        "PollMaxAttempts": str(max_attempts),
        "RetryIntervalSeconds": str(retry_interval_seconds),
        "RetryMaxAttempts": str(retry_max_attempts),
    }


def deploy_poller(
    sfn: Any, *, region: str, account_id: str, name: str = STATE_MACHINE_NAME, **values: Any
) -> str:
    """Render and deploy the poller definition; its ARN (the ``POLLER_STATE_MACHINE_ARN``)."""
    definition = render_definition(
        ASL_PATH, substitutions(region=region, account_id=account_id, **values)
    )
    return deploy_state_machine(
        sfn, name=name, definition=definition, role_arn=f"arn:aws:iam::{account_id}:role/{name}"
    )


def poller_router(*, timeout_s: float = 300.0) -> LambdaRouter:
    """A router from the poller function's name to a fresh load of its handler (bound to the
    environment as it is now)."""
    return LambdaRouter(
        {POLLER_FUNCTION: load_function("poller").lambda_handler}, timeout_s=timeout_s
    )


def running_executions(sfn: Any, state_machine_arn: str) -> int:
    """How many executions of the machine are still running."""
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    )
    return sum(len(page["executions"]) for page in pages)
