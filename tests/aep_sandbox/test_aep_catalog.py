"""Catalog datasets: created by reference, answered keyed by id, listed by name and page."""

from __future__ import annotations

from tests.aep_sandbox.aep_http import CATALOG, Aep


def test_create_answers_a_reference_and_get_is_keyed_by_id(
    aep: Aep, profile_schema_id: str
) -> None:
    reply = aep.call(
        "POST",
        f"{CATALOG}/dataSets",
        json={"name": "Loyalty", "schemaRef": {"id": profile_schema_id}},
    )

    assert reply.status_code == 201
    (reference,) = reply.json()
    assert reference.startswith("@/dataSets/")
    dataset_id = reference.removeprefix("@/dataSets/")
    got = aep.call("GET", f"{CATALOG}/dataSets/{dataset_id}").json()
    assert list(got) == [dataset_id]
    assert got[dataset_id]["name"] == "Loyalty"
    assert got[dataset_id]["schemaRef"]["id"] == profile_schema_id
    assert got[dataset_id]["imsOrg"] == aep.sandbox.account.org_id


def test_create_refuses_an_unknown_schema_and_a_json_body_without_content_type(
    aep: Aep, profile_schema_id: str
) -> None:
    unknown = aep.call(
        "POST", f"{CATALOG}/dataSets", json={"name": "X", "schemaRef": {"id": "https://nope"}}
    )
    untyped = aep.call(
        "POST",
        f"{CATALOG}/dataSets",
        data=b'{"name": "X"}',
        headers={"Content-Type": "text/plain"},
    )

    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "There was a problem retrieving xdm schema"
    assert untyped.status_code == 400
    assert untyped.json()["detail"] == "A valid content-type must be specified"


def test_list_pages_with_limit_and_start(aep: Aep, profile_schema_id: str) -> None:
    ids = [aep.create_dataset(f"ds-{n}", profile_schema_id) for n in range(5)]

    pages = [
        list(aep.call("GET", f"{CATALOG}/dataSets", params={"limit": 2, "start": start}).json())
        for start in (0, 2, 4, 6)
    ]

    assert pages == [ids[0:2], ids[2:4], ids[4:5], []]
    assert len(aep.call("GET", f"{CATALOG}/dataSets").json()) == 5  # default limit 20


def test_list_refuses_a_limit_outside_1_to_100(aep: Aep) -> None:
    for limit in (0, 101, "many"):
        reply = aep.call("GET", f"{CATALOG}/dataSets", params={"limit": limit})
        assert reply.status_code == 400


def test_list_filters_by_name(aep: Aep, profile_schema_id: str, event_schema_id: str) -> None:
    loyalty = aep.create_dataset("Loyalty", profile_schema_id)
    orders = aep.create_dataset("Orders", event_schema_id)
    aep.create_dataset("Other", profile_schema_id)

    def names(filter_: str) -> list[str]:
        reply = aep.call("GET", f"{CATALOG}/dataSets", params={"name": filter_})
        return list(reply.json())

    assert names("Loyalty") == [loyalty]
    assert names("Loyalty,Orders") == [loyalty, orders]
    assert names("O*") == [orders, names("Other")[0]]
    assert loyalty not in names("!Loyalty")


def test_delete_then_get_is_404(aep: Aep, profile_schema_id: str) -> None:
    dataset_id = aep.create_dataset("Gone", profile_schema_id)

    deleted = aep.call("DELETE", f"{CATALOG}/dataSets/{dataset_id}")

    assert deleted.status_code == 200
    assert deleted.json() == [f"@/dataSets/{dataset_id}"]
    assert aep.call("GET", f"{CATALOG}/dataSets/{dataset_id}").status_code == 404
    assert aep.call("DELETE", f"{CATALOG}/dataSets/{dataset_id}").status_code == 404


def test_profile_is_enabled_with_a_json_patch(aep: Aep, profile_schema_id: str) -> None:
    dataset_id = aep.create_dataset("Loyalty", profile_schema_id)

    reply = aep.call(
        "PATCH",
        f"{CATALOG}/dataSets/{dataset_id}",
        data=b'[{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}]',
        headers={"Content-Type": "application/json-patch+json"},
    )

    assert reply.status_code == 200
    tags = aep.call("GET", f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]["tags"]
    assert tags == {"unifiedProfile": ["enabled:true"]}
