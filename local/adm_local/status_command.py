"""``adm-ingest status``: what became of a file, or of a dataset — the match rate included.

* ``status --report KEY [--stack NAME | --bucket B]`` reads the file's report
  (``reports/<KEY>.json``) from the bucket (found as ``progress`` finds it: the flag, the
  stack's output, ``BUCKET``; ``AWS_ENDPOINT_URL`` points it at the local stack) and
  prints its status, its counts and the match rate the poller read — or that it is still
  awaited.
* ``status DATASET_ID --secret ID | --credentials FILE`` asks the API: the dataset's record,
  details and metrics (``GET /adm/datasets/{id}/metrics``: match percentage, records
  resolved).

``--json`` prints the same as one JSON object. Exit status: 0, or 1 when the file's report
says it failed (``error``, ``remote_failed``) or there is no report or dataset by that name; 2
for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Rows = list[tuple[str, str]]

FAILED_STATUSES = frozenset({"error", "remote_failed"})
COMMITTED = "committed"


def add_parser(commands: Any) -> None:
    """Register ``status`` on the CLI's subcommands."""
    status = commands.add_parser(
        "status", help="a file's status and match rate (its report), or a dataset's (the API)"
    )
    status.add_argument("id", nargs="?", help="an audience dataset id (asks the API)")
    status.add_argument("--report", metavar="KEY", help="the S3 key of a dropped file")
    status.add_argument(
        "--stack",
        help="with --report: the CloudFormation stack whose bucket to read "
        "(default: $ADM_INGEST_STACK)",
    )
    status.add_argument("--bucket", help="the pipeline's bucket (default: the stack's, or $BUCKET)")
    source = status.add_mutually_exclusive_group()
    source.add_argument(
        "--secret", help="Secrets Manager secret id with the credentials (default: $ADM_SECRET_ID)"
    )
    source.add_argument(
        "--credentials",
        type=Path,
        help="credentials JSON file (default: $ADM_CREDENTIALS_FILE, which `adm-ingest sandbox` "
        "prints)",
    )
    status.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    if args.report:
        if args.id:
            return _fail("give a dataset id or --report KEY, not both")
        return _file_status(args)
    if not args.id:
        return _fail("give a dataset id (with --secret or --credentials) or --report KEY")
    return _dataset_status(args)


# -- a file, from its report ----------------------------------------------------------------


def _file_status(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from adm_ingest.report import report_key
    from adm_local.operator import aws

    # Found as progress / report / redrive find it: --bucket, the stack's output, $BUCKET.
    found = aws.resources(argparse.Namespace(stack=args.stack, bucket=args.bucket, table=None))
    found.need("bucket")
    bucket = found.bucket
    key = report_key(args.report)
    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            missing = f"no report for {args.report!r} in {bucket} (not dropped, or not split yet)"
            return _fail(missing, 1)
        return _fail(f"could not read s3://{bucket}/{key}: {code or error}", 1)
    except BotoCoreError as error:
        return _fail(f"could not read s3://{bucket}/{key}: {error}", 1)
    report = json.loads(body)
    if args.json:
        print(json.dumps(file_summary(report), indent=2, sort_keys=True))
    else:
        print(_table(file_rows(report)))
    if report.get("status") in FAILED_STATUSES:
        print(f"adm-ingest: the file failed (status {report.get('status')})", file=sys.stderr)
        return 1
    return 0


def file_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """What ``status --report --json`` prints: the report's status, counts and match rate."""
    return {
        "key": (report.get("file") or {}).get("key"),
        "status": report.get("status"),
        "error": report.get("error"),
        **{
            name: report.get(name)
            for name in ("records_read", "accepted", "rejected", "failed", "balanced")
        },
        "match_rate": report.get("match_rate"),
        "warnings": [warning.get("code") for warning in report.get("warnings") or []],
    }


def file_rows(report: Mapping[str, Any]) -> Rows:
    """A file's report as ``name  value`` rows."""
    file = report.get("file") or {}
    rows: Rows = [
        ("file", f"s3://{file.get('bucket', '')}/{file.get('key', '')}"),
        ("status", str(report.get("status"))),
    ]
    if report.get("error"):
        rows.append(("error", str(report["error"])))
    rows.append(
        (
            "records",
            f"{report.get('records_read', 0):,} read: {report.get('accepted', 0):,} accepted, "
            f"{report.get('rejected', 0):,} rejected, {report.get('failed', 0):,} failed",
        )
    )
    match_rate = report.get("match_rate")
    if match_rate:
        rows += match_rate_rows(match_rate)
    elif report.get("status") == COMMITTED:
        rows.append(("match rate", "not read yet (the poller reads it after the delay)"))
    else:
        rows.append(("match rate", "not known"))
    return rows


def match_rate_rows(match_rate: Mapping[str, Any]) -> Rows:
    """The report's ``match_rate`` section as rows."""
    percentage = match_rate.get("match_percentage")
    matched = match_rate.get("matched")
    resolved = match_rate.get("records_resolved")
    figures = [
        f"{percentage:.2f} %" if isinstance(percentage, int | float) else "? %",
        f"{matched:,} matched" if isinstance(matched, int) else "matched unknown",
    ]
    if isinstance(resolved, int):
        figures.append(f"{resolved:,} resolved")
    minimum = int(match_rate.get("minimum_audience_size") or 0)
    verdict = (
        "below it: the audience can't be used for targeting yet"
        if match_rate.get("below_minimum")
        else "reached"
    )
    return [
        ("match rate", ", ".join(figures)),
        ("read at", str(match_rate.get("read_at"))),
        ("minimum", f"{minimum:,} matched — {verdict}"),
    ]


# -- a dataset, from the API ----------------------------------------------------------------


def _dataset_status(args: argparse.Namespace) -> int:
    from adm_ingest.adm import AdmError
    from adm_ingest.setup import operations
    from adm_local.adm_credentials import CredentialsUnavailable, adm_client

    try:
        client = adm_client(args.credentials, args.secret)
    except CredentialsUnavailable as unavailable:
        return _fail(str(unavailable), unavailable.code)
    try:
        with client:
            status = operations.audience_status(client, args.id)
            metrics = client.dataset_metrics(args.id)
    except AdmError as error:
        return _fail(str(error), 1)
    counts = {
        "matched": metrics.matched,
        "resolved": metrics.records_resolved,
        "with identity": metrics.records_with_identity,
        "accepted": metrics.accepted_count,
        "invalid": metrics.invalid_record_count,
        "uploads": metrics.upload_count,
    }
    if args.json:
        document = {name: value for name, value in status.rows()}
        document["match_percentage"] = metrics.match_record_percentage
        document.update({name.replace(" ", "_"): value for name, value in counts.items()})
        print(json.dumps(document, indent=2, default=str))
        return 0
    percentage = metrics.match_record_percentage
    rows: Rows = [(name, str(value)) for name, value in status.rows()]
    rows.append(("match rate", "? %" if percentage is None else f"{percentage:.2f} %"))
    rows += [(name, _count(value)) for name, value in counts.items()]
    print(_table(rows))
    return 0


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _table(rows: Rows) -> str:
    return "\n".join(f"{name:<16} {value}" for name, value in rows)


def _fail(message: str, code: int = 2) -> int:
    print(f"adm-ingest: error: {message}", file=sys.stderr)
    return code
