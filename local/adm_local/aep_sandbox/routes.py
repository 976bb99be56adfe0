"""The AEP sandbox's operations: which method and path reach which piece of state.

Each route is a method, a path pattern (named groups become path parameters), what its body
is (``json``, ``json-patch``, ``file`` or none) and a function from the request to a reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

from .errors import AepError, bad_request, not_found, problem, xdm_error
from .state import ROW_ERRORS_DIR, AepState

CATALOG = "/data/foundation/catalog"
IMPORT = "/data/foundation/import"
EXPORT = "/data/foundation/export"
REGISTRY = "/data/foundation/schemaregistry"

XED_MEDIA_TYPES = {
    "application/vnd.adobe.xed+json": "raw",
    "application/vnd.adobe.xed-full+json": "full",
    "application/vnd.adobe.xed-full-notext+json": "notext",
    "application/vnd.adobe.xed-full-desc+json": "full",
}
XED_ID_MEDIA_TYPE = "application/vnd.adobe.xed-id+json"


@dataclass(frozen=True)
class AepRequest:
    method: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    """Parsed JSON for JSON routes, the raw bytes for file routes, else ``None``."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    """JSON-ready, or ``bytes`` sent as they are."""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[AepState, AepRequest], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    body: str | None = None
    """``json`` / ``json-patch`` / ``file`` / ``None`` (no body read as input)."""
    operation: str | None = None
    """Its key in ``aep-api-schema.json`` (``None``: not in Adobe's OpenAPI files)."""


def _dataset_ref(dataset_id: str) -> list[str]:
    return [f"@/dataSets/{dataset_id}"]


def _create_dataset(state: AepState, request: AepRequest) -> Reply:
    dataset_id = state.create_dataset(request.body)
    return Reply(201, _dataset_ref(dataset_id), {"Location": f"{CATALOG}/dataSets/{dataset_id}"})


def _list_datasets(state: AepState, request: AepRequest) -> Reply:
    return Reply(200, state.list_datasets(request.query))


def _get_dataset(state: AepState, request: AepRequest) -> Reply:
    dataset = state.dataset(request.params["dataset"])
    return Reply(200, {dataset.id: dataset.document})


def _delete_dataset(state: AepState, request: AepRequest) -> Reply:
    state.delete_dataset(request.params["dataset"])
    return Reply(200, _dataset_ref(request.params["dataset"]))


def _patch_dataset(state: AepState, request: AepRequest) -> Reply:
    state.patch_dataset(request.params["dataset"], request.body)
    return Reply(200, _dataset_ref(request.params["dataset"]))


def _get_batch(state: AepState, request: AepRequest) -> Reply:
    return Reply(200, state.batch(request.params["batch"]))


def _list_batches(state: AepState, request: AepRequest) -> Reply:
    return Reply(200, state.list_batches(request.query))


def _create_batch(state: AepState, request: AepRequest) -> Reply:
    return Reply(201, state.create_batch(request.body))


def _batch_action(state: AepState, request: AepRequest) -> Reply:
    action = request.query.get("action", "").upper()
    if action == "COMPLETE":
        state.complete_batch(request.params["batch"])
    elif action == "ABORT":
        state.abort_batch(request.params["batch"])
    else:
        raise bad_request("action must be COMPLETE or ABORT (FAIL / REVERT: not in the sandbox)")
    return Reply(200)


def _file_key(request: AepRequest) -> tuple[str, str, str]:
    return request.params["batch"], request.params["dataset"], unquote(request.params["file"])


def _put_file(state: AepState, request: AepRequest) -> Reply:
    state.put_file(*_file_key(request), request.body)
    return Reply(200)


def _file_action(state: AepState, request: AepRequest) -> Reply:
    action = request.query.get("action", "").upper()
    if action == "INITIALIZE":
        state.initialize_file(*_file_key(request))
        return Reply(201)
    if action == "COMPLETE":
        state.complete_file(*_file_key(request))
        return Reply(200)
    raise bad_request("action must be INITIALIZE or COMPLETE")


_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)(?:/(\d+|\*))?$")


def _patch_file(state: AepState, request: AepRequest) -> Reply:
    match = _CONTENT_RANGE.match(request.headers.get("Content-Range", "").strip())
    if match is None:
        raise bad_request("Content-Range: bytes <start>-<end> is required")
    start, end = int(match[1]), int(match[2])
    data: bytes = request.body
    if end - start + 1 != len(data):
        raise bad_request("Content-Range does not match the length of the body")
    state.patch_file(*_file_key(request), start, data)
    return Reply(200, headers={"Range": f"bytes=0-{end}"})


def _head_file(state: AepState, request: AepRequest) -> Reply:
    received = state.received_bytes(*_file_key(request))
    return Reply(200, headers={"Range": f"bytes=0-{max(received - 1, 0)}"})


def _meta_entry(batch_id: str, path: str, name: str, length: int) -> dict[str, Any]:
    href = f"{EXPORT}/batches/{batch_id}/meta?path={quote(path + '/' + name, safe='')}"
    return {"name": name, "length": str(length), "_links": {"self": {"href": href}}}


def _batch_meta(state: AepState, request: AepRequest) -> Reply:
    """Data Access: list a meta directory (``row_errors``, ``input_files``) or read a file."""
    batch_id = request.params["batch"]
    path = request.query.get("path", "").strip("/")
    files = state.row_error_files(batch_id)
    if path in files:
        return Reply(200, files[path], content_type="application/json")
    if path == ROW_ERRORS_DIR:
        entries = [
            _meta_entry(batch_id, ROW_ERRORS_DIR, name.split("/", 1)[1], len(data))
            for name, data in sorted(files.items())
        ]
    elif path == "input_files":
        entries = [
            _meta_entry(batch_id, "input_files", name, 0) for name in state.input_files(batch_id)
        ]
    elif path == "":
        entries = [_meta_entry(batch_id, "", name, 0) for name in ("input_files", ROW_ERRORS_DIR)]
    else:
        raise not_found(f"no meta file {path} in batch {batch_id}")
    return Reply(200, {"data": entries, "_page": {"limit": 100, "count": len(entries)}})


def _accepted_form(accept: str | None, *, listing: bool = False) -> str:
    """Apply the registry's ``Accept`` rules; the form of the answer (raw / full / notext / id)."""
    media, _, parameters = (accept or "").partition(";")
    media = media.strip().lower()
    known = {XED_ID_MEDIA_TYPE: "id"} if listing else XED_MEDIA_TYPES
    if media not in known:
        raise xdm_error(406, "XDM-1006-406", "Invalid Accept format", "Invalid Accept format")
    version = re.search(r"version\s*=\s*([^;\s]+)", parameters)
    if version is None and not listing:
        raise xdm_error(
            400,
            "XDM-1007-400",
            "Accept header invalid",
            f"Accept header {media} is invalid (Version should be specified)",
        )
    if version is not None and version[1] != "1":
        raise xdm_error(404, "XDM-1012-404", "Resource Not Found", "no such schema version")
    return known[media]


def _get_schema(state: AepState, request: AepRequest) -> Reply:
    form = _accepted_form(request.headers.get("Accept"))
    schema = state.schema(unquote(request.params["schema"]))
    if schema is None:
        raise xdm_error(404, "XDM-1012-404", "Resource Not Found", "the schema was not found")
    body = schema.raw() if form == "raw" else schema.full(with_text=form != "notext")
    media = next(m for m, f in XED_MEDIA_TYPES.items() if f == form)
    return Reply(200, body, content_type=f"{media}; version=1")


SCHEMA_LIST_LIMIT_MAX = 500


def _list_schemas(state: AepState, request: AepRequest) -> Reply:
    """The tenant's schemas: ``xed-id`` summaries (or ``xed`` documents), paged as documented.

    ``orderby=title`` (``-title`` descending) sorts; ``start`` returns the entries whose title
    sorts strictly after it; ``limit`` (0–500) cuts the page, whose ``_page.next`` and
    ``_links.next`` then announce the next one. ``start`` / ``limit`` without ``orderby`` is a
    400, as the registry documents ("cannot be used without an orderby parameter").
    """
    accept = (request.headers.get("Accept") or "").split(";", 1)[0].strip().lower()
    full = accept == "application/vnd.adobe.xed+json"
    if not full:
        _accepted_form(request.headers.get("Accept"), listing=True)
    query = request.query
    order = query.get("orderby", "")
    if not order and ("start" in query or "limit" in query):
        raise bad_request("start and limit cannot be used without an orderby parameter")
    if order.lstrip("-") not in ("", "title"):
        raise bad_request("the sandbox orders schemas by title only")
    schemas = list(state.schemas)
    descending = order.startswith("-")
    if order:
        schemas.sort(key=lambda schema: schema.title, reverse=descending)
    if "start" in query:
        start = query["start"]
        schemas = [s for s in schemas if (s.title < start if descending else s.title > start)]
    next_start: str | None = None
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            raise bad_request("limit must be an integer") from None
        if not 0 <= limit <= SCHEMA_LIST_LIMIT_MAX:
            raise bad_request(f"limit must be between 0 and {SCHEMA_LIST_LIMIT_MAX}")
        if len(schemas) > limit:
            schemas = schemas[:limit]
            next_start = schemas[-1].title if schemas else None
    results = [schema.raw() if full else schema.summary() for schema in schemas]
    next_uri = None
    if next_start is not None:
        wanted = {"orderby": order, "start": next_start, "limit": query["limit"]}
        next_uri = f"{REGISTRY}/tenant/schemas?{urlencode(wanted)}"
    paging: dict[str, Any] = {"count": len(results), "next": next_uri}
    if order:
        paging["orderby"] = order
    links: dict[str, Any] = {
        "next": {"href": next_uri} if next_uri else None,
        "global_schemas": {"href": f"{REGISTRY}/global/schemas"},
    }
    return Reply(200, {"results": results, "_page": paging, "_links": links})


def _stats(state: AepState, request: AepRequest) -> Reply:
    return Reply(200, {"imsOrg": state.account.org_id, "tenantId": state.account.tenant_id})


_ID = r"[^/]+"
_FILE = rf"{IMPORT}/batches/(?P<batch>{_ID})/datasets/(?P<dataset>{_ID})/files/(?P<file>.+)"


def _route(
    method: str, path: str, handler: Handler, body: str | None = None, *, spec: str | None
) -> Route:
    """A route; ``spec`` is its path in Adobe's OpenAPI (what the schema key is made of)."""
    operation = None if spec is None else f"{method} {spec}"
    return Route(method, re.compile(f"^{path}$"), handler, body, operation)


_SPEC_DATASET = f"{CATALOG}/dataSets/{{DATASET_ID}}"
_SPEC_FILE = f"{IMPORT}/batches/{{batchId}}/datasets/{{datasetId}}/files/{{filePath}}"
_SPEC_SCHEMAS = f"{REGISTRY}/{{CONTAINER_ID}}/schemas"

ROUTES: tuple[Route, ...] = (
    _route("POST", f"{CATALOG}/dataSets", _create_dataset, "json", spec=f"{CATALOG}/dataSets"),
    _route("GET", f"{CATALOG}/dataSets", _list_datasets, spec=f"{CATALOG}/dataSets"),
    _route("GET", f"{CATALOG}/dataSets/(?P<dataset>{_ID})", _get_dataset, spec=_SPEC_DATASET),
    _route("DELETE", f"{CATALOG}/dataSets/(?P<dataset>{_ID})", _delete_dataset, spec=_SPEC_DATASET),
    _route(
        "PATCH",
        f"{CATALOG}/dataSets/(?P<dataset>{_ID})",
        _patch_dataset,
        "json-patch",
        spec=_SPEC_DATASET,
    ),
    _route("GET", f"{CATALOG}/batches", _list_batches, spec=f"{CATALOG}/batches"),
    _route(
        "GET",
        f"{CATALOG}/batches/(?P<batch>{_ID})",
        _get_batch,
        spec=f"{CATALOG}/batches/{{BATCH_ID}}",
    ),
    _route("POST", f"{IMPORT}/batches", _create_batch, "json", spec=f"{IMPORT}/batches"),
    _route(
        "POST",
        f"{IMPORT}/batches/(?P<batch>{_ID})",
        _batch_action,
        spec=f"{IMPORT}/batches/{{batchId}}",
    ),
    _route("PUT", _FILE, _put_file, "file", spec=_SPEC_FILE),
    _route("POST", _FILE, _file_action, spec=_SPEC_FILE),
    _route("PATCH", _FILE, _patch_file, "file", spec=_SPEC_FILE),
    _route("HEAD", _FILE, _head_file, spec=_SPEC_FILE),
    _route(
        "GET",
        f"{EXPORT}/batches/(?P<batch>{_ID})/meta",
        _batch_meta,
        spec=f"{EXPORT}/batches/{{batchId}}/meta",
    ),
    _route("GET", f"{REGISTRY}/tenant/schemas", _list_schemas, spec=_SPEC_SCHEMAS),
    _route(
        "GET",
        f"{REGISTRY}/tenant/schemas/(?P<schema>{_ID})",
        _get_schema,
        spec=f"{_SPEC_SCHEMAS}/{{SCHEMA_ID}}",
    ),
    # The tenant lookup is documented in the guides only, not in the OpenAPI files.
    _route("GET", f"{REGISTRY}/stats", _stats, spec=None),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` and its path parameters; 405 / 404 when there is none."""
    allowed = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed.append(route.method)
    if allowed:
        error = problem(405, "MethodNotAllowed", f"{method} is not allowed on this path")
        raise AepError(405, error.body, {"Allow": ", ".join(sorted(set(allowed)))})
    raise not_found("no such API path")
