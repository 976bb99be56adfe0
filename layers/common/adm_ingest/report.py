"""The per-file report: ``reports/<original key>.json`` (and its page for people,
``reports/<original key>.html``) and ``rejects/<original key>.csv``.

Written once, when the ledger says the file is fully accounted for (the finalizer's lease
makes that once; see :mod:`adm_ingest.pipeline.finalize`). The rejects file is the
concatenation, in chunk order, of the per-chunk fate files the workers staged; it is streamed
through a multipart upload so its size never shows up in memory. Every fate file is CSV
written by :func:`fates_csv` (quoted, formula-neutralised), so their concatenation is one CSV.
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import hashlib
import io
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import orjson
from botocore.exceptions import ClientError

from adm_ingest.ledger_records import FileRecord
from adm_ingest.match_rate import match_rate_section, unavailable_reason
from adm_ingest.notices import file_warnings, match_rate_warnings
from adm_ingest.outcomes import RecordFate
from adm_ingest.report_html import Reject, render_report
from adm_ingest.request_times import series
from adm_ingest.settings import Settings
from adm_ingest.spreadsheet import csv_rows

REPORTS_PREFIX = "reports/"
REJECTS_PREFIX = "rejects/"
STAGING_PREFIX = "_staging/"
OUTPUT_PREFIXES = (REPORTS_PREFIX, REJECTS_PREFIX, STAGING_PREFIX)
REJECTS_HEADER = b"line,outcome,reason\n"
_PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts must be ≥ 5 MiB (except the last)
MAX_MAPPING_ENTRIES = 200
"""Bound on each list of the stored mapping section (a 5,000-column export stays small)."""
MAX_COLUMN_NAME = 200
FIRST_REJECTS = 20
"""Rejected or failed rows the HTML report shows with their line numbers (the first ones)."""
_FATES_HEAD_BYTES = 64 * 1024
"""Read of each staged fate file for those rows: ample for 20 rows, never a whole file."""
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


def report_key(key: str) -> str:
    return f"{REPORTS_PREFIX}{key}.json"


def report_html_key(key: str) -> str:
    return f"{REPORTS_PREFIX}{key}.html"


def rejects_key(key: str) -> str:
    return f"{REJECTS_PREFIX}{key}.csv"


def staging_prefix(file_id: str) -> str:
    return f"{STAGING_PREFIX}{file_id}/"


def fates_key(file_id: str, chunk_index: int) -> str:
    return f"{staging_prefix(file_id)}fates/{chunk_index:06d}.csv"


def fates_csv(fates: Iterable[RecordFate]) -> bytes:
    """CSV rows ``line,outcome,reason``, each ending in LF (so fate files concatenate into one
    CSV). Reasons are codes, but some come from the API: they are quoted and neutralised
    against spreadsheet formulas like any text from outside (:mod:`adm_ingest.spreadsheet`)."""
    return csv_rows((f.line, f.outcome, f.reason) for f in fates)


class SummarizedMapping(Protocol):
    """A resolved mapping that can say what it did (a :class:`MappingPlan`, a destination's
    own :class:`~adm_ingest.destinations.RowEncoder`)."""

    def summary(self) -> dict[str, Any]: ...


def mapping_section(plan: SummarizedMapping, *, inherited_from: str = "") -> dict[str, Any]:
    """The report's ``mapping``: how the file's columns were resolved (:meth:`MappingPlan.summary`:
    column and field names only), bounded so it fits the ledger's file item.

    ``inherited_from`` names the prefix whose mapping a removal file borrows: written for the
    upload, it applies to the columns this file has, so its other columns being absent is
    expected — one note instead of a warning per column."""
    summary = plan.summary()
    if inherited_from:
        missing = summary.get("missing") or []
        summary["inherited_from"] = inherited_from
        summary["warnings"] = [
            w for w in summary["warnings"] if w["code"] != "configured_column_missing"
        ]
        if missing:
            summary["warnings"].append(
                {
                    "code": "inherited_mapping",
                    "message": f"the mapping of {inherited_from}/ applies to the columns this "
                    f"file has ({len(missing)} of its columns are not in the file, as expected)",
                }
            )
    return _bounded(summary)


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


def report_sections(file: FileRecord) -> dict[str, Any]:
    """What a report carries besides its counts, so the user can trust it: the resolved
    mapping, warnings, the encoding, skipped lines, where countries came from, records by
    country, the country profile and where consent came from (records rejected for their
    consent are not in ``consent_sources``: they are among the rejects). ``file`` is a ledger
    file record (the dry-run builds one from its tally)."""
    return {
        "mapping": _json(file.mapping),
        "warnings": file_warnings(file),
        "encoding": file.encoding,
        "lines_skipped": dict(sorted(file.skipped.items())),
        "country_sources": dict(sorted(file.country_sources.items())),
        "records_by_country": dict(
            sorted(file.countries.items(), key=lambda item: (-item[1], item[0]))
        ),
        "country_profile": _json(file.country_profile),
        "consent_sources": dict(sorted(file.consent_sources.items())),
    }


def build_report(file: FileRecord, *, minimum_audience_size: int | None = None) -> dict[str, Any]:
    """The report document for a finalized ledger file record. ``minimum_audience_size``: the
    matched count under which the report warns (default: the ``MIN_AUDIENCE_SIZE`` setting)."""
    read = file.read
    remote = remote_section(file)
    outcome = file.remote_state if remote is not None else None
    # Delivered records the remote system did not take after all: failed, not accepted.
    remote_failed = dict(outcome.failed) if outcome is not None else {}
    accepted = file.accepted - sum(remote_failed.values())
    merged_failed = Counter(file.failed)
    merged_failed.update(remote_failed)
    rejected_by_reason = dict(sorted(file.rejected.items()))
    failed_by_reason = dict(sorted(merged_failed.items()))
    rejected = sum(rejected_by_reason.values())
    failed = sum(failed_by_reason.values())
    valid, invalid = file.coverage_valid, file.coverage_invalid
    coverage = {
        name: {
            "valid": valid.get(name, 0),
            "invalid": invalid.get(name, 0),
            "share_of_records": round(valid.get(name, 0) / read, 4) if read else 0.0,
        }
        for name in sorted(set(valid) | set(invalid))
    }
    requests = dict(sorted(file.requests.items()))
    sent = sum(v for k, v in requests.items() if k != "dry_run")
    if file.error:
        status = "error"
    elif remote is not None and outcome is None:
        status = COMMITTED
    elif outcome is not None and not outcome.succeeded:
        status = REMOTE_FAILED
    elif failed:
        status = "complete_with_failures"
    else:
        status = "complete"
    # A pending commit's file is finished when its remote state is, not when it was claimed.
    finished_at = file.finalized_at if remote is None else remote["finished_at"]
    report: dict[str, Any] = {
        "status": status,
        "error": file.error,
        "file": {
            "bucket": file.bucket,
            "key": file.key,
            "version_id": file.version_id,
            "etag": file.etag,
            "size": file.size,
        },
        "kind": file.destination,
        "target": {"name": file.target_name, "id": file.target_id},
        "records_read": read,
        # The splitter's scan counts every line that starts a record, footers included (telling
        # them apart would slow the scan); the lines the readers then skipped are no records.
        "records_expected": (read if file.records_total is None else file.records_total)
        - sum(file.skipped.values()),
        "accepted": accepted,
        "rejected": rejected,
        "failed": failed,
        "balanced": read == accepted + rejected + failed,
        "rejected_by_reason": rejected_by_reason,
        "failed_by_reason": failed_by_reason,
        "identifier_coverage": coverage,
        **report_sections(file),
        "requests": requests_section(file),
        "requests_sent": sent,
        "requests_by_status": requests,
        # When the answers came, by UTC minute and status: sums to requests_by_status (less
        # the requests a file counted before its release kept answer times).
        "requests_over_time": series(file.request_minutes),
        "ingress_ids": list(file.ingress_ids),
        "chunks": file.chunks_total,
        "timings": {
            "received_at": file.created_at,
            "split_done_at": file.split_done_at,
            "finished_at": finished_at,
            "duration_seconds": _duration(file.created_at, finished_at),
        },
        # A committed file's rejects are written with its final report.
        "rejects_file": rejects_key(file.key)
        if (rejected or failed) and status != COMMITTED
        else None,
    }
    if remote is not None:
        report["remote"] = remote
    if outcome is not None:
        if minimum_audience_size is None:
            minimum_audience_size = Settings.from_env().min_audience_size
        match_rate = match_rate_section(outcome.facts, minimum_audience_size=minimum_audience_size)
        if match_rate is not None:
            report["match_rate"] = match_rate
        report["warnings"] += match_rate_warnings(match_rate, unavailable_reason(outcome.facts))
    return report


COMMITTED = "committed"
"""The report's status while the destination's commit is pending: the counts so far, the
``remote`` section says what is known; the final report replaces it when the poll ends."""
REMOTE_FAILED = "remote_failed"
"""The final status when the remote state ended unsuccessfully (failed, timed out, the poll
itself failed): ``remote.status`` says which."""
PENDING_REMOTE = "pending"


def remote_section(file: FileRecord) -> dict[str, Any] | None:
    """The report's ``remote``: for a file whose destination's commit was pending, the remote
    session (opaque ids), when it was committed, and — once the poll ended — the terminal
    remote state (status, succeeded, facts: ids and counts). None for files that finished at
    commit."""
    if file.committed_at is None:
        return None
    state = file.remote_state
    return {
        "status": PENDING_REMOTE if state is None else state.status,
        "succeeded": None if state is None else state.succeeded,
        "facts": {} if state is None else dict(sorted(state.facts.items())),
        "failed_by_reason": {} if state is None else dict(sorted(state.failed.items())),
        "session": dict(sorted(file.commit_session.items())),
        "committed_at": file.committed_at,
        "finished_at": None if state is None else state.finished_at,
    }


def requests_section(file: FileRecord) -> dict[str, Any]:
    """What it took to deliver the file: ``sent`` (requests that got a final answer, one per
    batch), ``final_by_status``, every ``attempt`` with retries by status (``"429"``,
    ``"503"``…), ``dropped`` (no answer; the request may have reached ADM) and ``unreachable``
    (no connection), and the seconds spent waiting on ``Retry-After`` / backoff.
    ``requests_sent`` / ``requests_by_status`` beside it are ``sent`` / ``final_by_status``."""
    final = dict(sorted(file.requests.items()))
    attempts = {k: v for k, v in sorted(file.request_attempts.items()) if v}
    return {
        "sent": sum(v for k, v in final.items() if k != "dry_run"),
        "final_by_status": final,
        "attempts": sum(attempts.values()),
        "attempts_by_status": attempts,
        "retry_wait_seconds": round(file.retry_wait_ms / 1000, 3),
    }


def _json(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored section as a plain dict (the record's may be read-only)."""
    return None if value is None else dict(value)


def _duration(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = time.strptime
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return float(calendar.timegm(parse(end, fmt)) - calendar.timegm(parse(start, fmt)))


FILE_ID_METADATA = "file-id"
"""Object metadata naming the ledger file an output was written for."""
SHA256_METADATA = "content-sha256"


class StagingCleanupError(Exception):
    """S3 refused to delete some staged objects (counted, never named: keys hold file ids)."""


class ReportWriter:
    """Writes a file's report and rejects file to the bucket and cleans up its staging area.

    The outputs are deterministic for a finalized ledger item (the rejects file concatenates
    the staged fates in chunk order; the report is built from the item), so a retried write
    produces the same objects. Each carries its file id (and the report its SHA-256) as
    metadata, which lets a retry that may follow a crash skip what is already there."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def write(self, file_id: str, file: FileRecord) -> dict[str, Any]:
        """Report and rejects, then the staging area removed: all steps in one call."""
        report = build_report(file)
        self.write_outputs(file_id, file, report)
        self.clean_staging(file_id)
        return report

    def write_outputs(
        self,
        file_id: str,
        file: FileRecord,
        report: Mapping[str, Any],
        *,
        skip_existing: bool = False,
    ) -> None:
        """``rejects/<key>.csv`` (when any record has a fate), ``reports/<key>.html``, then
        ``reports/<key>.json``.

        With ``skip_existing`` (a retry), an output already written for this file — same file
        id, and for the reports the same content — is not written again."""
        key = file.key
        fate_keys = self._staged_keys(f"{staging_prefix(file_id)}fates/")
        if fate_keys and not (skip_existing and self._written(rejects_key(key), file_id)):
            self._concatenate(rejects_key(key), fate_keys, {FILE_ID_METADATA: file_id})
        self._put_reports(file_id, key, report, fate_keys, skip_existing=skip_existing)

    def write_report(self, file_id: str, key: str, report: Mapping[str, Any]) -> None:
        """``reports/<key>.html`` and ``.json`` alone: the report of a committed file, while its
        remote state is pending (the rejects follow with the final report, which replaces
        this one; the page already shows the first staged rejects)."""
        fate_keys = self._staged_keys(f"{staging_prefix(file_id)}fates/")
        self._put_reports(file_id, key, report, fate_keys, skip_existing=False)

    def _put_reports(
        self,
        file_id: str,
        key: str,
        report: Mapping[str, Any],
        fate_keys: list[str],
        *,
        skip_existing: bool,
    ) -> None:
        """The page, then the JSON (last: a report JSON means its page is there too)."""
        page = render_report(report, self._first_rejects(fate_keys)).encode()
        body = orjson.dumps(report, option=orjson.OPT_INDENT_2)
        for target, content, content_type in (
            (report_html_key(key), page, HTML_CONTENT_TYPE),
            (report_key(key), body, "application/json"),
        ):
            digest = hashlib.sha256(content).hexdigest()
            if skip_existing and self._written(target, file_id, digest):
                continue
            self._s3.put_object(
                Bucket=self._bucket,
                Key=target,
                Body=content,
                ContentType=content_type,
                Metadata={FILE_ID_METADATA: file_id, SHA256_METADATA: digest},
            )

    def _first_rejects(self, fate_keys: list[str]) -> list[Reject]:
        """The first :data:`FIRST_REJECTS` rows of the staged fate files, in chunk order (the
        rejects file's first rows), from a bounded read of the head of each."""
        rows: list[Reject] = []
        for source in fate_keys:
            head = self._s3.get_object(
                Bucket=self._bucket, Key=source, Range=f"bytes=0-{_FATES_HEAD_BYTES - 1}"
            )["Body"].read()
            if len(head) >= _FATES_HEAD_BYTES:  # cut: keep whole rows only
                head = head[: head.rfind(b"\n") + 1]
            for row in csv.reader(io.StringIO(head.decode("utf-8", "replace"), newline="")):
                if len(row) == 3 and row[0].isdigit():
                    rows.append((int(row[0]), row[1], row[2]))
                if len(rows) == FIRST_REJECTS:
                    return rows
        return rows

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
                response = self._s3.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": found[start : start + 1000], "Quiet": True},
                )
                if response.get("Errors"):  # quiet mode lists only the failures
                    raise StagingCleanupError(
                        f"{len(response['Errors'])} staged objects not deleted"
                    )

    def _written(self, key: str, file_id: str, digest: str | None = None) -> bool:
        """Whether ``key`` holds this file's output (with ``digest``'s content, if given)."""
        try:
            metadata = self._s3.head_object(Bucket=self._bucket, Key=key).get("Metadata") or {}
        except ClientError:  # absent, or not ours to read: write it
            return False
        if metadata.get(FILE_ID_METADATA) != file_id:
            return False
        return digest is None or metadata.get(SHA256_METADATA) == digest

    def _staged_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def _concatenate(self, target: str, sources: list[str], metadata: dict[str, str]) -> None:
        """Stream the staged fate files, in order, into one CSV (multipart when large; a
        failed multipart upload is aborted, so no invisible parts linger)."""
        buffer = io.BytesIO()
        buffer.write(REJECTS_HEADER)
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for source in sources:
                body = self._s3.get_object(Bucket=self._bucket, Key=source)["Body"]
                last = b"\n"
                for block in _blocks(body):
                    buffer.write(block)
                    last = block[-1:]
                    if buffer.tell() >= _PART_SIZE:
                        if upload_id is None:
                            upload_id = self._s3.create_multipart_upload(
                                Bucket=self._bucket,
                                Key=target,
                                ContentType="text/csv",
                                Metadata=metadata,
                            )["UploadId"]
                        parts.append(self._upload_part(target, upload_id, len(parts) + 1, buffer))
                        buffer = io.BytesIO()
                if last != b"\n":  # a fate file always ends its last row; never merge two rows
                    buffer.write(b"\n")
            if upload_id is None:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=target,
                    Body=buffer.getvalue(),
                    ContentType="text/csv",
                    Metadata=metadata,
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
        except Exception:
            if upload_id is not None:
                self._abort(target, upload_id)
            raise

    def _abort(self, target: str, upload_id: str) -> None:
        with contextlib.suppress(ClientError):  # else the lifecycle rule aborts it in 2 days
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=target, UploadId=upload_id)

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


def _blocks(body: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    """A streaming body's bytes, ``size`` at a time."""
    while block := body.read(size):
        yield bytes(block)
