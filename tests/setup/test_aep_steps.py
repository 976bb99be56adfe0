"""The AEP setup step against the AEP sandbox over real HTTP, the registry in moto's DynamoDB:
schema by title or ``$id``, datasets ensured by name (list first, create only when missing),
Profile / Identity enabled by JSON Patch, the validator form registered, and a second run that
changes nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest

from adm_ingest.aep import AepClient
from adm_ingest.aep.xdm_validation import ValidatorForm, compile_schema, validate
from adm_ingest.registry import AEP_DATASET, Registry
from adm_ingest.setup import aep_steps
from adm_ingest.setup.aep_steps import (
    DatasetSchemaMismatch,
    SchemaNotFound,
    UnsupportedDatasetSchema,
    percent_text,
    setup_aep_dataset,
)
from adm_ingest.setup.config import AepDatasetSpec
from adm_ingest.setup.steps import ItemKind, Outcome
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.aep_sandbox.schemas import IDENTITY_MAP, PROFILE_CLASS, SeededSchema
from adm_local.resources import create_registry_table
from tests.setup.setup_support import REGION, REGISTRY_TABLE

PROFILE_TITLE = "adm-ingest Loyalty Profiles"


@pytest.fixture
def registry(aws: None) -> Registry:
    create_registry_table(boto3.client("dynamodb", region_name=REGION), REGISTRY_TABLE)
    return Registry(REGISTRY_TABLE, dynamodb=boto3.resource("dynamodb", region_name=REGION))


def profiles(**changes: Any) -> AepDatasetSpec:
    spec = AepDatasetSpec("loyalty_profiles", PROFILE_TITLE, True, True, 5)
    return replace(spec, **changes)


def events(sandbox: AepSandboxServer) -> AepDatasetSpec:
    return AepDatasetSpec("purchase_events", sandbox.schemas[1].id)


def writes_since(sandbox: AepSandboxServer, start: int) -> list[str]:
    """Every call after ``start`` that could change Catalog (anything but GET / HEAD)."""
    return [
        f"{r.method} {r.path}"
        for r in sandbox.requests[start:]
        if r.method not in ("GET", "HEAD") and r.path != "/ims/token/v3"
    ]


def odd_schema(tenant: str, key: str, title: str, **fields: Any) -> SeededSchema:
    return SeededSchema(
        key=key,
        title=title,
        xdm_class=fields.pop("xdm_class", PROFILE_CLASS),
        field_groups=(),
        properties={"identityMap": IDENTITY_MAP, **fields},
        required=(),
        tenant=tenant,
    )


def test_a_fresh_sandbox_gets_both_datasets_created_and_registered(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    profile = setup_aep_dataset(aep_client, registry, profiles())
    event = setup_aep_dataset(aep_client, registry, events(aep_sandbox))

    assert profile.dataset.kind is ItemKind.AEP_DATASET
    assert (profile.dataset.outcome, event.dataset.outcome) == (Outcome.CREATED, Outcome.CREATED)
    assert (profile.registry.outcome, event.registry.outcome) == (Outcome.CREATED, Outcome.CREATED)
    assert profile.registry.name == "aep_dataset#loyalty_profiles"
    datasets = aep_sandbox.state()["datasets"]
    assert {d["name"]: key for key, d in datasets.items()} == {
        "loyalty_profiles": profile.dataset.id,
        "purchase_events": event.dataset.id,
    }
    created = datasets[profile.dataset.id]
    assert created["schemaRef"]["id"] == aep_sandbox.schemas[0].id
    assert created["tags"] == {
        "unifiedProfile": ["enabled:true"],
        "unifiedIdentity": ["enabled:true"],
    }
    assert datasets[event.dataset.id]["tags"] == {}

    entry = registry.get(AEP_DATASET, "loyalty_profiles")
    assert entry is not None and entry.id == profile.dataset.id
    assert set(entry.attributes) == {
        "schema_id", "dataset_class", "validator", "partial_ingestion_percent", "profile_enabled",
    }  # fmt: skip
    assert all(isinstance(value, str) for value in entry.attributes.values())
    assert entry.attributes["schema_id"] == aep_sandbox.schemas[0].id
    assert entry.attributes["dataset_class"] == "profile"
    assert entry.attributes["partial_ingestion_percent"] == "5"
    assert entry.attributes["profile_enabled"] == "true"
    form = ValidatorForm.from_json(entry.attributes["validator"])
    assert form == compile_schema(aep_sandbox.schemas[0].full())
    # The stored form is the one that refuses what the sandbox's platform would refuse.
    assert validate(form, {"homeAddress": {"postalCode": "12345678901"}}) != []

    event_entry = registry.get(AEP_DATASET, "purchase_events")
    assert event_entry is not None
    assert event_entry.attributes["dataset_class"] == "experience_event"
    assert event_entry.attributes["partial_ingestion_percent"] == "0"
    assert event_entry.attributes["profile_enabled"] == "false"


def test_a_second_run_reports_everything_unchanged_and_writes_nothing(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    specs = [profiles(), events(aep_sandbox)]
    for spec in specs:
        setup_aep_dataset(aep_client, registry, spec)
    before = {e.name: (e.id, dict(e.attributes)) for e in registry.entries(AEP_DATASET)}
    start = len(aep_sandbox.requests)

    again = [setup_aep_dataset(aep_client, registry, spec) for spec in specs]

    assert {r.dataset.outcome for r in again} == {Outcome.UNCHANGED}
    assert {r.registry.outcome for r in again} == {Outcome.UNCHANGED}
    assert writes_since(aep_sandbox, start) == []
    assert len(aep_sandbox.state()["datasets"]) == 2
    assert {e.name: (e.id, dict(e.attributes)) for e in registry.entries(AEP_DATASET)} == before


def test_an_existing_dataset_is_found_not_duplicated_and_enabled_by_json_patch(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    dataset_id = aep_client.create_dataset("loyalty_profiles", aep_sandbox.schemas[0].id)
    start = len(aep_sandbox.requests)

    result = setup_aep_dataset(aep_client, registry, profiles())

    assert result.dataset.id == dataset_id
    assert result.dataset.outcome is Outcome.UPDATED
    assert writes_since(aep_sandbox, start) == [
        f"PATCH /data/foundation/catalog/dataSets/{dataset_id}"
    ]
    tags = aep_sandbox.state()["datasets"][dataset_id]["tags"]
    assert tags == {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}
    entry = registry.get(AEP_DATASET, "loyalty_profiles")
    assert entry is not None and entry.attributes["profile_enabled"] == "true"

    again = setup_aep_dataset(aep_client, registry, profiles())
    assert (again.dataset.outcome, again.registry.outcome) == (Outcome.UNCHANGED, Outcome.UNCHANGED)


def test_only_the_missing_tag_is_patched(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    dataset_id = aep_client.create_dataset(
        "loyalty_profiles", aep_sandbox.schemas[0].id, profile=True
    )
    before_tags = aep_sandbox.state()["datasets"][dataset_id]["tags"]
    assert "unifiedIdentity" not in before_tags

    result = setup_aep_dataset(aep_client, registry, profiles())

    assert result.dataset.outcome is Outcome.UPDATED
    assert result.dataset.attributes["identityEnabled"] is True
    tags = aep_sandbox.state()["datasets"][dataset_id]["tags"]
    assert tags["unifiedIdentity"] == ["enabled:true"]


def test_a_profile_enabled_dataset_the_config_does_not_ask_for_is_left_as_it_is(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    aep_client.create_dataset("loyalty_profiles", aep_sandbox.schemas[0].id, profile=True)
    start = len(aep_sandbox.requests)

    result = setup_aep_dataset(
        aep_client, registry, profiles(profile_enabled=False, identity_enabled=False)
    )

    assert result.dataset.outcome is Outcome.UNCHANGED
    assert writes_since(aep_sandbox, start) == []
    entry = registry.get(AEP_DATASET, "loyalty_profiles")
    assert entry is not None and entry.attributes["profile_enabled"] == "true"  # what it is


def test_datasets_are_looked_up_by_name_in_catalog(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    aep_client.create_dataset("loyalty_profiles_old", aep_sandbox.schemas[0].id)

    result = setup_aep_dataset(aep_client, registry, profiles())

    assert result.dataset.outcome is Outcome.CREATED  # a longer name is another dataset
    (listing,) = [
        r for r in aep_sandbox.requests if r.method == "GET" and r.path.endswith("/dataSets")
    ]
    assert "name=loyalty_profiles&" in listing.query + "&"


def test_a_title_is_looked_up_across_schema_registry_pages(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    tenant = aep_sandbox.account.tenant_id
    for i in range(120):
        aep_sandbox.add_schema(odd_schema(tenant, f"{i:032x}", f"Extra {i:03}"))
    wanted = odd_schema(tenant, "f" * 32, "Zebra profiles")
    aep_sandbox.add_schema(wanted)

    titles = [s.title for s in aep_client.list_schemas()]
    assert len(titles) == 123 and titles == sorted(titles)

    result = setup_aep_dataset(aep_client, registry, profiles(schema="Zebra profiles"))
    assert result.dataset.attributes["schemaId"] == wanted.id
    list_calls = [
        r.query
        for r in aep_sandbox.requests
        if r.path.endswith("/tenant/schemas") and r.method == "GET"
    ]
    assert any("start=" in query for query in list_calls)


def test_a_schema_by_alt_id_is_fetched_directly(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    schema = aep_sandbox.schemas[1]

    result = setup_aep_dataset(
        aep_client, registry, AepDatasetSpec("purchase_events", schema.alt_id)
    )

    assert result.dataset.attributes["schemaId"] == schema.id  # the $id, not the alt id
    assert not any(r.path.endswith("/tenant/schemas") for r in aep_sandbox.requests)


@pytest.mark.parametrize(
    ("schema", "wording"),
    [
        ("No such title", "no schema has the title 'No such title'"),
        ("https://ns.adobe.com/admingest/schemas/0000", "is not in the tenant's Schema Registry"),
        ("_admingest.schemas.0000", "is not in the tenant's Schema Registry"),
    ],
)
def test_a_missing_schema_is_a_clear_error_and_creates_nothing(
    aep_client: AepClient,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    schema: str,
    wording: str,
) -> None:
    with pytest.raises(SchemaNotFound) as raised:
        setup_aep_dataset(aep_client, registry, profiles(schema=schema))

    assert "AEP dataset loyalty_profiles" in str(raised.value)
    assert wording in str(raised.value)
    assert aep_sandbox.state()["datasets"] == {}
    assert list(registry.entries(AEP_DATASET)) == []


def test_a_title_two_schemas_share_is_refused(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    aep_sandbox.add_schema(odd_schema(aep_sandbox.account.tenant_id, "e" * 32, PROFILE_TITLE))

    with pytest.raises(SchemaNotFound, match="2 schemas have the title"):
        setup_aep_dataset(aep_client, registry, profiles())


def test_a_schema_the_validator_does_not_understand_fails_naming_dataset_and_path(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    tenant = aep_sandbox.account.tenant_id
    choice = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    odd = odd_schema(tenant, "d" * 32, "Odd profiles", **{f"_{tenant}": {
        "type": "object", "properties": {"choice": choice}}})  # fmt: skip
    aep_sandbox.add_schema(odd)

    with pytest.raises(UnsupportedDatasetSchema) as raised:
        setup_aep_dataset(aep_client, registry, profiles(schema="Odd profiles"))

    message = str(raised.value)
    assert "AEP dataset loyalty_profiles" in message
    assert odd.id in message
    assert f"_{tenant}.choice" in message and "'oneOf'" in message
    assert aep_sandbox.state()["datasets"] == {}
    assert list(registry.entries(AEP_DATASET)) == []


def test_a_schema_of_another_class_is_refused(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    lookup = "https://ns.adobe.com/xdm/classes/product"
    other = odd_schema(aep_sandbox.account.tenant_id, "c" * 32, "Products", xdm_class=lookup)
    aep_sandbox.add_schema(other)

    with pytest.raises(UnsupportedDatasetSchema, match="only XDM Individual Profile"):
        setup_aep_dataset(aep_client, registry, profiles(schema=other.id))
    assert aep_sandbox.state()["datasets"] == {}


def test_a_dataset_of_that_name_for_another_schema_is_an_error(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    aep_client.create_dataset("loyalty_profiles", aep_sandbox.schemas[1].id)

    with pytest.raises(DatasetSchemaMismatch) as raised:
        setup_aep_dataset(aep_client, registry, profiles())

    assert aep_sandbox.schemas[1].id in str(raised.value)
    assert len(aep_sandbox.state()["datasets"]) == 1


def test_a_validator_form_too_large_for_the_registry_fails_before_anything_is_created(
    aep_client: AepClient,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    size = len(compile_schema(aep_sandbox.schemas[0].full()).to_json())
    monkeypatch.setattr(aep_steps, "MAX_VALIDATOR_BYTES", size - 1)

    with pytest.raises(UnsupportedDatasetSchema, match=f"is {size} bytes, over the {size - 1}"):
        setup_aep_dataset(aep_client, registry, profiles())
    assert aep_sandbox.state()["datasets"] == {}


def test_a_changed_partial_ingestion_percent_updates_only_the_registry_entry(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    setup_aep_dataset(aep_client, registry, profiles())
    start = len(aep_sandbox.requests)

    result = setup_aep_dataset(aep_client, registry, profiles(partial_ingestion_percent=2.5))

    assert (result.dataset.outcome, result.registry.outcome) == (Outcome.UNCHANGED, Outcome.UPDATED)
    assert writes_since(aep_sandbox, start) == []
    entry = registry.get(AEP_DATASET, "loyalty_profiles")
    assert entry is not None and entry.attributes["partial_ingestion_percent"] == "2.5"


def test_results_are_plain_json_without_the_validator(
    aep_client: AepClient, aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    result = setup_aep_dataset(aep_client, registry, profiles()).to_json()

    text = json.dumps(result)
    assert set(result) == {"dataset", "registry"}
    assert result["dataset"]["attributes"]["datasetClass"] == "profile"
    assert len(text) < 2000  # the form stays in the registry, out of the execution state


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (5, "5"), (5.0, "5"), (2.5, "2.5"), (100, "100")]
)
def test_percent_text(value: float, text: str) -> None:
    assert percent_text(value) == text
