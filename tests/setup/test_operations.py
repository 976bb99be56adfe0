"""Operations around the setup, against the ADM sandbox: revoke, delete, inventory, status."""

from __future__ import annotations

from typing import Any

import pytest

from adm_ingest.adm import AdmClient
from adm_ingest.registry import Registry
from adm_ingest.setup import ItemKind, Outcome
from adm_ingest.setup.operations import (
    ConfirmationRequired,
    audience_status,
    delete_dataset,
    format_table,
    inventory,
    revoke_sharing_rule,
)
from adm_local.sandbox import SandboxServer
from tests.setup.setup_support import Runner

MARKETPLACE = "ATVPDKIKX0DER"


@pytest.fixture
def shared_audience(adm: AdmClient, sandbox: SandboxServer) -> tuple[str, str]:
    """An onboarded account with one audience shared to DSP: (dataSetId, sharingRuleId)."""
    adm.accept_terms(adm.get_terms().agreement_token or "")
    adm.create_data_room()
    dataset = adm.create_audience("crm_customers_us", "US", "CRM customers")
    rule = adm.create_sharing_rule(
        application="DSP_AUDIENCES",
        data_set_id=dataset.data_set_id,
        destination_account_id=sandbox.account.advertiser_account_id,
        marketplace_id=MARKETPLACE,
        metadata={"audienceMetadata": {"audienceName": "CRM customers US"}},
    )
    return dataset.data_set_id, rule.sharing_rule_id


def test_revoke_stops_a_sharing_rule(
    adm: AdmClient, sandbox: SandboxServer, shared_audience: tuple[str, str]
) -> None:
    _, rule_id = shared_audience

    revoke_sharing_rule(adm, rule_id)

    assert sandbox.state()["sharingRules"][rule_id]["status"].startswith("REVOKED")


def test_delete_needs_confirmation(
    adm: AdmClient, sandbox: SandboxServer, shared_audience: tuple[str, str]
) -> None:
    data_set_id, _ = shared_audience

    with pytest.raises(ConfirmationRequired, match="confirm"):
        delete_dataset(adm, data_set_id)
    assert data_set_id in sandbox.state()["datasets"]

    delete_dataset(adm, data_set_id, confirm=True)
    assert data_set_id not in sandbox.state()["datasets"]


def test_inventory_lists_what_exists_as_a_table(
    adm: AdmClient, shared_audience: tuple[str, str]
) -> None:
    data_set_id, rule_id = shared_audience
    adm.create_conversion_definitions(
        [
            {
                "name": "offline_purchases",
                "conversionType": "OFF_AMAZON_PURCHASES",
                "countingMethod": "EVERY",
                "source": "SERVER_TO_SERVER",
                "sourceType": "OFFLINE",
                "value": 1,
            }
        ]
    )

    rows = inventory(adm)

    assert [(row.kind, row.name) for row in rows] == [
        ("data_room", "data_room"),
        ("audience", "crm_customers_us"),
        ("sharing_rule", "crm_customers_us → DSP_AUDIENCES"),
        ("conversion_definition", "offline_purchases"),
    ]
    assert rows[0].detail.startswith("datasets=1 ")
    assert rows[2].id == rule_id and rows[2].status == "ACTIVE"
    table = format_table(rows).splitlines()
    assert table[0].split() == ["KIND", "NAME", "ID", "STATUS", "DETAIL"]
    assert data_set_id in table[2]
    assert len({line.index(rows[i].id) for i, line in enumerate(table[1:]) if rows[i].id}) == 1


def test_inventory_of_an_account_without_data_room(adm: AdmClient) -> None:
    rows = inventory(adm)

    assert [(row.kind, row.status) for row in rows] == [("data_room", "absent")]


def test_audience_status_shows_the_dataset(
    adm: AdmClient, shared_audience: tuple[str, str]
) -> None:
    data_set_id, _ = shared_audience

    status = audience_status(adm, data_set_id)

    assert (status.data_set_id, status.name, status.country_code) == (
        data_set_id,
        "crm_customers_us",
        "US",
    )
    fields = dict(status.rows())
    assert fields["dataSetId"] == data_set_id
    assert fields["activeDestinations"] in ("1", "1.0")


def test_revoke_declared_in_the_config_runs_through_the_workflow(
    run: Runner, sandbox: SandboxServer, registry: Registry, example_config: dict[str, Any]
) -> None:
    first = run(example_config)
    rule_id = first.of(ItemKind.SHARING_RULE)[1].id
    example_config["sharingRules"][1]["revoke"] = True

    second = run(example_config)
    third = run(example_config)

    assert second.ok and third.ok
    assert second.of(ItemKind.SHARING_RULE)[1].outcome is Outcome.REVOKED
    assert sandbox.state()["sharingRules"][rule_id]["status"].startswith("REVOKED")
    assert third.of(ItemKind.SHARING_RULE)[1].outcome is Outcome.UNCHANGED
    assert third.changed == []
    entry = registry.get("sharing", first.of(ItemKind.SHARING_RULE)[1].name)
    assert entry is not None and (entry.id, entry.attributes["status"]) == (rule_id, "REVOKED")
