"""What the AEP sandbox holds: datasets (Catalog), batches and their files (Batch Ingestion),
and what promotion made of them (metrics, errors, ``row_errors`` files for Data Access).

A batch is ``loading`` until COMPLETE, then ``processing`` for ``processing_delay`` seconds,
then ``success`` or ``failed``; ABORT turns a ``loading`` batch ``aborted``. The outcome is
computed when COMPLETE is accepted (the files can no longer change) and shown once the delay
has passed, so a poller sees the states in order. Callers hold no lock: every method takes it.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request, not_found
from .ims import AepAccount
from .schemas import SeededSchema, seeded_schemas
from .xdm import validate_row

CATALOG_LIMIT_DEFAULT = 20
CATALOG_LIMIT_MAX = 100
FINAL_STATES = frozenset({"success", "failed", "aborted", "abandoned"})

PARSING_ERRORS_FILE = "parsing_errors_0.json"
CONVERSION_ERRORS_FILE = "conversion_errors_0.json"
ROW_ERRORS_DIR = "row_errors"

CORRUPT_ROW = ("INGEST-1401-400", "The row has corrupted data and cannot be read or parsed.")
MISSING_FIELD = (
    "INGEST-1555-400",
    "A required field is either missing or has a value of null or empty.",
)
INVALID_FIELD = (
    # No code for a type / constraint violation is documented (AEP-NOTES §4): the sandbox's own.
    "INGEST-1556-400",
    "A field's value does not match its XDM type or constraint.",
)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Dataset:
    id: str
    name: str
    schema: SeededSchema
    document: dict[str, Any]
    """The Catalog object as returned (``name``, ``schemaRef``, ``tags``…)."""


@dataclass
class LargeUpload:
    """A file on the large-file path: INITIALIZEd, receiving PATCHed ranges until COMPLETE."""

    parts: dict[int, bytes] = field(default_factory=dict)
    """Start offset → bytes received there."""

    def received(self) -> int:
        return sum(len(part) for part in self.parts.values())

    def assemble(self) -> bytes:
        """The whole file; a gap or an overlap between parts is a 400, as AEP finds it here."""
        offset, pieces = 0, []
        for start in sorted(self.parts):
            if start != offset:
                raise bad_request("file chunks overlap or leave a gap; upload the missing range")
            pieces.append(self.parts[start])
            offset += len(self.parts[start])
        return b"".join(pieces)


@dataclass
class Outcome:
    """What promotion made of a completed batch."""

    status: str
    metrics: dict[str, int]
    errors: list[dict[str, Any]]
    row_error_files: dict[str, bytes]


@dataclass
class Batch:
    id: str
    dataset_id: str
    external_id: str
    input_format: dict[str, Any]
    diagnostics: bool
    partial_percent: float
    created: int
    status: str = "loading"
    updated: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, LargeUpload] = field(default_factory=dict)
    completed_at: float | None = None
    """``time.monotonic()`` of the accepted COMPLETE."""
    opened_at: float = field(default_factory=time.monotonic)
    outcome: Outcome | None = None


def _matches_name(name: str, wanted: str) -> bool:
    """Catalog's simple name filter: comma-separated alternatives, ``*`` wildcards, ``!x``."""
    if wanted.startswith("!"):
        return not _matches_name(name, wanted[1:])
    return any(
        re.fullmatch(".*".join(re.escape(part) for part in option.split("*")), name)
        for option in wanted.split(",")
    )


def _page(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", CATALOG_LIMIT_DEFAULT))
        start = int(query.get("start", 0))
    except ValueError:
        raise bad_request("limit and start must be integers") from None
    if not 1 <= limit <= CATALOG_LIMIT_MAX:
        raise bad_request(f"limit must be between 1 and {CATALOG_LIMIT_MAX}")
    if start < 0:
        raise bad_request("start must be zero or more")
    return limit, start


class AepState:
    """The org's datasets, batches and schemas, behind one lock."""

    def __init__(
        self, account: AepAccount, processing_delay: float, abandon_after: float | None = None
    ) -> None:
        self.account = account
        self.processing_delay = processing_delay
        self.abandon_after = abandon_after
        """Seconds a batch may stay ``loading`` before it is ``abandoned`` (Adobe's timeout is
        not documented; ``None``: never)."""
        self.schemas = seeded_schemas(account.tenant_id)
        self._datasets: dict[str, Dataset] = {}
        self._batches: dict[str, Batch] = {}
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            self._datasets.clear()
            self._batches.clear()

    # -- Schema Registry ------------------------------------------------------------------

    def add_schema(self, schema: SeededSchema) -> None:
        """Add a schema to the tenant's registry (``reset`` keeps it)."""
        with self._lock:
            self.schemas.append(schema)

    def schema(self, id_or_alt_id: str) -> SeededSchema | None:
        return next((s for s in self.schemas if id_or_alt_id in (s.id, s.alt_id)), None)

    # -- Catalog: datasets ----------------------------------------------------------------

    def create_dataset(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise bad_request("name is required")
        ref = body.get("schemaRef")
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
            raise bad_request("schemaRef.id is required")
        schema = self.schema(ref["id"])
        if schema is None:
            raise bad_request("There was a problem retrieving xdm schema")
        tags = body.get("tags", {})
        if not isinstance(tags, dict):
            raise bad_request("tags must be an object of string arrays")
        dataset_id = secrets.token_hex(12)
        now = _now_ms()
        document = {
            "name": body["name"],
            "description": body.get("description", ""),
            "imsOrg": self.account.org_id,
            "tags": tags,
            "version": "1.0.0",
            "created": now,
            "updated": now,
            "createdClient": self.account.client_id,
            "createdUser": f"{self.account.client_id}@AdobeID",
            "updatedUser": f"{self.account.client_id}@AdobeID",
            "viewId": secrets.token_hex(12),
            "files": f"@/dataSetFiles?dataSetId={dataset_id}",
            "schemaRef": {
                "id": schema.id,
                "contentType": ref.get("contentType", "application/vnd.adobe.xed+json;version=1"),
            },
            "fileDescription": body.get("fileDescription", {}),
        }
        with self._lock:
            self._datasets[dataset_id] = Dataset(dataset_id, body["name"], schema, document)
        return dataset_id

    def list_datasets(self, query: Mapping[str, str]) -> dict[str, Any]:
        limit, start = _page(query)
        with self._lock:
            found = [
                d
                for d in self._datasets.values()
                if "name" not in query or _matches_name(d.name, query["name"])
            ]
        return {d.id: d.document for d in found[start : start + limit]}

    def dataset(self, dataset_id: str) -> Dataset:
        with self._lock:
            dataset = self._datasets.get(dataset_id)
        if dataset is None:
            raise not_found(f"dataset {dataset_id} not found")
        return dataset

    def delete_dataset(self, dataset_id: str) -> None:
        with self._lock:
            if self._datasets.pop(dataset_id, None) is None:
                raise not_found(f"dataset {dataset_id} not found")

    def patch_dataset(self, dataset_id: str, operations: Any) -> None:
        """JSON Patch ``add`` / ``replace`` on ``/tags/<name>`` (enabling Profile / Identity)."""
        dataset = self.dataset(dataset_id)
        if not isinstance(operations, list):
            raise bad_request("the body must be a JSON Patch array")
        with self._lock:
            for operation in operations:
                if not isinstance(operation, dict):
                    raise bad_request("each JSON Patch operation must be an object")
                path = str(operation.get("path", ""))
                if operation.get("op") not in ("add", "replace") or not path.startswith("/tags/"):
                    raise bad_request("the sandbox supports add / replace on /tags/<name>")
                dataset.document["tags"][path.removeprefix("/tags/")] = operation.get("value")
            dataset.document["updated"] = _now_ms()

    # -- Batch Ingestion ------------------------------------------------------------------

    def create_batch(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        dataset_id = body.get("datasetId")
        if not isinstance(dataset_id, str):
            raise bad_request("datasetId is required")
        self.dataset(dataset_id)
        input_format = body.get("inputFormat")
        if not isinstance(input_format, dict) or not isinstance(input_format.get("format"), str):
            raise bad_request("inputFormat.format is required")
        if input_format["format"].lower() != "json":
            raise bad_request("the sandbox ingests inputFormat.format json only")
        # The field's name is in conflict across Adobe's docs (AEP-NOTES §5): accept both.
        percent = body.get("partialIngestionPercent", body.get("partialIngestionPercentage", 0))
        if not isinstance(percent, (int, float)) or isinstance(percent, bool):
            raise bad_request("partialIngestionPercent must be a number")
        if not 0 <= percent <= 100:
            raise bad_request("partialIngestionPercent must be between 0 and 100")
        diagnostics = body.get("enableErrorDiagnostics", False)
        if not isinstance(diagnostics, bool):
            raise bad_request("enableErrorDiagnostics must be a boolean")
        batch_id = "01" + secrets.token_hex(12).upper()
        external_id = body.get("externalId", batch_id)
        if not isinstance(external_id, str) or not external_id:
            raise bad_request("externalId must be a non-empty string")
        now = _now_ms()
        batch = Batch(
            batch_id, dataset_id, external_id, dict(input_format), diagnostics or percent > 0,
            float(percent), now, updated=now,
        )  # fmt: skip
        with self._lock:
            self._batches[batch_id] = batch
            return self._batch_document(batch)

    def _batch(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise not_found(f"batch {batch_id} not found")
        self._settle(batch)
        return batch

    def _settle(self, batch: Batch) -> None:
        """Reveal a processed batch's outcome once the processing delay has passed; abandon a
        batch left ``loading`` too long."""
        if (
            batch.status == "loading"
            and self.abandon_after is not None
            and time.monotonic() - batch.opened_at >= self.abandon_after
        ):
            batch.status = "abandoned"
            batch.updated = _now_ms()
        if batch.status != "processing" or batch.outcome is None or batch.completed_at is None:
            return
        if time.monotonic() - batch.completed_at >= self.processing_delay:
            batch.status = batch.outcome.status
            batch.updated = _now_ms()

    def _loading_batch(self, batch_id: str, dataset_id: str) -> Batch:
        batch = self._batch(batch_id)
        if batch.dataset_id != dataset_id:
            raise bad_request(f"batch {batch_id} does not belong to dataset {dataset_id}")
        if batch.status != "loading":
            raise bad_request(f"batch {batch_id} is {batch.status}: files can no longer change")
        return batch

    def put_file(self, batch_id: str, dataset_id: str, name: str, data: bytes) -> None:
        """Store (or replace) one small file."""
        with self._lock:
            batch = self._loading_batch(batch_id, dataset_id)
            batch.uploads.pop(name, None)
            batch.files[name] = data
            batch.updated = _now_ms()

    def initialize_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        with self._lock:
            batch = self._loading_batch(batch_id, dataset_id)
            batch.uploads[name] = LargeUpload()

    def _upload(self, batch_id: str, dataset_id: str, name: str) -> LargeUpload:
        upload = self._loading_batch(batch_id, dataset_id).uploads.get(name)
        if upload is None:
            raise bad_request(f"{name} was not initialized for a large-file upload")
        return upload

    def patch_file(
        self, batch_id: str, dataset_id: str, name: str, start: int, data: bytes
    ) -> None:
        with self._lock:
            self._upload(batch_id, dataset_id, name).parts[start] = data

    def received_bytes(self, batch_id: str, dataset_id: str, name: str) -> int:
        with self._lock:
            batch = self._batch(batch_id)
            if name in batch.uploads:
                return batch.uploads[name].received()
            if name in batch.files:
                return len(batch.files[name])
        raise not_found(f"{name} not found in batch {batch_id}")

    def complete_file(self, batch_id: str, dataset_id: str, name: str) -> None:
        with self._lock:
            batch = self._loading_batch(batch_id, dataset_id)
            batch.files[name] = self._upload(batch_id, dataset_id, name).assemble()
            del batch.uploads[name]

    def complete_batch(self, batch_id: str) -> None:
        """COMPLETE: idempotent once accepted (AEP-NOTES §3: "safe to retry")."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.status in ("processing", "success", "failed"):
                return
            if batch.status != "loading":
                raise bad_request(f"batch {batch_id} is {batch.status} and cannot be completed")
            if batch.uploads:
                raise bad_request("a large-file upload of this batch was not completed")
            if not batch.files:
                raise bad_request("106: Dataset file is empty. Please upload file with data.")
            dataset = self._datasets.get(batch.dataset_id)
            if dataset is None:
                raise not_found(f"dataset {batch.dataset_id} not found")
            batch.outcome = _promote(batch, dataset.schema.full())
            batch.status = "processing"
            batch.completed_at = time.monotonic()
            batch.updated = _now_ms()
            self._settle(batch)

    def abort_batch(self, batch_id: str) -> None:
        """ABORT: only while ``loading`` (a completed batch "cannot be aborted")."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.status == "aborted":
                return
            if batch.status != "loading":
                raise bad_request(f"batch {batch_id} is {batch.status} and cannot be aborted")
            batch.status = "aborted"
            batch.files.clear()
            batch.uploads.clear()
            batch.updated = _now_ms()

    # -- Catalog: batches, Data Access ----------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            return {batch_id: self._batch_document(self._batch(batch_id))}

    def list_batches(self, query: Mapping[str, str]) -> dict[str, Any]:
        limit, start = _page(query)
        filters: dict[str, Callable[[Batch], str]] = {
            "externalId": lambda b: b.external_id,
            "dataSet": lambda b: b.dataset_id,
            "status": lambda b: b.status,
            "batch": lambda b: b.id,
        }
        with self._lock:
            found = []
            for batch in self._batches.values():
                self._settle(batch)
                if all(
                    key not in query or value(batch) in query[key].split(",")
                    for key, value in filters.items()
                ):
                    found.append(batch)
            return {b.id: self._batch_document(b) for b in found[start : start + limit]}

    def row_error_files(self, batch_id: str) -> dict[str, bytes]:
        """The batch's ``row_errors`` files (none before its outcome is shown)."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.outcome is None or batch.status not in FINAL_STATES:
                return {}
            return dict(batch.outcome.row_error_files)

    def files_of(self, batch_id: str) -> dict[str, bytes]:
        """A batch's files as received (for tests and the demo: Data Access serves no input
        file back)."""
        with self._lock:
            return dict(self._batch(batch_id).files)

    def input_files(self, batch_id: str) -> list[str]:
        with self._lock:
            return sorted(self._batch(batch_id).files)

    def _batch_document(self, batch: Batch) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": batch.id,
            "imsOrg": self.account.org_id,
            "status": batch.status,
            "created": batch.created,
            "updated": batch.updated,
            "createdClient": self.account.client_id,
            "createdUser": f"{self.account.client_id}@AdobeID",
            "updatedUser": f"{self.account.client_id}@AdobeID",
            "externalId": batch.external_id,
            "inputFormat": batch.input_format,
            "relatedObjects": [{"type": "dataSet", "id": batch.dataset_id}],
            "version": "1.0.0",
            "tags": {
                "acp_enableErrorDiagnostics": batch.diagnostics,
                "acp_partialIngestionPercent": batch.partial_percent,
            },
        }
        outcome = batch.outcome
        if outcome is not None and batch.status in ("success", "failed"):
            if outcome.metrics:
                document["metrics"] = outcome.metrics
                document["recordCount"] = outcome.metrics["outputRecordCount"]
                document["failedRecordCount"] = outcome.metrics["failedRecordCount"]
            if outcome.errors:
                document["errors"] = outcome.errors
        return document


def _rows(batch: Batch) -> list[tuple[str, int, str]]:
    """Every row of the batch's files as (file name, 1-based line, text); blank lines skipped.
    A multi-line JSON file (``isMultiLineJson``) is one array: its elements are the rows."""
    rows: list[tuple[str, int, str]] = []
    for name in sorted(batch.files):
        text = batch.files[name].decode("utf-8", "replace")
        if batch.input_format.get("isMultiLineJson"):
            try:
                elements = json.loads(text)
            except ValueError:
                elements = None
            if isinstance(elements, list):
                rows.extend((name, i, json.dumps(e)) for i, e in enumerate(elements, 1))
                continue
        rows.extend(
            (name, line_number, line)
            for line_number, line in enumerate(text.splitlines(), 1)
            if line.strip()
        )
    return rows


def _promote(batch: Batch, schema: Mapping[str, Any]) -> Outcome:
    """Validate every row and decide the batch's fate against ``partialIngestionPercent``."""
    rows = _rows(batch)
    parsing: list[dict[str, Any]] = []
    conversion: list[dict[str, Any]] = []
    counts: Counter[tuple[str, str]] = Counter()
    for file_name, line, text in rows:
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            counts[CORRUPT_ROW] += 1
            parsing.append(
                {
                    "_corrupt_record": text,
                    "_errors": [{"code": "1401", "message": CORRUPT_ROW[1]}],
                    "_filename": PARSING_ERRORS_FILE,
                    # Sandbox extension: where the row was, so a client can map it back.
                    "_input_file": file_name,
                    "_input_line": line,
                }
            )
            continue
        problems = validate_row(schema, record)
        if not problems:
            continue
        kind = MISSING_FIELD if any(p.missing for p in problems) else INVALID_FIELD
        counts[kind] += 1
        conversion.append(
            {
                "_errors": [
                    {
                        "code": (MISSING_FIELD if p.missing else INVALID_FIELD)[0].split("-")[1],
                        "message": str(p),
                        "path": p.path,
                    }
                    for p in problems
                ],
                "_filename": CONVERSION_ERRORS_FILE,
                "_input_file": file_name,
                "_input_line": line,
            }
        )
    total, failed = len(rows), len(parsing) + len(conversion)
    metrics = {
        "inputByteSize": sum(len(data) for data in batch.files.values()),
        "inputFileCount": len(batch.files),
        "inputRecordCount": total,
        "outputRecordCount": total - failed,
        "failedRecordCount": failed,
    }
    if total == 0:
        empty: list[dict[str, Any]] = [
            {"code": "106", "description": "Dataset file is empty.", "rows": []}
        ]
        return Outcome("failed", {}, empty, {})
    within = failed * 100 <= batch.partial_percent * total and batch.partial_percent > 0
    status = "success" if failed == 0 or within else "failed"
    if failed == 0:
        return Outcome(status, metrics, [], {})
    if not batch.diagnostics:
        errors: list[dict[str, Any]] = [
            {
                "code": "INGEST-1211-400",
                "description": "Encountered errors while parsing, converting or otherwise "
                "validating the data. Please resend the data with error diagnostics enabled.",
            }
        ]
        return Outcome(status, metrics if status == "success" else {}, errors, {})
    summary = (
        f"Encountered {failed} errors in the data. Successfully ingested {total - failed} rows."
        if status == "success"
        else f"Encountered {failed} errors in the data, more than the partialIngestionPercent "
        f"threshold of {batch.partial_percent:g}%. No rows were ingested."
    )
    errors = [
        {
            "code": "INGEST-1212-400",
            "description": summary + " Please review the associated diagnostic files.",
        }
    ]
    errors += [
        {"code": code, "description": description, "recordCount": count}
        for (code, description), count in sorted(counts.items())
    ]
    files = {
        f"{ROW_ERRORS_DIR}/{name}": "".join(json.dumps(e) + "\n" for e in entries).encode()
        for name, entries in ((PARSING_ERRORS_FILE, parsing), (CONVERSION_ERRORS_FILE, conversion))
        if entries
    }
    return Outcome(status, metrics if status == "success" else {}, errors, files)
