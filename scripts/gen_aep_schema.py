"""Generate the structural AEP API schema the AEP sandbox and client are checked against.

Reads Adobe's published OpenAPI files (Batch Ingestion, Catalog, Data Access: OpenAPI 3;
Schema Registry: Swagger 2) and writes ``local/adm_local/sandbox/aep-api-schema.json``: for each
operation adm-ingest uses, its method, gateway path, parameters (header, path, query: name,
``required`` and schema with type and enum), request media types and JSON Schemas, and response
status codes, media types, header names and JSON Schemas. Every ``$ref`` is resolved inline and
both OpenAPI dialects come out in one shape (a Swagger 2 ``in: body`` parameter becomes a
``requestBody``; ``consumes`` / ``produces`` become media types).

Only structural facts are kept, by the core this shares with the ADM generator
(``scripts/openapi_structure.py``): prose is dropped, an unknown keyword is an error. One fact
Adobe publishes only inside prose is lifted on purpose: the Schema Registry ``Accept`` values
(``application/vnd.adobe.xed-full+json; version=1`` for a lookup,
``application/vnd.adobe.xed-id+json`` for a listing…), matched by an exact pattern and recorded
as ``acceptMediaTypes`` — the sandbox's Accept/version rules depend on them. Recursive schemas
(an error's ``sub-errors``) go to a top-level ``definitions``.

Usage::

    python scripts/gen_aep_schema.py [--openapi-dir DIR] [--output FILE] [--check]

The output is deterministic (sorted keys, fixed indentation) so it can be committed and
compared byte for byte.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

# The generators share one core (what counts as structure, $ref inlining, the command line); it
# is a sibling script, importable however this file is loaded (as a script or by a test).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openapi_structure import OpenApiDocument, SchemaGenerationError, operation, render
from openapi_structure import main as run

__all__ = ["SchemaGenerationError", "build_schema", "main", "render"]

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


def build_schema(
    openapi_dir: Path, operations: Sequence[tuple[str, str, str]] = OPERATIONS_WE_USE
) -> dict[str, Any]:
    """Build the structural schema document from Adobe's OpenAPI files in ``openapi_dir``.

    Operations are keyed ``"METHOD <gateway path>"`` (base path included, e.g.
    ``POST /data/foundation/import/batches``): Catalog and Batch Ingestion both have
    ``POST /batches``, and the gateway path is what the sandbox routes on.
    """
    documents: dict[str, OpenApiDocument] = {}
    result: dict[str, Any] = {}
    for spec_name, method, path in operations:
        if spec_name not in documents:
            loaded = yaml.safe_load((openapi_dir / spec_name).read_text("utf-8"))
            documents[spec_name] = OpenApiDocument(spec_name, loaded, recursive_refs=True)
        document = documents[spec_name]
        gateway_path = document.base_path + path
        entry = operation(document, path, method)
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
    return run(
        argv,
        description=(__doc__ or "").split("\n\n")[0],
        build=build_schema,
        default_openapi_dir=DEFAULT_OPENAPI_DIR,
        default_output=DEFAULT_OUTPUT,
        script="scripts/gen_aep_schema.py",
    )


if __name__ == "__main__":
    raise SystemExit(main())
