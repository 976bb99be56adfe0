"""Several orgs in one AEP sandbox (issue 13, item 6): each credential gets its own IMS tokens,
its own datasets, batches, files and Schema Registry, and the gateway serves a request only
when its token, api key, org and sandbox headers are all one org's — with the error shapes
of a single-org sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from adm_ingest.aep import AepClient, AepCredentials, AepNotFound, AepSettings
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.aep_sandbox.ims import AepAccount
from tests.aep_sandbox.aep_http import CATALOG

BRAND2 = AepAccount.named("brand2")
EU = AepAccount.named("eu-retail")


@pytest.fixture
def orgs() -> Iterator[AepSandboxServer]:
    with AepSandboxServer(port=0, accounts=(BRAND2, EU), log_stream=None) as server:
        yield server
        assert server.internal_errors == []


def client_of(sandbox: AepSandboxServer, account: AepAccount) -> AepClient:
    credentials = AepCredentials.from_mapping(account.secret_document())
    return AepClient(credentials, AepSettings(api_url=sandbox.url, ims_url=sandbox.url))


def token_of(sandbox: AepSandboxServer, account: AepAccount) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": account.client_id,
        "client_secret": account.client_secret,
        "scope": account.scopes,
    }
    reply = requests.post(sandbox.token_url, data=form, timeout=5)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def headers_of(account: AepAccount, token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": account.client_id,
        "x-gw-ims-org-id": account.org_id,
        "x-sandbox-name": account.sandbox_name,
    }


def test_named_accounts_derive_stable_distinct_ids_from_their_name() -> None:
    assert AepAccount.named("brand2") == BRAND2  # the same name, the same org
    assert BRAND2.client_id == "aep-sandbox-client-brand2"
    assert BRAND2.client_secret == "aep-sandbox-secret-brand2"
    assert BRAND2.tenant_id == "brand2"
    assert BRAND2.sandbox_name == "brand2-prod"
    org, suffix = BRAND2.org_id.split("@")
    assert suffix == "AdobeOrg" and len(org) == 24 and int(org, 16) >= 0
    assert EU.tenant_id == "euretail"
    ids = {(a.client_id, a.org_id, a.tenant_id) for a in (AepAccount(), BRAND2, EU)}
    assert len(ids) == 3
    with pytest.raises(ValueError, match="letter or a digit"):
        AepAccount.named("--")


def test_the_seeded_org_comes_first_and_orgs_must_be_distinct(orgs: AepSandboxServer) -> None:
    assert orgs.accounts == (AepAccount(), BRAND2, EU)
    assert orgs.account == AepAccount()
    with pytest.raises(ValueError, match="distinct client_ids"):
        AepSandboxServer(port=0, accounts=(BRAND2, BRAND2), log_stream=None)


def test_each_org_gets_tokens_for_its_own_credential_only(orgs: AepSandboxServer) -> None:
    token_of(orgs, BRAND2)
    token_of(orgs, EU)
    token_of(orgs, EU)
    assert orgs.tokens.issued == 3
    assert orgs.tokens.issued_to == {BRAND2.client_id: 1, EU.client_id: 2}
    # Another org's secret does not open this org's client.
    form = {
        "grant_type": "client_credentials",
        "client_id": BRAND2.client_id,
        "client_secret": EU.client_secret,
        "scope": BRAND2.scopes,
    }
    reply = requests.post(orgs.token_url, data=form, timeout=5)
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_client")


@pytest.mark.parametrize(
    ("header", "status", "code", "message"),
    [
        ("x-api-key", 403, "403003", "Api Key is invalid"),
        ("x-gw-ims-org-id", 403, "403025", "Profile is not valid"),
        ("x-sandbox-name", 403, "403025", "Profile is not valid"),
    ],
)
def test_a_header_of_another_org_is_refused_as_a_wrong_value_is(
    orgs: AepSandboxServer, header: str, status: int, code: str, message: str
) -> None:
    headers = headers_of(BRAND2, token_of(orgs, BRAND2))
    assert requests.get(orgs.url + f"{CATALOG}/dataSets", headers=headers, timeout=5).ok
    headers[header] = headers_of(EU, "")[header]  # each value real, but EU's

    reply = requests.get(orgs.url + f"{CATALOG}/dataSets", headers=headers, timeout=5)

    assert reply.status_code == status
    assert reply.json() == {"error_code": code, "message": message}


def test_another_org_s_complete_headers_with_this_org_s_token_are_refused(
    orgs: AepSandboxServer,
) -> None:
    """The token decides the org: EU's api key, org and sandbox on BRAND2's token → 403003."""
    headers = headers_of(EU, token_of(orgs, BRAND2))
    reply = requests.get(orgs.url + f"{CATALOG}/dataSets", headers=headers, timeout=5)
    assert (reply.status_code, reply.json()["error_code"]) == (403, "403003")


def test_datasets_batches_and_files_are_separate_per_org(orgs: AepSandboxServer) -> None:
    with (
        client_of(orgs, BRAND2) as brand2,
        client_of(orgs, EU) as eu,
        client_of(orgs, orgs.account) as seeded,
    ):
        # Each org has the seeded schemas, in its own tenant.
        brand2_schema = orgs.schemas_of(BRAND2)[0].id
        assert "/brand2/" in brand2_schema
        assert [s.title for s in orgs.schemas_of(EU)] == [s.title for s in orgs.schemas]
        assert {s.id for s in eu.list_schemas()}.isdisjoint({s.id for s in brand2.list_schemas()})

        dataset = brand2.create_dataset("loyalty", brand2_schema)
        batch = brand2.create_batch(dataset, external_id="x-0")
        brand2.put_file(batch.id, dataset, "part-000000.json", b'{"a": 1}\n')

        assert [d.id for d in brand2.list_datasets(name="loyalty")] == [dataset]
        assert list(eu.list_datasets(name="loyalty")) == []
        assert list(seeded.list_datasets()) == []
        with pytest.raises(AepNotFound):
            eu.get_dataset(dataset)
        with pytest.raises(AepNotFound):
            eu.get_batch(batch.id)
        assert list(eu.list_batches(external_id="x-0")) == []
        # The same name in another org is another dataset.
        eu_dataset = eu.create_dataset("loyalty", orgs.schemas_of(EU)[0].id)
        assert eu_dataset != dataset

    state = orgs.state()
    assert state["datasets"] == {}  # the seeded org's
    assert set(state["accounts"]) == {BRAND2.org_id, EU.org_id}
    assert set(state["accounts"][BRAND2.org_id]["datasets"]) == {dataset}
    assert set(state["accounts"][BRAND2.org_id]["batches"]) == {batch.id}
    assert set(state["accounts"][EU.org_id]["datasets"]) == {eu_dataset}
    assert orgs.state_of(EU.org_id) == state["accounts"][EU.org_id]
    served = requests.get(orgs.url + "/_sandbox/state", timeout=5).json()
    assert set(served["accounts"][BRAND2.org_id]["datasets"]) == {dataset}

    orgs.reset()
    assert orgs.state_of(BRAND2.org_id)["datasets"] == {}


def test_a_single_org_sandbox_shows_no_accounts_section() -> None:
    with AepSandboxServer(port=0, log_stream=None) as single:
        assert "accounts" not in single.state()
        assert single.accounts == (single.account,)
