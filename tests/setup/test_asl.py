"""The setup ASL file: the substitution contract, its failure path, and moto's parser."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from adm_local.setup_runner import ASL_PATH, STEP_HANDLERS, load_handlers, substitutions
from adm_local.stepfunctions import DefinitionError, placeholders, render_definition
from tests.setup.setup_support import REGION

# The names template.yaml passes as DefinitionSubstitutions (a fixed, shared contract).
CONTRACT = {
    "AcceptTermsFunctionArn",
    "EnsureDataRoomFunctionArn",
    "EnsureAccountFunctionArn",
    "EnsureAudienceFunctionArn",
    "EnsureConversionDefinitionsFunctionArn",
    "EnsureSharingRuleFunctionArn",
    "SaveRegistryFunctionArn",
    "EnsureAepDatasetFunctionArn",
    "FailureTopicArn",
    "RetryIntervalSeconds",
    "RetryMaxAttempts",
}
RETRYABLE = {"RetryableError", "Throttled", "ServerError", "DeadlineExceeded"}


def rendered(**overrides: Any) -> dict[str, Any]:
    values = substitutions(
        region=REGION,
        account_id="123456789012",
        failure_topic_arn=f"arn:aws:sns:{REGION}:123456789012:setup-failures",
        retry_interval_seconds=2,
        retry_max_attempts=4,
    )
    return json.loads(render_definition(ASL_PATH, values | overrides))


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, including those inside Map item processors."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found |= all_states(state["ItemProcessor"]["States"])
    return found


def test_the_definition_uses_exactly_the_contracted_substitutions() -> None:
    assert placeholders(ASL_PATH) == CONTRACT
    assert set(substitutions(region=REGION, account_id="1", failure_topic_arn="t")) == CONTRACT


def test_numbers_are_substituted_unquoted() -> None:
    states = all_states(rendered()["States"])

    retriers = [
        r for s in states.values() for r in s.get("Retry", []) if set(r["ErrorEquals"]) >= RETRYABLE
    ]
    assert len(retriers) == len(STEP_HANDLERS)
    assert {(r["IntervalSeconds"], r["MaxAttempts"]) for r in retriers} == {(2, 4)}


def test_a_missing_substitution_is_refused() -> None:
    values = substitutions(region=REGION, account_id="1", failure_topic_arn="t")
    del values["FailureTopicArn"]

    with pytest.raises(DefinitionError, match="FailureTopicArn"):
        render_definition(ASL_PATH, values)


def test_every_step_is_a_handler_with_retry_and_a_catch_naming_it() -> None:
    definition = rendered()
    states = all_states(definition["States"])
    app = load_handlers()

    for step, handler in STEP_HANDLERS.items():
        task = states[step]
        assert task["Type"] == "Task"
        assert task["Resource"].endswith(f":function:adm-ingest-setup-{step}")
        assert callable(getattr(app, handler))
        # Map iterations are caught on the Map state that contains them.
        holder = next(
            (
                s
                for s in definition["States"].values()
                if step in s.get("ItemProcessor", {}).get("States", {})
            ),
            task,
        )
        (catch,) = holder["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        shaper = states[catch["Next"]]
        assert shaper["Type"] == "Pass"
        assert shaper["Parameters"]["step"] == step
        notify = states[shaper["Next"]]
        assert notify["Resource"] == "arn:aws:states:::sns:publish"
        assert states[notify["Next"]]["Type"] == "Fail"


def test_moto_accepts_the_rendered_definition(aws: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps(rendered())

    arn = sfn.create_state_machine(
        name="setup", definition=definition, roleArn="arn:aws:iam::123456789012:role/setup"
    )["stateMachineArn"]

    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(
        definition
    )


def test_moto_refuses_a_broken_definition(aws: None) -> None:
    """The round trip is a real check: the parser rejects what AWS would reject."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    broken = rendered()
    broken["States"]["SetupFailed"]["CauseJsonPath"] = "$.cause"

    with pytest.raises(sfn.exceptions.ClientError):
        sfn.create_state_machine(
            name="broken", definition=json.dumps(broken), roleArn="arn:aws:iam::1:role/r"
        )
