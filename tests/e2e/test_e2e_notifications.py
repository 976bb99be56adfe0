"""File notifications end to end on the local stack: the real handlers publish to the file
reports topic (moto SNS) and its SQS subscriber receives exactly one message per file — for a
clean file, a file with rejects, a file refused as a whole, and an AEP file whose commit is
pending (none while its ``committed`` report stands, one after its final report). A publish
that fails leaves the report as it is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from adm_local.stack import FileNotification, LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, SETUP_CONFIG, csv_bytes, people
from tests.e2e.test_e2e_aep import csv_file, register_dataset, row, settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=3,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={"TIME_MARGIN_MS": "5000"},
        # Long enough for the pump to see the AEP file parked with its committed report.
        aep_sandbox_kwargs={"processing_delay": 2.5},
    ) as local:
        report = local.setup(SETUP_CONFIG)
        assert report.ok, report.format_table()
        yield local


def of(stack: LocalStack, key: str) -> list[FileNotification]:
    return [n for n in stack.notifications() if n.key == key]


def test_every_finished_file_gets_exactly_one_message_with_its_severity(
    stack: LocalStack,
) -> None:
    clean = "audiences/e2e_members/clean.csv"
    rejects = "audiences/e2e_members/rejects.csv"
    refused = "audiences/no_such_audience/file.csv"
    stack.drop(clean, csv_bytes(PEOPLE_HEADER, people(7)))
    # 2 of 8 rows have no usable identifier: a 25 % reject share.
    bad = [["x-1", "not-an-email", "", "", "", ""], ["x-2", "", "12", "", "", ""]]
    stack.drop(rejects, csv_bytes(PEOPLE_HEADER, people(6) + bad))
    stack.drop(refused, csv_bytes(PEOPLE_HEADER, people(2)))
    stack.pump(timeout=120)
    stack.sweep()  # nothing left to finish: no second message from a sweep either

    by_key = Counter(n.key for n in stack.notifications())
    assert {key: by_key[key] for key in (clean, rejects, refused)} == {
        clean: 1,
        rejects: 1,
        refused: 1,
    }
    (info,) = of(stack, clean)
    assert info.attributes == {"severity": "info", "status": "complete", "kind": "audience_members"}
    assert info.message["counts"] == {"read": 7, "accepted": 7, "rejected": 0, "failed": 0}
    assert info.message["report"]["s3_uri"] == f"s3://{stack.names.bucket}/reports/{clean}.json"
    assert stack.report(clean) is not None
    (warning,) = of(stack, rejects)
    assert warning.attributes["severity"] == "warning"
    assert warning.message["reject_share"] == 0.25
    assert warning.message["counts"]["rejected"] == 2
    assert warning.subject == "adm-ingest WARNING complete: rejects.csv (25.0% rejected)"
    (error,) = of(stack, refused)
    assert (error.attributes["severity"], error.message["status"]) == ("warning", "error")
    assert error.message["error"] == stack.report(refused)["error"]  # type: ignore[index]


def test_a_pending_aep_file_notifies_its_final_report_and_not_the_committed_one(
    stack: LocalStack,
) -> None:
    register_dataset(stack, "e2e_notify")
    key = "aep/e2e_notify/profiles.csv"
    seen_while_committed: list[int] = []

    def watch(local: LocalStack) -> None:
        report = local.report(key)
        if report is not None and report["status"] == "committed":
            seen_while_committed.append(len(of(local, key)))

    stack.drop(key, csv_file([row(i) for i in range(1, 6)]))
    stack.pump(timeout=120, progress=watch)

    assert seen_while_committed and set(seen_while_committed) == {0}  # parked: no message
    final = stack.report(key)
    assert final is not None and final["status"] == "complete"
    (notification,) = of(stack, key)
    assert notification.message["status"] == "complete"
    assert notification.message["counts"]["accepted"] == final["accepted"] == 5
    assert notification.attributes["kind"] == "aep"


def test_a_failed_publish_leaves_the_report_intact_and_the_file_reported(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_members/unpublished.csv"
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    with settings(stack, FILE_REPORTS_TOPIC_ARN=missing):
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(4)))
        stack.pump(timeout=60)
        assert stack.sweep()["stale"] == 0  # reported: nothing for the sweep to redo

    report = stack.report(key)
    assert report is not None and report["status"] == "complete" and report["balanced"]
    assert of(stack, key) == []  # lost, not retried (README: at most once)
