"""The setup workflow with an ``aepDatasets`` section, end to end: the real ASL on moto's Step
Functions, the handlers in process, the ADM and AEP sandboxes over real HTTP, the registry in
moto's DynamoDB."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import boto3
import pytest

from adm_ingest.aep.xdm_validation import ValidatorForm
from adm_ingest.registry import AEP_DATASET, Registry
from adm_ingest.setup import ItemKind, Outcome
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.aep_sandbox.schemas import IDENTITY_MAP, PROFILE_CLASS, SeededSchema
from adm_local.sandbox import SandboxServer
from adm_local.setup_runner import setup_router
from tests.setup.setup_support import REGION, REPO, Runner

pytestmark = pytest.mark.e2e

AEP_EXAMPLE = REPO / "events" / "setup-config-aep.json"


@pytest.fixture
def config(example_config: dict[str, Any]) -> dict[str, Any]:
    """The ADM example config plus the AEP example's datasets."""
    aep = json.loads(AEP_EXAMPLE.read_text(encoding="utf-8"))
    return example_config | {"aepDatasets": copy.deepcopy(aep["aepDatasets"])}


def test_adm_and_aep_are_set_up_in_one_execution_and_a_rerun_changes_nothing(
    run_with_aep: Runner,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    config: dict[str, Any],
) -> None:
    first = run_with_aep(config)

    assert first.ok, first.format_table()
    assert first.outcomes(ItemKind.AEP_DATASET) == {
        "loyalty_profiles": Outcome.CREATED,
        "purchase_events": Outcome.CREATED,
    }
    assert set(first.outcomes(ItemKind.AUDIENCE).values()) == {Outcome.CREATED}
    datasets = aep_sandbox.state()["datasets"]
    assert {d["name"]: key for key, d in datasets.items()} == {
        r.name: r.id for r in first.of(ItemKind.AEP_DATASET)
    }
    profiles = registry.get(AEP_DATASET, "loyalty_profiles")
    assert profiles is not None
    assert profiles.attributes["dataset_class"] == "profile"
    assert profiles.attributes["partial_ingestion_percent"] == "5"
    assert ValidatorForm.from_json(profiles.attributes["validator"]).root["t"] == "o"
    registry_names = {r.name for r in first.of(ItemKind.REGISTRY)}
    assert {"aep_dataset#loyalty_profiles", "aep_dataset#purchase_events"} <= registry_names

    second = run_with_aep(config)

    assert second.ok, second.format_table()
    assert second.changed == []
    assert second.outcomes(ItemKind.AEP_DATASET) == dict.fromkeys(
        ("loyalty_profiles", "purchase_events"), Outcome.UNCHANGED
    )
    aep_registry = [r for r in second.of(ItemKind.REGISTRY) if r.name.startswith("aep_dataset#")]
    assert len(aep_registry) == 2 and {r.outcome for r in aep_registry} == {Outcome.UNCHANGED}
    assert aep_sandbox.state()["datasets"].keys() == datasets.keys()


def test_an_adm_only_config_needs_no_aep_secret(
    run: Runner, registry: Registry, example_config: dict[str, Any]
) -> None:
    assert "AEP_SECRET_ID" not in os.environ

    report = run(example_config)

    assert report.ok, report.format_table()
    assert report.of(ItemKind.AEP_DATASET) == []
    assert "aepDatasets" not in report.output["results"]
    assert list(registry.entries(AEP_DATASET)) == []


def test_a_failed_dataset_create_is_retried_by_the_state_machine_without_a_duplicate(
    run_with_aep: Runner, aep_sandbox: AepSandboxServer, config: dict[str, Any]
) -> None:
    aep_sandbox.faults.set(
        server_errors=1, status=503, path="/data/foundation/catalog/dataSets", methods=["POST"]
    )
    router = setup_router()

    report = run_with_aep(config, router=router)

    assert report.ok, report.format_table()
    # The create is not replayed by the client: the step ran once more, listed, then created.
    assert router.count("adm-ingest-setup-EnsureAepDataset") == len(config["aepDatasets"]) + 1
    assert len(aep_sandbox.state()["datasets"]) == len(config["aepDatasets"])


def test_an_unsupported_schema_fails_the_workflow_naming_the_step_dataset_and_path(
    run_with_aep: Runner,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    failure_queue: tuple[str, str],
    config: dict[str, Any],
) -> None:
    tenant = aep_sandbox.account.tenant_id
    odd = SeededSchema(
        key="d" * 32,
        title="Odd profiles",
        xdm_class=PROFILE_CLASS,
        field_groups=(),
        properties={"identityMap": IDENTITY_MAP, "choice": {"anyOf": [{"type": "string"}]}},
        required=(),
        tenant=tenant,
    )
    aep_sandbox.add_schema(odd)
    config["aepDatasets"] = [{"name": "odd_profiles", "schema": "Odd profiles"}]

    report = run_with_aep(config)

    assert report.status == "FAILED"
    assert report.failed_step == "EnsureAepDataset"
    assert report.error == "UnsupportedDatasetSchema"
    assert "AEP dataset odd_profiles" in (report.cause or "")
    assert "choice: unsupported keyword 'anyOf'" in (report.cause or "")
    messages = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=failure_queue[1], MaxNumberOfMessages=10
    )["Messages"]
    alert = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert alert["step"] == "EnsureAepDataset"
    assert aep_sandbox.state()["datasets"] == {}
    assert list(registry.entries(AEP_DATASET)) == []
    # The ADM part ran first and is registered: a re-run after fixing the schema resumes.
    assert list(registry.entries("audience")) != []


def test_aep_datasets_without_an_aep_secret_fail_clearly(
    run: Runner, aep_sandbox: AepSandboxServer, config: dict[str, Any]
) -> None:
    report = run(config)  # the ADM-only environment: no AEP_SECRET_ID

    assert report.status == "FAILED"
    assert report.failed_step == "EnsureAepDataset"
    assert report.error == "AepSecretMissing"
    assert "AEP_SECRET_ID" in (report.cause or "")
    assert aep_sandbox.requests == []


def test_an_aep_only_config_skips_the_adm_steps_and_still_saves_mappings(
    run_with_aep: Runner,
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
) -> None:
    aep = json.loads(AEP_EXAMPLE.read_text(encoding="utf-8"))
    config = {"aepDatasets": aep["aepDatasets"]}

    report = run_with_aep(config)

    assert report.ok, report.format_table()
    assert sandbox.requests == []  # no ADM call: the ADM secret is not needed
    assert report.of(ItemKind.TERMS) == [] and report.of(ItemKind.AUDIENCE) == []
    assert set(report.outcomes(ItemKind.AEP_DATASET).values()) == {Outcome.CREATED}
    assert {e.name for e in registry.entries(AEP_DATASET)} == {
        "loyalty_profiles",
        "purchase_events",
    }
    assert run_with_aep(config).changed == []


def test_an_invalid_aep_only_config_started_directly_fails_before_any_aep_call(
    run_with_aep: Runner, sandbox: SandboxServer, aep_sandbox: AepSandboxServer
) -> None:
    """As on AWS, without the local pre-check: SaveRegistry validates before EnsureAepDataset."""
    from adm_local.setup_runner import report_of
    from adm_local.stepfunctions import run_execution

    good = {"aepDatasets": [{"name": "loyalty_profiles", "schema": "adm-ingest Loyalty Profiles"}]}
    run_with_aep(good)  # deploys the machine
    aep_before = len(aep_sandbox.requests)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    bad = {"aepDatasets": good["aepDatasets"] * 2}  # a duplicate name
    with setup_router().installed():
        report = report_of(run_execution(sfn, arn, bad, timeout_s=30))

    assert report.failed_step == "SaveRegistry"
    assert report.error == "ConfigError"
    assert "aepDatasets[1].name" in (report.cause or "")
    assert aep_sandbox.requests[aep_before:] == []
    assert sandbox.requests == []
