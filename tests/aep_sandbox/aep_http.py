"""A thin client of the AEP sandbox for its tests: real HTTP with ``requests``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from adm_local.aep_sandbox import AepSandboxServer

CATALOG = "/data/foundation/catalog"
IMPORT = "/data/foundation/import"
EXPORT = "/data/foundation/export"
REGISTRY = "/data/foundation/schemaregistry"


def token_form(sandbox: AepSandboxServer, **overrides: str) -> dict[str, str]:
    account = sandbox.account
    return {
        "grant_type": "client_credentials",
        "client_id": account.client_id,
        "client_secret": account.client_secret,
        "scope": account.scopes,
    } | overrides


def platform_headers(sandbox: AepSandboxServer, token: str) -> dict[str, str]:
    account = sandbox.account
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": account.client_id,
        "x-gw-ims-org-id": account.org_id,
        "x-sandbox-name": account.sandbox_name,
    }


def new_token(sandbox: AepSandboxServer) -> str:
    reply = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=5)
    reply.raise_for_status()
    return str(reply.json()["access_token"])


@contextmanager
def authenticated_session(sandbox: AepSandboxServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(platform_headers(sandbox, new_token(sandbox)))
        yield session


def jsonl(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@dataclass
class Aep:
    """The platform calls the tests make, each returning the raw response."""

    sandbox: AepSandboxServer
    session: requests.Session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.sandbox.url + path, timeout=10, **kwargs)

    def create_dataset(self, name: str, schema_id: str) -> str:
        reply = self.call("POST", f"{CATALOG}/dataSets", json={"name": name, "schemaRef": {
            "id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"}})  # fmt: skip
        assert reply.status_code == 201, reply.text
        (ref,) = reply.json()
        return str(ref).removeprefix("@/dataSets/")

    def create_batch(self, dataset_id: str, **fields: Any) -> str:
        body = {"datasetId": dataset_id, "inputFormat": {"format": "json"}} | fields
        reply = self.call("POST", f"{IMPORT}/batches", json=body)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def file_path(self, batch_id: str, dataset_id: str, name: str) -> str:
        return f"{IMPORT}/batches/{batch_id}/datasets/{dataset_id}/files/{name}"

    def put(self, batch_id: str, dataset_id: str, name: str, data: bytes) -> requests.Response:
        return self.call(
            "PUT",
            self.file_path(batch_id, dataset_id, name),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def action(self, batch_id: str, action: str) -> requests.Response:
        return self.call("POST", f"{IMPORT}/batches/{batch_id}", params={"action": action})

    def batch(self, batch_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"{CATALOG}/batches/{batch_id}")
        assert reply.status_code == 200, reply.text
        document: dict[str, Any] = reply.json()[batch_id]
        return document
