"""The Schema Registry: a schema by ``$id`` or ``meta:altId``, under its ``Accept`` rules."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

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


def list_schemas(aep: Aep, accept: str = "application/vnd.adobe.xed-id+json", **params: str) -> Any:
    return aep.call("GET", f"{REGISTRY}/tenant/schemas", headers={"Accept": accept}, params=params)


def test_listing_pages_by_title_with_start_and_limit(aep: Aep, sandbox: AepSandboxServer) -> None:
    titles = sorted(schema.title for schema in sandbox.schemas)

    first = list_schemas(aep, orderby="title", limit="1").json()
    assert [entry["title"] for entry in first["results"]] == titles[:1]
    assert first["_page"]["count"] == 1 and first["_page"]["orderby"] == "title"
    next_href = first["_links"]["next"]["href"]
    assert first["_page"]["next"] == next_href
    assert parse_qs(urlsplit(next_href).query)["start"] == titles[:1]

    second = list_schemas(aep, orderby="title", limit="1", start=titles[0]).json()
    assert [entry["title"] for entry in second["results"]] == titles[1:2]
    last = list_schemas(aep, orderby="title", limit="1", start=titles[1]).json()
    assert last["results"] == []
    assert last["_page"]["next"] is None and last["_links"]["next"] is None

    descending = list_schemas(aep, orderby="-title").json()
    assert [entry["title"] for entry in descending["results"]] == titles[::-1]


def test_listing_paging_needs_orderby_and_a_listing_accept(aep: Aep) -> None:
    assert list_schemas(aep, limit="1").status_code == 400
    assert list_schemas(aep, orderby="created").status_code == 400
    assert list_schemas(aep, orderby="title", limit="501").status_code == 400
    assert list_schemas(aep, accept="application/json").status_code == 406


def test_a_listing_with_the_xed_accept_returns_raw_documents(
    aep: Aep, sandbox: AepSandboxServer
) -> None:
    listing = list_schemas(aep, accept="application/vnd.adobe.xed+json")

    assert listing.status_code == 200
    assert listing.json()["results"] == [schema.raw() for schema in sandbox.schemas]
