"""The core both schema generators share: OpenAPI document → structural schema of operations.

``scripts/gen_api_schema.py`` (Amazon's OpenAPI 3 JSON files) and ``scripts/gen_aep_schema.py``
(Adobe's YAML files, OpenAPI 3 and Swagger 2) differ only in which documents they read and how
they key the result; what counts as structure, how ``$ref`` is inlined, how an operation's
parameters, bodies and responses come out, how the output is rendered and the ``--check``
command line are the same, and live here so the two files cannot drift apart.

Only structural facts are kept. Schema keywords go through an allow-list, so prose annotations
(``description``, ``summary``, ``title``, ``example(s)``, ``default``) are dropped — while a
*property* that happens to be called ``description`` survives, because property names are data,
not keywords. An unknown keyword is an error rather than a silent drop: if a vendor starts using
one, a human decides whether it is structure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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

PARAMETER_LOCATIONS = ("header", "path", "query")

# Swagger 2 keeps a non-body parameter's schema keywords on the parameter itself.
_PARAMETER_FIELDS = frozenset({"name", "in", "required", "schema", "collectionFormat"})

ACCEPT_MEDIA_TYPE = re.compile(
    r"<code>(application/vnd\.adobe\.[a-z-]+\+json(?:; ?version=\d+)?)</code>"
)
"""An XDM ``Accept`` value (with its version, for lookups) in the Schema Registry's table.

The one fact Adobe publishes only inside prose, lifted on purpose (as ``acceptMediaTypes``):
the sandbox's Accept/version rules depend on it. Amazon's documents never match it.
"""


class SchemaGenerationError(Exception):
    """The OpenAPI input holds something the generators refuse to guess about."""


class OpenApiDocument:
    """One OpenAPI document (OpenAPI 3 or Swagger 2) with local ``$ref`` resolution.

    ``recursive_refs`` says what a schema that refers back to itself becomes: with ``False``
    it is an error (Amazon's documents have none, and the ADM file has no ``definitions``);
    with ``True`` it points at one shared copy under the output's top-level ``definitions``.
    """

    def __init__(
        self, name: str, document: Mapping[str, Any], *, recursive_refs: bool = False
    ) -> None:
        self.name = name
        self._document = document
        self._recursive_refs = recursive_refs
        self.swagger2 = str(document.get("swagger", "")).startswith("2")
        self.definitions: dict[str, dict[str, Any]] = {}
        """Recursive schemas, referenced as ``{"$ref": "#/definitions/<name>"}``."""

    @property
    def base_path(self) -> str:
        """The path the gateway puts before every operation path (``""`` for none)."""
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
        found: Mapping[str, Any] = target
        return found

    def _recursive_definition(self, ref: str) -> str:
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
                if not self._recursive_refs:
                    raise SchemaGenerationError(f"{self.name}: recursive schema via {ref}")
                # A recursive type (an error's ``sub-errors`` are errors): point at one shared
                # copy instead of unrolling forever.
                return {"$ref": f"#/definitions/{self._recursive_definition(ref)}"}
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


def _parameter_schema(document: OpenApiDocument, parameter: Mapping[str, Any]) -> dict[str, Any]:
    if "schema" in parameter or not document.swagger2:
        return document.structural_schema(parameter.get("schema", {}))
    inline = {
        keyword: value
        for keyword, value in parameter.items()
        if keyword not in _PARAMETER_FIELDS and keyword not in ANNOTATION_KEYWORDS
    }
    return document.structural_schema(inline)


def _accept_media_types(parameter: Mapping[str, Any]) -> list[str]:
    return sorted(set(ACCEPT_MEDIA_TYPE.findall(str(parameter.get("description", "")))))


def _content(document: OpenApiDocument, content: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map each media type to its structural schema (``{}`` when none is documented)."""
    return {
        media_type: document.structural_schema(body.get("schema", {}) if body else {})
        for media_type, body in content.items()
    }


def _swagger2_content(
    document: OpenApiDocument, media_types: Sequence[str], schema: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    if schema is None:
        return {}
    structural = document.structural_schema(schema)
    return {media_type: structural for media_type in media_types}


def operation(document: OpenApiDocument, path: str, method: str) -> dict[str, Any]:
    """The structural record of ``method path``: parameters, request body, responses.

    Both dialects come out in one shape: a Swagger 2 ``in: body`` parameter becomes a
    ``requestBody``; ``consumes`` / ``produces`` become media types.
    """
    path_item = document.paths[path]
    spec = path_item[method.lower()]
    parameters: dict[str, dict[str, dict[str, Any]]] = {where: {} for where in PARAMETER_LOCATIONS}
    result: dict[str, Any] = {
        "method": method,
        "operationId": spec["operationId"],
        "parameters": parameters,
    }
    consumes = list(spec.get("consumes", document.default_media_types("consumes")))
    produces = list(spec.get("produces", document.default_media_types("produces")))
    for raw in [*path_item.get("parameters", ()), *spec.get("parameters", ())]:
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
    for status, raw_response in spec.get("responses", {}).items():
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
    if "requestBody" in spec:
        request_body = document.follow(spec["requestBody"])
        result["requestBody"] = {
            "content": _content(document, request_body.get("content") or {}),
            "required": bool(request_body.get("required", False)),
        }
    return result


def render(schema: Mapping[str, Any]) -> str:
    """Serialize deterministically: sorted keys, one-space indent, trailing newline."""
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(
    argv: Sequence[str] | None,
    *,
    description: str,
    build: Callable[[Path], Mapping[str, Any]],
    default_openapi_dir: Path,
    default_output: Path,
    script: str,
) -> int:
    """The generators' command line (``--openapi-dir``, ``--output``, ``--check``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--openapi-dir", type=Path, default=default_openapi_dir)
    parser.add_argument("--output", type=Path, default=default_output)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is out of date"
    )
    args = parser.parse_args(argv)
    text = render(build(args.openapi_dir))
    if args.check:
        current = args.output.read_text("utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run {script}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output}")
    return 0
