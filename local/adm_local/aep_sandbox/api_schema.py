"""Requests checked against Adobe's documented structure, as the ADM sandbox checks Amazon's.

``aep-api-schema.json`` (beside ``api-schema.json`` in ``adm_local/sandbox``) is generated from
Adobe's OpenAPI files by ``scripts/gen_aep_schema.py``; nothing reads Adobe's files at run time.
Each sandbox route names its documented operation; before the route runs, its query parameters
(required ones, types, enums: ``?action=`` of a batch) and a JSON body sent with a documented
media type (``POST /batches``: ``datasetId``, ``inputFormat``, ``inputFormat.format``…) are
validated with the ADM sandbox's validator, and a refusal is Adobe's 400 problem document
listing what broke, by location and rule and never by value (a value may be PII).

Bodies sent with a media type the operation does not document are left to the route: Batch
Ingestion documents parts as ``multipart/form-data``, where the guides send
``application/octet-stream``. One documented schema is replaced (:data:`ERRATA`): Catalog's
``application/json-patch+json`` body is typed as the dataSet object while its own example, and
the guides, send a JSON-Patch array.

One reading is deliberate (AEP-NOTES §5): string enums compare case-insensitively. The OpenAPI
spells ``inputFormat.format`` ``JSON|Parquet|CSV`` while every guide, and the client, send
``json``; how the platform compares them is unconfirmed, and refusing the documented examples
would test nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adm_local.sandbox.validation import (
    ApiSchema,
    Operation,
    Parameter,
    Violation,
    query_violations,
    violations,
)

from .errors import AepError, bad_request

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "sandbox" / "aep-api-schema.json"
MAX_LISTED_VIOLATIONS = 10

JSON_PATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
        },
    },
}
"""A JSON-Patch document's structure (RFC 6902 §4)."""

ERRATA: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH /data/foundation/catalog/dataSets/{DATASET_ID}", "application/json-patch+json"): (
        JSON_PATCH_SCHEMA
    ),
}
"""(operation, media type) → the schema used instead of one Adobe's OpenAPI gets wrong."""


def _case_insensitive_enums(schema: Any) -> Any:
    """``schema`` with each enum of strings also accepting its values lower- and upper-cased."""
    if isinstance(schema, list):
        return [_case_insensitive_enums(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _case_insensitive_enums(value) for key, value in schema.items()}
    enum = schema.get("enum")
    if isinstance(enum, list) and all(isinstance(value, str) for value in enum):
        spelled = [*enum, *(value.lower() for value in enum), *(value.upper() for value in enum)]
        result["enum"] = list(dict.fromkeys(spelled))
    return result


class AepApiSchema:
    """The documented operations of ``aep-api-schema.json``, by key (``"POST /data/…"``)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.operations: dict[str, Operation] = {
            operation.key: operation for operation in ApiSchema(document).operations
        }
        # Recursive schemas (only in responses today) refer to these; a body schema that
        # used one would carry them along.
        self._definitions: Mapping[str, Any] = document.get("definitions", {})
        self._bodies = {
            (key, media_type): self._with_definitions(
                ERRATA.get((key, media_type)) or _case_insensitive_enums(schema)
            )
            for key, operation in self.operations.items()
            for media_type, schema in operation.request_content_types.items()
        }
        self._queries = {
            key: {
                name: Parameter(name, parameter.required, _case_insensitive_enums(parameter.schema))
                for name, parameter in operation.query_parameters().items()
            }
            for key, operation in self.operations.items()
        }

    @classmethod
    def load(cls, path: Path = SCHEMA_FILE) -> AepApiSchema:
        """Read the committed schema file."""
        return cls(json.loads(path.read_text("utf-8")))

    def _with_definitions(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in json.dumps(schema) and self._definitions:
            return {**schema, "definitions": self._definitions}
        return schema

    def body_schema(self, key: str, media_type: str) -> Mapping[str, Any] | None:
        """The documented schema of a ``media_type`` body of operation ``key``, if any."""
        return self._bodies.get((key, media_type))

    def check(
        self, key: str, query: Mapping[str, str], media_type: str, body: Any, *, json_body: bool
    ) -> None:
        """Raise Adobe's 400 when the query, or a JSON ``body``, breaks operation ``key``."""
        problems = query_violations(self._queries[key], query)
        if json_body:
            schema = self.body_schema(key, media_type)
            if schema is not None:
                problems += violations(schema, body)
        if problems:
            raise schema_error(problems)


def schema_error(problems: list[Violation]) -> AepError:
    """The 400 problem document naming what the request broke (value-free)."""
    listed = "; ".join(str(problem) for problem in problems[:MAX_LISTED_VIOLATIONS])
    more = len(problems) - MAX_LISTED_VIOLATIONS
    return bad_request(
        f"the request violates the API schema ({len(problems)} problem(s)): {listed}"
        + (f"; and {more} more" if more > 0 else "")
    )
