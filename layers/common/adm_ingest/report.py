"""The per-file report: ``reports/<original key>.json`` and ``rejects/<original key>.csv``.

Written once, when the ledger says the file is fully accounted for. The rejects file is the
concatenation, in chunk order, of the per-chunk fate files the workers staged; it is streamed
through a multipart upload so its size never shows up in memory.
"""

from __future__ import annotations

import calendar
import io
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from adm_ingest.mapping import MappingPlan
from adm_ingest.notices import file_warnings
from adm_ingest.outcomes import RecordFate

REPORTS_PREFIX = "reports/"
REJECTS_PREFIX = "rejects/"
STAGING_PREFIX = "_staging/"
OUTPUT_PREFIXES = (REPORTS_PREFIX, REJECTS_PREFIX, STAGING_PREFIX)
REJECTS_HEADER = b"line,outcome,reason\n"
_PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts must be ≥ 5 MiB (except the last)
MAX_MAPPING_ENTRIES = 200
"""Bound on each list of the stored mapping section (a 5,000-column export stays small)."""
MAX_COLUMN_NAME = 200


def report_key(key: str) -> str:
    return f"{REPORTS_PREFIX}{key}.json"


def rejects_key(key: str) -> str:
    return f"{REJECTS_PREFIX}{key}.csv"


def staging_prefix(file_id: str) -> str:
    return f"{STAGING_PREFIX}{file_id}/"


def fates_key(file_id: str, chunk_index: int) -> str:
    return f"{staging_prefix(file_id)}fates/{chunk_index:06d}.csv"


def fates_csv(fates: Iterable[RecordFate]) -> bytes:
    """Rows ``line,outcome,reason`` (reasons are codes: no quoting needed, no data)."""
    return b"".join(f"{f.line},{f.outcome},{f.reason}\n".encode() for f in fates)


def mapping_section(plan: MappingPlan) -> dict[str, Any]:
    """The report's ``mapping``: how the file's columns were resolved (:meth:`MappingPlan.summary`:
    column and field names only), bounded so it fits the ledger's file item."""
    return _bounded(plan.summary())


def _bounded(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary`` with every list cut to :data:`MAX_MAPPING_ENTRIES` (the cut counted under
    ``truncated``) and every column name to :data:`MAX_COLUMN_NAME` characters."""

    def short(value: Any) -> Any:
        if isinstance(value, str):
            return value[:MAX_COLUMN_NAME]
        if isinstance(value, Mapping):
            return {k: short(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [short(v) for v in value]
        return value

    bounded: dict[str, Any] = {}
    truncated: dict[str, int] = {}
    for key, value in summary.items():
        if isinstance(value, list | tuple) and len(value) > MAX_MAPPING_ENTRIES:
            truncated[key] = len(value) - MAX_MAPPING_ENTRIES
            value = value[:MAX_MAPPING_ENTRIES]
        bounded[key] = short(value)
    if truncated:
        bounded["truncated"] = truncated
    return bounded


def report_sections(file: Mapping[str, Any]) -> dict[str, Any]:
    """What a report carries besides its counts, so the user can trust it: the resolved
    mapping, warnings, the encoding, skipped lines, where countries came from, records by
    country and the country profile. ``file`` is a ledger file item (the dry-run builds the
    same keys)."""
    countries = file.get("countries") or {}
    return {
        "mapping": file.get("mapping"),
        "warnings": file_warnings(file),
        "encoding": file.get("encoding"),
        "lines_skipped": dict(sorted((file.get("skipped") or {}).items())),
        "country_sources": dict(sorted((file.get("country_sources") or {}).items())),
        "records_by_country": dict(
            sorted(countries.items(), key=lambda item: (-int(item[1]), item[0]))
        ),
        "country_profile": file.get("country_profile"),
    }


def build_report(file: Mapping[str, Any]) -> dict[str, Any]:
    """The report document for a finalized ledger file item."""
    read = int(file.get("read", 0))
    accepted = int(file.get("accepted", 0))
    rejected_by_reason = dict(sorted(file.get("rejected", {}).items()))
    failed_by_reason = dict(sorted(file.get("failed", {}).items()))
    rejected = sum(rejected_by_reason.values())
    failed = sum(failed_by_reason.values())
    valid = file.get("coverage_valid", {})
    invalid = file.get("coverage_invalid", {})
    coverage = {
        name: {
            "valid": int(valid.get(name, 0)),
            "invalid": int(invalid.get(name, 0)),
            "share_of_records": round(int(valid.get(name, 0)) / read, 4) if read else 0.0,
        }
        for name in sorted(set(valid) | set(invalid))
    }
    requests = dict(sorted(file.get("requests", {}).items()))
    if file.get("error"):
        status = "error"
    elif failed:
        status = "complete_with_failures"
    else:
        status = "complete"
    return {
        "status": status,
        "error": file.get("error"),
        "file": {
            "bucket": file.get("bucket"),
            "key": file.get("key"),
            "version_id": file.get("version_id"),
            "etag": file.get("etag"),
            "size": file.get("size"),
        },
        "kind": file.get("kind"),
        "target": {"name": file.get("target_name"), "id": file.get("target_id")},
        "records_read": read,
        # The splitter's scan counts every line that starts a record, footers included (telling
        # them apart would slow the scan); the lines the readers then skipped are no records.
        "records_expected": int(file.get("records_total", read))
        - sum(int(n) for n in (file.get("skipped") or {}).values()),
        "accepted": accepted,
        "rejected": rejected,
        "failed": failed,
        "balanced": read == accepted + rejected + failed,
        "rejected_by_reason": rejected_by_reason,
        "failed_by_reason": failed_by_reason,
        "identifier_coverage": coverage,
        **report_sections(file),
        "requests_sent": sum(v for k, v in requests.items() if k != "dry_run"),
        "requests_by_status": requests,
        "ingress_ids": list(file.get("ingress_ids", [])),
        "chunks": int(file.get("chunks_total", 0)),
        "timings": {
            "received_at": file.get("created_at"),
            "split_done_at": file.get("split_done_at"),
            "finished_at": file.get("finalized_at"),
            "duration_seconds": _duration(file),
        },
        "rejects_file": rejects_key(str(file.get("key"))) if rejected or failed else None,
    }


def _duration(file: Mapping[str, Any]) -> float | None:
    start, end = file.get("created_at"), file.get("finalized_at")
    if not start or not end:
        return None
    parse = time.strptime
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return float(calendar.timegm(parse(end, fmt)) - calendar.timegm(parse(start, fmt)))


class ReportWriter:
    """Writes a file's report and rejects file to the bucket and cleans up its staging area."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def write(self, file_id: str, file: Mapping[str, Any]) -> dict[str, Any]:
        report = build_report(file)
        key = str(file["key"])
        fate_keys = self._staged_keys(f"{staging_prefix(file_id)}fates/")
        if fate_keys:
            self._concatenate(rejects_key(key), fate_keys)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=report_key(key),
            Body=orjson.dumps(report, option=orjson.OPT_INDENT_2),
            ContentType="application/json",
        )
        self.clean_staging(file_id)
        return report

    def clean_staging(self, file_id: str) -> None:
        """Delete everything staged for the file — every version and delete marker: in a
        versioned bucket a plain delete only hides the staged raw records behind a marker,
        still readable by version id."""
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=staging_prefix(file_id)):
            found = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for item in page.get(kind, [])
            ]
            for start in range(0, len(found), 1000):
                self._s3.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": found[start : start + 1000], "Quiet": True},
                )

    def _staged_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def _concatenate(self, target: str, sources: list[str]) -> None:
        """Stream the staged fate files, in order, into one CSV (multipart when large)."""
        buffer = io.BytesIO()
        buffer.write(REJECTS_HEADER)
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        for source in sources:
            body = self._s3.get_object(Bucket=self._bucket, Key=source)["Body"]
            for block in iter(lambda b=body: b.read(1024 * 1024), b""):
                buffer.write(block)
                if buffer.tell() >= _PART_SIZE:
                    if upload_id is None:
                        upload_id = self._s3.create_multipart_upload(
                            Bucket=self._bucket, Key=target, ContentType="text/csv"
                        )["UploadId"]
                    parts.append(self._upload_part(target, upload_id, len(parts) + 1, buffer))
                    buffer = io.BytesIO()
        if upload_id is None:
            self._s3.put_object(
                Bucket=self._bucket, Key=target, Body=buffer.getvalue(), ContentType="text/csv"
            )
            return
        if buffer.tell():
            parts.append(self._upload_part(target, upload_id, len(parts) + 1, buffer))
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=target,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )

    def _upload_part(
        self, target: str, upload_id: str, number: int, buffer: io.BytesIO
    ) -> dict[str, Any]:
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=target,
            UploadId=upload_id,
            PartNumber=number,
            Body=buffer.getvalue(),
        )
        return {"ETag": response["ETag"], "PartNumber": number}
