"""``adm-ingest report <key>``: a file's report from the bucket (``reports/<key>.json``), as
text or ``--json``; ``--html`` fetches its HTML report (``reports/<key>.html``) when one was
written, ``--open`` opens it in the browser."""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from adm_ingest.report import REPORTS_PREFIX, report_key
from adm_local.operator import aws
from adm_local.operator.exits import FILE_ERROR, OK, REJECTS, USAGE, CliError
from adm_local.terminal import printable


def html_key(key: str) -> str:
    """Where the HTML report is written, beside the JSON (issue #13's agreement)."""
    return f"{REPORTS_PREFIX}{key}.html"


def add_fail_on_rejects(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on-rejects",
        type=_percentage,
        metavar="PCT",
        help="exit 3 when more than PCT %% of the records read were rejected",
    )


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("report", help="a file's report (text, JSON or HTML)")
    parser.add_argument("key", help="the file's S3 key")
    aws.add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report's JSON")
    parser.add_argument("--html", action="store_true", help="fetch the HTML report")
    parser.add_argument("--open", action="store_true", help="open the HTML report (with --html)")
    parser.add_argument(
        "--out", type=Path, default=Path("reports"), help="folder for the HTML report"
    )
    add_fail_on_rejects(parser)


def summary(report: Mapping[str, Any]) -> str:
    """The report's figures, as an operator reads them."""
    read = int(report.get("records_read", 0))
    lines = [
        f"{(report.get('file') or {}).get('key', '')}: {report.get('status', '?')}",
        f"read {read:,} = accepted {int(report.get('accepted', 0)):,} + rejected "
        f"{int(report.get('rejected', 0)):,} + failed {int(report.get('failed', 0)):,}"
        + ("" if report.get("balanced", True) else "  (NOT BALANCED)"),
    ]
    for title, name in (("rejected", "rejected_by_reason"), ("failed", "failed_by_reason")):
        reasons = report.get(name) or {}
        if reasons:
            shown = ", ".join(f"{reason} {count:,}" for reason, count in reasons.items())
            lines.append(f"{title}: {shown}")
    if report.get("error"):
        lines.append(f"file error: {report['error']}")
    # What the page and the JSON say to fix (unknown columns, missing consent…): codes, counts
    # and column names, never a value.
    for warning in report.get("warnings") or []:
        if isinstance(warning, Mapping) and warning.get("message"):
            lines.append(f"warning: {warning['message']}")
    return printable("\n".join(lines))  # warnings name the file's columns: shown, never obeyed


def reject_share(report: Mapping[str, Any]) -> float:
    read = int(report.get("records_read", 0))
    return 100.0 * int(report.get("rejected", 0)) / read if read else 0.0


def exit_code(report: Mapping[str, Any], fail_on_rejects: float | None) -> int:
    """1 for a file-level error, 3 for rejects above the threshold, else 0."""
    if report.get("status") == "error":
        return FILE_ERROR
    if fail_on_rejects is not None and reject_share(report) > fail_on_rejects:
        return REJECTS
    return OK


def verdict(report: Mapping[str, Any], code: int, fail_on_rejects: float | None) -> str | None:
    """The one line that says why the exit is not 0 (``None`` for 0), as ``dry-run``'s."""
    if code == FILE_ERROR:
        return f"the file failed (status {report.get('status')})"
    if code == REJECTS:
        return (
            f"{reject_share(report):.1f} % of the records read were rejected, above "
            f"--fail-on-rejects {fail_on_rejects:g} %"
        )
    return None


def finish(report: Mapping[str, Any], fail_on_rejects: float | None) -> int:
    """The exit code for a printed report, its reason (if not 0) on stderr."""
    code = exit_code(report, fail_on_rejects)
    explanation = verdict(report, code, fail_on_rejects)
    if explanation is not None:
        print(f"adm-ingest: {explanation}", file=sys.stderr)
    return code


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.open and not args.html:
        raise CliError("--open needs --html", USAGE)
    page = html_path(args.out, args.key) if args.html else None
    found = aws.resources(args)
    found.need("bucket")
    s3 = boto3.client("s3")
    try:
        body = s3.get_object(Bucket=found.bucket, Key=report_key(args.key))["Body"].read()
    except ClientError as error:
        if aws.aws_code(error) in ("NoSuchKey", "404"):
            raise CliError(
                f"no report for {args.key} yet (see `adm-ingest progress {args.key}`)"
            ) from None
        raise
    report = json.loads(body)
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print(summary(report), file=out)
    if page is not None:
        _html(s3, found.bucket, args, page, out)
    return finish(report, args.fail_on_rejects)


def html_path(folder: Path, key: str) -> Path:
    """Where ``--html`` saves the page of ``key``: ``<folder>/<key>.html``, refused (a usage
    error) when the key would lead it out of ``folder`` (``..`` segments, a leading ``/``)."""
    path = folder / f"{key}.html"
    if not path.resolve().is_relative_to(folder.resolve()):
        raise CliError(f"{key!r} would be saved outside {folder}: give the key as listed", USAGE)
    return path


def _html(s3: Any, bucket: str, args: argparse.Namespace, path: Path, out: TextIO) -> None:
    try:
        body = s3.get_object(Bucket=bucket, Key=html_key(args.key))["Body"].read()
    except ClientError as error:
        if aws.aws_code(error) not in ("NoSuchKey", "404"):
            raise
        print(f"no HTML report for {args.key} (written by releases that make one)", file=sys.stderr)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    print(f"HTML report: {path}", file=sys.stderr if args.json else out)
    if args.open:
        webbrowser.open(path.resolve().as_uri())


def _percentage(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage is between 0 and 100")
    return value
