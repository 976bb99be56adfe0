"""The AEP operations the client calls: each call's HTTP contract, from Adobe's OpenAPI files.

Paths are the gateway paths of ``local/adm_local/sandbox/aep-api-schema.json``. ``replay_safe``
says whether the transport may send the request again after a 429/5xx or a dropped connection:
creates are not (a second dataset or batch could appear; the caller lists first), everything
keyed by a name or an id the caller chose is (a PUT replaces, COMPLETE may be retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
OCTET_STREAM = "application/octet-stream"
XED_FULL = "application/vnd.adobe.xed-full+json; version=1"
"""Schema Registry: the schema with every ``$ref`` and ``allOf`` resolved (for validation)."""
XED_ID = "application/vnd.adobe.xed-id+json"
"""Schema Registry listings: a short summary per resource (a listing takes no version)."""

CATALOG = "/data/foundation/catalog"
IMPORT = "/data/foundation/import"
EXPORT = "/data/foundation/export"
SCHEMA_REGISTRY = "/data/foundation/schemaregistry"


@dataclass(frozen=True, slots=True)
class Operation:
    """One Platform call's HTTP contract."""

    name: str
    method: str
    path: str
    """Path template; :meth:`path_for` fills each ``{name}`` URL-quoted as one segment."""
    replay_safe: bool
    content_type: str | None = None
    accept: str = JSON
    nested: str | None = None
    """The one placeholder whose ``/`` are kept (a file path with directories)."""

    def path_for(self, **values: str) -> str:
        """The path with its placeholders filled and quoted."""
        quoted = {
            key: quote(str(value), safe="/" if key == self.nested else "")
            for key, value in values.items()
        }
        return self.path.format(**quoted)


_FILE = IMPORT + "/batches/{batch}/datasets/{dataset}/files/{file}"

CREATE_DATASET = Operation("createDataset", "POST", CATALOG + "/dataSets", False, JSON)
LIST_DATASETS = Operation("listDatasets", "GET", CATALOG + "/dataSets", True)
GET_DATASET = Operation("retrieveDataset", "GET", CATALOG + "/dataSets/{dataset}", True)
DELETE_DATASET = Operation("deleteDataset", "DELETE", CATALOG + "/dataSets/{dataset}", True)
# Adding the same tag value again leaves the dataset as it was: safe to replay.
PATCH_DATASET = Operation(
    "patchDataset", "PATCH", CATALOG + "/dataSets/{dataset}", True, JSON_PATCH
)
GET_BATCH = Operation("retrieveBatch", "GET", CATALOG + "/batches/{batch}", True)
LIST_BATCHES = Operation("listBatches", "GET", CATALOG + "/batches", True)

CREATE_BATCH = Operation("createBatch", "POST", IMPORT + "/batches", False, JSON)
# Adobe: COMPLETE "is safe to retry… the API will return success, even after retrying".
BATCH_ACTION = Operation("completeBatch", "POST", IMPORT + "/batches/{batch}", True)
PUT_FILE = Operation("uploadSmallFile", "PUT", _FILE, True, OCTET_STREAM, nested="file")
FILE_ACTION = Operation("completeLargeFileUpload", "POST", _FILE, True, OCTET_STREAM, nested="file")
PATCH_FILE = Operation("uploadLargeFilePart", "PATCH", _FILE, True, OCTET_STREAM, nested="file")

LIST_SCHEMAS = Operation(
    "listSchemas", "GET", SCHEMA_REGISTRY + "/{container}/schemas", True, accept=XED_ID
)
GET_SCHEMA = Operation(
    "retrieveSchema",
    "GET",
    SCHEMA_REGISTRY + "/{container}/schemas/{schema}",
    True,
    accept=XED_FULL,
)

BATCH_META = Operation("retrieveBatchMeta", "GET", EXPORT + "/batches/{batch}/meta", True)
BATCH_FAILED = Operation("retrieveFailedBatch", "GET", EXPORT + "/batches/{batch}/failed", True)
