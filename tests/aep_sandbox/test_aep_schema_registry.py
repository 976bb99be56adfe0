"""The Schema Registry: a schema by ``$id`` or ``meta:altId``, under its ``Accept`` rules."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import REGISTRY, Aep

FULL = "application/vnd.adobe.xed-full+json; version=1"


def _get(aep: Aep, schema_id: str, accept: str | None) -> object:
    headers = {} if accept is None else {"Accept": accept}
    return aep.call(
        "GET", f"{REGISTRY}/tenant/schemas/{quote(schema_id, safe='')}", headers=headers
    )


def test_the_full_form_resolves_the_profile_fields(aep: Aep, sandbox: AepSandboxServer) -> None:
    profile = sandbox.schemas[0]

    reply = _get(aep, profile.id, FULL)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/vnd.adobe.xed-full+json")
    schema = reply.json()
    assert schema["$id"] == profile.id
    assert schema["meta:class"] == "https://ns.adobe.com/xdm/context/profile"
    properties = schema["properties"]
    assert set(properties) >= {"person", "personalEmail", "mobilePhone", "homeAddress"}
    assert properties["identityMap"]["meta:xdmType"] == "map"
    assert "loyalty" in properties["_admingest"]["properties"]


def test_the_event_schema_requires_id_and_timestamp(aep: Aep, sandbox: AepSandboxServer) -> None:
    event = sandbox.schemas[1]

    schema = _get(aep, event.alt_id, FULL).json()

    assert schema["required"] == ["_id", "timestamp"]
    assert schema["properties"]["timestamp"]["format"] == "date-time"


def test_the_raw_form_references_instead_of_resolving(aep: Aep, sandbox: AepSandboxServer) -> None:
    schema = _get(aep, sandbox.schemas[0].id, "application/vnd.adobe.xed+json; version=1").json()

    assert "properties" not in schema
    assert {"$ref": "https://ns.adobe.com/xdm/context/profile"} in schema["allOf"]


@pytest.mark.parametrize(
    ("accept", "status", "error_type"),
    [
        (None, 406, "XDM-1006-406"),
        ("application/json", 406, "XDM-1006-406"),
        ("application/vnd.adobe.xed-full+json", 400, "XDM-1007-400"),
        ("application/vnd.adobe.xed-full+json; version=2", 404, "XDM-1012-404"),
    ],
)
def test_accept_rules(
    aep: Aep, sandbox: AepSandboxServer, accept: str | None, status: int, error_type: str
) -> None:
    reply = _get(aep, sandbox.schemas[0].id, accept)

    assert reply.status_code == status
    assert reply.json()["type"].endswith(error_type)
    assert reply.json()["status"] == status


def test_an_unknown_schema_is_xdm_1012(aep: Aep) -> None:
    reply = _get(aep, "https://ns.adobe.com/admingest/schemas/nope", FULL)

    assert reply.status_code == 404
    assert reply.json()["title"] == "Resource Not Found"


def test_listing_and_stats_name_the_tenant(aep: Aep, sandbox: AepSandboxServer) -> None:
    listing = aep.call(
        "GET", f"{REGISTRY}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xed-id+json"}
    )
    stats = aep.call("GET", f"{REGISTRY}/stats")

    assert [entry["$id"] for entry in listing.json()["results"]] == [
        schema.id for schema in sandbox.schemas
    ]
    assert stats.json()["tenantId"] == "admingest"
