"""One ADM client per account, one token provider per credentials secret: how a file's
target (its registry entry's account attributes) picks the client that delivers it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import ACCOUNT_ATTRIBUTES, AccountRef
from adm_ingest.adm.auth import Credentials
from adm_ingest.adm.ratelimit import UNLIMITED
from adm_ingest.clients import ClientEnvironment, ClientPool
from adm_ingest.destinations import (
    AudienceMembers,
    ConversionEvents,
    DeliveryTarget,
)
from adm_ingest.settings import Settings

DEFAULT_SECRET = "adm-ingest/unit-default"
EU_SECRET = "adm-ingest/unit-eu"
SECRET = {
    "client_id": "amzn1.application-oa2-client.unit",
    "client_secret": "unit-secret",
    "refresh_token": "Atzr|unit",
    "region": "NA",
    "manager_account_id": "amzn1.ads1ma1.home",
    "advertiser_account_id": "ADV-HOME",
    "profile_id": "111",
}
EU = {"manager_account_id": "amzn1.ads1ma1.eu", "advertiser_account_id": "ADV-EU"}
BRAND2 = {
    "manager_account_id": "amzn1.ads1ma1.brand2",
    "advertiser_account_id": "ADV-BRAND2",
    "profile_id": "333",
    "region": "NA",
}


def target(destination: str, name: str, **attributes: str) -> DeliveryTarget:
    return DeliveryTarget(destination, name, f"id-{name}", {"country": "US", **attributes})


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ClientPool, list[str]]]:
    """A pool over moto's Secrets Manager; the list records every account paced."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name=DEFAULT_SECRET, SecretString=json.dumps(SECRET))
        eu = SECRET | {"client_id": "amzn1.application-oa2-client.eu", "region": "EU"} | EU
        secrets.create_secret(Name=EU_SECRET, SecretString=json.dumps(eu))
        paced: list[str] = []

        def limiter(account: str) -> object:
            paced.append(account)
            return UNLIMITED

        settings = Settings(secret_id=DEFAULT_SECRET)
        yield ClientPool(lambda: ClientEnvironment(settings, limiter)), paced  # type: ignore[arg-type]


def test_targets_of_one_account_share_a_client_and_accounts_of_one_secret_a_token_provider(
    pool: tuple[ClientPool, list[str]],
) -> None:
    clients, paced = pool
    home = clients(AudienceMembers, target("audience_members", "home"))
    home_events = clients(ConversionEvents, target("conversion_events", "orders"))
    eu = clients(AudienceMembers, target("audience_members", "eu", **EU, secret_id=EU_SECRET))
    brand2 = clients(AudienceMembers, target("audience_members", "b2", **BRAND2))
    brand2_events = clients(ConversionEvents, target("conversion_events", "b2o", **BRAND2))

    assert home is home_events  # ADM's destinations share the default account's client
    assert brand2 is brand2_events
    assert len({id(home), id(eu), id(brand2)}) == 3
    # The default account: exactly the secret's ids, as before.
    assert (home.credentials.manager_account_id, home.credentials.profile_id) == (
        "amzn1.ads1ma1.home",
        "111",
    )
    # Another account on the deployment's secret: its own ids and profile, the same login.
    assert brand2.credentials.manager_account_id == "amzn1.ads1ma1.brand2"
    assert brand2.credentials.advertiser_account_id == "ADV-BRAND2"
    assert brand2.credentials.profile_id == "333"
    assert brand2.tokens is home.tokens
    # An account with a secret of its own: its login, its own token provider and region.
    assert eu.credentials.client_id == "amzn1.application-oa2-client.eu"
    assert eu.credentials.region == "EU"
    assert eu.tokens is not home.tokens
    # The rate limit is per advertiser account.
    assert sorted(paced) == ["ADV-BRAND2", "ADV-EU", "ADV-HOME"]  # one per client


def test_account_attributes_round_trip_and_the_default_has_none() -> None:
    ref = AccountRef.from_attributes({"country": "DE", **EU, "secret_id": EU_SECRET})

    assert ref.to_attributes() == {**EU, "secret_id": EU_SECRET}
    assert AccountRef.from_attributes(ref.to_attributes()) == ref
    assert AccountRef.from_attributes({"country": "US"}).is_default
    assert AccountRef().to_attributes() == {}
    assert set(ref.to_attributes()) <= set(ACCOUNT_ATTRIBUTES)


def test_a_profile_of_the_deployment_s_secret_is_never_sent_for_another_account() -> None:
    credentials = Credentials.from_mapping(SECRET)

    no_profile = AccountRef(manager_account_id="m2", advertiser_account_id="a2")
    own_secret = AccountRef(manager_account_id="m3", advertiser_account_id="a3", secret_id="s")

    assert no_profile.apply(credentials).profile_id is None
    assert own_secret.apply(credentials).profile_id == "111"  # that secret's own profile
    assert AccountRef().apply(credentials) is credentials
