"""Several advertisers from one deployment, end to end: the real setup state machine creates
audiences and definitions in three manager accounts of the sandbox (two logins, two secrets),
and files under ``audiences/<name>/`` and ``conversions/<name>/`` reach the account their
registry entry names — each request with that account's headers and its login's token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adm_ingest.adm.client import ADVERTISER_ACCOUNT_HEADER, MANAGER_ACCOUNT_HEADER, SCOPE_HEADER
from adm_local.sandbox import SandboxAccount
from adm_local.sandbox.faults import TOKEN_PATH
from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, people
from tests.setup.accounts_support import (
    BRAND2,
    EU,
    EU_SECRET_ID,
    SEEDED,
    multi_account_config,
)

pytestmark = pytest.mark.e2e

AUDIENCES = {"home_members": SEEDED, "eu_members": EU, "brand2_members": BRAND2}


@pytest.fixture(scope="module")
def accounts_stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=1000,
        max_receive_count=3,
        visibility_timeout=1,
        worker_timeout_s=30,
        sandbox_kwargs={"accounts": (EU, BRAND2)},
        # The token count is the workers' (one per secret): no poller container reading match
        # rates with tokens of its own.
        environment={"TIME_MARGIN_MS": "5000", "MATCH_RATE_DELAY_SECONDS": "0"},
    ) as local:
        local.client("secretsmanager").create_secret(
            Name=EU_SECRET_ID, SecretString=json.dumps(EU.secret_document(region="EU"))
        )
        report = local.setup(multi_account_config())
        assert report.ok, report.format_table()
        yield local


def _login(stack: LocalStack, headers: dict[str, str]) -> SandboxAccount | None:
    return stack.sandbox.tokens.account_of(headers.get("Authorization"))


def test_each_audience_s_file_reaches_its_account_with_that_account_s_credentials(
    accounts_stack: LocalStack,
) -> None:
    stack = accounts_stack
    start = len(stack.sandbox.requests)
    for offset, audience in enumerate(AUDIENCES):
        rows = people(1500, offset * 10_000)  # two chunks each
        stack.drop(f"audiences/{audience}/export.csv", csv_bytes(PEOPLE_HEADER, rows))
    stack.pump(timeout=120)

    for offset, (audience, account) in enumerate(AUDIENCES.items()):
        report = stack.report(f"audiences/{audience}/export.csv")
        assert report is not None and report["accepted"] == 1500, (audience, report)
        entry = stack.registry.get("audience", audience)
        assert entry is not None
        state = stack.sandbox.state_of(account.manager_account_id)
        members = state["datasets"][entry.id]["members"]
        assert len(members) == 1500, audience
        assert f"cust-{offset * 10_000:07d}" in members
        # Nothing of it landed in another account.
        for other in stack.sandbox.accounts:
            if other.manager_account_id != account.manager_account_id:
                assert entry.id not in stack.sandbox.state_of(other.manager_account_id)["datasets"]

        path = f"/adm/audiences/{entry.id}/members"
        sent = [r for r in stack.sandbox.requests if r.path == path]
        assert len(sent) == 2 and all(r.status == 200 for r in sent), audience
        for request in sent:
            assert request.headers[MANAGER_ACCOUNT_HEADER] == account.manager_account_id
            assert request.headers[ADVERTISER_ACCOUNT_HEADER] == account.advertiser_account_id
            login = _login(stack, request.headers)
            assert login is not None and login.refresh_token == account.refresh_token

    # The warm worker holds one token provider per secret: brand2 reuses the default's token.
    grants = [r for r in stack.sandbox.requests[start:] if r.path == TOKEN_PATH]
    assert len(grants) == 2


def test_conversions_go_to_their_definition_s_advertiser_with_its_profile(
    accounts_stack: LocalStack,
) -> None:
    stack = accounts_stack
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    header = ["order_id", "event_time", "email", "revenue", "currency_code", "quantity"]
    for definition in ("home_orders", "eu_orders", "brand2_orders"):
        rows = [
            [f"{definition}-{i}", recent, f"b{i}@example.com", "9.99", "USD", "1"] for i in range(3)
        ]
        stack.drop(f"conversions/{definition}/day.csv", csv_bytes(header, rows))
    stack.pump(timeout=120)

    for definition, account in (
        ("home_orders", SEEDED),
        ("eu_orders", EU),
        ("brand2_orders", BRAND2),
    ):
        report = stack.report(f"conversions/{definition}/day.csv")
        assert report is not None and report["accepted"] == 3, definition
        definition_id = stack.registry.id_of("conversion", definition)
        held = stack.sandbox.state_of(account.manager_account_id)["conversionDefinitions"]
        assert held[definition_id]["eventCount"] == 3, definition
        path = f"/accounts/{account.advertiser_account_id}/dsp/conversionDefinitions/eventData"
        sent: list[Any] = [r for r in stack.sandbox.requests if r.path == path]
        assert sent and all(r.status in (200, 207) for r in sent), definition
        for request in sent:
            assert request.headers[ADVERTISER_ACCOUNT_HEADER] == account.advertiser_account_id
            assert request.headers[SCOPE_HEADER] == account.profile_id
            login = _login(stack, request.headers)
            assert login is not None and login.refresh_token == account.refresh_token


def test_a_single_account_entry_carries_no_account() -> None:
    config = multi_account_config()
    config.pop("accounts")
    config["audiences"] = config["audiences"][:1]
    config["conversionDefinitions"] = config["conversionDefinitions"][:1]
    config["sharingRules"] = []
    with LocalStack(records_per_chunk=1000, worker_timeout_s=30) as stack:
        report = stack.setup(config)
        assert report.ok, report.format_table()
        entry = stack.registry.get("audience", "home_members")
        assert entry is not None and dict(entry.attributes) == {"country": "US"}
        stack.drop("audiences/home_members/a.csv", csv_bytes(PEOPLE_HEADER, people(10)))
        stack.pump(timeout=60)
        file_report = stack.report("audiences/home_members/a.csv")
        assert file_report is not None and file_report["accepted"] == 10
