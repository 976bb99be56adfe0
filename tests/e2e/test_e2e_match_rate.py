"""End to end: an audience file's report is ``committed`` once its members are delivered, and
final — with the dataset's match rate and the time it was read — after the poller waited
``MATCH_RATE_DELAY_SECONDS`` (1 s on the local stack) and read the metrics. Metrics that can't
be read leave the file complete, with a warning."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from adm_ingest.report import report_key
from adm_local.sandbox.state import resolves
from adm_local.stack import LocalStack

AUDIENCE = "e2e_matched"
CSV = "external_id,email,country\n" + "".join(
    f"m-{n},person{n}@example.com,US\n" for n in range(30)
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A short poll deadline, so that metrics failing for good give up within seconds; one
    # attempt per metrics call (the poll itself is retried).
    environment = {"POLL_MAX_SECONDS": "8", "ADM_MAX_ATTEMPTS": "1"}
    with LocalStack(visibility_timeout=1, worker_timeout_s=30, environment=environment) as local:
        config = {
            "region": "NA",
            "managerAccountId": "amzn1.ads1ma1.sandbox",
            "advertiserAccountId": "ADV-SANDBOX-1",
            "audiences": [
                {"name": AUDIENCE, "countryCode": "US"},
                {"name": "e2e_unmatched", "countryCode": "US"},
            ],
            "conversionDefinitions": [],
            "sharingRules": [],
        }
        assert local.setup(config).ok
        yield local


def versions(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    """Every version of the file's report, oldest first."""
    s3 = stack.client("s3")
    listed = s3.list_object_versions(Bucket=stack.names.bucket, Prefix=report_key(key))
    # S3 lists a key's versions newest first. (Not by LastModified: it has whole seconds, and
    # the committed and the final report may be written within one.)
    found = [v for v in reversed(listed.get("Versions", [])) if v["Key"] == report_key(key)]
    return [
        json.loads(
            s3.get_object(Bucket=stack.names.bucket, Key=v["Key"], VersionId=v["VersionId"])[
                "Body"
            ].read()
        )
        for v in found
    ]


def test_an_audience_file_s_final_report_has_its_match_rate(stack: LocalStack) -> None:
    key = f"audiences/{AUDIENCE}/crm.csv"
    stack.drop(key, CSV)

    stack.pump(timeout=120)  # waits for the poller's executions too

    committed, final = versions(stack, key)
    assert committed["status"] == "committed" and "match_rate" not in committed
    assert committed["remote"]["session"]["metrics_dataset"] == final["target"]["id"]

    assert final["status"] == "complete" and final["balanced"] and final["accepted"] == 30
    assert final["remote"]["status"] == "metrics_read" and final["remote"]["succeeded"] is True
    members = stack.sandbox.state()["datasets"][final["target"]["id"]]["members"]
    resolved = sum(resolves(member) for member in members.values())
    match_rate = final["match_rate"]
    assert match_rate == {
        "matched": resolved,
        "match_percentage": round(100 * resolved / 30, 2),
        "records_resolved": resolved,
        "read_at": match_rate["read_at"],
        "minimum_audience_size": 2000,
        "below_minimum": True,
    }
    read_at = datetime.fromisoformat(match_rate["read_at"])
    assert read_at >= datetime.fromisoformat(final["remote"]["committed_at"]).replace(microsecond=0)
    (warning,) = [w for w in final["warnings"] if w["code"] == "below_minimum_audience_size"]
    assert warning["count"] == resolved


def test_metrics_that_keep_failing_leave_the_file_complete(stack: LocalStack) -> None:
    key = "audiences/e2e_unmatched/crm.csv"
    stack.sandbox.faults.set(server_errors=10_000, status=503, path="/adm/datasets/")
    try:
        stack.drop(key, CSV)
        stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()

    final = versions(stack, key)[-1]
    assert final["status"] == "complete" and final["accepted"] == 30 and final["balanced"]
    assert "match_rate" not in final
    assert final["remote"]["status"] == "metrics_unavailable"
    assert final["remote"]["facts"]["match_unavailable"] == "server_error"
    codes = [warning["code"] for warning in final["warnings"]]
    assert "match_rate_unavailable" in codes
    assert final["rejects_file"] is None
