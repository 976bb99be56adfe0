"""The setup workflow with several accounts: the real ASL on moto, the handlers in process,
an ADM sandbox holding three manager accounts (two logins) over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities import parameters

from adm_ingest.adm.client import (
    ADVERTISER_ACCOUNT_HEADER as ADVERTISER_HEADER,
)
from adm_ingest.adm.client import (
    CLIENT_ID_HEADER,
)
from adm_ingest.adm.client import (
    MANAGER_ACCOUNT_HEADER as MANAGER_HEADER,
)
from adm_ingest.registry import AUDIENCE, CONVERSION_DEFINITION, Registry
from adm_ingest.setup import ItemKind, Outcome
from adm_local.sandbox import SandboxServer
from tests.setup.accounts_support import (
    BRAND2,
    EU,
    EU_SECRET_ID,
    SEEDED,
    multi_account_config,
)
from tests.setup.setup_support import REGION, Runner

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """Brand-new accounts: the seeded one, ``eu`` (its own login) and ``brand2`` (the seeded
    login's second manager account)."""
    with SandboxServer(port=0, accounts=(EU, BRAND2), log_stream=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def eu_secret(aws: None) -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=EU_SECRET_ID, SecretString=json.dumps(EU.secret_document(region="EU"))
    )


def test_each_account_gets_its_terms_data_room_and_items_and_the_registry_names_it(
    run: Runner, sandbox: SandboxServer, registry: Registry, eu_secret: None
) -> None:
    report = run(multi_account_config())

    assert report.ok, report.format_table()
    assert report.outcomes(ItemKind.TERMS) == {
        "terms": Outcome.CREATED,
        "eu:terms": Outcome.CREATED,
        "brand2:terms": Outcome.CREATED,
    }
    assert report.outcomes(ItemKind.DATA_ROOM) == {
        "data_room": Outcome.CREATED,
        "eu:data_room": Outcome.CREATED,
        "brand2:data_room": Outcome.CREATED,
    }
    where = {
        SEEDED.manager_account_id: ("home_members", "home_orders"),
        EU.manager_account_id: ("eu_members", "eu_orders"),
        BRAND2.manager_account_id: ("brand2_members", "brand2_orders"),
    }
    for manager, (audience, definition) in where.items():
        state = sandbox.state_of(manager)
        assert state["terms"]["hasAccepted"] is True, manager
        assert state["dataRoom"] is not None, manager
        assert [d["name"] for d in state["datasets"].values()] == [audience], manager
        names = [d["name"] for d in state["conversionDefinitions"].values()]
        assert names == [definition], manager
    (rule,) = sandbox.state_of(EU.manager_account_id)["sharingRules"].values()
    assert rule["destinationAccountId"] == EU.advertiser_account_id

    # Default entries are exactly today's; the others carry their account.
    home = registry.get(AUDIENCE, "home_members")
    assert home is not None and dict(home.attributes) == {"country": "US"}
    home_orders = registry.get(CONVERSION_DEFINITION, "home_orders")
    assert home_orders is not None and dict(home_orders.attributes) == {}
    eu = registry.get(AUDIENCE, "eu_members")
    assert eu is not None and dict(eu.attributes) == {
        "country": "US",
        "manager_account_id": EU.manager_account_id,
        "advertiser_account_id": EU.advertiser_account_id,
        "profile_id": EU.profile_id,
        "secret_id": EU_SECRET_ID,
        "region": "EU",
    }
    brand2 = registry.get(CONVERSION_DEFINITION, "brand2_orders")
    assert brand2 is not None and dict(brand2.attributes) == {
        "manager_account_id": BRAND2.manager_account_id,
        "advertiser_account_id": BRAND2.advertiser_account_id,
        "profile_id": BRAND2.profile_id,
        "region": "NA",
    }

    # Every call carried the account it acted for, with that account's login's token.
    for request in sandbox.requests:
        manager = request.headers.get(MANAGER_HEADER)
        if manager is None:
            continue  # the token grants
        login = sandbox.tokens.account_of(request.headers.get("Authorization"))
        expected = EU if manager == EU.manager_account_id else SEEDED
        assert login is not None and login.refresh_token == expected.refresh_token, request.path
        assert request.status not in (401, 403), request.path  # (a data room GET may 404)

    again = run(multi_account_config())
    assert again.ok, again.format_table()
    assert again.changed == []


def test_an_account_whose_secret_is_missing_fails_at_its_own_step(
    run: Runner, sandbox: SandboxServer
) -> None:
    parameters.clear_caches()  # an earlier test's read of the account's secret
    report = run(multi_account_config())

    assert not report.ok
    assert report.failed_step == "EnsureAccount"
    # The default account was set up before; the others were not touched.
    assert sandbox.state_of(SEEDED.manager_account_id)["terms"]["hasAccepted"] is True
    assert sandbox.state_of(EU.manager_account_id)["dataRoom"] is None


def test_the_sandbox_refuses_a_token_of_another_login_for_an_account() -> None:
    with SandboxServer(port=0, accounts=(EU,), log_stream=None) as server:
        grant = requests.post(
            server.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": SEEDED.refresh_token,
                "client_id": SEEDED.client_id,
                "client_secret": SEEDED.client_secret,
            },
            timeout=5,
        ).json()
        headers = {
            "Authorization": f"Bearer {grant['access_token']}",
            CLIENT_ID_HEADER: SEEDED.client_id,
            MANAGER_HEADER: EU.manager_account_id,
            ADVERTISER_HEADER: EU.advertiser_account_id,
            "Accept": "application/json",
        }
        refused = requests.get(server.url + "/adm/terms", headers=headers, timeout=5)
        headers[MANAGER_HEADER] = SEEDED.manager_account_id
        headers[ADVERTISER_HEADER] = SEEDED.advertiser_account_id
        allowed = requests.get(server.url + "/adm/terms", headers=headers, timeout=5)

    assert refused.status_code == 403
    assert allowed.status_code == 200
