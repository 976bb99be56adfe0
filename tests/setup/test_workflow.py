"""The setup workflow end to end: the real ASL on moto's Step Functions, the task handlers
in process, the ADM sandbox over real HTTP, the registry in moto's DynamoDB."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from adm_ingest.adm import AdmClient
from adm_ingest.registry import Registry
from adm_ingest.setup import ConfigError, ItemKind, Outcome
from adm_local.sandbox import SandboxServer
from adm_local.sandbox.replies import ApiError as SandboxApiError
from adm_local.setup_runner import setup_router
from tests.setup.setup_support import REGION, Runner

pytestmark = pytest.mark.e2e

CREATE_PATHS = ("/adm/audiences", "/adm/sharingRules", "/adm/datarooms")


def creates_since(sandbox: SandboxServer, start: int) -> list[str]:
    """The create calls (POST on a collection, not a list) the sandbox received after ``start``."""
    return [
        f"{r.method} {r.path}"
        for r in sandbox.requests[start:]
        if r.method == "POST"
        and (r.path in CREATE_PATHS or r.path.endswith("/dsp/conversionDefinitions"))
    ]


def live_rules(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in sandbox.state()["sharingRules"].values() if r["status"] == "ACTIVE"]


def test_fresh_account_gets_everything_created(
    run: Runner, sandbox: SandboxServer, registry: Registry, example_config: dict[str, Any]
) -> None:
    report = run(example_config)

    assert report.ok, report.format_table()
    assert report.outcomes(ItemKind.TERMS) == {"terms": Outcome.CREATED}
    assert report.outcomes(ItemKind.DATA_ROOM) == {"data_room": Outcome.CREATED}
    audience_names = [a["name"] for a in example_config["audiences"]]
    assert report.outcomes(ItemKind.AUDIENCE) == dict.fromkeys(audience_names, Outcome.CREATED)
    definition_names = [d["name"] for d in example_config["conversionDefinitions"]]
    assert report.outcomes(ItemKind.CONVERSION_DEFINITION) == dict.fromkeys(
        definition_names, Outcome.CREATED
    )
    assert set(report.outcomes(ItemKind.SHARING_RULE).values()) == {Outcome.CREATED}
    assert len(report.of(ItemKind.SHARING_RULE)) == len(example_config["sharingRules"])

    state = sandbox.state()
    assert len(live_rules(sandbox)) == len(example_config["sharingRules"])
    assert state["terms"]["hasAccepted"] is True
    assert state["dataRoom"] is not None
    snapshot = registry.snapshot()
    assert snapshot["audience"] == {d["name"]: key for key, d in state["datasets"].items()}
    assert snapshot["conversion"] == {
        d["name"]: key for key, d in state["conversionDefinitions"].items()
    }
    assert snapshot["sharing"] == {r.name: r.id for r in report.of(ItemKind.SHARING_RULE)}
    crm = registry.get("audience", "crm_customers_us")
    assert crm is not None and crm.attributes["country"] == "US"
    mapping = registry.get("mapping", "audiences/crm_customers_us")
    assert mapping is not None
    expected = example_config["mappings"]["audiences/crm_customers_us"]
    assert json.loads(mapping.attributes["config"]) == expected


def test_second_run_changes_nothing(
    run: Runner, sandbox: SandboxServer, registry: Registry, example_config: dict[str, Any]
) -> None:
    first = run(example_config)
    before = registry.snapshot()
    requests_before = len(sandbox.requests)

    second = run(example_config)

    assert second.ok
    assert second.changed == []
    assert {item.outcome for item in second.items} == {Outcome.UNCHANGED}
    assert [(i.kind, i.name, i.id) for i in second.items] == [
        (i.kind, i.name, i.id) for i in first.items
    ]
    assert registry.snapshot() == before
    assert creates_since(sandbox, requests_before) == []


def test_partially_set_up_account_gets_only_the_missing_pieces(
    run: Runner, sandbox: SandboxServer, adm: AdmClient, example_config: dict[str, Any]
) -> None:
    terms = adm.get_terms()
    adm.accept_terms(terms.agreement_token or "")
    adm.create_data_room()
    existing_audience = adm.create_audience("crm_customers_us", "US")
    existing_definition = adm.create_conversion_definitions(
        [example_config["conversionDefinitions"][0]]
    ).success[0][1]
    requests_before = len(sandbox.requests)

    report = run(example_config)

    assert report.ok, report.format_table()
    assert report.outcomes(ItemKind.TERMS) == {"terms": Outcome.UNCHANGED}
    assert report.outcomes(ItemKind.DATA_ROOM) == {"data_room": Outcome.UNCHANGED}
    assert report.outcomes(ItemKind.AUDIENCE) == {
        "crm_customers_us": Outcome.UNCHANGED,
        "newsletter_subscribers": Outcome.CREATED,
    }
    assert report.outcomes(ItemKind.CONVERSION_DEFINITION) == {
        "offline_purchases": Outcome.UNCHANGED,
        "store_signups": Outcome.CREATED,
    }
    ids = {item.name: item.id for item in report.items}
    assert ids["crm_customers_us"] == existing_audience.data_set_id
    assert ids["offline_purchases"] == existing_definition
    made = creates_since(sandbox, requests_before)
    assert made.count("POST /adm/audiences") == 1
    assert "POST /adm/datarooms" not in made


def test_a_new_audience_in_the_config_creates_only_that_one(
    run: Runner, sandbox: SandboxServer, registry: Registry, example_config: dict[str, Any]
) -> None:
    run(example_config)
    example_config["audiences"].append({"name": "lapsed_customers_gb", "countryCode": "GB"})

    report = run(example_config)

    assert report.ok
    assert [(i.kind, i.name, i.outcome) for i in report.changed] == [
        (ItemKind.AUDIENCE, "lapsed_customers_gb", Outcome.CREATED),
        (ItemKind.REGISTRY, "audience#lapsed_customers_gb", Outcome.CREATED),
    ]
    entry = registry.get("audience", "lapsed_customers_gb")
    assert entry is not None and entry.attributes["country"] == "GB"


@pytest.mark.parametrize("applied_before_throttle", [False, True], ids=["refused", "applied"])
def test_a_throttled_sharing_rule_create_never_yields_a_duplicate(
    run: Runner,
    sandbox: SandboxServer,
    example_config: dict[str, Any],
    applied_before_throttle: bool,
) -> None:
    """The first sharing-rule create answers 429 — once refused outright, once after the rule
    was stored (the response "lost"). The step is retried by the state machine, lists first,
    and either creates the rule or finds it: one live rule per configured rule either way."""
    example_config["sharingRules"] = example_config["sharingRules"][:1]
    state = sandbox._state
    original = state.create_sharing_rule
    throttled: list[bool] = []

    def throttle_once(body: Any, client_id: str) -> Any:
        if throttled:
            return original(body, client_id)
        throttled.append(True)
        if applied_before_throttle:
            original(body, client_id)
        raise SandboxApiError(
            429, "TooManyRequestsException", "rate exceeded", headers={"Retry-After": "0"}
        )

    state.create_sharing_rule = throttle_once  # type: ignore[method-assign]
    router = setup_router()

    report = run(example_config, router=router)

    assert report.ok, report.format_table()
    assert throttled == [True]
    assert router.count("adm-ingest-setup-EnsureSharingRule") == 2  # the ASL retried the step
    rules = live_rules(sandbox)
    assert len(rules) == 1
    expected = Outcome.UNCHANGED if applied_before_throttle else Outcome.CREATED
    assert report.of(ItemKind.SHARING_RULE)[0].outcome is expected
    assert report.of(ItemKind.SHARING_RULE)[0].id == rules[0]["sharingRuleId"]


def test_a_server_error_mid_workflow_is_retried(
    run: Runner, sandbox: SandboxServer, example_config: dict[str, Any]
) -> None:
    sandbox.faults.set(server_errors=1, status=503, path="/adm/audiences", methods=["POST"])
    router = setup_router()

    report = run(example_config, router=router)

    assert report.ok, report.format_table()
    # One audience create failed with 503 (creates are never replayed by the client), so the
    # state machine ran EnsureAudience once more than there are audiences.
    n_audiences = len(example_config["audiences"])
    assert router.count("adm-ingest-setup-EnsureAudience") == n_audiences + 1
    assert len(sandbox.state()["datasets"]) == n_audiences


def test_exhausted_retries_fail_naming_the_step_and_notify(
    run: Runner,
    sandbox: SandboxServer,
    registry: Registry,
    failure_queue: tuple[str, str],
    example_config: dict[str, Any],
) -> None:
    sandbox.faults.set(server_errors=50, status=503, path="/adm/audiences", methods=["POST"])

    report = run(example_config, retry_max_attempts=1)

    assert report.status == "FAILED"
    assert report.failed_step == "EnsureAudience"
    assert report.error == "ServerError"
    assert "503" in (report.cause or "")
    messages = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=failure_queue[1], MaxNumberOfMessages=10
    )["Messages"]
    alert = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert alert["step"] == "EnsureAudience"
    assert alert["error"] == "ServerError"
    assert list(registry.entries()) == []  # SaveRegistry never ran


def test_invalid_config_is_refused_before_any_call(
    run: Runner, sandbox: SandboxServer, example_config: dict[str, Any]
) -> None:
    example_config["audiences"][1]["name"] = "x"
    sfn = boto3.client("stepfunctions", region_name=REGION)

    with pytest.raises(ConfigError) as refused:
        run(example_config)

    assert refused.value.field == "audiences[1].name"
    assert sandbox.requests == []
    assert sfn.list_state_machines()["stateMachines"] == []


def test_the_state_machine_itself_refuses_an_invalid_config(
    run: Runner, sandbox: SandboxServer, example_config: dict[str, Any]
) -> None:
    """Started directly (as on AWS) with a bad config, AcceptTerms fails before calling ADM."""
    from adm_local.setup_runner import report_of
    from adm_local.stepfunctions import run_execution

    run(example_config)  # deploys the machine (the account is now fully set up)
    requests_before = len(sandbox.requests)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    bad = dict(example_config, region="MARS")
    with setup_router().installed():
        report = report_of(run_execution(sfn, arn, bad, timeout_s=30))

    assert report.failed_step == "AcceptTerms"
    assert report.error == "ConfigError"
    assert "region" in (report.cause or "")
    assert sandbox.requests[requests_before:] == []
