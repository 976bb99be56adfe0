"""LwA token grants and the authentication checks in front of every API call."""

from __future__ import annotations

import requests

from adm_local.sandbox import SandboxServer
from tests.sandbox.sandbox_http import Api, authenticated_session, grant_token, token_form


def test_token_grant_returns_a_bearer_access_token(sandbox: SandboxServer) -> None:
    response = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=10)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"].startswith("Atza|")
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == sandbox.account.refresh_token


def test_each_grant_issues_a_distinct_token(sandbox: SandboxServer) -> None:
    assert grant_token(sandbox) != grant_token(sandbox)


def test_wrong_client_secret_is_invalid_client(sandbox: SandboxServer) -> None:
    form = token_form(sandbox, client_secret="not-the-secret")
    response = requests.post(sandbox.token_url, data=form, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_client_id_is_invalid_client(sandbox: SandboxServer) -> None:
    form = token_form(sandbox, client_id="amzn1.application-oa2-client.other")
    response = requests.post(sandbox.token_url, data=form, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_bad_refresh_token_is_invalid_grant(sandbox: SandboxServer) -> None:
    form = token_form(sandbox, refresh_token="Atzr|revoked")
    response = requests.post(sandbox.token_url, data=form, timeout=10)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"]


def test_missing_parameter_is_invalid_request(sandbox: SandboxServer) -> None:
    form = token_form(sandbox)
    del form["refresh_token"]
    response = requests.post(sandbox.token_url, data=form, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_request_must_be_form_encoded(sandbox: SandboxServer) -> None:
    response = requests.post(sandbox.token_url, json=token_form(sandbox), timeout=10)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def _documented_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "UnauthorizedRequestException"
    assert body["errors"][0]["errorType"] == "UnauthorizedRequestException"
    assert body["message"]


def test_api_call_without_bearer_token_is_401(sandbox: SandboxServer) -> None:
    response = requests.get(
        sandbox.url + "/adm/terms",
        headers={"Amazon-Advertising-API-ClientId": sandbox.account.client_id},
        timeout=10,
    )
    _documented_unauthorized(response)


def test_garbage_bearer_token_is_401(api: Api) -> None:
    _documented_unauthorized(
        api.call("GET", "/adm/terms", headers={"Authorization": "Bearer Atza|made-up"})
    )


def test_non_bearer_scheme_is_401(api: Api) -> None:
    _documented_unauthorized(api.call("GET", "/adm/terms", headers={"Authorization": "Basic eA=="}))


def test_expired_token_is_401_and_a_new_grant_works() -> None:
    with SandboxServer(port=0, token_ttl=0, log_stream=None) as sandbox:
        with authenticated_session(sandbox) as session:
            _documented_unauthorized(session.get(sandbox.url + "/adm/terms", timeout=10))
        assert sandbox.schema_violations == []


def test_expire_tokens_fault_expires_issued_tokens_only(api: Api) -> None:
    assert api.call("GET", "/adm/terms").status_code == 200

    api.sandbox.faults.set(expire_tokens=True)

    _documented_unauthorized(api.call("GET", "/adm/terms"))
    fresh = {"Authorization": f"Bearer {grant_token(api.sandbox)}"}
    assert api.call("GET", "/adm/terms", headers=fresh).status_code == 200


def test_missing_client_id_header_is_400(api: Api) -> None:
    del api.session.headers["Amazon-Advertising-API-ClientId"]

    response = api.call("GET", "/adm/terms")

    assert response.status_code == 400
    assert "Amazon-Advertising-API-ClientId" in response.json()["message"]


def test_client_id_of_another_client_is_401(api: Api) -> None:
    response = api.call(
        "GET", "/adm/terms", headers={"Amazon-Advertising-API-ClientId": "someone-else"}
    )
    _documented_unauthorized(response)


def test_missing_manager_account_header_where_required_is_400(onboarded: Api) -> None:
    del onboarded.session.headers["Amazon-Ads-Manager-Account-ID"]

    response = onboarded.call(
        "POST",
        "/adm/identities/delete",
        {"targetIdentities": [{"externalUserId": "crm-1"}]},
        content_type="application/vnd.admDataDeletion.v1+json",
    )

    assert response.status_code == 400
    assert "Amazon-Ads-Manager-Account-ID" in response.json()["message"]


def test_foreign_manager_account_is_403(api: Api) -> None:
    response = api.call(
        "GET", "/adm/terms", headers={"Amazon-Ads-Manager-Account-ID": "amzn1.ads1ma1.other"}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "ForbiddenRequestException"


def test_foreign_dsp_advertiser_is_403_in_the_dsp_error_shape(api: Api) -> None:
    response = api.call(
        "POST",
        "/accounts/ADV-SOMEONE-ELSE/dsp/conversionDefinitions/list",
        {},
        content_type="application/vnd.dspconversiondefinition.v1+json",
    )

    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"message", "requestId", "errors"}
    assert body["requestId"] == response.headers["Amazon-Advertising-API-RequestId"]
