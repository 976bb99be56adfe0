"""Nothing lost, nothing doubled: scale, duplicate deliveries, throttling, 5xx bursts, poison."""

from __future__ import annotations

from collections import Counter

import pytest

from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, member_requests, members_of, people

pytestmark = pytest.mark.e2e


def test_fifty_thousand_rows_land_exactly_once(stack: LocalStack) -> None:
    key = "audiences/e2e_bulk/50k.csv"
    stack.drop(key, csv_bytes(PEOPLE_HEADER, people(50_000)))
    stats = stack.pump(timeout=300)

    report = stack.report(key)
    assert report is not None
    assert report["chunks"] >= 10
    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        50_000,
        50_000,
        0,
        0,
    )
    members = members_of(stack, "e2e_bulk")
    assert len(members) == 50_000
    assert member_requests(stack, "e2e_bulk") == report["chunks"]  # one request per chunk
    assert stats.dead_letters == 0

    # The same S3 event delivered again: the splitter recognises the object, no second set of work.
    requests_before = member_requests(stack, "e2e_bulk")
    event = next(body for body in stack.delivered["s3"] if "50k.csv" in body)
    stack.send_message(stack.names.s3_events_queue, event)
    # ...and every chunk message delivered again: the worker's idempotency and ledger refuse them.
    for body in [b for b in stack.delivered["chunks"] if "50k.csv" in b]:
        stack.send_message(stack.names.chunk_queue, body)
    stack.pump(timeout=120)
    assert member_requests(stack, "e2e_bulk") == requests_before
    again = stack.report(key)
    assert again is not None and again["records_read"] == 50_000 and again["accepted"] == 50_000


def test_throttling_storm_is_ridden_out(stack: LocalStack) -> None:
    key = "audiences/e2e_faults/throttled.csv"
    stack.sandbox.faults.set(rate_limit=6, retry_after=0.2, path="/adm/audiences/")
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(3000, 500_000)))
        stats = stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()
    report = stack.report(key)
    assert report is not None and report["accepted"] == 3000 and report["balanced"]
    assert stats.dead_letters == 0
    statuses = Counter(r.status for r in stack.sandbox.requests if "/members" in r.path)
    assert statuses[429] >= 6


def test_server_error_burst_loses_and_doubles_nothing(stack: LocalStack) -> None:
    # Small chunks so a burst hits some chunks mid-file while others go through.
    key = "audiences/e2e_faults/burst.csv"
    stack.sandbox.faults.set(server_errors=4, status=503, path="/adm/audiences/")
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(2000, 600_000)))
        stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()
    report = stack.report(key)
    assert report is not None
    assert (report["accepted"], report["failed"]) == (2000, 0)
    members = members_of(stack, "e2e_faults")
    assert sum(1 for m in members if m.startswith("cust-06")) == 2000


def test_poison_chunk_goes_to_the_dead_letter_queue_and_the_report_says_so(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_poison/poison.csv"
    # Every members call fails for this dataset, for longer than the worker's time budget.
    dataset = stack.registry.id_of("audience", "e2e_poison")
    stack.sandbox.faults.set(server_errors=10_000, status=500, path=f"/adm/audiences/{dataset}/")
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(10, 700_000)))
        stats = stack.pump(timeout=240)
    finally:
        stack.sandbox.faults.clear()
    assert stats.dead_letters == 1
    report = stack.report(key)
    assert report is not None
    assert report["status"] == "complete_with_failures"
    assert report["records_read"] == 10
    assert report["failed"] == 10 and report["balanced"]
    # Answered with a 500 every time: ADM did not take them (not "unconfirmed").
    assert report["failed_by_reason"] == {"not_delivered": 10}
    assert set(report["requests"]["attempts_by_status"]) == {"500"}
    assert {outcome for _, outcome, _ in stack.rejects(key)} == {"failed"}
    assert members_of(stack, "e2e_poison") == {}
