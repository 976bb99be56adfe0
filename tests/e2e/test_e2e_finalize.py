"""Reports can't be lost, and the dead-letter queue can't be poisoned (the local stack).

* A report write that fails once is retried by the redelivered chunk: one report, file done.
* A finalizer that fails and can't even release its claim (as good as crashed) is finished by
  the sweeper once the lease is over — and only then.
* A poison message in the chunk DLQ, batched with a real dead-lettered chunk, is counted and
  removed while the chunk is failed and its file reported.

The stack here runs with a short lease (``FINALIZE_LEASE_SECONDS``) so the sweep test need
not wait 15 minutes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adm_ingest.report import report_key
from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, SETUP_CONFIG, csv_bytes, members_of, people

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 6


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=500,
        max_receive_count=3,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={"TIME_MARGIN_MS": "5000", "FINALIZE_LEASE_SECONDS": str(LEASE_SECONDS)},
    ) as local:
        report = local.setup(SETUP_CONFIG)
        assert report.ok, report.format_table()
        yield local


class Injected:
    """Fails calls of one function's AWS client (a botocore hook) while armed."""

    def __init__(
        self, client: Any, event: str, when: Callable[[dict[str, Any]], bool], times: int
    ) -> None:
        self.client, self.event, self.when, self.left = client, event, when, times
        self.fired = 0

    def __enter__(self) -> Injected:
        self.client.meta.events.register(self.event, self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.meta.events.unregister(self.event, self._hook)

    def _hook(self, params: dict[str, Any], **_: Any) -> None:
        if self.left and self.when(params):
            self.left -= 1
            self.fired += 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "x")


def report_versions(stack: LocalStack, key: str) -> int:
    """How many times the final report was written (an audience file's ``committed`` report,
    written while its match rate is awaited, comes before it and is not counted)."""
    s3 = stack.client("s3")
    listed = s3.list_object_versions(Bucket=stack.names.bucket, Prefix=report_key(key))
    versions = [v for v in listed.get("Versions", []) if v["Key"] == report_key(key)]
    bodies = [
        json.loads(
            s3.get_object(Bucket=stack.names.bucket, Key=v["Key"], VersionId=v["VersionId"])[
                "Body"
            ].read()
        )
        for v in versions
    ]
    return sum(1 for body in bodies if body["status"] != "committed")


def file_item(stack: LocalStack, key: str, *, reported: bool = True) -> dict[str, Any]:
    """The ledger's file item for ``key`` (a scan: fine on a test table)."""
    assert (stack.report(key) is not None) is reported
    item = stack.client("dynamodb").scan(
        TableName=stack.names.ledger_table,
        FilterExpression="#k = :k AND sk = :file",
        ExpressionAttributeNames={"#k": "key"},
        ExpressionAttributeValues={":k": {"S": key}, ":file": {"S": "file"}},
    )["Items"]
    (found,) = item
    return found


def to_reports(params: dict[str, Any]) -> bool:
    return str(params.get("Key", "")).startswith("reports/")


def test_a_failed_report_write_is_retried_by_the_redelivered_chunk(stack: LocalStack) -> None:
    key = "audiences/e2e_members/report-put-fails-once.csv"
    worker_s3 = stack.functions["worker"].runtime.s3
    with Injected(worker_s3, "before-parameter-build.s3.PutObject", to_reports, 1) as fault:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(1200, 800_000)))
        stats = stack.pump(timeout=120)
    assert fault.fired == 1
    assert stats.chunk_retries == 1 and stats.dead_letters == 0
    report = stack.report(key)
    assert report is not None and (report["records_read"], report["accepted"]) == (1200, 1200)
    assert report_versions(stack, key) == 1
    item = file_item(stack, key)
    assert item["status"]["S"] == "complete" and "reported_at" in item
    assert "finalizing" not in item  # out of the sweeper's index


def test_a_crashed_finalizer_is_finished_by_the_sweeper_after_the_lease(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_members/finalizer-crashes.csv"
    worker = stack.functions["worker"].runtime
    with (
        Injected(worker.s3, "before-parameter-build.s3.PutObject", to_reports, 1),
        Injected(
            worker.dynamodb.meta.client,
            "before-parameter-build.dynamodb.UpdateItem",
            lambda params: "last_finalize_error" in params.get("UpdateExpression", ""),
            1,
        ) as release,
    ):
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(700, 810_000)))
        dropped_at = time.monotonic()
        stack.pump(timeout=120)
    assert release.fired == 1
    # The redelivered chunk found the claim held: every record landed, no report yet.
    assert time.monotonic() - dropped_at < LEASE_SECONDS, "the pump outlasted the lease"
    assert stack.report(key) is None
    assert len([m for m in members_of(stack, "e2e_members") if m.startswith("cust-081")]) == 700
    assert stack.sweep() == {"stale": 0, "reported": 0, "failed": 0, "timed_out": 0}

    claimed_at = float(file_item(stack, key, reported=False)["finalize_claimed_at"]["N"])
    time.sleep(max(0.0, claimed_at + LEASE_SECONDS + 0.5 - time.time()))
    assert stack.sweep() == {"stale": 1, "reported": 1, "failed": 0, "timed_out": 0}
    stack.pump(timeout=60)  # the poller the sweeper's commit started reads the match rate
    report = stack.report(key)
    assert report is not None and report["accepted"] == 700
    assert report_versions(stack, key) == 1
    assert stack.sweep()["stale"] == 0


def test_poison_in_the_chunk_dlq_is_removed_and_counted_beside_a_real_dead_chunk(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_poison/dead-chunk.csv"
    poison = "email,phone\njane.doe@example.com,+44 7700 900123\n"  # someone's CSV, not a pointer
    worker_s3 = stack.functions["worker"].runtime.s3
    # The worker can't read this file: its chunk exhausts its receives into the DLQ.
    unreadable = Injected(
        worker_s3,
        "before-parameter-build.s3.GetObject",
        lambda params: params.get("Key") == key,
        10_000,
    )
    with unreadable:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(10, 820_000)))
        stack.send_message(stack.names.chunk_dlq, poison)
        stack.pump(timeout=120, hold={stack.names.chunk_dlq})
    assert unreadable.fired == 3  # maxReceiveCount

    stats = stack.pump(timeout=120)  # both dead letters, in one batch
    assert (stats.dead_letters, stats.dead_letter_retries) == (2, 0)
    report = stack.report(key)
    assert report is not None and report["status"] == "complete_with_failures"
    assert (report["records_read"], report["failed"], report["balanced"]) == (10, 10, True)
    assert members_of(stack, "e2e_poison") == {}  # the dead-letter path never sends

    counted = stack.client("dynamodb").get_item(
        TableName=stack.names.ledger_table,
        Key={"pk": {"S": f"POISON#{stack.names.chunk_dlq}"}, "sk": {"S": "poison"}},
    )["Item"]
    assert counted["messages"] == {"N": "1"} and counted["kind_not_json"] == {"N": "1"}
    assert counted["last_digest"]["S"] == hashlib.sha256(poison.encode()[:64]).hexdigest()
    assert "jane" not in str(counted)
