"""The accounts ``adm-ingest sandbox --account NAME`` adds each have a login of their own: a
token granted for one acts for no other account (nor the seeded one), and a login's parts
cannot be mixed with another's at the token endpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import requests

from adm_ingest.adm import AdmClient, ClientSettings
from adm_ingest.adm.auth import Credentials
from adm_ingest.adm.errors import Forbidden
from adm_local.sandbox import SandboxAccount, SandboxServer
from adm_local.sandbox.cli import extra_accounts

SEEDED = SandboxAccount()
ACME, BRAND = extra_accounts(["acme", "brand"])


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, accounts=(ACME, BRAND), onboarded=True, log_stream=None) as sb:
        yield sb
        assert sb.schema_violations == [] and sb.internal_errors == []


def client(sandbox: SandboxServer, login: SandboxAccount, acting_for: SandboxAccount) -> AdmClient:
    """A client with ``login``'s LwA credentials sending ``acting_for``'s account headers."""
    credentials = Credentials.from_mapping(login.secret_document())
    credentials = dataclasses.replace(
        credentials,
        manager_account_id=acting_for.manager_account_id,
        advertiser_account_id=acting_for.advertiser_account_id,
        profile_id=acting_for.profile_id,
    )
    environ = {"ADM_API_URL": sandbox.url, "ADM_TOKEN_URL": sandbox.token_url}
    return AdmClient(ClientSettings.for_region("NA", environ=environ), credentials)


def test_each_login_acts_for_its_own_account_and_sees_its_items_only(
    sandbox: SandboxServer,
) -> None:
    for account in (SEEDED, ACME, BRAND):
        with client(sandbox, account, account) as adm:
            adm.create_audience(f"{account.advertiser_account_id.lower()}_members", "US")
    for account in (SEEDED, ACME, BRAND):
        with client(sandbox, account, account) as adm:
            names = [audience.name for audience in adm.list_audiences()]
        assert names == [f"{account.advertiser_account_id.lower()}_members"]


@pytest.mark.parametrize(
    ("login", "acting_for"),
    [(ACME, SEEDED), (SEEDED, ACME), (ACME, BRAND), (BRAND, ACME)],
    ids=["acme-for-seeded", "seeded-for-acme", "acme-for-brand", "brand-for-acme"],
)
def test_a_token_of_one_login_is_refused_for_another_account(
    sandbox: SandboxServer, login: SandboxAccount, acting_for: SandboxAccount
) -> None:
    with client(sandbox, login, acting_for) as adm, pytest.raises(Forbidden):
        adm.create_audience("not_for_this_login", "US")
    for account in (SEEDED, ACME, BRAND):
        assert sandbox.state_of(account.manager_account_id)["datasets"] == {}


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"refresh_token": SEEDED.refresh_token}, 400, "invalid_grant"),
        ({"refresh_token": BRAND.refresh_token}, 400, "invalid_grant"),
        ({"client_secret": SEEDED.client_secret}, 401, "invalid_client"),
        ({"client_id": BRAND.client_id}, 401, "invalid_client"),
    ],
    ids=["seeded-refresh-token", "brand-refresh-token", "seeded-secret", "brand-client"],
)
def test_a_login_s_parts_do_not_combine_with_another_s(
    sandbox: SandboxServer, overrides: dict[str, str], status: int, error: str
) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": ACME.client_id,
        "client_secret": ACME.client_secret,
        "refresh_token": ACME.refresh_token,
    }
    assert requests.post(sandbox.token_url, data=form, timeout=10).status_code == 200

    refused = requests.post(sandbox.token_url, data=form | overrides, timeout=10)

    assert (refused.status_code, refused.json()["error"]) == (status, error)
