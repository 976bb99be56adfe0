"""AEP credentials, IMS OAuth Server-to-Server tokens and Platform endpoints, over real HTTP.

Every IMS answer comes from ``ScriptedServer``, a real HTTP server on 127.0.0.1: the provider's
transport, form encoding and retries run exactly as they do against Adobe.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import RetryableError, RetryPolicy
from adm_ingest.adm.errors import AuthError
from adm_ingest.aep import (
    AEP_API_HOST,
    AEP_IMS_HOST,
    AepAuthError,
    AepCredentials,
    AepSettings,
    ImsTokenProvider,
)
from tests.client.scripted_http import Reply, ScriptedServer

CLIENT_SECRET = "p8e-VerySecretClientSecret-41"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-1"
SECOND_TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-2"

SECRET_FIELDS = {
    "client_id": "0123456789abcdef0123456789abcdef",
    "client_secret": CLIENT_SECRET,
    "scopes": "openid,AdobeID,read_organizations,additional_info.projectedProductContext",
    "org_id": "ABC123@AdobeOrg",
    "sandbox_name": "Prod",
    "tenant_id": "acme",
}


def token_reply(token: str = ACCESS_TOKEN, expires_in: float = 86399) -> Reply:
    body = {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
    return Reply(200, json.dumps(body).encode())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ims() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=Reply(500, b'{"error":"unscripted"}')) as server:
        yield server


@pytest.fixture
def credentials() -> AepCredentials:
    return AepCredentials.from_mapping(SECRET_FIELDS)


def provider_for(
    ims: ScriptedServer, credentials: AepCredentials, clock: FakeClock | None = None
) -> ImsTokenProvider:
    settings = AepSettings.from_environ(
        {"AEP_IMS_URL": ims.url}, retry=RetryPolicy(max_attempts=2, base_delay=0.0)
    )
    if clock is None:
        return ImsTokenProvider(credentials, settings)
    return ImsTokenProvider(credentials, settings, clock=clock)


# -- credentials ----------------------------------------------------------------------------


def test_credentials_parse_the_secret_object() -> None:
    credentials = AepCredentials.from_mapping(SECRET_FIELDS)

    assert credentials.scopes == (
        "openid",
        "AdobeID",
        "read_organizations",
        "additional_info.projectedProductContext",
    )
    assert credentials.sandbox_name == "prod"  # Adobe wants the all-lowercase name
    assert credentials.tenant_id == "acme"


def test_scopes_may_be_a_json_list() -> None:
    fields = {**SECRET_FIELDS, "scopes": ["openid", " AdobeID "]}

    assert AepCredentials.from_mapping(fields).scopes == ("openid", "AdobeID")


def test_missing_fields_are_named_without_values() -> None:
    fields = {k: v for k, v in SECRET_FIELDS.items() if k not in ("org_id", "tenant_id")}

    with pytest.raises(ValueError, match="org_id, tenant_id") as caught:
        AepCredentials.from_mapping(fields)
    assert CLIENT_SECRET not in str(caught.value)


def test_blank_scopes_are_missing_scopes() -> None:
    with pytest.raises(ValueError, match="scopes"):
        AepCredentials.from_mapping({**SECRET_FIELDS, "scopes": " , "})


def test_repr_and_str_mask_the_secret(credentials: AepCredentials) -> None:
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert CLIENT_SECRET not in text
        assert SECRET_FIELDS["client_id"] in text  # not a secret; useful when debugging


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager")


def test_credentials_are_read_from_secrets_manager(aws: Any) -> None:
    name = f"adm-ingest/aep-credentials-{uuid.uuid4()}"
    aws.create_secret(Name=name, SecretString=json.dumps(SECRET_FIELDS))

    assert AepCredentials.from_secret(name) == AepCredentials.from_mapping(SECRET_FIELDS)


def test_a_secret_that_is_not_an_object_is_refused(aws: Any) -> None:
    name = f"adm-ingest/aep-credentials-{uuid.uuid4()}"
    aws.create_secret(Name=name, SecretString=json.dumps(["not", "an", "object"]))

    with pytest.raises(ValueError, match="not a JSON object"):
        AepCredentials.from_secret(name)


# -- endpoints ------------------------------------------------------------------------------


def test_adobe_hosts_are_the_defaults() -> None:
    settings = AepSettings.from_environ({})

    assert settings.api_url == AEP_API_HOST == "https://platform.adobe.io"
    assert settings.ims_url == AEP_IMS_HOST == "https://ims-na1.adobelogin.com"
    assert settings.token_url == "https://ims-na1.adobelogin.com/ims/token/v3"


def test_environment_overrides_both_hosts() -> None:
    settings = AepSettings.from_environ(
        {"AEP_API_URL": "http://127.0.0.1:9000/", "AEP_IMS_URL": "https://ims.example.test"}
    )

    assert settings.api_url == "http://127.0.0.1:9000"
    assert settings.token_url == "https://ims.example.test/ims/token/v3"


def test_an_empty_override_means_the_default() -> None:
    assert AepSettings.from_environ({"AEP_API_URL": ""}).api_url == AEP_API_HOST


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEP_IMS_URL", "http://localhost:4567")

    assert AepSettings.from_environ().ims_url == "http://localhost:4567"


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://ims.example.test", "refusing plain http"),
        ("ftp://127.0.0.1", "http"),
        ("platform.adobe.io", "http"),
    ],
)
def test_overrides_follow_the_adm_endpoint_rules(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AepSettings.from_environ({"AEP_IMS_URL": url})
    with pytest.raises(ValueError, match=message):
        AepSettings.from_environ({"AEP_API_URL": url})


def test_the_call_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="call_budget"):
        AepSettings(call_budget=0)


# -- the grant ------------------------------------------------------------------------------


def test_the_grant_is_a_form_encoded_client_credentials_post(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    ims.then(token_reply())

    assert provider_for(ims, credentials).token() == ACCESS_TOKEN

    (request,) = ims.received
    assert request.method == "POST"
    assert request.path == "/ims/token/v3"  # nothing in the query string: it gets logged
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [SECRET_FIELDS["client_id"]],
        "client_secret": [CLIENT_SECRET],
        "scope": [SECRET_FIELDS["scopes"]],
    }


def test_headers_carry_the_token_and_the_identity_of_the_org(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    ims.then(token_reply())

    headers = provider_for(ims, credentials).headers()

    assert headers == {
        "Authorization": f"Bearer {ACCESS_TOKEN}",
        "x-api-key": SECRET_FIELDS["client_id"],
        "x-gw-ims-org-id": "ABC123@AdobeOrg",
        "x-sandbox-name": "prod",
    }


def test_the_token_is_cached_until_shortly_before_expires_in_seconds(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    clock = FakeClock()
    provider = provider_for(ims, credentials, clock)
    ims.then(token_reply(ACCESS_TOKEN, expires_in=86399), token_reply(SECOND_TOKEN))

    assert provider.token() == ACCESS_TOKEN
    clock.now += 86399 - 301  # still more than the 300 s margin left
    assert provider.headers()["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert provider.token_requests == 1

    clock.now += 2  # inside the margin: replaced before Adobe would reject it
    assert provider.token() == SECOND_TOKEN
    assert provider.token_requests == 2


def test_a_short_lived_token_is_still_reused_for_half_its_life(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    clock = FakeClock()
    provider = provider_for(ims, credentials, clock)
    ims.then(token_reply(ACCESS_TOKEN, expires_in=60), token_reply(SECOND_TOKEN))

    provider.token()
    clock.now += 29
    assert provider.token() == ACCESS_TOKEN
    clock.now += 2
    assert provider.token() == SECOND_TOKEN


def test_concurrent_callers_share_one_grant(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(token_reply())
    start = threading.Barrier(8)
    tokens: list[str] = []

    def call() -> None:
        start.wait()
        tokens.append(provider.token())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tokens == [ACCESS_TOKEN] * 8
    assert len(ims.received) == 1


def test_invalidate_gets_exactly_one_new_token(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(token_reply(ACCESS_TOKEN), token_reply(SECOND_TOKEN))
    rejected = provider.token()

    # Two calls saw the gateway's 401013 for the same token: one replacement, not two.
    provider.invalidate(rejected)
    assert provider.token() == SECOND_TOKEN
    provider.invalidate(rejected)

    assert provider.token() == SECOND_TOKEN
    assert provider.token_requests == 2


def test_invalidate_without_a_token_forgets_whatever_is_cached(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(token_reply(ACCESS_TOKEN), token_reply(SECOND_TOKEN))
    provider.token()

    provider.invalidate()

    assert provider.token() == SECOND_TOKEN


# -- refusals and failures ------------------------------------------------------------------

INVALID_CLIENT = json.dumps(
    {"error": "invalid_client", "error_description": f"invalid client_secret {CLIENT_SECRET}"}
).encode()


def test_invalid_client_is_a_permanent_clearly_worded_error(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(Reply(400, INVALID_CLIENT))

    with pytest.raises(AepAuthError) as caught:
        provider.token()

    message = str(caught.value)
    assert caught.value.code == "invalid_client"
    assert isinstance(caught.value, AuthError)  # the pipeline's "fix the credentials" path
    assert "HTTP 400 invalid_client" in message
    assert "client id or client secret" in message
    assert "Adobe Developer Console" in message
    assert SECRET_FIELDS["client_id"] in message
    assert CLIENT_SECRET not in message  # IMS echoed it; it goes no further


def test_a_refusal_is_remembered_instead_of_hammering_ims(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(Reply(400, INVALID_CLIENT), token_reply())
    with pytest.raises(AepAuthError):
        provider.token()

    with pytest.raises(AepAuthError, match="invalid_client"):
        provider.headers()
    assert len(ims.received) == 1


@pytest.mark.parametrize(
    "status, body, code",
    [
        (400, b'{"error":"invalid_scope","error_description":"bad scope"}', "invalid_scope"),
        (401, b'{"error":"unauthorized_client"}', "unauthorized_client"),
        (404, b"<html>not here</html>", "HTTP_404"),
    ],
)
def test_other_4xx_answers_are_permanent(
    ims: ScriptedServer, credentials: AepCredentials, status: int, body: bytes, code: str
) -> None:
    ims.then(Reply(status, body))

    with pytest.raises(AepAuthError) as caught:
        provider_for(ims, credentials).token()

    assert caught.value.code == code
    assert f"HTTP {status} {code}" in str(caught.value)


def test_server_errors_are_retried_then_transient_and_not_remembered(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(Reply(503, b"{}"), Reply(503, b"{}"), token_reply())

    with pytest.raises(RetryableError):
        provider.token()
    assert len(ims.received) == 2  # the settings' max_attempts

    assert provider.token() == ACCESS_TOKEN  # IMS is back: no remembered failure


def test_a_throttled_grant_waits_and_succeeds(
    ims: ScriptedServer, credentials: AepCredentials
) -> None:
    ims.then(Reply(429, b"{}", {"Retry-After": "0"}), token_reply())

    assert provider_for(ims, credentials).token() == ACCESS_TOKEN
    assert len(ims.received) == 2


def test_a_dropped_connection_is_retried(ims: ScriptedServer, credentials: AepCredentials) -> None:
    ims.then(Reply(drop=True), token_reply())

    assert provider_for(ims, credentials).token() == ACCESS_TOKEN


@pytest.mark.parametrize(
    "reply",
    [
        Reply(408, b"{}"),
        Reply(200, f'{{"access_token": "{ACCESS_TOKEN}", '.encode()),  # cut off mid-body
        Reply(200, f'{{"access_token": "{ACCESS_TOKEN}"}}'.encode()),  # no expires_in
        Reply(200, b'{"access_token": "", "expires_in": 86399}'),
        Reply(200, f'{{"access_token": "{ACCESS_TOKEN}", "expires_in": 0}}'.encode()),
    ],
)
def test_unusable_answers_are_transient_and_quote_nothing(
    ims: ScriptedServer, credentials: AepCredentials, reply: Reply
) -> None:
    provider = provider_for(ims, credentials)
    ims.then(reply, token_reply(SECOND_TOKEN))

    with pytest.raises(RetryableError) as caught:
        provider.token()

    assert not isinstance(caught.value, AuthError)
    for text in _texts_of(caught.value):  # nor does any exception it was raised from
        assert ACCESS_TOKEN not in text
    assert provider.token() == SECOND_TOKEN


# -- redaction ------------------------------------------------------------------------------


def _texts_of(error: BaseException | None) -> Iterator[str]:
    while error is not None:
        yield str(error)
        yield repr(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def test_no_secret_or_token_in_reprs_exceptions_or_log_records(
    ims: ScriptedServer, credentials: AepCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = provider_for(ims, credentials)
    ims.then(Reply(503, b"{}"), token_reply(ACCESS_TOKEN))
    texts = [repr(provider), str(provider), repr(credentials)]

    provider.headers()
    provider.invalidate(ACCESS_TOKEN)
    ims.then(Reply(drop=True), Reply(drop=True))
    with pytest.raises(RetryableError) as dropped:
        provider.token()
    ims.then(Reply(400, INVALID_CLIENT))
    with pytest.raises(AepAuthError) as refused:
        provider.token()

    texts += [*_texts_of(dropped.value), *_texts_of(refused.value)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), repr(vars(record))]
    assert caplog.records  # the attempts were logged: there was something to check
    for text in texts:
        assert CLIENT_SECRET not in text
        assert ACCESS_TOKEN not in text
