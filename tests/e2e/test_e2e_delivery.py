"""Honest outcomes under a storm: a batch whose answer was lost is ``unconfirmed_delivery`` (ADM
may hold it), one refused every time is ``not_delivered``; the report counts every attempt.

A stack of its own, with small retry budgets (2 attempts per request, 20 ms backoff, 2 receives
per chunk) so a storm runs out of retries in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, dataset_id, members_of, people

pytestmark = pytest.mark.e2e

CONFIG: dict[str, Any] = {
    "region": "NA",
    "managerAccountId": "amzn1.ads1ma1.sandbox",
    "advertiserAccountId": "ADV-SANDBOX-1",
    "audiences": [
        {"name": "e2e_storm", "countryCode": "US"},
        {"name": "e2e_refused", "countryCode": "US"},
        {"name": "e2e_throttled", "countryCode": "US"},
    ],
    "conversionDefinitions": [],
    "sharingRules": [],
}


@pytest.fixture(scope="module")
def storm_stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=1000,
        max_receive_count=2,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={
            "TIME_MARGIN_MS": "5000",
            "ADM_MAX_ATTEMPTS": "2",
            "ADM_RETRY_BASE_DELAY_MS": "20",
            "ADM_CALL_BUDGET_MS": "5000",
        },
    ) as local:
        report = local.setup(CONFIG)
        assert report.ok, report.format_table()
        yield local


def _members_path(stack: LocalStack, audience: str) -> str:
    return f"/adm/audiences/{dataset_id(stack, audience)}/members"


def _unanswered(stack: LocalStack, audience: str) -> int:
    path = _members_path(stack, audience)
    return sum(1 for r in stack.sandbox.requests if r.path == path and r.status is None)


def test_answers_lost_on_every_attempt_are_unconfirmed_not_failed_as_undelivered(
    storm_stack: LocalStack,
) -> None:
    stack = storm_stack
    key = "audiences/e2e_storm/storm.csv"
    # ADM takes every request and the answer never arrives.
    stack.sandbox.faults.set(accept_then_drop=10_000, path=_members_path(stack, "e2e_storm"))
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(2500, 800_000)))
        stats = stack.pump(timeout=180)
    finally:
        stack.sandbox.faults.clear()
    assert stats.dead_letters == 3  # every chunk ran out of receives

    report = stack.report(key)
    assert report is not None
    assert (report["records_read"], report["accepted"], report["failed"]) == (2500, 0, 2500)
    assert report["balanced"] and report["status"] == "complete_with_failures"
    assert report["failed_by_reason"] == {"unconfirmed_delivery": 2500}
    assert {(outcome, reason) for _, outcome, reason in stack.rejects(key)} == {
        ("failed", "unconfirmed_delivery")
    }
    # Every attempt is counted: 3 chunks x 2 receives x 2 attempts, all dropped after sending.
    requests = report["requests"]
    assert requests["attempts_by_status"] == {"dropped": _unanswered(stack, "e2e_storm")}
    assert requests["attempts"] == 12
    assert requests["sent"] == 0 and requests["final_by_status"] == {}
    assert requests["retry_wait_seconds"] > 0
    # ...and ADM does hold them: "unconfirmed" is the honest word.
    assert len(members_of(stack, "e2e_storm")) == 2500

    # Re-dropping the file resolves it, idempotently: members are keyed by externalUserId.
    # (Under another key: moto's S3 events carry no versionId, so the same bytes under the same
    # key would be taken for a redelivered event.)
    again_key = "audiences/e2e_storm/storm-again.csv"
    stack.drop(again_key, csv_bytes(PEOPLE_HEADER, people(2500, 800_000)))
    stack.pump(timeout=120)
    again = stack.report(again_key)
    assert again is not None
    assert (again["accepted"], again["failed"]) == (2500, 0)
    assert len(members_of(stack, "e2e_storm")) == 2500


def test_refused_on_every_attempt_is_not_delivered(storm_stack: LocalStack) -> None:
    stack = storm_stack
    key = "audiences/e2e_refused/refused.csv"
    stack.sandbox.faults.set(
        server_errors=10_000, status=503, path=_members_path(stack, "e2e_refused")
    )
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(10, 810_000)))
        stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()
    report = stack.report(key)
    assert report is not None
    assert report["failed_by_reason"] == {"not_delivered": 10}
    assert report["requests"]["attempts_by_status"] == {"503": 4}  # 2 receives x 2 attempts
    assert members_of(stack, "e2e_refused") == {}


def test_retries_that_succeed_are_counted_and_duplicates_sent_once(
    storm_stack: LocalStack,
) -> None:
    stack = storm_stack
    key = "audiences/e2e_throttled/throttled.csv"
    rows = people(900, 820_000)
    rows += rows[:10]  # the same ten people again, identical: sent once
    # Three 429s: the first receive runs out of attempts, the second gets through.
    stack.sandbox.faults.set(
        rate_limit=3, retry_after=0.1, path=_members_path(stack, "e2e_throttled")
    )
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, rows))
        stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()
    report = stack.report(key)
    assert report is not None
    assert (report["accepted"], report["rejected"], report["failed"]) == (900, 10, 0)
    assert report["rejected_by_reason"] == {"duplicate_in_file": 10}
    assert report["requests"]["final_by_status"] == {"200": 1}
    assert report["requests"]["attempts_by_status"] == {"429": 3, "200": 1}
    assert report["requests"]["retry_wait_seconds"] >= 0.1  # the one Retry-After slept
    assert (report["requests_sent"], report["requests_by_status"]) == (1, {"200": 1})
    # The one request, at the minute its answer came (after the retry): within the file's time.
    [answered] = report["requests_over_time"]
    assert answered["requests"] == {"200": 1}
    received, finished = report["timings"]["received_at"], report["timings"]["finished_at"]
    assert received[:16] <= answered["minute"][:16] <= finished[:16]
    assert len(members_of(stack, "e2e_throttled")) == 900
