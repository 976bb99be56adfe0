"""One AEP client per credentials secret, one IMS token provider per secret and container: how
an AEP dataset's target (its registry entry's ``aep_secret_id``, pinned on the file) picks the
client — and so the org — every call of its file goes to."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from moto import mock_aws

from adm_ingest.adm.errors import RetryableError
from adm_ingest.adm.ratelimit import UNLIMITED
from adm_ingest.aep.auth import (
    AEP_SECRET_ATTRIBUTE,
    AepCredentials,
    AepSecretUnreadable,
    read_credentials,
)
from adm_ingest.clients import ClientEnvironment, ClientPool
from adm_ingest.destinations import DeliveryTarget
from adm_ingest.destinations.aep import SECRET_UNREADABLE, AepBatches, account_secret_id
from adm_ingest.destinations.base import FailureClass
from adm_ingest.settings import Settings
from adm_local.stack import reset_powertools_caches

DEFAULT_SECRET = "adm-ingest/unit-aep-default"
BRAND2_SECRET = "adm-ingest/unit-aep-brand2"
HOME = {
    "client_id": "aep-unit-home",
    "client_secret": "home-secret",
    "scopes": "openid,AdobeID",
    "org_id": "AAAAAAAAAAAAAAAAAAAAAAAA@AdobeOrg",
    "sandbox_name": "prod",
    "tenant_id": "home",
}
BRAND2 = HOME | {
    "client_id": "aep-unit-brand2",
    "org_id": "BBBBBBBBBBBBBBBBBBBBBBBB@AdobeOrg",
    "sandbox_name": "brand2-prod",
    "tenant_id": "brand2",
}


def dataset(name: str, **attributes: str) -> DeliveryTarget:
    return DeliveryTarget("aep", name, f"ds-{name}", {"dataset_class": "profile", **attributes})


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientPool]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AEP_API_URL": "http://127.0.0.1:9",  # never called: building a client calls nothing
        "AEP_IMS_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    reset_powertools_caches()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name=DEFAULT_SECRET, SecretString=json.dumps(HOME))
        secrets.create_secret(Name=BRAND2_SECRET, SecretString=json.dumps(BRAND2))
        settings = Settings(aep_secret_id=DEFAULT_SECRET)
        yield ClientPool(lambda: ClientEnvironment(settings, lambda _account: UNLIMITED))
    reset_powertools_caches()


def test_the_client_key_is_aep_or_aep_and_the_dataset_s_secret() -> None:
    assert AepBatches.client_key_for(dataset("home")) == "aep"
    assert AepBatches.client_key_for(dataset("b2", aep_secret_id=BRAND2_SECRET)) == (
        f"aep|{BRAND2_SECRET}"
    )
    assert AepBatches.client_key_for(dataset("blank", aep_secret_id="")) == "aep"  # absent
    assert account_secret_id(dataset("b2", **{AEP_SECRET_ATTRIBUTE: "s"})) == "s"
    assert account_secret_id(dataset("home")) is None


def test_datasets_of_one_secret_share_a_client_and_each_secret_has_its_own_org(
    pool: ClientPool,
) -> None:
    home = pool(AepBatches, dataset("home"))
    home_events = pool(AepBatches, dataset("home_events"))
    brand2 = pool(AepBatches, dataset("b2", aep_secret_id=BRAND2_SECRET))
    brand2_events = pool(AepBatches, dataset("b2_events", aep_secret_id=BRAND2_SECRET))

    assert home is home_events and brand2 is brand2_events
    assert home is not brand2
    assert (home.credentials.org_id, home.credentials.tenant_id) == (HOME["org_id"], "home")
    assert (brand2.credentials.org_id, brand2.credentials.sandbox_name) == (
        BRAND2["org_id"],
        "brand2-prod",
    )
    assert brand2.tokens is not home.tokens
    assert "aep-unit-brand2" in repr(brand2.tokens)  # its grants are brand2's credential's


def test_one_token_provider_per_secret_whichever_client_asks(pool: ClientPool) -> None:
    """A dataset whose entry names the deployment's own secret gets a client of its own key,
    but the same IMS token provider: Adobe throttles integrations that mint many tokens."""
    default = pool(AepBatches, dataset("home"))
    named = pool(AepBatches, dataset("named", aep_secret_id=DEFAULT_SECRET))

    assert default is not named
    assert named.tokens is default.tokens
    # connect(environment) is the default account's client (as before accounts existed).
    assert default.credentials.client_id == HOME["client_id"]


@pytest.mark.parametrize(
    ("message", "unreadable"),
    [
        ("An error occurred (ResourceNotFoundException) when calling GetSecretValue", True),
        ("An error occurred (AccessDeniedException) when calling GetSecretValue", True),
        ("An error occurred (ThrottlingException) when calling GetSecretValue", False),
        ("Could not connect to the endpoint URL", False),
    ],
)
def test_a_secret_read_failure_is_permanent_only_when_no_retry_cures_it(
    monkeypatch: pytest.MonkeyPatch, message: str, unreadable: bool
) -> None:
    def fail(secret_id: str, *, max_age: int) -> None:
        raise GetParameterError(message)

    monkeypatch.setattr(AepCredentials, "from_secret", fail)
    expected: type[Exception] = AepSecretUnreadable if unreadable else RetryableError
    with pytest.raises(expected) as caught:
        read_credentials("adm-ingest/aep-credentials/ghost")
    assert "adm-ingest/aep-credentials/ghost" in str(caught.value)
    if unreadable:
        failed = AepBatches(dataset("ghost")).classify(caught.value)
        assert failed is not None
        assert (failed.failure, failed.reason) == (FailureClass.NEEDS_HUMAN, SECRET_UNREADABLE)


def test_a_secret_that_is_not_aep_credentials_is_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        AepCredentials,
        "from_secret",
        lambda secret_id, *, max_age: AepCredentials.from_mapping({"client_id": "x"}),
    )
    with pytest.raises(AepSecretUnreadable, match="lacks field"):
        read_credentials("adm-ingest/aep-credentials/partial")
