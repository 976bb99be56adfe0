"""The committed structural API schema is exactly what the generator makes of Amazon's files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "scripts" / "gen_api_schema.py"
COMMITTED = REPO_ROOT / "local" / "adm_local" / "sandbox" / "api-schema.json"
PROSE_KEYWORDS = {"description", "summary", "title", "example", "examples"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_schema", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _openapi_dir() -> Path:
    for candidate in (
        Path("/work/shared/reference/openapi"),
        REPO_ROOT.parent / "shared" / "reference" / "openapi",
    ):
        if candidate.is_dir():
            return candidate
    pytest.skip("Amazon's OpenAPI files (../shared/reference/openapi) are not available")


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
    schemas = []
    for operation in document["operations"].values():
        for parameters in operation["parameters"].values():
            schemas.extend(parameter["schema"] for parameter in parameters.values())
        schemas.extend(operation.get("requestBody", {}).get("content", {}).values())
        for response in operation["responses"].values():
            schemas.extend(response["content"].values())
    return schemas


def test_regenerating_from_the_openapi_files_reproduces_the_committed_file() -> None:
    generator = _load_generator()

    regenerated = generator.render(generator.build_schema(_openapi_dir()))

    assert regenerated == COMMITTED.read_text("utf-8"), "run scripts/gen_api_schema.py"


def test_check_mode_accepts_the_committed_file() -> None:
    generator = _load_generator()

    assert generator.main(["--openapi-dir", str(_openapi_dir()), "--output", str(COMMITTED),
                           "--check"]) == 0  # fmt: skip


def test_committed_schema_holds_no_prose_annotations() -> None:
    document = json.loads(COMMITTED.read_text("utf-8"))

    for schema in _all_schemas(document):
        assert not _schema_keywords(schema) & PROSE_KEYWORDS


def test_a_property_named_description_is_structure_and_kept() -> None:
    document = json.loads(COMMITTED.read_text("utf-8"))
    create = document["operations"]["POST /adm/audiences"]["requestBody"]["content"]

    description = create["application/json"]["properties"]["description"]

    assert description == {"maxLength": 1000, "minLength": 1, "type": "string"}


def test_every_operation_records_method_path_headers_and_responses() -> None:
    document = json.loads(COMMITTED.read_text("utf-8"))
    members = document["operations"]["POST /adm/audiences/{dataSetId}/members"]

    assert members["method"] == "POST"
    assert members["path"] == "/adm/audiences/{dataSetId}/members"
    assert members["parameters"]["header"]["Amazon-Advertising-API-ClientId"]["required"]
    assert list(members["requestBody"]["content"]) == ["application/vnd.admAudiences.v1+json"]
    request = members["requestBody"]["content"]["application/vnd.admAudiences.v1+json"]
    assert request["properties"]["members"]["maxItems"] == 10000
    assert {"200", "400", "401", "403", "404", "429", "500"} <= set(members["responses"])
    assert len(document["operations"]) == 21


def test_unknown_schema_keywords_are_refused_not_dropped(tmp_path: Path) -> None:
    generator = _load_generator()
    spec = {
        "paths": {
            "/x": {
                "get": {
                    "operationId": "X",
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"nullable": True}}}}
                    },
                }
            }
        }
    }
    (tmp_path / "Spec.json").write_text(json.dumps(spec))

    with pytest.raises(generator.SchemaGenerationError, match="nullable"):
        generator.build_schema(tmp_path, [("Spec.json", "GET", "/x")])
