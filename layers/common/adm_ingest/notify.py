"""One notification per finished file: an SNS message built from the file's final report.

The message says what a person needs to decide whether to look: the status, the balance (read,
accepted, rejected, failed), the reject share, and where the report is (``s3://`` URI and an S3
console link). It is built from the report alone — counts, reason codes, the file's own key —
so it carries no record value (the report carries none either).

Severity is ``warning`` when the reject share (rejected ÷ read) reaches the threshold
(``REJECT_ALERT_THRESHOLD``, default 5 %) or the status says something went wrong (``error``,
``remote_failed``, ``complete_with_failures``); otherwise ``info``. It travels as the message
attribute ``severity`` (with ``status`` and ``kind``) so a subscription's filter policy can
keep only warnings.

Delivery: the finalizer calls the notifier once, after the file is marked reported (see
:mod:`adm_ingest.pipeline.finalize`: at most once per file — never a duplicate; a failed or
interrupted publish is logged and counted, not retried, and the report stands). The format is
documented in the README ("File notifications").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import quote

from adm_ingest.ledger_records import FileRecord
from adm_ingest.report import report_html_key, report_key

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "adm-ingest.file-report"
MESSAGE_VERSION = 1
DEFAULT_REJECT_THRESHOLD = 0.05
WARNING = "warning"
INFO = "info"
WARNING_STATUSES = frozenset({"error", "remote_failed", "complete_with_failures"})
"""Statuses that warn whatever the reject share: something the user did not ask for happened."""
MAX_SUBJECT = 99
"""SNS: a subject is "less than 100 characters", printable, without line breaks."""
MAX_ERROR = 500
MAX_REASONS = 10
"""Reason codes listed per kind (the most frequent first); the report has them all."""
PUBLISH_FAILED_METRIC = "FileNotificationsFailed"


@dataclass(frozen=True, slots=True)
class FileNotice:
    """A file's notification: the SNS subject, the JSON document, a plain-text rendering (for
    e-mail subscriptions) and its severity."""

    subject: str
    message: dict[str, Any]
    text: str

    @property
    def severity(self) -> str:
        return str(self.message["severity"])

    def attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes: what subscription filter policies match on."""
        return {
            name: {"DataType": "String", "StringValue": str(self.message[name] or "none")}
            for name in ("severity", "status", "kind")
        }

    def publish_arguments(self, topic_arn: str) -> dict[str, Any]:
        """``sns.publish`` arguments: JSON for every protocol, the text for e-mail."""
        document = json.dumps(self.message, sort_keys=True, ensure_ascii=False)
        return {
            "TopicArn": topic_arn,
            "Subject": self.subject,
            "MessageStructure": "json",
            "Message": json.dumps({"default": document, "email": self.text}),
            "MessageAttributes": self.attributes(),
        }


def reject_share(report: Mapping[str, Any]) -> Fraction:
    """Rejected ÷ read, exactly (0 when nothing was read)."""
    read = int(report.get("records_read") or 0)
    rejected = int(report.get("rejected") or 0)
    return Fraction(rejected, read) if read else Fraction(0)


def severity_of(report: Mapping[str, Any], threshold: float) -> str:
    """``warning`` or ``info`` (module docstring). The threshold is read as the decimal it was
    written as (``0.05`` is 1/20, not the binary float just above it), so a share of exactly
    5 % meets a 5 % threshold."""
    if report.get("status") in WARNING_STATUSES:
        return WARNING
    if report.get("records_read") and reject_share(report) >= Fraction(repr(float(threshold))):
        return WARNING
    return INFO


def topic_region(topic_arn: str) -> str:
    """``arn:<partition>:sns:<region>:<account>:<name>`` → the region ("" if not an ARN)."""
    parts = topic_arn.split(":")
    return parts[3] if len(parts) == 6 else ""


def report_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{report_key(key)}"


def console_url(bucket: str, key: str, region: str) -> str:
    """The report object's page in the S3 console."""
    query = f"region={quote(region, safe='')}&bucketType=general&prefix="
    return (
        f"https://console.aws.amazon.com/s3/object/{quote(bucket, safe='')}?"
        f"{query}{quote(report_key(key), safe='/')}"
    )


def build_notice(
    report: Mapping[str, Any],
    *,
    bucket: str,
    region: str,
    threshold: float = DEFAULT_REJECT_THRESHOLD,
    file_id: str = "",
) -> FileNotice:
    """The notification of a file's final report (``bucket``: where the report is)."""
    source = report.get("file")
    # A pipeline report names the object; a dry-run's names the local file it read.
    key = str((source.get("key") if isinstance(source, Mapping) else source) or "")
    share = reject_share(report)
    severity = severity_of(report, threshold)
    status = str(report.get("status") or "")
    error = report.get("error")
    rejects = report.get("rejects_file")
    message: dict[str, Any] = {
        "type": MESSAGE_TYPE,
        "version": MESSAGE_VERSION,
        "severity": severity,
        "status": status,
        "file_id": file_id,
        "bucket": bucket,
        "key": key,
        "kind": str(report.get("kind") or ""),
        "target": str((report.get("target") or {}).get("name") or ""),
        "counts": {
            name: int(report.get(field) or 0)
            for name, field in (
                ("read", "records_read"),
                ("accepted", "accepted"),
                ("rejected", "rejected"),
                ("failed", "failed"),
            )
        },
        "balanced": bool(report.get("balanced")),
        "reject_share": round(float(share), 4),
        "reject_threshold": float(threshold),
        "top_rejected_reasons": _top(report.get("rejected_by_reason")),
        "top_failed_reasons": _top(report.get("failed_by_reason")),
        "error": str(error)[:MAX_ERROR] if error else None,
        "finished_at": (report.get("timings") or {}).get("finished_at"),
        "report": {
            "s3_uri": report_uri(bucket, key),
            "html_s3_uri": f"s3://{bucket}/{report_html_key(key)}",
            "console_url": console_url(bucket, key, region),
        },
        "rejects_s3_uri": f"s3://{bucket}/{rejects}" if rejects else None,
    }
    return FileNotice(subject_line(message), message, _text(message))


def subject_line(message: Mapping[str, Any]) -> str:
    """``adm-ingest WARNING complete_with_failures: crm.csv (12.5% rejected)`` — printable
    ASCII, at most :data:`MAX_SUBJECT` characters (the file name is shortened from the left)."""
    head = f"adm-ingest {str(message['severity']).upper()} {message['status']}: "
    tail = f" ({message['reject_share'] * 100:.1f}% rejected)"
    name = _printable(str(message["key"]).rsplit("/", 1)[-1]) or "(no key)"
    room = MAX_SUBJECT - len(head) - len(tail)
    if len(name) > room:
        name = "..." + name[-(room - 3) :] if room > 3 else ""
    return (head + name + tail)[:MAX_SUBJECT]


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _top(counts: Any) -> dict[str, int]:
    if not isinstance(counts, Mapping):
        return {}
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return {str(code): int(n) for code, n in ranked[:MAX_REASONS]}


def _text(message: Mapping[str, Any]) -> str:
    """The e-mail rendering: the same facts as the JSON, one per line."""
    counts = message["counts"]
    lines = [
        f"{message['key']} — {message['status']} ({message['severity']})",
        f"records read {counts['read']}: accepted {counts['accepted']}, rejected "
        f"{counts['rejected']}, failed {counts['failed']}",
        f"reject share {message['reject_share'] * 100:.2f}% "
        f"(warning at {message['reject_threshold'] * 100:g}%)",
    ]
    for label, field in (("rejected", "top_rejected_reasons"), ("failed", "top_failed_reasons")):
        if message[field]:
            reasons = ", ".join(f"{code} {n}" for code, n in message[field].items())
            lines.append(f"{label} by reason: {reasons}")
    if message["error"]:
        lines.append(f"error: {message['error']}")
    lines += [
        f"report: {message['report']['s3_uri']}",
        f"page: {message['report']['html_s3_uri']}",
        f"console: {message['report']['console_url']}",
    ]
    if message["rejects_s3_uri"]:
        lines.append(f"rejects: {message['rejects_s3_uri']}")
    return "\n".join(lines)


class SnsNotifier:
    """The finalizer's ``notify`` hook: publishes a file's notice to an SNS topic.

    ``sns`` returns the SNS client (called at the first publish: a function that never reports
    a file never builds one). The console link's region is the topic's (the stack's: the bucket's).
    Errors propagate: the finalizer logs and counts them (the report is already final)."""

    def __init__(
        self, sns: Callable[[], Any], topic_arn: str, *, bucket: str, threshold: float
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._bucket = bucket
        self._region = topic_region(topic_arn)
        self._threshold = threshold

    def __call__(self, file: FileRecord, report: Mapping[str, Any]) -> None:
        notice = build_notice(
            report,
            bucket=self._bucket,
            region=self._region,
            threshold=self._threshold,
            file_id=file.file_id,
        )
        self._sns().publish(**notice.publish_arguments(self._topic_arn))
        logger.info(
            "file notification published",
            extra={"file_id": file.file_id, "severity": notice.severity},
        )


def count_failed_publish() -> None:
    """One ``FileNotificationsFailed`` metric (CloudWatch EMF, the functions' namespace)."""
    from aws_lambda_powertools import single_metric
    from aws_lambda_powertools.metrics import MetricUnit

    try:
        with single_metric(name=PUBLISH_FAILED_METRIC, unit=MetricUnit.Count, value=1):
            pass
    except Exception:  # no namespace configured (a test, a script): the log line remains
        logger.warning("could not emit the %s metric", PUBLISH_FAILED_METRIC)
