"""Generate the structural API schema the ADM sandbox validates against.

Reads Amazon's published OpenAPI files (Ads Data Manager, DSP Conversions, Manager Account) and
writes ``local/adm_local/sandbox/api-schema.json``: for each operation adm-ingest uses, its
method, path, parameters (headers with their ``required`` flag, path and query parameters),
request content types and JSON Schemas, and response status codes, content types and JSON
Schemas. Every ``$ref`` is resolved inline.

Only structural facts are kept. Schema keywords go through an allow-list, so prose annotations
(``description``, ``summary``, ``title``, ``example(s)``, ``default``) are dropped — while a
*property* that happens to be called ``description`` survives, because property names are data,
not keywords. An unknown keyword is an error rather than a silent drop: if Amazon starts using
one, a human decides whether it is structure.

Usage::

    python scripts/gen_api_schema.py [--openapi-dir DIR] [--output FILE] [--check]

The output is deterministic (sorted keys, fixed indentation) so it can be committed and
compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OPENAPI_DIR = REPO_ROOT.parent / "shared" / "reference" / "openapi"
DEFAULT_OUTPUT = REPO_ROOT / "local" / "adm_local" / "sandbox" / "api-schema.json"

ADM_SPEC = "AdsDataManager_prod_3p.json"
CONVERSIONS_SPEC = "ConversionsAPI_prod_3p.json"
MANAGER_ACCOUNT_SPEC = "ManagerAccount_prod_3p.json"

OPERATIONS_WE_USE: tuple[tuple[str, str, str], ...] = (
    (ADM_SPEC, "GET", "/adm/terms"),
    (ADM_SPEC, "PATCH", "/adm/terms"),
    (ADM_SPEC, "POST", "/adm/datarooms"),
    (ADM_SPEC, "GET", "/adm/datarooms"),
    (ADM_SPEC, "GET", "/adm/datarooms/metadata"),
    (ADM_SPEC, "POST", "/adm/audiences"),
    (ADM_SPEC, "GET", "/adm/audiences"),
    (ADM_SPEC, "GET", "/adm/audiences/{dataSetId}"),
    (ADM_SPEC, "POST", "/adm/audiences/{dataSetId}/members"),
    (ADM_SPEC, "DELETE", "/adm/datasets/{dataSetId}"),
    (ADM_SPEC, "POST", "/adm/datasets/list"),
    (ADM_SPEC, "GET", "/adm/datasets/{dataSetId}/metrics"),
    (ADM_SPEC, "POST", "/adm/datasets/{dataSetId}/metrics/aggregates"),
    (ADM_SPEC, "POST", "/adm/sharingRules"),
    (ADM_SPEC, "POST", "/adm/sharingRules/list"),
    (ADM_SPEC, "PATCH", "/adm/sharingRules/{sharingRuleId}/revoke"),
    (ADM_SPEC, "POST", "/adm/identities/delete"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions/list"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions/eventData"),
    (MANAGER_ACCOUNT_SPEC, "GET", "/managerAccounts"),
)
"""(spec file, method, path) of every operation the pipeline calls and the sandbox serves."""

STRUCTURAL_KEYWORDS = frozenset(
    {
        "type", "format", "enum", "pattern", "minLength", "maxLength",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "items", "minItems", "maxItems", "uniqueItems",
        "properties", "required", "additionalProperties", "minProperties", "maxProperties",
        "oneOf", "anyOf", "allOf", "not", "readOnly", "writeOnly",
    }
)  # fmt: skip
"""JSON Schema keywords that constrain data; everything the generated file keeps."""

ANNOTATION_KEYWORDS = frozenset(
    {"description", "summary", "title", "example", "examples", "default", "deprecated"}
)
"""Prose and hints that say nothing a validator can check; dropped on purpose."""

SCHEMA_VALUED_KEYWORDS = frozenset({"items", "additionalProperties", "not"})
SCHEMA_LIST_KEYWORDS = frozenset({"oneOf", "anyOf", "allOf"})


class SchemaGenerationError(Exception):
    """The OpenAPI input holds something this generator refuses to guess about."""


class _Resolver:
    """Resolves local ``#/components/...`` references of one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any], name: str) -> None:
        self._document = document
        self._name = name

    def follow(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return ``node`` itself, or the object its ``$ref`` points to (one hop)."""
        ref = node.get("$ref")
        if ref is None:
            return node
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SchemaGenerationError(f"{self._name}: only local $refs are supported: {ref!r}")
        target: Any = self._document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    def structural_schema(self, schema: Mapping[str, Any], trail: tuple[str, ...] = ()) -> dict:
        """Return ``schema`` with references inlined and annotations removed."""
        ref = schema.get("$ref")
        if ref is not None:
            if ref in trail:
                raise SchemaGenerationError(f"{self._name}: recursive schema via {ref}")
            return self.structural_schema(self.follow(schema), (*trail, ref))
        result: dict[str, Any] = {}
        for keyword, value in schema.items():
            if keyword in ANNOTATION_KEYWORDS or keyword.startswith("x-"):
                continue
            if keyword not in STRUCTURAL_KEYWORDS:
                raise SchemaGenerationError(f"{self._name}: unknown schema keyword {keyword!r}")
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


def _content(resolver: _Resolver, content: Mapping[str, Any]) -> dict[str, dict]:
    """Map each media type to its structural schema (``{}`` when none is documented)."""
    return {
        media_type: resolver.structural_schema(body.get("schema", {}))
        for media_type, body in content.items()
    }


def _operation(resolver: _Resolver, path_item: Mapping[str, Any], method: str) -> dict[str, Any]:
    operation = path_item[method.lower()]
    parameters: dict[str, dict[str, dict]] = {"header": {}, "path": {}, "query": {}}
    for raw in [*path_item.get("parameters", ()), *operation.get("parameters", ())]:
        parameter = resolver.follow(raw)
        location = parameter["in"]
        if location not in parameters:
            raise SchemaGenerationError(f"unsupported parameter location {location!r}")
        parameters[location][parameter["name"]] = {
            "required": bool(parameter.get("required", False)),
            "schema": resolver.structural_schema(parameter.get("schema", {})),
        }
    result: dict[str, Any] = {
        "method": method,
        "operationId": operation["operationId"],
        "parameters": parameters,
        "responses": {
            status: {
                "content": _content(resolver, resolver.follow(response).get("content", {})),
                "headers": sorted(resolver.follow(response).get("headers", {})),
            }
            for status, response in operation.get("responses", {}).items()
        },
    }
    if "requestBody" in operation:
        request_body = resolver.follow(operation["requestBody"])
        result["requestBody"] = {
            "content": _content(resolver, request_body.get("content", {})),
            "required": bool(request_body.get("required", False)),
        }
    return result


def build_schema(
    openapi_dir: Path, operations: Sequence[tuple[str, str, str]] = OPERATIONS_WE_USE
) -> dict[str, Any]:
    """Build the structural schema document from the OpenAPI files in ``openapi_dir``."""
    documents: dict[str, Mapping[str, Any]] = {}
    result: dict[str, Any] = {}
    for spec_name, method, path in operations:
        if spec_name not in documents:
            documents[spec_name] = json.loads((openapi_dir / spec_name).read_text("utf-8"))
        resolver = _Resolver(documents[spec_name], spec_name)
        entry = _operation(resolver, documents[spec_name]["paths"][path], method)
        result[f"{method} {path}"] = {"path": path, "spec": spec_name, **entry}
    return {"operations": result}


def render(schema: Mapping[str, Any]) -> str:
    """Serialize deterministically: sorted keys, one-space indent, trailing newline."""
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
            print(f"{args.output} is out of date; run scripts/gen_api_schema.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
