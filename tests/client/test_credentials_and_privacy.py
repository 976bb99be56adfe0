"""Credentials from Secrets Manager (moto), settings, error mapping, and no secret ever leaks."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import (
    API_HOSTS,
    TOKEN_URLS,
    AdmClient,
    ApiError,
    AuthError,
    BadRequest,
    ClientSettings,
    DuplicateDatasetName,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RetryableError,
    ServerError,
    Throttled,
    UnsupportedMediaType,
)
from adm_ingest.adm.auth import Credentials
from adm_ingest.adm.errors import api_error
from tests.client.client_support import sandbox_credentials, sandbox_settings

SECRET_FIELDS = {
    "client_id": "amzn1.application-oa2-client.abc",
    "client_secret": "very-secret-client-secret",
    "refresh_token": "Atzr|IwEBIPrivateRefreshToken",
    "region": "EU",
    "manager_account_id": "amzn1.ads1ma1.abc",
    "advertiser_account_id": "ADV-1",
    "profile_id": "42",
}


# -- credentials ------------------------------------------------------------------------


def test_credentials_parse_the_secret_object() -> None:
    credentials = Credentials.from_mapping(SECRET_FIELDS)
    assert credentials.region == "EU"
    assert credentials.profile_id == "42"
    assert credentials.token_url == "https://api.amazon.co.uk/auth/o2/token"


def test_profile_id_is_optional() -> None:
    fields = {k: v for k, v in SECRET_FIELDS.items() if k != "profile_id"}
    assert Credentials.from_mapping(fields).profile_id is None


def test_missing_fields_are_named_without_values() -> None:
    fields = {k: v for k, v in SECRET_FIELDS.items() if k not in ("refresh_token", "region")}
    with pytest.raises(ValueError, match="refresh_token, region") as caught:
        Credentials.from_mapping(fields)
    assert SECRET_FIELDS["client_secret"] not in str(caught.value)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="NA, EU, FE"):
        Credentials.from_mapping({**SECRET_FIELDS, "region": "APAC"})


def test_repr_masks_secrets() -> None:
    text = repr(Credentials.from_mapping(SECRET_FIELDS))
    assert SECRET_FIELDS["client_secret"] not in text
    assert SECRET_FIELDS["refresh_token"] not in text
    assert SECRET_FIELDS["client_id"] in text  # not a secret; useful when debugging


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager")


def test_credentials_are_read_from_secrets_manager(aws: Any) -> None:
    name = f"adm-ingest/credentials-{uuid.uuid4()}"
    aws.create_secret(Name=name, SecretString=json.dumps(SECRET_FIELDS))
    assert Credentials.from_secret(name) == Credentials.from_mapping(SECRET_FIELDS)


def test_client_from_secret_talks_to_the_sandbox_named_in_the_environment(
    aws: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"adm-ingest/sandbox-{uuid.uuid4()}"
    aws.create_secret(Name=name, SecretString=json.dumps(sandbox.account.secret_document()))
    monkeypatch.setenv("ADM_API_URL", sandbox.url)
    monkeypatch.setenv("ADM_TOKEN_URL", sandbox.token_url)
    with AdmClient.from_secret(name) as client:
        assert client.settings.api_url == sandbox.url
        assert client.get_terms().has_accepted is True


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["NA", "EU", "FE"])
def test_region_defaults(region: str) -> None:
    settings = ClientSettings.for_region(region, environ={})
    assert (settings.api_url, settings.token_url) == (API_HOSTS[region], TOKEN_URLS[region])


def test_environment_overrides_the_endpoints() -> None:
    settings = ClientSettings.for_region(
        "NA",
        environ={"ADM_API_URL": "http://127.0.0.1:8765/", "ADM_TOKEN_URL": "http://localhost:1/t"},
    )
    assert settings.api_url == "http://127.0.0.1:8765"
    assert settings.token_url == "http://localhost:1/t"


def test_plain_http_is_refused_beyond_this_machine() -> None:
    with pytest.raises(ValueError, match="https"):
        ClientSettings("http://advertising-api.amazon.com", TOKEN_URLS["NA"])


# -- error mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadRequest),
        (403, Forbidden),
        (404, NotFound),
        (413, PayloadTooLarge),
        (415, UnsupportedMediaType),
        (429, Throttled),
        (500, ServerError),
        (503, ServerError),
        (418, ApiError),
    ],
)
def test_status_maps_to_an_error_class(status: int, expected: type[ApiError]) -> None:
    error = api_error(status, b'{"code":"X","message":"m"}', "rid-1")
    assert type(error) is expected
    assert (error.status, error.code, error.message, error.request_id) == (
        status,
        "X",
        "m",
        "rid-1",
    )
    assert isinstance(error, RetryableError) == (status == 429 or status >= 500)


def test_duplicate_dataset_name_carries_the_existing_id() -> None:
    body = b'{"code":"DuplicateDatasetName","datasetId":"ds-1","message":"exists"}'
    error = api_error(400, body, None)
    assert isinstance(error, DuplicateDatasetName)
    assert error.dataset_id == "ds-1"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b'{"message":"bad","errors":[{"errorType":"INVALID_ARGUMENT","message":"x"}]}',
            "INVALID_ARGUMENT",
            "bad",
        ),  # DSP shape
        (b'{"code":"400","details":"detail text"}', "400", "detail text"),  # ADM shape
        (b'{"errors":[{"errorCode":1,"errorMessage":"nested only"}]}', "HTTP_400", "nested only"),
        (b"<html>gateway</html>", "HTTP_400", ""),
        (b"", "HTTP_400", ""),
    ],
)
def test_error_bodies_of_every_api_family(body: bytes, code: str, message: str) -> None:
    error = api_error(400, body, None)
    assert (error.code, error.message) == (code, message)


# -- nothing secret leaks -----------------------------------------------------------------


def test_no_secret_or_token_in_logs_reprs_or_errors(
    sandbox: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    credentials = sandbox_credentials(sandbox)
    texts: list[str] = []
    with AdmClient(sandbox_settings(sandbox), credentials) as client:
        client.get_terms()
        sandbox.faults.set(expire_tokens=True)
        client.get_terms()  # 401 → refresh
        sandbox.faults.set(rate_limit=1, retry_after=0)
        client.list_manager_accounts()  # 429 → retry
        for failing in (
            lambda: client.get_audience("missing"),
            lambda: client.create_audience("x", "US"),  # schema-invalid name: 400
        ):
            with pytest.raises(ApiError) as caught:
                failing()
            texts += [str(caught.value), repr(caught.value)]
        texts += [repr(client), repr(client.tokens), repr(credentials), str(credentials)]
    bad = sandbox_credentials(sandbox, refresh_token="Atzr|a-revoked-refresh-token")
    with AdmClient(sandbox_settings(sandbox), bad) as client, pytest.raises(AuthError) as refused:
        client.get_terms()
    texts += [str(refused.value), repr(refused.value)]

    access_tokens = {
        r.headers["Authorization"].removeprefix("Bearer ")
        for r in sandbox.requests
        if "Authorization" in r.headers
    }
    assert access_tokens  # the check below is meaningful only if tokens were issued
    secrets = {
        credentials.client_secret,
        credentials.refresh_token,
        bad.refresh_token,
        *access_tokens,
    }
    texts += [record.getMessage() for record in all_logs.records]
    texts += [json.dumps(record.__dict__, default=str) for record in all_logs.records]
    texts.append(all_logs.text)
    leaks = [secret for secret in secrets for text in texts if secret in text]
    assert leaks == []
    assert any("request id" in record.getMessage() for record in all_logs.records)


def test_log_lines_carry_method_path_status_latency_and_request_id(
    adm_client: AdmClient, all_logs: pytest.LogCaptureFixture
) -> None:
    adm_client.get_terms()
    (line,) = [
        record for record in all_logs.records if getattr(record, "adm_path", None) == "/adm/terms"
    ]
    assert line.adm_method == "GET"
    assert line.adm_status == 200
    assert line.latency_ms >= 0
    assert line.request_id
    assert logging.getLevelName(line.levelno) == "INFO"
