"""AEP datasets of several advertisers in one setup run (issue 13, item 6): the real ASL on
moto's Step Functions, the handlers in process, the ADM and AEP sandboxes over HTTP. Each
dataset is ensured in the org of its account's ``aepSecretId`` — and exists only there — and
its registry entry names that secret; the default account's entry is as it always was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from adm_ingest.aep.auth import AEP_SECRET_ATTRIBUTE
from adm_ingest.registry import AEP_DATASET, Registry
from adm_ingest.setup import ItemKind, Outcome
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.sandbox import SandboxServer
from adm_local.stack import reset_powertools_caches
from tests.setup.accounts_support import BRAND2
from tests.setup.aep_accounts_support import (
    ACME_AEP,
    BRAND2_AEP,
    DATASET_ORGS,
    SEEDED_AEP,
    aep_accounts_config,
    aep_secret_id,
)
from tests.setup.setup_support import REGION, Runner

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The seeded ADM account and brand2 (the seeded login's second manager account)."""
    with SandboxServer(port=0, accounts=(BRAND2,), log_stream=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def aep_sandbox() -> Iterator[AepSandboxServer]:
    """Three AEP orgs: the seeded one, brand2's and acme's."""
    with AepSandboxServer(port=0, accounts=(BRAND2_AEP, ACME_AEP), log_stream=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def account_secrets(aws: None) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    for account in (BRAND2_AEP, ACME_AEP):
        secrets.create_secret(
            Name=aep_secret_id(account), SecretString=json.dumps(account.secret_document())
        )


def _datasets_by_org(aep_sandbox: AepSandboxServer) -> dict[str, dict[str, str]]:
    """Each org's datasets, name → id."""
    return {
        account.tenant_id: {
            d["name"]: key for key, d in aep_sandbox.state_of(account.org_id)["datasets"].items()
        }
        for account in aep_sandbox.accounts
    }


def _check_each_dataset_lives_in_its_org_only(
    aep_sandbox: AepSandboxServer, registry: Registry
) -> None:
    held = _datasets_by_org(aep_sandbox)
    for name, org in DATASET_ORGS.items():
        entry = registry.get(AEP_DATASET, name)
        assert entry is not None, name
        assert held[org.tenant_id] == held[org.tenant_id] | {name: entry.id}, name
        for other in aep_sandbox.accounts:
            if other != org:
                assert name not in held[other.tenant_id], (name, other.tenant_id)
        # Its schema is its own tenant's (the title resolved in the org's Schema Registry).
        assert f"/{org.tenant_id}/" in entry.attributes["schema_id"], name
        if org == SEEDED_AEP:
            assert AEP_SECRET_ATTRIBUTE not in entry.attributes  # as before accounts existed
        else:
            assert entry.attributes[AEP_SECRET_ATTRIBUTE] == aep_secret_id(org)


def test_an_adm_config_with_aep_accounts_ensures_each_dataset_in_its_org_and_reruns_clean(
    run_with_aep: Runner,
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    account_secrets: None,
    example_config: dict[str, Any],
) -> None:
    config = aep_accounts_config(adm=example_config)

    first = run_with_aep(config)

    assert first.ok, first.format_table()
    assert first.outcomes(ItemKind.AEP_DATASET) == dict.fromkeys(DATASET_ORGS, Outcome.CREATED)
    # brand2 is an ADM account too: its terms and room; acme is AEP-only: nothing on ADM.
    assert set(first.outcomes(ItemKind.TERMS)) == {"terms", "brand2:terms"}
    assert set(first.outcomes(ItemKind.DATA_ROOM)) == {"data_room", "brand2:data_room"}
    assert {"name": "acme", "aepOnly": True} in first.output["results"]["accounts"]
    _check_each_dataset_lives_in_its_org_only(aep_sandbox, registry)
    # Each org's credential got its own IMS token.
    assert set(aep_sandbox.tokens.issued_to) == {a.client_id for a in aep_sandbox.accounts}
    held = _datasets_by_org(aep_sandbox)

    second = run_with_aep(config)

    assert second.ok, second.format_table()
    assert second.changed == []
    assert second.outcomes(ItemKind.AEP_DATASET) == dict.fromkeys(DATASET_ORGS, Outcome.UNCHANGED)
    assert _datasets_by_org(aep_sandbox) == held  # nothing created again, in any org
    assert sum(len(names) for names in held.values()) == 3


def test_an_aep_only_config_with_aep_only_accounts_skips_adm(
    run_with_aep: Runner,
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    registry: Registry,
    account_secrets: None,
) -> None:
    config = aep_accounts_config()
    config["accounts"] = [
        {k: v for k, v in a.items() if "Account" not in k} for a in config["accounts"]
    ]

    report = run_with_aep(config)

    assert report.ok, report.format_table()
    assert report.of(ItemKind.TERMS) == [] and report.of(ItemKind.DATA_ROOM) == []
    assert not any(r.path.startswith("/adm/") for r in sandbox.requests)
    _check_each_dataset_lives_in_its_org_only(aep_sandbox, registry)


def test_an_unreadable_account_secret_fails_its_dataset_s_step_and_says_which(
    run_with_aep: Runner, aep_sandbox: AepSandboxServer
) -> None:
    """No secret stored for acme (brand2's is): the failure names the step and acme's secret;
    nothing reaches acme's org. (With both missing, which dataset fails first would be up to
    the Map's order.)"""
    reset_powertools_caches()  # secrets read by earlier tests stay cached in the process
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=aep_secret_id(BRAND2_AEP), SecretString=json.dumps(BRAND2_AEP.secret_document())
    )
    config = aep_accounts_config()

    report = run_with_aep(config)

    assert not report.ok
    assert report.failed_step == "EnsureAepDataset"
    assert report.error == "AepSecretUnreadable"
    assert report.cause is not None
    assert f"secret {aep_secret_id(ACME_AEP)!r} of account acme cannot be read" in report.cause
    assert aep_sandbox.state_of(ACME_AEP.org_id)["datasets"] == {}
