"""``ReportWriter`` puts the HTML page beside the JSON: ``reports/<key>.html``, for the
committed (interim) report and the final one, with the first staged rejects on it, and a retry
that finds it written leaves it alone — the JSON's idempotency rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.ledger import FileRecord
from adm_ingest.outcomes import RecordFate
from adm_ingest.report import (
    FIRST_REJECTS,
    HTML_CONTENT_TYPE,
    ReportWriter,
    build_report,
    fates_csv,
    fates_key,
    report_html_key,
    report_key,
)

BUCKET = "html-report-test"
KEY = "audiences/vip/crm.csv"
FILE_ID = "e" * 32


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def finished(**changes: Any) -> FileRecord:
    fields: dict[str, Any] = {
        "key": KEY,
        "bucket": BUCKET,
        "read": 40,
        "accepted": 15,
        "rejected": {"no_identifier": 25},
        "chunks_total": 2,
    }
    return FileRecord(FILE_ID, **(fields | changes))


def stage_fates(s3: Any) -> None:
    """Two chunks' fate files: 20 rejects in the first, 5 in the second."""
    for index, lines in enumerate((range(2, 22), range(30, 35))):
        fates = [RecordFate(line, "rejected", "no_identifier") for line in lines]
        s3.put_object(Bucket=BUCKET, Key=fates_key(FILE_ID, index), Body=fates_csv(fates))


def page(s3: Any) -> tuple[str, dict[str, Any]]:
    got = s3.get_object(Bucket=BUCKET, Key=report_html_key(KEY))
    return got["Body"].read().decode(), got


def versions(s3: Any, key: str) -> int:
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
    return sum(1 for version in listed if version["Key"] == key)


def test_the_final_report_has_its_page_with_the_first_rejects(s3: Any) -> None:
    stage_fates(s3)
    ReportWriter(s3, BUCKET).write(FILE_ID, finished())
    html, got = page(s3)
    assert got["ContentType"] == HTML_CONTENT_TYPE == "text/html; charset=utf-8"
    assert got["Metadata"]["file-id"] == FILE_ID
    assert report_html_key(KEY) == "reports/audiences/vip/crm.csv.html"
    assert versions(s3, report_key(KEY)) == 1  # the JSON is still there, beside it
    assert f"The first {FIRST_REJECTS} of 25" in html
    assert '<td class="n">2</td>' in html and '<td class="n">21</td>' in html
    assert '<td class="n">30</td>' not in html  # past the first 20


def test_a_retry_that_finds_the_page_written_does_not_write_it_again(s3: Any) -> None:
    stage_fates(s3)
    writer = ReportWriter(s3, BUCKET)
    file = finished(finalize_attempts=2)
    report = build_report(file)
    writer.write_outputs(FILE_ID, file, report)
    writer.write_outputs(FILE_ID, file, report, skip_existing=True)
    assert versions(s3, report_html_key(KEY)) == versions(s3, report_key(KEY)) == 1
    # A page that differs (a crash between two report versions) is rewritten.
    s3.put_object(
        Bucket=BUCKET, Key=report_html_key(KEY), Body=b"old", Metadata={"file-id": FILE_ID}
    )
    writer.write_outputs(FILE_ID, file, report, skip_existing=True)
    assert page(s3)[0].startswith("<!DOCTYPE html>")
    assert versions(s3, report_key(KEY)) == 1


def test_the_committed_report_has_its_page_too_with_the_staged_rejects(s3: Any) -> None:
    stage_fates(s3)
    file = finished(committed_at="2026-12-01T14:12:12Z", commit_session={"batches": "01ABC"})
    report = build_report(file)
    assert report["status"] == "committed"
    ReportWriter(s3, BUCKET).write_report(FILE_ID, KEY, report)
    html, _ = page(s3)
    assert ">committed</span>" in html and '<b id="remote-status">pending</b>' in html
    assert '<td class="n">2</td>' in html  # the rejects so far, before the rejects file


def test_a_clean_file_gets_its_page_without_a_rejects_table(s3: Any) -> None:
    ReportWriter(s3, BUCKET).write(FILE_ID, finished(accepted=40, rejected={}))
    html, _ = page(s3)
    assert 'data-figure="accepted"><b>40</b>' in html
    assert 'id="rejects"' not in html
