"""The AEP client: typed methods over Catalog, Batch Ingestion, Schema Registry and Data Access.

One :class:`AepClient` per credential; keep it across Lambda invocations (pooled connections,
cached IMS token). It runs on ADM's :class:`~adm_ingest.adm.http.Transport` — retries on
429/5xx and dropped connections with backoff honouring ``Retry-After``, within a time budget
per call (:attr:`AepSettings.call_budget`, tightened by :meth:`AepClient.set_deadline`) — with
Adobe's request-id header, ``aep_*`` log keys and :mod:`adm_ingest.aep.errors` exceptions.

Every call carries the four identity headers of :meth:`ImsTokenProvider.headers`. A gateway
``401013`` (token invalid or expired) forgets exactly that token and sends the call once more
with a new one; a second ``401013`` is :class:`~adm_ingest.aep.errors.AepTokenRejected`.
File bodies are streamed from a file object, never read whole into memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import orjson
import requests

from adm_ingest.adm.errors import RetryableError, parse_error_body
from adm_ingest.adm.http import Deadline, Transport, TransportClient
from adm_ingest.aep import operations as ops
from adm_ingest.aep.auth import AepCredentials, ImsTokenProvider
from adm_ingest.aep.endpoints import AepSettings
from adm_ingest.aep.errors import (
    REQUEST_ID_HEADER,
    TOKEN_REJECTED,
    AepApiError,
    AepTokenRejected,
    aep_error,
    aep_error_code,
)
from adm_ingest.aep.models import (
    Batch,
    Dataset,
    MetaFile,
    RowError,
    SchemaSummary,
    dataset_id_from_refs,
    keyed_by_id,
)
from adm_ingest.aep.operations import Operation
from adm_ingest.attempts import AttemptStats

FileBody = bytes | IO[bytes]
"""A file's content: bytes, or a binary file object streamed from its current position."""

XDM_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"
CATALOG_PAGE_LIMIT = 100
"""Catalog's largest ``limit`` (default 20)."""
SCHEMA_PAGE_LIMIT = 100
"""Schema Registry listing ``limit`` (a hint, 0–500; needs ``orderby``)."""
ROW_ERRORS = "row_errors"
DEFAULT_PART_SIZE = 256 * 1024 * 1024
"""Large-file part size: Adobe accepts parts up to 512,000,000 bytes; stay at the PUT limit."""

_PROFILE_ENABLED = ["enabled:true"]


def _was_completed(batch: Batch) -> bool:
    # Past "loading" and not given up: a COMPLETE took effect before.
    return batch.status not in {"loading", "aborted", "abandoned"}


def _was_aborted(batch: Batch) -> bool:
    return batch.status == "aborted"


@dataclass(frozen=True, slots=True)
class ContentRange:
    """A large-file part's place in the file: ``bytes <start>-<end>[/<total>]``, end inclusive."""

    start: int
    length: int
    total: int | None = None

    def __post_init__(self) -> None:
        if self.start < 0 or self.length <= 0:
            raise ValueError("a part starts at 0 or later and holds at least one byte")

    @property
    def header(self) -> str:
        """The ``Content-Range`` value."""
        text = f"bytes {self.start}-{self.start + self.length - 1}"
        return text if self.total is None else f"{text}/{self.total}"


class _FilePart(io.RawIOBase):
    """``length`` bytes of ``source`` from ``start``, as a seekable stream of their own.

    Lets each PATCH of a large file stream its part (and rewind it for a retry) without
    copying the part into memory.
    """

    def __init__(self, source: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self._source = source
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = min(max(0, base + offset), self._length)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        self._source.seek(self._start + self._position)
        chunk = self._source.read(wanted)
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def _json(response: requests.Response) -> Any:
    return orjson.loads(response.content) if response.content else {}


def _object(response: requests.Response) -> Mapping[str, Any]:
    body = _json(response)
    return body if isinstance(body, Mapping) else {}


def _only_entry(body: Mapping[str, Any], wanted: str) -> tuple[str, Mapping[str, Any]]:
    entries = dict(keyed_by_id(body))
    if wanted in entries:
        return wanted, entries[wanted]
    if len(entries) == 1:
        return next(iter(entries.items()))
    raise AepApiError(200, "UNEXPECTED_BODY", f"Catalog's answer holds no entry for {wanted}")


def _next_schema_start(body: Mapping[str, Any], page: list[SchemaSummary]) -> str | None:
    """Where the next Schema Registry page starts, or None when this page was the last.

    The next page is announced by ``_links.next.href`` or ``_page.next`` (a URI, ``null`` on the
    last page); its ``start`` is taken from that URI, else it is the last title of this page
    (``start`` is "the maximum value of the primary sort property" seen so far).
    """
    links = body.get("_links")
    paging = body.get("_page")
    next_link = links.get("next") if isinstance(links, Mapping) else None
    candidates = (
        next_link.get("href") if isinstance(next_link, Mapping) else next_link,
        paging.get("next") if isinstance(paging, Mapping) else None,
    )
    announced = [str(value) for value in candidates if isinstance(value, str) and value]
    if not announced or not page:
        return None
    for uri in announced:
        starts = parse_qs(urlsplit(uri).query).get("start")
        if starts:
            return starts[0]
    return page[-1].title


def aep_transport(settings: AepSettings) -> Transport:
    """ADM's transport speaking AEP: Adobe's request-id header, ``aep_*`` log keys, AEP errors.

    Build a shared transport with this (not a bare ``Transport()``, whose defaults are Amazon's).
    """
    return Transport(
        timeouts=settings.timeouts,
        retry=settings.retry,
        pool_size=settings.pool_size,
        request_id_header=REQUEST_ID_HEADER,
        log_prefix="aep",
        error_for=aep_error,
    )


class AepClient(TransportClient):
    """Typed access to the Platform APIs an AEP batch ingestion needs, for one credential."""

    def __init__(
        self,
        credentials: AepCredentials,
        settings: AepSettings,
        transport: Transport | None = None,
        *,
        tokens: ImsTokenProvider | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._transport = transport or aep_transport(settings)
        self.tokens = tokens or ImsTokenProvider(credentials, settings, self._transport)
        self._deadline = deadline
        self.stats = AttemptStats()
        """Every Platform attempt since the last :meth:`take_stats` (token requests excluded)."""

    @classmethod
    def from_secret(cls, secret_id: str, settings: AepSettings | None = None) -> AepClient:
        """A client for the credential in Secrets Manager secret ``secret_id``.

        ``settings`` default to Adobe's hosts overridden by ``AEP_API_URL`` / ``AEP_IMS_URL``.
        """
        return cls(AepCredentials.from_secret(secret_id), settings or AepSettings.from_environ())

    def __repr__(self) -> str:
        return f"AepClient(api_url={self.settings.api_url!r}, credentials={self._credentials!r})"

    @property
    def credentials(self) -> AepCredentials:
        """Who this client calls as (its org, sandbox and tenant)."""
        return self._credentials

    # -- Catalog: datasets ----------------------------------------------------------------

    def create_dataset(
        self,
        name: str,
        schema_id: str,
        *,
        description: str | None = None,
        profile: bool = False,
        identity: bool = False,
    ) -> str:
        """Create a dataset for XDM schema ``schema_id`` (its ``$id``); return the dataset id.

        ``profile`` / ``identity`` tag it for Real-Time Customer Profile / Identity Service
        (the schema must be Profile-enabled). Not replayed on a transient failure: list by name
        first, the dataset may exist.
        """
        body: dict[str, Any] = {
            "name": name,
            "schemaRef": {"id": schema_id, "contentType": XDM_SCHEMA_CONTENT_TYPE},
            "fileDescription": {
                "persisted": True,
                "containerFormat": "parquet",
                "format": "parquet",
            },
        }
        if description is not None:
            body["description"] = description
        tags = {}
        if profile:
            tags["unifiedProfile"] = _PROFILE_ENABLED
        if identity:
            tags["unifiedIdentity"] = _PROFILE_ENABLED
        if tags:
            body["tags"] = tags
        response = self._call(ops.CREATE_DATASET, body=orjson.dumps(body))
        try:
            return dataset_id_from_refs(_json(response))
        except ValueError as exc:
            raise AepApiError(response.status_code, "UNEXPECTED_BODY", str(exc)) from None

    def list_datasets(self, name: str | None = None) -> Iterator[Dataset]:
        """Every dataset (named ``name`` when given), paging with ``limit`` / ``start``."""
        params = {"name": name} if name is not None else {}
        for dataset_id, body in self._catalog_pages(ops.LIST_DATASETS, params):
            yield Dataset.from_api(dataset_id, body)

    def get_dataset(self, dataset_id: str) -> Dataset:
        """One dataset (:class:`~adm_ingest.aep.errors.AepNotFound` when it does not exist)."""
        response = self._call(ops.GET_DATASET, path_values={"dataset": dataset_id})
        return Dataset.from_api(*_only_entry(_object(response), dataset_id))

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its data."""
        self._call(ops.DELETE_DATASET, path_values={"dataset": dataset_id})

    def enable_profile(
        self, dataset_id: str, *, profile: bool = True, identity: bool = False
    ) -> None:
        """Enable the dataset for Profile and/or Identity Service by JSON Patch of its tags.

        Adds ``unifiedProfile`` (when ``profile``) and ``unifiedIdentity`` (when ``identity``)
        as ``["enabled:true"]``; adding a tag that is already there changes nothing.
        """
        patch = []
        if profile:
            patch.append({"op": "add", "path": "/tags/unifiedProfile", "value": _PROFILE_ENABLED})
        if identity:
            patch.append({"op": "add", "path": "/tags/unifiedIdentity", "value": _PROFILE_ENABLED})
        if not patch:
            return
        self._call(ops.PATCH_DATASET, path_values={"dataset": dataset_id}, body=orjson.dumps(patch))

    # -- Catalog: batches -----------------------------------------------------------------

    def get_batch(self, batch_id: str) -> Batch:
        """A batch's status, metrics and errors."""
        response = self._call(ops.GET_BATCH, path_values={"batch": batch_id})
        found_id, body = _only_entry(_object(response), batch_id)
        return Batch.from_api(body, found_id)

    def list_batches(
        self, *, external_id: str | None = None, dataset_id: str | None = None
    ) -> Iterator[Batch]:
        """Batches with this ``externalId`` / of this dataset (all when neither), paged."""
        params: dict[str, str] = {}
        if external_id is not None:
            params["externalId"] = external_id
        if dataset_id is not None:
            params["dataSet"] = dataset_id
        for batch_id, body in self._catalog_pages(ops.LIST_BATCHES, params):
            yield Batch.from_api(body, batch_id)

    # -- Batch Ingestion ------------------------------------------------------------------

    def create_batch(
        self,
        dataset_id: str,
        *,
        external_id: str,
        enable_error_diagnostics: bool = True,
        partial_ingestion_percent: float | None = None,
    ) -> Batch:
        """Open a JSON Lines batch on ``dataset_id`` (status ``loading``).

        ``external_id`` identifies the batch for this client (list by it before creating again:
        the create is not replayed after a transient failure). ``partial_ingestion_percent``
        lets AEP ingest the good rows when at most that share fails.
        """
        body: dict[str, Any] = {
            "datasetId": dataset_id,
            "inputFormat": {"format": "json"},
            "enableErrorDiagnostics": enable_error_diagnostics,
            "externalId": external_id,
        }
        if partial_ingestion_percent is not None:
            body["partialIngestionPercent"] = partial_ingestion_percent
        return Batch.from_api(_object(self._call(ops.CREATE_BATCH, body=orjson.dumps(body))))

    def put_file(self, batch_id: str, dataset_id: str, name: str, body: FileBody) -> None:
        """Upload one file (≤ 256 MB) into the batch; a second PUT of ``name`` replaces it.

        A file object is streamed from its current position (and rewound there for a retry
        when it can seek; one that cannot is sent once).
        """
        self._call(ops.PUT_FILE, path_values=self._file(batch_id, dataset_id, name), body=body)

    def initialize_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        """Start a large-file upload (then :meth:`patch_file` its parts, :meth:`complete_file`)."""
        self._file_action(batch_id, dataset_id, name, "INITIALIZE")

    def patch_file(
        self,
        batch_id: str,
        dataset_id: str,
        name: str,
        part: FileBody,
        content_range: ContentRange,
    ) -> None:
        """Upload one part of a large file at ``content_range`` (its length must match)."""
        self._call(
            ops.PATCH_FILE,
            path_values=self._file(batch_id, dataset_id, name),
            body=part,
            headers={"Content-Range": content_range.header},
        )

    def complete_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        """Finish a large-file upload (AEP checks here that the parts cover the file)."""
        self._file_action(batch_id, dataset_id, name, "COMPLETE")

    def upload_large_file(
        self,
        batch_id: str,
        dataset_id: str,
        name: str,
        source: IO[bytes],
        *,
        size: int,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> int:
        """Upload ``size`` bytes of seekable ``source`` (from position 0) as a large file.

        INITIALIZE, one PATCH per ``part_size`` bytes (each streamed from ``source``, never
        held whole), COMPLETE. Returns the number of parts. Every step is safe to repeat.
        """
        if size <= 0 or part_size <= 0:
            raise ValueError("a large file and its parts hold at least one byte")
        self.initialize_file(batch_id, dataset_id, name)
        parts = 0
        for start in range(0, size, part_size):
            length = min(part_size, size - start)
            part = io.BufferedReader(_FilePart(source, start, length))
            self.patch_file(
                batch_id, dataset_id, name, part, ContentRange(start, length, total=size)
            )
            parts += 1
        self.complete_file(batch_id, dataset_id, name)
        return parts

    def complete_batch(self, batch_id: str) -> None:
        """COMPLETE the batch: AEP starts promoting its files (poll :meth:`get_batch`).

        Idempotent: when AEP refuses a repeat COMPLETE because the batch is past ``loading``
        (already completed, processing or final), that is success.
        """
        self._batch_action(batch_id, "COMPLETE", done=_was_completed)

    def abort_batch(self, batch_id: str) -> None:
        """ABORT the batch (only before it is final); a repeat on an aborted batch is success."""
        self._batch_action(batch_id, "ABORT", done=_was_aborted)

    # -- Schema Registry ------------------------------------------------------------------

    def get_schema(self, schema_id: str, *, container: str = "tenant") -> Mapping[str, Any]:
        """The schema (``$id`` or ``meta:altId``) resolved in full (``xed-full``, version 1)."""
        response = self._call(
            ops.GET_SCHEMA, path_values={"container": container, "schema": schema_id}
        )
        return _object(response)

    def list_schemas(self, *, container: str = "tenant") -> Iterator[SchemaSummary]:
        """Every schema of the container (``$id``, ``meta:altId``, title), ordered by title.

        Pages as the registry documents it: ``orderby=title`` with ``limit``, and the next page
        ``start``s after the previous page (the start its ``_links.next`` names, else the last
        title seen) for as long as the answer says there is a next page.
        """
        params: dict[str, str] = {"orderby": "title", "limit": str(SCHEMA_PAGE_LIMIT)}
        seen: set[str] = set()
        while True:
            response = self._call(
                ops.LIST_SCHEMAS, path_values={"container": container}, params=params
            )
            body = _object(response)
            results = body.get("results")
            page = [
                SchemaSummary.from_api(item)
                for item in (results if isinstance(results, list) else ())
                if isinstance(item, Mapping)
            ]
            fresh = [schema for schema in page if schema.id not in seen]
            yield from fresh
            seen.update(schema.id for schema in fresh)
            start = _next_schema_start(body, page)
            # No next page, or a page of nothing new (a server ignoring start): done.
            if start is None or not fresh or start == params.get("start"):
                return
            params = {**params, "start": start}

    # -- Data Access ----------------------------------------------------------------------

    def row_error_files(self, batch_id: str) -> list[MetaFile]:
        """The batch's ``row_errors`` diagnostics files (none when every row was fine)."""
        response = self._call(
            ops.BATCH_META,
            path_values={"batch": batch_id},
            params={"path": ROW_ERRORS},
            allow_not_found=True,
        )
        return self._meta_files(response)

    def batch_failed_files(self, batch_id: str) -> list[MetaFile]:
        """The files of a failed batch (Data Access ``/failed``)."""
        response = self._call(
            ops.BATCH_FAILED, path_values={"batch": batch_id}, allow_not_found=True
        )
        return self._meta_files(response)

    def row_errors(self, batch_id: str) -> Iterator[RowError]:
        """Every row error in the batch's diagnostics files: codes and positions, no values."""
        for meta_file in self.row_error_files(batch_id):
            response = self._call(
                ops.BATCH_META,
                path_values={"batch": batch_id},
                params={"path": f"{ROW_ERRORS}/{meta_file.name}"},
            )
            for line in response.content.splitlines():
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # never quote the line: it is a customer's row
                if isinstance(record, Mapping):
                    yield from RowError.from_api(record, error_file=meta_file.name)

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _file(batch_id: str, dataset_id: str, name: str) -> dict[str, str]:
        return {"batch": batch_id, "dataset": dataset_id, "file": name}

    def _file_action(self, batch_id: str, dataset_id: str, name: str, action: str) -> None:
        self._call(
            ops.FILE_ACTION,
            path_values=self._file(batch_id, dataset_id, name),
            params={"action": action},
            body=b"",
        )

    def _batch_action(self, batch_id: str, action: str, *, done: Callable[[Batch], bool]) -> None:
        try:
            self._call(ops.BATCH_ACTION, path_values={"batch": batch_id}, params={"action": action})
        except AepApiError as refused:
            if refused.status not in (400, 409, 422):
                raise
            # A repeat of an action that already took effect: the batch's state says so.
            if not done(self.get_batch(batch_id)):
                raise

    @staticmethod
    def _meta_files(response: requests.Response) -> list[MetaFile]:
        if response.status_code == 404:
            return []
        data = _object(response).get("data")
        return [
            MetaFile.from_api(item)
            for item in (data if isinstance(data, list) else ())
            if isinstance(item, Mapping)
        ]

    def _catalog_pages(
        self, operation: Operation, params: Mapping[str, str]
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Entries of a keyed-by-id Catalog listing, page by page until a short page."""
        start = 0
        seen: set[str] = set()
        while True:
            response = self._call(
                operation, params={**params, "limit": CATALOG_PAGE_LIMIT, "start": start}
            )
            page = list(keyed_by_id(_object(response)))
            fresh = [(key, body) for key, body in page if key not in seen]
            yield from fresh
            seen.update(key for key, _ in fresh)
            # A short page is the last; a page of nothing new means the server ignores start.
            if len(page) < CATALOG_PAGE_LIMIT or not fresh:
                return
            start += len(page)

    def _call(
        self,
        operation: Operation,
        *,
        path_values: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: FileBody | None = None,
        headers: Mapping[str, str] | None = None,
        allow_not_found: bool = False,
    ) -> requests.Response:
        """Send ``operation``; return a successful (or allowed 404) response, else raise."""
        url = self.settings.api_url + operation.path_for(**(path_values or {}))
        deadline = self._transport.deadline_after(self.settings.call_budget).earliest(
            self._deadline
        )
        call_stats = AttemptStats()
        try:
            response = self._send(operation, url, deadline, params, body, headers, call_stats)
        except RetryableError as error:
            error.maybe_delivered = error.maybe_delivered or call_stats.maybe_delivered
            raise
        finally:
            self.stats.add(call_stats)
        if response.status_code < 400 or (allow_not_found and response.status_code == 404):
            return response
        raise aep_error(
            response.status_code, response.content, response.headers.get(REQUEST_ID_HEADER)
        )

    def _send(
        self,
        operation: Operation,
        url: str,
        deadline: Deadline,
        params: Mapping[str, Any] | None,
        body: FileBody | None,
        extra_headers: Mapping[str, str] | None,
        stats: AttemptStats,
    ) -> requests.Response:
        """The response to ``operation``, after one new token on a gateway ``401013``."""
        stream = None if body is None or isinstance(body, bytes) else body
        start = stream.tell() if stream is not None and stream.seekable() else None
        for attempt in (1, 2):
            if attempt == 2 and stream is not None:
                if start is None:
                    raise RetryableError(
                        f"{operation.method} {operation.path}: the access token was rejected "
                        "(401013) and the body cannot be sent again; retry with a new token"
                    )
                stream.seek(start)
            headers = self.tokens.headers(deadline=deadline)
            sent_token = headers["Authorization"].removeprefix("Bearer ")
            headers["Accept"] = operation.accept
            if body is not None and operation.content_type is not None:
                headers["Content-Type"] = operation.content_type
            headers.update(extra_headers or {})
            # A 401 is a refusal before anything happened: one more send is safe for creates.
            response = self._transport.request(
                operation.method,
                url,
                deadline=deadline,
                replay_safe=operation.replay_safe,
                headers=headers,
                params=params,
                data=body,
                stats=stats,
            )
            if response.status_code != 401:
                return response
            if aep_error_code(401, parse_error_body(response.content)) != TOKEN_REJECTED:
                return response
            response.close()
            self.tokens.invalidate(sent_token)
        raise AepTokenRejected(
            401,
            TOKEN_REJECTED,
            f"{operation.method} {operation.path}: the gateway rejected a freshly issued "
            "access token; check that the credential's product profile grants Experience "
            "Platform access in this org and sandbox",
            response.headers.get(REQUEST_ID_HEADER),
        )
