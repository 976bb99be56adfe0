"""Finalization can't be lost and happens once (moto, in-process).

The finalizer's promise: whatever step fails — the claim, reading the staged fates, the rejects
put, the report put, recording the report written, the staging cleanup, marking the file done —
the next delivery (any call of ``finalize_if_complete``) or, if the failed holder never let go,
the sweep after the lease, produces the report; the bucket then holds exactly one version of
the report and of the rejects file, the staging area is empty and the file is ``reported``.
Two finalizers never hold a file at once; a crashed one is taken over after the lease.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adm_ingest import report as report_module
from adm_ingest.ledger import FileEntry, FileRecord, Ledger
from adm_ingest.outcomes import RecordFate, Tally
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.report import (
    REJECTS_HEADER,
    ReportWriter,
    build_report,
    fates_csv,
    fates_key,
    rejects_key,
    report_key,
    staging_prefix,
)
from adm_local.resources import create_ledger_table

BUCKET = "adm-ingest-finalize"
TABLE = "ledger"
KEY = "audiences/vip/crm.csv"
FILE_ID = "a" * 32
LEASE = 900.0
FATES = {
    0: [RecordFate(2, "rejected", "no_identifier"), RecordFate(5, "failed", "not_delivered")],
    1: [RecordFate(9, "rejected", "missing_consent")],
}
EXPECTED_REJECTS = (
    REJECTS_HEADER
    + b"2,rejected,no_identifier\n5,failed,not_delivered\n9,rejected,missing_consent\n"
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Faults:
    """Fails chosen AWS calls (botocore ``before-parameter-build`` hooks): ``times`` calls of
    ``operation`` whose parameters satisfy ``when`` raise an AWS-style error."""

    armed: list[tuple[str, Callable[[dict[str, Any]], bool], list[int]]] = field(
        default_factory=list
    )

    def attach(self, client: Any, service: str) -> None:
        client.meta.events.register(f"before-parameter-build.{service}", self._hook)

    def fail(self, operation: str, when: Callable[[dict[str, Any]], bool], times: int = 1) -> None:
        self.armed.append((operation, when, [times]))

    def _hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        for operation, when, left in self.armed:
            if model.name == operation and left[0] > 0 and when(params):
                left[0] -= 1
                raise ClientError(
                    {"Error": {"Code": "InternalError", "Message": "injected"}}, operation
                )


@dataclass
class World:
    ledger: Ledger
    s3: Any
    faults: Faults
    clock: Clock

    def finalizer(self, lease: float = LEASE) -> Finalizer:
        return Finalizer(
            self.ledger, ReportWriter(self.s3, BUCKET), lease_seconds=lease, clock=self.clock
        )

    def versions(self, key: str) -> int:
        listed = self.s3.list_object_versions(Bucket=BUCKET, Prefix=key)
        return sum(1 for v in listed.get("Versions", []) if v["Key"] == key)

    def staged(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=staging_prefix(FILE_ID))
        return [obj["Key"] for obj in listed.get("Contents", [])]

    def stored_report(self) -> dict[str, Any]:
        return orjson.loads(self.s3.get_object(Bucket=BUCKET, Key=report_key(KEY))["Body"].read())

    def file(self) -> FileRecord:
        found = self.ledger.get_file(FILE_ID)
        assert found is not None
        return found


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_ledger_table(dynamodb.meta.client, TABLE)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        faults = Faults()
        faults.attach(s3, "s3")
        faults.attach(dynamodb.meta.client, "dynamodb")
        ledger = Ledger(TABLE, dynamodb=dynamodb)
        yield World(ledger, s3, faults, Clock())


def complete_file(world: World, file_id: str = FILE_ID) -> None:
    """A registered, fully split file whose two chunks are done, fates and a chunk staged."""
    world.ledger.register_file(
        FileEntry(file_id, BUCKET, KEY, "v1", "etag", 100, "audience_members", "vip", "DS-1")
    )
    for index, fates in FATES.items():
        tally = Tally(read=4, accepted=4 - len(fates))
        for fate in fates:
            (tally.rejected if fate.outcome == "rejected" else tally.failed)[fate.reason] += 1
        world.s3.put_object(Bucket=BUCKET, Key=fates_key(file_id, index), Body=fates_csv(fates))
        world.ledger.complete_chunk(file_id, index, tally, status="done")
    world.s3.put_object(
        Bucket=BUCKET, Key=f"{staging_prefix(file_id)}chunks/000000.jsonl", Body=b""
    )
    world.ledger.record_split(file_id, chunks_total=len(FATES), records_total=8)


def assert_reported_once(world: World) -> None:
    file = world.file()
    stored = world.stored_report()
    assert stored == build_report(file)
    assert (stored["records_read"], stored["rejected"], stored["failed"]) == (8, 2, 1)
    assert file.status == stored["status"] == "complete_with_failures"
    assert file.reported_at
    assert world.versions(report_key(KEY)) == 1
    assert world.versions(rejects_key(KEY)) == 1
    body = world.s3.get_object(Bucket=BUCKET, Key=rejects_key(KEY))["Body"].read()
    assert body == EXPECTED_REJECTS
    assert world.staged() == []
    # Done files leave the finalizing index: nothing left for any sweep, however late.
    assert world.ledger.stale_finalizations(lease_seconds=0, now=world.clock() + 10**6) == []


def _update(fragment: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: fragment in params.get("UpdateExpression", "")


def _key(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: str(params.get("Key", "")).startswith(prefix)


STEPS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "claim": ("UpdateItem", _update("finalize_owner = :owner")),
    "read staged fates": ("GetObject", _key("_staging/")),
    "rejects put": ("PutObject", _key("rejects/")),
    "report put": ("PutObject", _key("reports/")),
    "report written mark": ("UpdateItem", _update("report_written_at")),
    "staging cleanup": ("DeleteObjects", lambda params: True),
    "mark done": ("UpdateItem", _update("reported_at = :now")),
}
RELEASE = ("UpdateItem", _update("last_finalize_error"))


def test_a_complete_file_is_reported_once(world: World) -> None:
    complete_file(world)
    finalizer = world.finalizer()
    report = finalizer.finalize_if_complete(FILE_ID)
    assert report is not None and report == world.stored_report()
    assert finalizer.finalize_if_complete(FILE_ID) is None
    assert_reported_once(world)


@pytest.mark.parametrize("step", STEPS)
def test_a_failed_step_is_finished_by_the_next_delivery(world: World, step: str) -> None:
    complete_file(world)
    world.faults.fail(*STEPS[step])
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)
    assert world.file().reported_at is None

    # The failed claim was released: the redelivered message's call takes it over at once.
    assert world.finalizer().finalize_if_complete(FILE_ID) is not None
    assert_reported_once(world)


@pytest.mark.parametrize("step", [s for s in STEPS if s != "claim"])
def test_a_crashed_finalizer_is_finished_by_the_sweep_after_the_lease(
    world: World, step: str
) -> None:
    complete_file(world)
    world.faults.fail(*STEPS[step])
    world.faults.fail(*RELEASE)  # the holder could not let go: as good as crashed
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)

    # Within the lease, nobody else may write: neither a delivery nor the sweep.
    world.clock.now += LEASE - 1
    assert world.finalizer().finalize_if_complete(FILE_ID) is None
    assert world.finalizer().sweep().as_dict() == {"stale": 0, "reported": 0, "failed": 0}

    world.clock.now += 2
    assert world.finalizer().sweep().as_dict() == {"stale": 1, "reported": 1, "failed": 0}
    assert_reported_once(world)
    assert world.file().finalize_attempts == 2


def test_a_failed_claim_is_retried_by_the_next_delivery_and_leaves_nothing_to_sweep(
    world: World,
) -> None:
    complete_file(world)
    world.faults.fail(*STEPS["claim"])
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)
    world.clock.now += LEASE * 2
    assert world.finalizer().sweep().stale == 0  # no claim was made: the message is retried
    assert world.finalizer().finalize_if_complete(FILE_ID) is not None
    assert_reported_once(world)


def test_a_sweep_that_fails_again_counts_it_and_the_next_sweep_finishes(world: World) -> None:
    complete_file(world)
    world.faults.fail(*STEPS["report put"], times=2)
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)
    assert world.finalizer().sweep().as_dict() == {"stale": 1, "reported": 0, "failed": 1}
    assert world.finalizer().sweep().as_dict() == {"stale": 1, "reported": 1, "failed": 0}
    assert_reported_once(world)


def test_two_finalizers_never_hold_a_file_at_once_and_a_late_one_yields(world: World) -> None:
    complete_file(world)
    slow = world.ledger.claim_finalization(FILE_ID, "slow-owner", now=world.clock())
    assert slow is not None
    assert world.finalizer().finalize_if_complete(FILE_ID) is None  # held within the lease

    world.clock.now += LEASE + 1
    assert world.finalizer().finalize_if_complete(FILE_ID) is not None  # taken over
    # The slow holder wakes up: every step of its claim is refused.
    assert world.ledger.record_report_written(FILE_ID, "slow-owner") is False
    assert world.ledger.mark_reported(FILE_ID, "complete", owner="slow-owner") is False
    assert world.ledger.release_finalization(FILE_ID, "slow-owner", "late") is False
    assert_reported_once(world)


def test_an_incomplete_or_unknown_file_is_not_claimed(world: World) -> None:
    assert world.finalizer().finalize_if_complete("0" * 32) is None
    world.ledger.register_file(
        FileEntry(FILE_ID, BUCKET, KEY, None, None, 1, "audience_members", "vip", "DS-1")
    )
    world.ledger.record_split(FILE_ID, chunks_total=1, records_total=1)
    assert world.finalizer().finalize_if_complete(FILE_ID) is None
    assert world.ledger.stale_finalizations(lease_seconds=0, now=world.clock() + 10**6) == []


def test_every_attempt_builds_the_same_report(world: World) -> None:
    complete_file(world)
    world.faults.fail(*STEPS["report written mark"])
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)
    first = world.stored_report()
    world.clock.now += 3600  # a later attempt: finished_at is still the first claim's
    world.finalizer().finalize_if_complete(FILE_ID)
    assert world.stored_report() == first
    assert world.versions(report_key(KEY)) == 1


def test_a_failed_multipart_rejects_upload_is_aborted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete_file(world)
    monkeypatch.setattr(report_module, "_PART_SIZE", 40)  # several parts from a few rows
    world.faults.fail("UploadPart", lambda params: params.get("PartNumber") == 2)
    with pytest.raises(ClientError):
        world.finalizer().finalize_if_complete(FILE_ID)
    assert world.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    monkeypatch.setattr(report_module, "_PART_SIZE", 8 * 1024 * 1024)
    assert world.finalizer().finalize_if_complete(FILE_ID) is not None
    assert_reported_once(world)


# -- files finalized before leases existed ---------------------------------------------------


def _legacy_finalized(world: World, status: str) -> None:
    """What the previous release left: ``finalized_at`` set at its claim, no lease fields."""
    complete_file(world)
    world.ledger._resource_table.update_item(
        Key={"pk": f"file#{FILE_ID}", "sk": "file"},
        UpdateExpression="SET finalized_at = :t, #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":t": "2026-11-30T10:00:00Z", ":s": status},
    )


def test_a_legacy_file_whose_report_was_lost_is_reported_on_redelivery(world: World) -> None:
    _legacy_finalized(world, "processing")  # claimed, then the report write failed
    report = world.finalizer().finalize_if_complete(FILE_ID)
    assert report is not None and report["timings"]["finished_at"] == "2026-11-30T10:00:00Z"
    assert_reported_once(world)


def test_a_legacy_file_that_was_reported_is_not_written_again(world: World) -> None:
    _legacy_finalized(world, "complete")
    assert world.finalizer().finalize_if_complete(FILE_ID) is None
    assert world.versions(report_key(KEY)) == 0
