"""Redrive end to end: a chunk forced into the DLQ is failed in the report; after the redrive
the sandbox accepts it, the rewritten report balances, and every record arrived exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.redrive import Redriver
from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, people

pytestmark = pytest.mark.e2e

AUDIENCE = "e2e_redrive"
KEY = f"audiences/{AUDIENCE}/redrive.csv"
CONFIG: dict[str, Any] = {
    "region": "NA",
    "managerAccountId": "amzn1.ads1ma1.sandbox",
    "advertiserAccountId": "ADV-SANDBOX-1",
    "audiences": [{"name": AUDIENCE, "countryCode": "US"}],
    "conversionDefinitions": [],
    "sharingRules": [],
}


@pytest.fixture(scope="module")
def redrive_stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=4,
        max_receive_count=2,
        visibility_timeout=1,
        worker_batch_size=1,
        worker_timeout_s=30,
        # The match rate's poll is not what these tests are about (committed files are redriven
        # in tests/unit/test_ledger_redrive.py): files are final at delivery here.
        environment={"TIME_MARGIN_MS": "5000", "MATCH_RATE_DELAY_SECONDS": "0"},
    ) as local:
        report = local.setup(CONFIG)
        assert report.ok, report.format_table()
        yield local


def _rows() -> list[list[str]]:
    """12 records in 3 chunks of 4 (lines 2-5, 6-9, 10-13); one short row in each chunk."""
    rows = people(12, 800_000)
    for line in (3, 7, 11):
        rows[line - 2] = [f"short-{line}"]
    return rows


def _members(stack: LocalStack) -> dict[str, Any]:
    dataset = stack.registry.id_of("audience", AUDIENCE)
    return dict(stack.sandbox.state()["datasets"][dataset]["members"])


def _member_posts(stack: LocalStack) -> int:
    dataset = stack.registry.id_of("audience", AUDIENCE)
    path = f"/adm/audiences/{dataset}/members"
    return sum(1 for r in stack.sandbox.requests if r.path == path and r.status == 200)


def test_a_dead_lettered_chunk_is_redriven_and_the_report_rewritten(
    redrive_stack: LocalStack,
) -> None:
    stack = redrive_stack
    stack.drop(KEY, csv_bytes(PEOPLE_HEADER, _rows()))
    stack.split()
    # Take the middle chunk's message aside; the other two chunks are delivered normally.
    queue = stack.names.chunk_queue
    messages = stack.receive(queue)
    assert len(messages) == 3
    middle = next(m for m in messages if ChunkPointer.from_message(m["Body"]).index == 1)
    sqs = stack.client("sqs")
    for message in messages:
        sqs.delete_message(QueueUrl=stack.queue_url(queue), ReceiptHandle=message["ReceiptHandle"])
        if message is not middle:
            stack.send_message(queue, message["Body"])
    assert stack.pump(timeout=60).dead_letters == 0
    assert stack.report(KEY) is None  # chunk 1 is not accounted for yet

    dataset = stack.registry.id_of("audience", AUDIENCE)
    stack.sandbox.faults.set(server_errors=10_000, status=500, path=f"/adm/audiences/{dataset}/")
    try:
        stack.send_message(queue, middle["Body"])
        stats = stack.pump(timeout=120)
    finally:
        stack.sandbox.faults.clear()
    assert stats.dead_letters == 1
    first = stack.report(KEY)
    assert first is not None
    assert first["status"] == "complete_with_failures"
    assert (first["records_read"], first["accepted"], first["rejected"], first["failed"]) == (
        12,
        6,
        3,
        3,
    )
    assert first["failed_by_reason"] == {"not_delivered": 3}
    assert first["consent_sources"] == {"none": 9}  # the failed chunk's records too
    assert len(_members(stack)) == 6
    posts_before = _member_posts(stack)

    redriver = Redriver(
        Ledger(stack.names.ledger_table),
        s3=stack.client("s3"),
        sqs=sqs,
        chunk_queue_url=stack.queue_url(queue),
    )
    file_id = ChunkPointer.from_message(middle["Body"]).file_id
    result = redriver.redrive_file(file_id)
    assert [(c.index, c.outcome) for c in result.chunks] == [(1, "redriven")]
    # Run twice before the worker saw it: nothing more to redrive, nothing sent twice.
    assert redriver.redrive_file(file_id).chunks == []
    # Old copies of the chunk's message turn up before the redriven one is processed — in the
    # DLQ and in the chunk queue: both are stale, dropped (and the worker's idempotency cache
    # of the dropped one does not answer for the redriven one).
    redriven = stack.receive(queue)  # in flight: seen again after the visibility timeout
    assert [ChunkPointer.from_message(m["Body"]).redrive for m in redriven] == [1]
    stack.send_message(stack.names.chunk_dlq, middle["Body"])
    stack.send_message(queue, middle["Body"])
    stack.pump(timeout=60)

    report = stack.report(KEY)
    assert report is not None
    assert report["status"] == "complete"
    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        12,
        9,
        3,
        0,
    )
    assert report["balanced"] is True
    assert report["failed_by_reason"] == {}
    assert report["rejected_by_reason"] == {"wrong_field_count": 3}
    # The redriven chunk's consent counts were taken out and counted again: not 12.
    assert report["consent_sources"] == {"none": 9}
    # The rejects file is rewritten: each chunk's row once, in line order, no failures left.
    assert stack.rejects(KEY) == [
        (3, "rejected", "wrong_field_count"),
        (7, "rejected", "wrong_field_count"),
        (11, "rejected", "wrong_field_count"),
    ]
    members = _members(stack)
    assert len(members) == 9
    # One more members POST — the redriven chunk's batch — and none repeated.
    assert _member_posts(stack) == posts_before + 1
    assert redriver.redrive_file(file_id).chunks == []  # done: nothing failed any more
    assert json.dumps(report)  # the report stays JSON
