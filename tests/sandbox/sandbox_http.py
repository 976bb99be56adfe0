"""Helpers for driving the ADM sandbox over real HTTP with plain ``requests``.

:class:`Api` wraps a
``requests.Session`` holding a real LwA access token and the documented headers, and checks
each response body against the documented response schema; the ``sandbox`` fixture also fails
the test if the sandbox itself noticed a response that broke the schema (see ``conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from adm_local.sandbox import SandboxServer
from adm_local.sandbox.validation import ApiSchema, violations

SCHEMA = ApiSchema.load()

ADM_JSON = "application/json"
MEMBERS_JSON = "application/vnd.admAudiences.v1+json"
DELETION_JSON = "application/vnd.admDataDeletion.v1+json"
METRICS_JSON = "application/vnd.admmetrics.v1+json"
DEFINITION_JSON = "application/vnd.dspconversiondefinition.v1+json"
EVENTS_JSON = "application/vnd.dspconversioneventimport.v1+json"


def token_form(sandbox: SandboxServer, **overrides: str) -> dict[str, str]:
    """The LwA refresh-token grant form for the seeded account, with ``overrides``."""
    account = sandbox.account
    return {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "client_id": account.client_id,
        "client_secret": account.client_secret,
        **overrides,
    }


def grant_token(sandbox: SandboxServer) -> str:
    """A fresh access token from the sandbox's token endpoint."""
    response = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]


def assert_matches_documented_schema(response: requests.Response) -> None:
    """Fail unless ``response``'s JSON body fits its operation's documented response schema."""
    path = requests.utils.urlparse(response.request.url).path
    operation, _, _ = SCHEMA.match(response.request.method or "", path)
    if operation is None or not response.content:
        return
    media_type = response.headers["Content-Type"].split(";")[0]
    schema = operation.response_content_types(response.status_code).get(media_type)
    if schema is not None:
        assert violations(schema, response.json()) == [], response.text


@dataclass
class Api:
    """An authenticated client for the sandbox: base URL, session with documented headers."""

    sandbox: SandboxServer
    session: requests.Session

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = ADM_JSON,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """Send one request; ``body`` is JSON-encoded and sent with ``content_type``."""
        all_headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", content_type)
        response = self.session.request(
            method, self.sandbox.url + path, data=data, headers=all_headers, params=params,
            timeout=30,
        )  # fmt: skip
        assert_matches_documented_schema(response)
        return response

    # Shortcuts for the setup steps most tests need.

    def onboard(self) -> None:
        """Accept the terms and create the data room, through the API."""
        token = self.call("GET", "/adm/terms").json()["agreementToken"]
        assert self.call(
            "PATCH", "/adm/terms", {"agreementToken": token, "hasAccepted": True}
        ).status_code == 204  # fmt: skip
        assert self.call("POST", "/adm/datarooms").status_code == 201

    def create_audience(self, name: str = "CrmAudience", country: str = "US") -> str:
        response = self.call("POST", "/adm/audiences", {"name": name, "countryCode": country})
        assert response.status_code == 201, response.text
        return response.json()["dataSetId"]

    def members(self, dataset_id: str, members: list[dict[str, Any]]) -> requests.Response:
        return self.call(
            "POST",
            f"/adm/audiences/{dataset_id}/members",
            {"members": members},
            content_type=MEMBERS_JSON,
        )

    def dsp(self, suffix: str, body: Any, content_type: str) -> requests.Response:
        account = self.sandbox.account
        return self.call(
            "POST",
            f"/accounts/{account.advertiser_account_id}/dsp/conversionDefinitions{suffix}",
            body,
            content_type=content_type,
            headers={
                "Amazon-Advertising-API-Scope": account.profile_id,
                "Amazon-Ads-AccountId": account.advertiser_account_id,
            },
        )


def authenticated_session(sandbox: SandboxServer) -> requests.Session:
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {grant_token(sandbox)}",
            "Amazon-Advertising-API-ClientId": sandbox.account.client_id,
            "Amazon-Ads-Manager-Account-ID": sandbox.account.manager_account_id,
        }
    )
    return session
