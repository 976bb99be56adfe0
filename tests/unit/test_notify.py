"""A finished file's notification: its format, its severity, and that it carries no PII.

The message is built from the final report alone (adm_ingest/notify.py); the README's "File
notifications" section documents the same fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.notify import (
    INFO,
    MAX_SUBJECT,
    WARNING,
    WARNING_STATUSES,
    build_notice,
    console_url,
    severity_of,
)
from adm_local.cli import main
from tests.unit.test_privacy import HEADER, ROWS, leaks

BUCKET = "adm-ingest-123456789012-eu-west-1"
REGION = "eu-west-1"
KEY = "audiences/crm_customers_us/2026-11-27/crm export.csv"


def report(
    *,
    status: str = "complete",
    read: int = 200,
    rejected: int = 0,
    failed: int = 0,
    key: str = KEY,
    **extra: Any,
) -> dict[str, Any]:
    """The fields of a final report (adm_ingest/report.py) the notification reads."""
    return {
        "status": status,
        "error": None,
        "file": {"bucket": BUCKET, "key": key, "version_id": "v1", "etag": "e", "size": 1},
        "kind": "audience_members",
        "target": {"name": "crm_customers_us", "id": "DS-1"},
        "records_read": read,
        "accepted": read - rejected - failed,
        "rejected": rejected,
        "failed": failed,
        "balanced": True,
        "rejected_by_reason": {"invalid_email": rejected} if rejected else {},
        "failed_by_reason": {"not_delivered": failed} if failed else {},
        "timings": {"finished_at": "2026-12-01T14:00:00Z"},
        "rejects_file": f"rejects/{key}.csv" if rejected or failed else None,
        **extra,
    }


def test_the_message_is_the_documented_json_with_counts_share_and_where_the_report_is() -> None:
    notice = build_notice(
        report(rejected=25, failed=1), bucket=BUCKET, region=REGION, file_id="f" * 32
    )
    assert notice.message == {
        "type": "adm-ingest.file-report",
        "version": 1,
        "severity": "warning",
        "status": "complete",
        "file_id": "f" * 32,
        "bucket": BUCKET,
        "key": KEY,
        "kind": "audience_members",
        "target": "crm_customers_us",
        "counts": {"read": 200, "accepted": 174, "rejected": 25, "failed": 1},
        "balanced": True,
        "reject_share": 0.125,
        "reject_threshold": 0.05,
        "top_rejected_reasons": {"invalid_email": 25},
        "top_failed_reasons": {"not_delivered": 1},
        "error": None,
        "finished_at": "2026-12-01T14:00:00Z",
        "report": {
            "s3_uri": f"s3://{BUCKET}/reports/{KEY}.json",
            "html_s3_uri": f"s3://{BUCKET}/reports/{KEY}.html",
            "console_url": (
                f"https://console.aws.amazon.com/s3/object/{BUCKET}?region=eu-west-1"
                "&bucketType=general&prefix=reports/audiences/crm_customers_us/2026-11-27/"
                "crm%20export.csv.json"
            ),
        },
        "rejects_s3_uri": f"s3://{BUCKET}/rejects/{KEY}.csv",
    }
    assert notice.subject == "adm-ingest WARNING complete: crm export.csv (12.5% rejected)"


def test_publish_arguments_carry_json_for_every_protocol_text_for_email_and_attributes() -> None:
    notice = build_notice(report(rejected=1), bucket=BUCKET, region=REGION)
    arguments = notice.publish_arguments("arn:aws:sns:eu-west-1:123456789012:file-reports")
    assert arguments["TopicArn"].endswith(":file-reports")
    assert arguments["MessageStructure"] == "json"
    bodies = json.loads(arguments["Message"])
    assert set(bodies) == {"default", "email"}
    assert json.loads(bodies["default"]) == notice.message
    assert bodies["email"] == notice.text
    assert f"s3://{BUCKET}/reports/{KEY}.json" in notice.text
    assert "accepted 199, rejected 1, failed 0" in notice.text
    assert arguments["MessageAttributes"] == {
        "severity": {"DataType": "String", "StringValue": "info"},
        "status": {"DataType": "String", "StringValue": "complete"},
        "kind": {"DataType": "String", "StringValue": "audience_members"},
    }


@pytest.mark.parametrize("status", sorted(WARNING_STATUSES))
def test_a_status_that_went_wrong_warns_whatever_the_reject_share(status: str) -> None:
    assert severity_of(report(status=status), threshold=1.0) == WARNING


@pytest.mark.parametrize("status", ["complete", "committed"])
def test_a_clean_file_is_info(status: str) -> None:
    assert severity_of(report(status=status), threshold=0.05) == INFO


def test_exactly_the_threshold_warns_and_just_below_does_not() -> None:
    # 5 of 100 is 0.05 exactly; the float 0.05 is a hair above 1/20 and must not hide it.
    assert severity_of(report(read=100, rejected=5), threshold=0.05) == WARNING
    assert severity_of(report(read=100_000, rejected=4_999), threshold=0.05) == INFO
    assert severity_of(report(read=3, rejected=1), threshold=1 / 3) == WARNING


def test_an_empty_file_is_no_reject_share_even_at_a_zero_threshold() -> None:
    notice = build_notice(report(read=0), bucket=BUCKET, region=REGION, threshold=0.0)
    assert (notice.severity, notice.message["reject_share"]) == (INFO, 0.0)
    assert severity_of(report(read=1, rejected=0), threshold=0.0) == WARNING  # 0 ≥ 0


def test_a_file_level_error_is_in_the_message_bounded() -> None:
    error = "line 1: the file seems to have no header row " + "x" * 1000
    notice = build_notice(report(status="error", read=0, error=error), bucket=BUCKET, region=REGION)
    assert notice.severity == WARNING
    assert notice.message["error"].startswith("line 1: the file seems")
    assert len(notice.message["error"]) == 500


@given(
    read=st.integers(min_value=1, max_value=10**9),
    share=st.fractions(min_value=0, max_value=1),
    basis_points=st.integers(min_value=0, max_value=10_000),
)
def test_warning_iff_the_reject_share_reaches_the_threshold(
    read: int, share: Any, basis_points: int
) -> None:
    rejected = min(read, int(share * read))
    threshold = basis_points / 10_000  # as REJECT_ALERT_THRESHOLD is written: a decimal
    expected = WARNING if rejected * 10_000 >= basis_points * read else INFO
    assert severity_of(report(read=read, rejected=rejected), threshold) == expected


@given(key=st.text(min_size=0, max_size=600), share=st.integers(min_value=0, max_value=100))
def test_the_subject_is_printable_ascii_under_sns_s_limit_whatever_the_key(
    key: str, share: int
) -> None:
    notice = build_notice(
        report(status="complete_with_failures", read=100, rejected=share, key=key),
        bucket=BUCKET,
        region=REGION,
    )
    subject = notice.subject
    assert 0 < len(subject) <= MAX_SUBJECT < 100
    assert all(" " <= c <= "~" for c in subject)
    assert subject.startswith("adm-ingest WARNING complete_with_failures: ")
    assert subject.endswith(f" ({share:.1f}% rejected)")


def test_the_console_link_escapes_the_key() -> None:
    url = console_url(BUCKET, "audiences/a/x&y?z#.csv", REGION)
    assert url.endswith("prefix=reports/audiences/a/x%26y%3Fz%23.csv.json")


def test_the_notification_of_a_file_full_of_pii_holds_none(tmp_path: Path) -> None:
    """The privacy suite's file (tests/unit/test_privacy.py: raw PII that trips every
    rejection) through the dry-run, whose report is the pipeline's; its notification —
    subject, JSON and e-mail text — must hold none of it."""
    source = tmp_path / "customers.csv"
    source.write_bytes(HEADER + b"".join(ROWS))
    out = tmp_path / "out"
    assert main(["dry-run", str(source), "--out", str(out)]) == 0
    dry_run_report = orjson.loads((out / "report.json").read_bytes())
    assert dry_run_report["rejected"] > 5  # the rejections had their chance to echo a value
    notice = build_notice(dry_run_report, bucket=BUCKET, region=REGION, file_id="f" * 32)
    arguments = notice.publish_arguments("arn:aws:sns:eu-west-1:123456789012:file-reports")
    assert notice.severity == WARNING
    assert leaks(json.dumps(arguments, ensure_ascii=False)) == []
    assert leaks(notice.subject + notice.text + json.dumps(notice.message)) == []
