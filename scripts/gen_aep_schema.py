"""Generate the structural AEP API schema the AEP sandbox and client are checked against.

Reads Adobe's published OpenAPI files (Batch Ingestion, Catalog, Data Access: OpenAPI 3;
Schema Registry: Swagger 2) and writes ``local/adm_local/sandbox/aep-api-schema.json``: for each
operation adm-ingest uses, its method, gateway path, parameters (header, path, query: name,
``required`` and schema with type and enum), request media types and JSON Schemas, and response
status codes, media types, header names and JSON Schemas. Every ``$ref`` is resolved inline and
both OpenAPI dialects come out in one shape (a Swagger 2 ``in: body`` parameter becomes a
``requestBody``; ``consumes`` / ``produces`` become media types).

Only structural facts are kept: schema keywords go through the same allow-list as the ADM
generator (``scripts/gen_api_schema.py``), prose is dropped, an unknown keyword is an error. One
fact Adobe publishes only inside prose is lifted on purpose: the Schema Registry ``Accept``
values (``application/vnd.adobe.xed-full+json; version=1`` for a lookup,
``application/vnd.adobe.xed-id+json`` for a listing…), matched by an exact pattern and recorded
as ``acceptMediaTypes`` — the sandbox's Accept/version rules depend on them.

Usage::

    python scripts/gen_aep_schema.py [--openapi-dir DIR] [--output FILE] [--check]

The output is deterministic (sorted keys, fixed indentation) so it can be committed and
compared byte for byte.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# The ADM generator is a sibling script: share its keyword allow-list instead of copying it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_api_schema import (
    ANNOTATION_KEYWORDS,
    SCHEMA_LIST_KEYWORDS,
    SCHEMA_VALUED_KEYWORDS,
    STRUCTURAL_KEYWORDS,
    SchemaGenerationError,
    render,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OPENAPI_DIR = REPO_ROOT.parent / "shared" / "reference" / "openapi" / "adobe"
DEFAULT_OUTPUT = REPO_ROOT / "local" / "adm_local" / "sandbox" / "aep-api-schema.json"

BATCH_INGESTION = "batch-ingestion.yaml"
CATALOG = "catalog.yaml"
DATA_ACCESS = "data-access.yaml"
SCHEMA_REGISTRY = "schema-registry.yaml"

OPERATIONS_WE_USE: tuple[tuple[str, str, str], ...] = (
    (CATALOG, "POST", "/dataSets"),
    (CATALOG, "GET", "/dataSets"),
    (CATALOG, "GET", "/dataSets/{DATASET_ID}"),
    (CATALOG, "PATCH", "/dataSets/{DATASET_ID}"),
    (CATALOG, "DELETE", "/dataSets/{DATASET_ID}"),
    (CATALOG, "GET", "/batches"),
    (CATALOG, "GET", "/batches/{BATCH_ID}"),
    (BATCH_INGESTION, "POST", "/batches"),
    (BATCH_INGESTION, "PUT", "/batches/{batchId}/datasets/{datasetId}/files/{filePath}"),
    (BATCH_INGESTION, "POST", "/batches/{batchId}/datasets/{datasetId}/files/{filePath}"),
    (BATCH_INGESTION, "PATCH", "/batches/{batchId}/datasets/{datasetId}/files/{filePath}"),
    (BATCH_INGESTION, "HEAD", "/batches/{batchId}/datasets/{datasetId}/files/{filePath}"),
    (BATCH_INGESTION, "POST", "/batches/{batchId}"),
    (SCHEMA_REGISTRY, "GET", "/{CONTAINER_ID}/schemas"),
    (SCHEMA_REGISTRY, "GET", "/{CONTAINER_ID}/schemas/{SCHEMA_ID}"),
    (DATA_ACCESS, "GET", "/batches/{batchId}/files"),
    (DATA_ACCESS, "GET", "/batches/{batchId}/failed"),
    (DATA_ACCESS, "GET", "/batches/{batchId}/meta"),
    (DATA_ACCESS, "GET", "/files/{dataSetFileId}"),
)
"""(spec file, method, spec path) of every operation the AEP client calls and the sandbox serves.

Catalog dataSets create/list/get/delete (+ the JSON-Patch that enables Profile), batches
list/get; Batch Ingestion create batch, PUT a file, the large-file INITIALIZE/COMPLETE (POST),
parts (PATCH) and status (HEAD), batch COMPLETE/ABORT; Schema Registry list/get schema; Data
Access a batch's files, failed files, meta files (``row_errors``) and a file's content.
"""

PARAMETER_LOCATIONS = ("header", "path", "query")

# Swagger 2 keeps a non-body parameter's schema keywords on the parameter itself.
_PARAMETER_FIELDS = frozenset({"name", "in", "required", "schema", "collectionFormat"})

ACCEPT_MEDIA_TYPE = re.compile(
    r"<code>(application/vnd\.adobe\.[a-z-]+\+json(?:; ?version=\d+)?)</code>"
)
"""An XDM ``Accept`` value (with its version, for lookups) in the Schema Registry's table."""


class _Document:
    """One OpenAPI document (either dialect) with local ``$ref`` resolution."""

    def __init__(self, name: str, document: Mapping[str, Any]) -> None:
        self.name = name
        self._document = document
        self.swagger2 = str(document.get("swagger", "")).startswith("2")
        self.base_path = self._base_path()
        self.definitions: dict[str, dict[str, Any]] = {}
        """Recursive schemas, referenced as ``{"$ref": "#/definitions/<name>"}``."""

    def _base_path(self) -> str:
        if self.swagger2:
            return str(self._document["basePath"]).rstrip("/")
        url = str(self._document["servers"][0]["url"])
        match = re.fullmatch(r"(?:https?:)?//[^/]+(/.*)?", url)
        if match is None:
            raise SchemaGenerationError(f"{self.name}: unexpected server URL {url!r}")
        return (match.group(1) or "").rstrip("/")

    @property
    def paths(self) -> Mapping[str, Any]:
        paths: Mapping[str, Any] = self._document["paths"]
        return paths

    def default_media_types(self, key: str) -> list[str]:
        """Swagger 2's document-wide ``consumes`` / ``produces``."""
        return list(self._document.get(key, ()))

    def follow(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return ``node`` itself, or the object its ``$ref`` points to (one hop)."""
        ref = node.get("$ref")
        if ref is None:
            return node
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SchemaGenerationError(f"{self.name}: only local $refs are supported: {ref!r}")
        target: Any = self._document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    def recursive_definition(self, ref: str) -> str:
        """The output ``definitions`` name of a recursive ``ref``, built on first use."""
        name = f"{Path(self.name).stem}.{ref.rsplit('/', 1)[-1]}"
        if name not in self.definitions:
            self.definitions[name] = {}  # reserved first: the body refers back to itself
            self.definitions[name] = self.structural_schema(self.follow({"$ref": ref}), (ref,))
        return name

    def structural_schema(
        self, schema: Mapping[str, Any], trail: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Return ``schema`` with references inlined and annotations removed."""
        ref = schema.get("$ref")
        if ref is not None:
            if ref in trail:
                # A recursive type (an error's ``sub-errors`` are errors): point at one shared
                # copy under the output's top-level ``definitions`` instead of unrolling forever.
                return {"$ref": f"#/definitions/{self.recursive_definition(ref)}"}
            return self.structural_schema(self.follow(schema), (*trail, ref))
        result: dict[str, Any] = {}
        for keyword, value in schema.items():
            if keyword in ANNOTATION_KEYWORDS or keyword.startswith("x-"):
                continue
            if keyword not in STRUCTURAL_KEYWORDS:
                raise SchemaGenerationError(f"{self.name}: unknown schema keyword {keyword!r}")
            if keyword == "properties":
                # Property names are data: a property called "description" is kept.
                result[keyword] = {
                    name: self.structural_schema(sub, trail) for name, sub in value.items()
                }
            elif keyword in SCHEMA_VALUED_KEYWORDS and isinstance(value, Mapping):
                result[keyword] = self.structural_schema(value, trail)
            elif keyword in SCHEMA_LIST_KEYWORDS:
                result[keyword] = [self.structural_schema(sub, trail) for sub in value]
            else:
                result[keyword] = value
        return result


def _parameter_schema(document: _Document, parameter: Mapping[str, Any]) -> dict[str, Any]:
    if "schema" in parameter:
        return document.structural_schema(parameter["schema"])
    inline = {
        keyword: value
        for keyword, value in parameter.items()
        if keyword not in _PARAMETER_FIELDS and keyword not in ANNOTATION_KEYWORDS
    }
    return document.structural_schema(inline)


def _accept_media_types(parameter: Mapping[str, Any]) -> list[str]:
    return sorted(set(ACCEPT_MEDIA_TYPE.findall(str(parameter.get("description", "")))))


def _content(document: _Document, content: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map each media type to its structural schema (``{}`` when none is documented)."""
    return {
        media_type: document.structural_schema(body.get("schema", {}) if body else {})
        for media_type, body in content.items()
    }


def _swagger2_content(
    document: _Document, media_types: Sequence[str], schema: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    if schema is None:
        return {}
    structural = document.structural_schema(schema)
    return {media_type: structural for media_type in media_types}


def _operation(document: _Document, path: str, method: str) -> dict[str, Any]:
    path_item = document.paths[path]
    operation = path_item[method.lower()]
    parameters: dict[str, dict[str, dict[str, Any]]] = {where: {} for where in PARAMETER_LOCATIONS}
    result: dict[str, Any] = {
        "method": method,
        "operationId": operation["operationId"],
        "parameters": parameters,
    }
    consumes = list(operation.get("consumes", document.default_media_types("consumes")))
    produces = list(operation.get("produces", document.default_media_types("produces")))
    for raw in [*path_item.get("parameters", ()), *operation.get("parameters", ())]:
        parameter = document.follow(raw)
        location = parameter["in"]
        if location == "body" and document.swagger2:
            result["requestBody"] = {
                "content": _swagger2_content(document, consumes, parameter.get("schema", {})),
                "required": bool(parameter.get("required", False)),
            }
            continue
        if location not in parameters:
            raise SchemaGenerationError(
                f"{document.name} {method} {path}: unsupported parameter location {location!r}"
            )
        parameters[location][parameter["name"]] = {
            "required": bool(parameter.get("required", False)),
            "schema": _parameter_schema(document, parameter),
        }
        if location == "header" and parameter["name"].lower() == "accept":
            accepted = _accept_media_types(parameter)
            if accepted:
                result["acceptMediaTypes"] = accepted
    responses: dict[str, Any] = {}
    for status, raw_response in operation.get("responses", {}).items():
        response = document.follow(raw_response)
        if document.swagger2:
            content = _swagger2_content(document, produces, response.get("schema"))
        else:
            content = _content(document, response.get("content") or {})
        responses[str(status)] = {
            "content": content,
            "headers": sorted(response.get("headers", {})),
        }
    result["responses"] = responses
    if "requestBody" in operation:
        request_body = document.follow(operation["requestBody"])
        result["requestBody"] = {
            "content": _content(document, request_body.get("content") or {}),
            "required": bool(request_body.get("required", False)),
        }
    return result


def build_schema(
    openapi_dir: Path, operations: Sequence[tuple[str, str, str]] = OPERATIONS_WE_USE
) -> dict[str, Any]:
    """Build the structural schema document from Adobe's OpenAPI files in ``openapi_dir``.

    Operations are keyed ``"METHOD <gateway path>"`` (base path included, e.g.
    ``POST /data/foundation/import/batches``): Catalog and Batch Ingestion both have
    ``POST /batches``, and the gateway path is what the sandbox routes on.
    """
    documents: dict[str, _Document] = {}
    result: dict[str, Any] = {}
    for spec_name, method, path in operations:
        if spec_name not in documents:
            loaded = yaml.safe_load((openapi_dir / spec_name).read_text("utf-8"))
            documents[spec_name] = _Document(spec_name, loaded)
        document = documents[spec_name]
        gateway_path = document.base_path + path
        entry = _operation(document, path, method)
        result[f"{method} {gateway_path}"] = {
            "basePath": document.base_path,
            "path": gateway_path,
            "spec": spec_name,
            "specPath": path,
            **entry,
        }
    definitions = {
        name: schema
        for document in documents.values()
        for name, schema in document.definitions.items()
    }
    return {"definitions": definitions, "operations": result}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--openapi-dir", type=Path, default=DEFAULT_OPENAPI_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is out of date"
    )
    args = parser.parse_args(argv)
    text = render(build_schema(args.openapi_dir))
    if args.check:
        current = args.output.read_text("utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run scripts/gen_aep_schema.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
