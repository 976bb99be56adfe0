"""The OpenAPI document the contract fuzzer reads: every served operation, from the committed
structural schema, loadable by Schemathesis and served at ``/_sandbox/openapi.json``."""

from __future__ import annotations

import json

import requests
import schemathesis

from adm_local.sandbox import SandboxServer
from adm_local.sandbox.openapi import openapi_document
from adm_local.sandbox.routes import ROUTES
from adm_local.sandbox.validation import SCHEMA_FILE


def test_the_document_holds_every_operation_the_sandbox_serves() -> None:
    document = openapi_document()

    keys = {f"{method.upper()} {path}" for path, item in document["paths"].items()
            for method in item}  # fmt: skip
    assert keys == set(ROUTES)


def test_operations_keep_their_parameters_bodies_and_responses() -> None:
    structural = json.loads(SCHEMA_FILE.read_text("utf-8"))["operations"]
    members = structural["POST /adm/audiences/{dataSetId}/members"]

    operation = openapi_document()["paths"]["/adm/audiences/{dataSetId}/members"]["post"]

    assert {(p["in"], p["name"], p["required"]) for p in operation["parameters"]} == {
        ("path", "dataSetId", True),
        ("header", "Amazon-Advertising-API-ClientId", True),
        ("header", "Amazon-Ads-AccountId", False),
        ("header", "Amazon-Ads-Manager-Account-ID", False),
    }
    media_type = "application/vnd.admAudiences.v1+json"
    assert (
        operation["requestBody"]["content"][media_type]["schema"]
        == (members["requestBody"]["content"][media_type])
    )
    assert sorted(operation["responses"]) == sorted(members["responses"])


def test_schemathesis_loads_the_document_served_by_the_sandbox() -> None:
    with SandboxServer(port=0, log_stream=None) as sandbox:
        served = requests.get(sandbox.url + "/_sandbox/openapi.json", timeout=10).json()

    schema = schemathesis.openapi.from_dict(served)

    assert served == openapi_document()
    assert len(list(schema.get_all_operations())) == len(ROUTES)
