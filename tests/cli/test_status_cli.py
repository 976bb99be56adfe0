"""``adm-ingest status``: a file's status and match rate from its report in the bucket, and a
dataset's metrics from the API (the sandbox)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_ingest.report import report_key
from adm_local.cli import main
from adm_local.sandbox import SandboxServer

BUCKET = "adm-ingest-test"
KEY = "audiences/vip/crm.csv"
MATCH_RATE = {
    "matched": 1600,
    "match_percentage": 61.54,
    "records_resolved": 1600,
    "read_at": "2026-11-27T12:15:00Z",
    "minimum_audience_size": 2000,
    "below_minimum": True,
}


def report(**overrides: Any) -> dict[str, Any]:
    return {
        "status": "complete",
        "error": None,
        "file": {"bucket": BUCKET, "key": KEY},
        "records_read": 2600,
        "accepted": 2600,
        "rejected": 0,
        "failed": 0,
        "balanced": True,
        "warnings": [{"code": "below_minimum_audience_size", "message": "…", "count": 1600}],
        "match_rate": MATCH_RATE,
        **overrides,
    }


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("BUCKET", BUCKET)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def put(s3: Any, document: dict[str, Any]) -> None:
    s3.put_object(Bucket=BUCKET, Key=report_key(KEY), Body=json.dumps(document).encode())


def test_a_file_s_status_shows_its_match_rate(
    bucket: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put(bucket, report())

    assert main(["status", "--report", KEY]) == 0

    out = capsys.readouterr().out
    assert f"s3://{BUCKET}/{KEY}" in out and "complete" in out
    assert "61.54 %, 1,600 matched, 1,600 resolved" in out
    assert "2026-11-27T12:15:00Z" in out
    assert "2,000 matched — below it: the audience can't be used for targeting yet" in out


def test_json_says_the_same(bucket: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put(bucket, report())

    assert main(["status", "--report", KEY, "--bucket", BUCKET, "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "complete" and printed["match_rate"] == MATCH_RATE
    assert printed["warnings"] == ["below_minimum_audience_size"]


def test_a_committed_file_s_match_rate_is_not_read_yet(
    bucket: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put(bucket, report(status="committed", match_rate=None))

    assert main(["status", "--report", KEY]) == 0

    assert "not read yet" in capsys.readouterr().out


def test_a_failed_file_exits_1(bucket: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put(bucket, report(status="error", error="unknown audience 'vip'", match_rate=None))
    assert main(["status", "--report", KEY]) == 1
    captured = capsys.readouterr()
    assert "unknown audience" in captured.out
    assert captured.err.splitlines() == ["adm-ingest: the file failed (status error)"]


def test_an_unknown_key_is_one_clear_line(bucket: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--report", "audiences/vip/nope.csv"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no report for 'audiences/vip/nope.csv'" in err


def test_the_bucket_is_found_as_the_operator_commands_find_it(
    bucket: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--stack`` (or ``$ADM_INGEST_STACK``): the stack's ``BucketName`` output, as for
    ``progress`` / ``report`` / ``redrive``; nothing at all is a usage error naming both."""
    put(bucket, report())
    monkeypatch.delenv("BUCKET")
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"BucketName": {"Value": BUCKET}},
    }
    boto3.client("cloudformation").create_stack(
        StackName="adm-ingest", TemplateBody=json.dumps(template)
    )

    assert main(["status", "--report", KEY, "--stack", "adm-ingest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records_read"] == 2600
    monkeypatch.setenv("ADM_INGEST_STACK", "adm-ingest")
    assert main(["status", "--report", KEY]) == 0
    capsys.readouterr()
    monkeypatch.delenv("ADM_INGEST_STACK")
    assert main(["status", "--report", KEY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stack NAME" in err and "--bucket" in err


def test_without_a_dataset_or_a_report_it_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status"]) == 2
    assert "--report KEY" in capsys.readouterr().err


def test_a_dataset_s_status_shows_its_metrics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from adm_ingest.adm import AdmClient, ClientSettings
    from adm_ingest.adm.auth import Credentials

    with SandboxServer(port=0, onboarded=True, log_stream=None) as sandbox:
        monkeypatch.setenv(API_URL_ENV, sandbox.url)
        monkeypatch.setenv(TOKEN_URL_ENV, sandbox.token_url)
        document = sandbox.account.secret_document()
        credentials = tmp_path / "credentials.json"
        credentials.write_text(json.dumps(document))
        with AdmClient(ClientSettings.for_region("NA"), Credentials.from_mapping(document)) as c:
            data_set_id = c.create_audience("status_audience", "US").data_set_id
            members = [
                {
                    "action": "CREATE",
                    "externalUserId": f"u-{n}",
                    "userConsent": {"geo": {"countryCode": "US"}},
                    "userIdentity": {"hashedPiis": [{"em": f"{n:064x}"}]},
                }
                for n in range(20)
            ]
            c.ingest_members(data_set_id, {"members": members})
            metrics = c.dataset_metrics(data_set_id)

        assert main(["status", data_set_id, "--credentials", str(credentials), "--json"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["match_percentage"] == metrics.match_record_percentage
    assert (printed["matched"], printed["accepted"]) == (metrics.matched, 20)
