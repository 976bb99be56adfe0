"""Requests the AEP sandbox refuses because Adobe's structural schema (aep-api-schema.json,
generated from its OpenAPI files) refuses them: Adobe's 400 problem document, naming the
location and the rule, never the value; and every route names a documented operation."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from adm_local.aep_sandbox.api_schema import AepApiSchema
from adm_local.aep_sandbox.routes import ROUTES
from tests.aep_sandbox.aep_http import CATALOG, IMPORT, Aep

BATCHES = f"{IMPORT}/batches"


@pytest.fixture
def dataset(aep: Aep, profile_schema_id: str) -> str:
    return aep.create_dataset("Loyalty", profile_schema_id)


def _refusal(reply: requests.Response) -> str:
    """The 400's detail, after checking the reply is Adobe's problem document."""
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert (body["title"], body["status"]) == ("BadRequestError", 400)
    assert body["type"] == "http://ns.adobe.com/aep/errors/BadRequestError"
    detail: str = body["detail"]
    assert detail.startswith("the request violates the API schema")
    return detail


def test_a_batch_without_its_required_fields_is_refused_and_not_created(aep: Aep) -> None:
    detail = _refusal(aep.call("POST", BATCHES, json={"externalId": "file-1"}))

    assert "(1 problem(s))" in detail
    assert "body: missing required property 'datasetId', 'inputFormat'" in detail
    assert aep.sandbox.state()["batches"] == {}


def test_an_input_format_outside_the_documented_enum_is_refused(aep: Aep, dataset: str) -> None:
    body = {"datasetId": dataset, "inputFormat": {"format": "xml"}}

    detail = _refusal(aep.call("POST", BATCHES, json=body))

    assert "body.inputFormat.format: must be one of JSON, Parquet, CSV" in detail


@pytest.mark.parametrize("spelled", ["json", "JSON"])
def test_the_format_is_read_case_insensitively(aep: Aep, dataset: str, spelled: str) -> None:
    # The OpenAPI says JSON, the guides and the client say json (AEP-NOTES §5): both pass.
    body = {"datasetId": dataset, "inputFormat": {"format": spelled}}

    assert aep.call("POST", BATCHES, json=body).status_code == 201


def test_types_are_checked_and_every_problem_is_listed(aep: Aep) -> None:
    body = {"datasetId": 42, "inputFormat": "json", "tags": {"k": "not-a-list"}}

    detail = _refusal(aep.call("POST", BATCHES, json=body))

    assert "(3 problem(s))" in detail
    assert "body.datasetId: violates type 'string'" in detail
    assert "body.inputFormat: violates type 'object'" in detail
    assert "body.tags.k: violates type 'array'" in detail


def test_the_refusal_never_quotes_the_value(aep: Aep, dataset: str) -> None:
    body = {"datasetId": dataset, "inputFormat": {"format": "jane.doe@example.com"}}

    reply = aep.call("POST", BATCHES, json=body)

    _refusal(reply)
    assert "jane.doe" not in reply.text


def test_a_batch_action_must_be_a_documented_one(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)

    missing = _refusal(aep.call("POST", f"{BATCHES}/{batch_id}"))
    unknown = _refusal(aep.action(batch_id, "DELETE"))

    assert "query.action: missing required parameter" in missing
    assert "query.action: must be one of COMPLETE, ABORT, FAIL, REVERT" in unknown
    assert aep.batch(batch_id)["status"] == "loading"


def test_query_parameters_are_typed(aep: Aep) -> None:
    detail = _refusal(aep.call("GET", f"{CATALOG}/dataSets", params={"limit": "ten"}))

    assert "query.limit: violates type 'integer'" in detail


def test_a_json_patch_must_be_a_list_of_operations(aep: Aep, dataset: str) -> None:
    # Adobe's OpenAPI types this body as the dataSet object; its own example is a JSON-Patch
    # array, which is what the sandbox checks (api_schema.ERRATA).
    headers = {"Content-Type": "application/json-patch+json"}
    path = f"{CATALOG}/dataSets/{dataset}"

    not_a_list = _refusal(aep.call("PATCH", path, json={"tags": {}}, headers=headers))
    no_op = _refusal(aep.call("PATCH", path, json=[{"path": "/tags/x"}], headers=headers))

    assert "body: violates type 'array'" in not_a_list
    assert "body[0]: missing required property 'op'" in no_op


def test_every_route_names_a_documented_operation_of_its_method_and_path() -> None:
    schema = AepApiSchema.load()
    undocumented = []
    for route in ROUTES:
        if route.operation is None:
            undocumented.append(route.pattern.pattern)
            continue
        operation = schema.operations[route.operation]
        assert operation.method == route.method
        # The documented path, its parameters filled in (the tenant container as the sandbox
        # serves it), is one the route serves.
        concrete = re.sub(r"\{CONTAINER_ID\}", "tenant", operation.path)
        concrete = re.sub(r"\{\w+\}", "some-id", concrete)
        assert route.pattern.match(concrete), (route.operation, route.pattern.pattern)
    assert undocumented == ["^/data/foundation/schemaregistry/stats$"]
