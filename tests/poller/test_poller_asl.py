"""The poller ASL file on moto's Step Functions: the substitution contract, the loop, its bounds
and every way out (scripted poll tasks stand in for the function; the library has its own tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.pipeline.poller import TransientPollError
from adm_local.poller import ASL_PATH, POLLER_FUNCTION, deploy_poller, substitutions
from adm_local.stepfunctions import (
    MOTO_CONFIG,
    Execution,
    LambdaRouter,
    history,
    placeholders,
    render_definition,
    run_execution,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
FILE_ID = "f" * 32
CONTRACT = {"PollFunctionArn", "PollMaxAttempts", "RetryIntervalSeconds", "RetryMaxAttempts"}
Task = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config=MOTO_CONFIG):
        yield boto3.client("stepfunctions", region_name=REGION)


def step(event: dict[str, Any], *, terminal: bool, expired: bool = False) -> dict[str, Any]:
    """What the poll function answers (PollStep.to_event)."""
    return {
        "file_id": event["file_id"],
        "attempt": event["attempt"] + (event["action"] == "poll"),
        "terminal": terminal,
        "status": "success" if terminal else "processing",
        "wait_seconds": 0,
        "expired": expired,
    }


def run(sfn: Any, task: Task, **values: Any) -> tuple[Execution, list[dict[str, Any]]]:
    """One execution for FILE_ID with ``task`` as the poll function; its task inputs."""
    arn = deploy_poller(sfn, region=REGION, account_id=ACCOUNT, retry_interval_seconds=1, **values)
    router = LambdaRouter({POLLER_FUNCTION: lambda event, context: task(event)})
    with router.installed():
        execution = run_execution(sfn, arn, {"file_id": FILE_ID}, timeout_s=60)
    return execution, [event for _, event in router.invocations]


def actions(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(event["action"], event["attempt"]) for event in events]


def test_the_definition_uses_exactly_the_contracted_substitutions() -> None:
    assert placeholders(ASL_PATH) == CONTRACT
    assert set(substitutions(region=REGION, account_id=ACCOUNT)) == CONTRACT
    definition = json.loads(
        render_definition(ASL_PATH, substitutions(region=REGION, account_id=ACCOUNT))
    )
    poll = definition["States"]["Poll"]
    assert poll["Resource"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{POLLER_FUNCTION}"
    (retry,) = poll["Retry"]
    assert "TransientPollError" in retry["ErrorEquals"]  # the library's transient error name
    assert TransientPollError.__name__ == "TransientPollError"
    assert isinstance(retry["MaxAttempts"], int)


def test_polls_until_terminal_waiting_between_polls(sfn: Any) -> None:
    def task(event: dict[str, Any]) -> dict[str, Any]:
        return step(event, terminal=event["attempt"] >= 2)

    execution, events = run(sfn, task)

    assert execution.succeeded
    assert actions(events) == [("poll", 0), ("poll", 1), ("poll", 2)]
    assert all(event["file_id"] == FILE_ID for event in events)
    waits = [e for e in history(sfn, execution.arn) if e["type"] == "WaitStateEntered"]
    assert len(waits) == 2  # one wait between two polls, none after the terminal one


def test_a_transient_poll_error_is_retried_without_counting_a_poll(sfn: Any) -> None:
    failures = [TransientPollError("throttled")]

    def task(event: dict[str, Any]) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return step(event, terminal=True)

    execution, events = run(sfn, task)

    assert execution.succeeded
    assert actions(events) == [("poll", 0), ("poll", 0)]


def test_an_error_that_is_not_retried_is_recorded_and_fails_the_execution(sfn: Any) -> None:
    def task(event: dict[str, Any]) -> dict[str, Any]:
        if event["action"] == "poll":
            raise KeyError("boom")
        return step(event, terminal=True)

    execution, events = run(sfn, task)

    assert (execution.status, execution.error) == ("FAILED", "PollFailed")
    assert actions(events) == [("poll", 0), ("fail", 0)]
    assert events[1]["error"] == "KeyError"  # the error's name only, never its message


def test_an_expired_file_is_timed_out(sfn: Any) -> None:
    def task(event: dict[str, Any]) -> dict[str, Any]:
        return step(event, terminal=event["action"] == "time_out", expired=True)

    execution, events = run(sfn, task)

    assert execution.succeeded
    assert actions(events) == [("poll", 0), ("time_out", 1)]


def test_the_poll_count_is_bounded_by_the_definition(sfn: Any) -> None:
    def task(event: dict[str, Any]) -> dict[str, Any]:
        return step(event, terminal=event["action"] == "time_out")

    execution, events = run(sfn, task, max_attempts=3)

    assert execution.succeeded
    assert actions(events) == [("poll", 0), ("poll", 1), ("poll", 2), ("time_out", 3)]


def test_a_failing_time_out_is_recorded_as_a_failure(sfn: Any) -> None:
    def task(event: dict[str, Any]) -> dict[str, Any]:
        if event["action"] == "time_out":
            raise RuntimeError("ledger down")
        return step(event, terminal=event["action"] == "fail", expired=True)

    execution, events = run(sfn, task, retry_max_attempts=1)

    assert (execution.status, execution.error) == ("FAILED", "PollFailed")
    assert actions(events) == [("poll", 0), ("time_out", 1), ("time_out", 1), ("fail", 1)]
