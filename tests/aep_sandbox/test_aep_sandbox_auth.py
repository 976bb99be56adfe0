"""IMS tokens and the gateway's header checks, with Adobe's error codes (AEP-NOTES §1)."""

from __future__ import annotations

import pytest
import requests

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import CATALOG, new_token, platform_headers, token_form


def test_token_is_granted_for_form_encoded_client_credentials(sandbox: AepSandboxServer) -> None:
    reply = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=5)

    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399  # seconds, as OAuth v3 (not JWT's milliseconds)
    assert body["access_token"]
    assert sandbox.tokens.issued == 1


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_unknown_credentials_are_invalid_client(sandbox: AepSandboxServer, field: str) -> None:
    reply = requests.post(sandbox.token_url, data=token_form(sandbox, **{field: "x"}), timeout=5)

    assert reply.status_code == 400
    assert reply.json() == {
        "error": "invalid_client",
        "error_description": f"invalid {field} parameter",
    }


def test_a_json_token_request_is_refused(sandbox: AepSandboxServer) -> None:
    reply = requests.post(sandbox.token_url, json=token_form(sandbox), timeout=5)

    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


def _list_datasets(sandbox: AepSandboxServer, headers: dict[str, str]) -> requests.Response:
    return requests.get(sandbox.url + f"{CATALOG}/dataSets", headers=headers, timeout=5)


@pytest.mark.parametrize(
    ("header", "value", "status", "code", "message"),
    [
        ("Authorization", None, 403, "403010", "Oauth token is missing."),
        ("Authorization", "Bearer not-a-token", 401, "401013", "Oauth token is not valid"),
        ("x-api-key", None, 403, "403000", "Api Key is required"),
        ("x-api-key", "someone-else", 403, "403003", "Api Key is invalid"),
        ("x-gw-ims-org-id", None, 400, "400003", "Missing header"),
        ("x-gw-ims-org-id", "OTHER@AdobeOrg", 403, "403025", "Profile is not valid"),
        ("x-sandbox-name", None, 400, "400003", "Missing header"),
        ("x-sandbox-name", "dev", 403, "403025", "Profile is not valid"),
    ],
)
def test_gateway_refuses_missing_or_bad_headers(
    sandbox: AepSandboxServer,
    header: str,
    value: str | None,
    status: int,
    code: str,
    message: str,
) -> None:
    headers = platform_headers(sandbox, new_token(sandbox))
    if value is None:
        del headers[header]
    else:
        headers[header] = value

    reply = _list_datasets(sandbox, headers)

    assert reply.status_code == status
    assert reply.json() == {"error_code": code, "message": message}


def test_an_expired_token_is_401013_and_a_new_one_works(sandbox: AepSandboxServer) -> None:
    headers = platform_headers(sandbox, new_token(sandbox))
    assert _list_datasets(sandbox, headers).status_code == 200

    sandbox.faults.set(expire_tokens=True)

    assert _list_datasets(sandbox, headers).json()["error_code"] == "401013"
    assert _list_datasets(sandbox, platform_headers(sandbox, new_token(sandbox))).ok


def test_a_token_expires_after_its_lifetime() -> None:
    with AepSandboxServer(token_ttl=0, log_stream=None) as sandbox:
        reply = _list_datasets(sandbox, platform_headers(sandbox, new_token(sandbox)))

    assert reply.status_code == 401
    assert reply.json()["error_code"] == "401013"


def test_the_seeded_account_is_an_aep_credentials_secret(sandbox: AepSandboxServer) -> None:
    secret = sandbox.account.secret_document()

    assert set(secret) == {
        "client_id", "client_secret", "scopes", "org_id", "sandbox_name", "tenant_id"
    }  # fmt: skip
    assert "aep-sandbox-secret" not in repr(sandbox.account)
    granted = requests.post(
        sandbox.token_url,
        data=token_form(sandbox, client_id=secret["client_id"], scope=secret["scopes"]),
        timeout=5,
    )
    assert granted.ok
