"""The committed AEP structural schema is exactly what the generator makes of Adobe's files.

The drift tests need Adobe's OpenAPI files (../shared/reference/openapi/adobe) and skip without
them; the fact tests read only the committed file, which is all the sandbox ever reads.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "scripts" / "gen_aep_schema.py"
COMMITTED = REPO_ROOT / "local" / "adm_local" / "sandbox" / "aep-api-schema.json"
PROSE_KEYWORDS = {"description", "summary", "title", "example", "examples"}
IDENTITY_HEADERS = ("Authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name")
FILES = "/data/foundation/import/batches/{batchId}/datasets/{datasetId}/files/{filePath}"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_aep_schema", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _openapi_dir() -> Path:
    for candidate in (
        Path("/work/shared/reference/openapi/adobe"),
        REPO_ROOT.parent / "shared" / "reference" / "openapi" / "adobe",
    ):
        if candidate.is_dir():
            return candidate
    pytest.skip("Adobe's OpenAPI files (../shared/reference/openapi/adobe) are not available")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED.read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["operations"]
    return found


def _schema_keywords(schema: Any) -> set[str]:
    """Every keyword used in a JSON Schema tree (property *names* are not keywords)."""
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for keyword, value in schema.items():
        if keyword == "properties":
            for sub in value.values():
                found |= _schema_keywords(sub)
        elif isinstance(value, dict):
            found |= _schema_keywords(value)
        elif isinstance(value, list):
            for sub in value:
                found |= _schema_keywords(sub)
    return found


def _all_schemas(document: dict[str, Any]) -> list[Any]:
    schemas: list[Any] = list(document["definitions"].values())
    for operation in document["operations"].values():
        for parameters in operation["parameters"].values():
            schemas.extend(parameter["schema"] for parameter in parameters.values())
        schemas.extend(operation.get("requestBody", {}).get("content", {}).values())
        for response in operation["responses"].values():
            schemas.extend(response["content"].values())
    return schemas


# -- drift ----------------------------------------------------------------------------------


def test_regenerating_from_the_openapi_files_reproduces_the_committed_file() -> None:
    generator = _load_generator()

    regenerated = generator.render(generator.build_schema(_openapi_dir()))

    assert regenerated == COMMITTED.read_text("utf-8"), "run make aep-schema"


def test_check_mode_accepts_the_committed_file_and_refuses_a_stale_one(tmp_path: Path) -> None:
    generator = _load_generator()
    stale = tmp_path / "aep-api-schema.json"
    stale.write_text('{"operations": {}}\n')
    arguments = ["--openapi-dir", str(_openapi_dir()), "--check", "--output"]

    assert generator.main([*arguments, str(COMMITTED)]) == 0
    assert generator.main([*arguments, str(stale)]) == 1


def test_unknown_schema_keywords_are_refused_not_dropped(tmp_path: Path) -> None:
    generator = _load_generator()
    (tmp_path / "spec.yaml").write_text(
        "openapi: 3.0.1\n"
        "servers: [{url: '//platform.adobe.io/data/x'}]\n"
        "paths:\n"
        "  /y:\n"
        "    get:\n"
        "      operationId: y\n"
        "      responses:\n"
        "        '200': {content: {application/json: {schema: {nullable: true}}}}\n"
    )

    with pytest.raises(generator.SchemaGenerationError, match="nullable"):
        generator.build_schema(tmp_path, [("spec.yaml", "GET", "/y")])


# -- the committed file ---------------------------------------------------------------------


def test_committed_schema_holds_no_prose_annotations(document: dict[str, Any]) -> None:
    for schema in _all_schemas(document):
        assert not _schema_keywords(schema) & PROSE_KEYWORDS


def test_operations_are_keyed_by_their_gateway_path(operations: dict[str, Any]) -> None:
    # Catalog and Batch Ingestion both have POST /batches: the base path tells them apart.
    assert operations["POST /data/foundation/import/batches"]["operationId"] == "createBatch"
    assert "POST /data/foundation/catalog/batches" not in operations
    for key, operation in operations.items():
        assert key == f"{operation['method']} {operation['path']}"
        assert operation["path"] == operation["basePath"] + operation["specPath"]
    assert len(operations) == 19


def test_every_operation_requires_the_four_identity_headers(operations: dict[str, Any]) -> None:
    for key, operation in operations.items():
        headers = operation["parameters"]["header"]
        for name in IDENTITY_HEADERS:
            assert headers[name]["required"], (key, name)


def test_create_batch_request(operations: dict[str, Any]) -> None:
    request = operations["POST /data/foundation/import/batches"]["requestBody"]
    body = request["content"]["application/json"]

    assert request["required"]
    assert body["required"] == ["datasetId", "inputFormat"]
    assert body["properties"]["inputFormat"]["properties"]["format"]["enum"] == [
        "JSON",
        "Parquet",
        "CSV",
    ]
    assert "externalId" in body["properties"]
    # Adobe's schema omits enableErrorDiagnostics / partialIngestionPercent (the guides send
    # them) and does not forbid extra fields: the sandbox must accept them.
    assert body.get("additionalProperties", True) is not False
    assert "201" in operations["POST /data/foundation/import/batches"]["responses"]


def test_batch_and_large_file_actions(operations: dict[str, Any]) -> None:
    batch = operations["POST /data/foundation/import/batches/{batchId}"]
    large_file = operations[f"POST {FILES}"]

    assert {"COMPLETE", "ABORT"} <= set(batch["parameters"]["query"]["action"]["schema"]["enum"])
    assert large_file["parameters"]["query"]["action"]["schema"]["enum"] == [
        "INITIALIZE",
        "COMPLETE",
    ]


def test_file_uploads_are_octet_streams_and_parts_carry_a_content_range(
    operations: dict[str, Any],
) -> None:
    put, patch = operations[f"PUT {FILES}"], operations[f"PATCH {FILES}"]

    for operation in (put, patch):
        content_type = operation["parameters"]["header"]["Content-Type"]
        assert content_type == {"required": True, "schema": {"enum": ["application/octet-stream"], "type": "string"}}  # fmt: skip
    assert patch["parameters"]["header"]["Content-Range"]["required"]
    assert {"200", "201"} <= set(put["responses"])  # replaced / created


def test_catalog_lists_page_with_limit_and_start(operations: dict[str, Any]) -> None:
    for key in ("GET /data/foundation/catalog/dataSets", "GET /data/foundation/catalog/batches"):
        query = operations[key]["parameters"]["query"]
        assert query["limit"]["schema"]["type"] == "integer", key
        assert not query["limit"]["required"]
        assert "start" in query
    assert "name" in operations["GET /data/foundation/catalog/dataSets"]["parameters"]["query"]


def test_create_dataset_answers_201_with_a_list_of_references(operations: dict[str, Any]) -> None:
    created = operations["POST /data/foundation/catalog/dataSets"]["responses"]["201"]

    assert created["content"]["application/json"] == {"items": {"type": "string"}, "type": "array"}


def test_enabling_profile_is_a_json_patch(operations: dict[str, Any]) -> None:
    patch = operations["PATCH /data/foundation/catalog/dataSets/{DATASET_ID}"]

    assert "application/json-patch+json" in patch["requestBody"]["content"]


def test_schema_lookups_name_their_versioned_accept_values(operations: dict[str, Any]) -> None:
    lookup = operations["GET /data/foundation/schemaregistry/{CONTAINER_ID}/schemas/{SCHEMA_ID}"]
    listing = operations["GET /data/foundation/schemaregistry/{CONTAINER_ID}/schemas"]

    assert lookup["parameters"]["header"]["Accept"]["required"]
    assert "application/vnd.adobe.xed-full+json; version=1" in lookup["acceptMediaTypes"]
    assert "406" in lookup["responses"]  # an Accept without a version is refused
    assert "application/vnd.adobe.xed-id+json" in listing["acceptMediaTypes"]


def test_data_access_reads_meta_files_by_path(operations: dict[str, Any]) -> None:
    meta = operations["GET /data/foundation/export/batches/{batchId}/meta"]

    assert "path" in meta["parameters"]["query"]  # ?path=row_errors
    assert "GET /data/foundation/export/files/{dataSetFileId}" in operations


def test_recursive_schemas_point_at_one_shared_definition(document: dict[str, Any]) -> None:
    text = json.dumps(document)

    for name in document["definitions"]:
        assert f'"#/definitions/{name}"' in text
    referenced = {
        part.split('"')[0] for part in text.split('"$ref": "#/definitions/')[1:]
    }  # every reference resolves
    assert referenced == set(document["definitions"])
