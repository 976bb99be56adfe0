"""The finalizer writes a file's report once, when — and only when — every chunk is counted.

On the fake ledger (the claim is a lease: an owner token, expiry by the injected clock) and an
in-memory versioned bucket:

* nothing is claimed or written before the split is done and the last chunk is counted; then
  one call writes the rejects file and the report (one version each), cleans the staging area
  and marks the file reported, and later calls do nothing;
* a step that fails releases the claim and re-raises; the next call takes it over at once;
* a claim whose holder vanished is exclusive for the lease, then taken over — and the late
  holder's steps are refused;
* the sweep finishes released or expired claims (and counts one that fails again);
* the report adds up: records read = accepted + rejected + failed, and the rejects file has a
  row for every record not accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from botocore.exceptions import ClientError

from adm_ingest.ledger import FileEntry, FileRecord
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
from tests.worker.fakes import Clock, FakeLedger, ObjectStore

BUCKET = "adm-ingest-fake"
KEY = "audiences/vip/crm.csv"
FILE_ID = "a" * 32
LEASE = 900.0
CHUNKS: dict[int, tuple[int, list[RecordFate]]] = {  # index → (records read, fates)
    0: (4, [RecordFate(2, "rejected", "no_identifier"), RecordFate(5, "failed", "not_delivered")]),
    1: (3, [RecordFate(9, "rejected", "adm_INVALID_EMAIL")]),
}


class Bucket:
    """The file's ledger, bucket and clock, and the finalizers that share them."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.ledger = FakeLedger(self.clock)
        self.s3 = ObjectStore()
        self.ledger.register_file(
            FileEntry(FILE_ID, BUCKET, KEY, "v1", None, 100, "audience_members", "vip", "DS-1")
        )

    def file(self) -> FileRecord:
        found = self.ledger.get_file(FILE_ID)
        assert found is not None
        return found

    def finalizer(self) -> Finalizer:
        return Finalizer(
            self.ledger.as_ledger(),
            ReportWriter(self.s3, BUCKET),
            lease_seconds=LEASE,
            clock=self.clock,
        )

    def count_chunk(self, index: int) -> None:
        """What the worker's ``complete`` does: stage the fates, count the tally."""
        read, fates = CHUNKS[index]
        tally = Tally(read=read, accepted=read - len(fates))
        for fate in fates:
            (tally.rejected if fate.outcome == "rejected" else tally.failed)[fate.reason] += 1
        self.s3.put_object(Bucket=BUCKET, Key=fates_key(FILE_ID, index), Body=fates_csv(fates))
        assert self.ledger.complete_chunk(FILE_ID, index, tally, status="done")

    def split(self) -> None:
        self.ledger.record_split(FILE_ID, chunks_total=len(CHUNKS), records_total=7)

    def complete(self) -> None:
        self.split()
        for index in CHUNKS:
            self.count_chunk(index)

    def report(self) -> dict[str, object]:
        body = self.s3.body(report_key(KEY))
        assert body is not None
        return dict(orjson.loads(body))

    def assert_reported_once(self) -> None:
        file = self.ledger.get_file(FILE_ID)
        assert file is not None and file.reported_at
        assert self.report() == build_report(file)
        assert file.status == self.report()["status"] == "complete_with_failures"
        assert self.s3.versions(report_key(KEY)) == 1
        assert self.s3.versions(rejects_key(KEY)) == 1
        assert self.s3.keys(staging_prefix(FILE_ID)) == []
        assert self.ledger.stale_finalizations(lease_seconds=0, now=self.clock() + 10**6) == []


@pytest.fixture
def bucket() -> Bucket:
    return Bucket()


def test_nothing_is_written_before_the_file_is_complete_then_once(bucket: Bucket) -> None:
    bucket.count_chunk(0)
    bucket.count_chunk(1)
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is None  # still splitting
    bucket.split()
    bucket.ledger.items[(f"file#{FILE_ID}", "file")]["chunks_total"] = 3  # one more to come
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is None
    assert bucket.s3.keys("reports/") == bucket.s3.keys("rejects/") == []
    assert bucket.file().finalize_attempts == 0

    bucket.ledger.items[(f"file#{FILE_ID}", "file")]["chunks_total"] = 2
    report = bucket.finalizer().finalize_if_complete(FILE_ID)
    assert report is not None and report == bucket.report()
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is None
    bucket.clock.now += LEASE * 10  # however late: a reported file is never claimed again
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is None
    bucket.assert_reported_once()


def test_the_report_adds_up_and_the_rejects_file_lists_every_record_not_accepted(
    bucket: Bucket,
) -> None:
    bucket.complete()
    report = bucket.finalizer().finalize_if_complete(FILE_ID)
    assert report is not None
    assert (report["records_read"], report["accepted"]) == (7, 4)
    assert (report["rejected"], report["failed"]) == (2, 1)
    assert report["records_read"] == report["accepted"] + report["rejected"] + report["failed"]
    assert bucket.s3.body(rejects_key(KEY)) == REJECTS_HEADER + (
        b"2,rejected,no_identifier\n5,failed,not_delivered\n9,rejected,adm_INVALID_EMAIL\n"
    )


def _ledger_fault(bucket: Bucket, method: str) -> Callable[[], None]:
    def arm() -> None:
        original = getattr(bucket.ledger, method)

        def failing(*args: object, **kwargs: object) -> object:
            setattr(bucket.ledger, method, original)  # once
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

        setattr(bucket.ledger, method, failing)

    return arm


STEPS: dict[str, Callable[[Bucket], Callable[[], None]]] = {
    "read staged fates": lambda b: lambda: b.s3.fail("GetObject", "_staging/"),
    "rejects put": lambda b: lambda: b.s3.fail("PutObject", "rejects/"),
    "report put": lambda b: lambda: b.s3.fail("PutObject", "reports/"),
    "report written mark": lambda b: _ledger_fault(b, "record_report_written"),
    "staging cleanup": lambda b: lambda: b.s3.fail("DeleteObjects"),
    "mark reported": lambda b: _ledger_fault(b, "mark_reported"),
}


@pytest.mark.parametrize("step", STEPS)
def test_a_failed_step_releases_the_claim_and_the_next_call_takes_it_over(
    bucket: Bucket, step: str
) -> None:
    bucket.complete()
    STEPS[step](bucket)()
    with pytest.raises(ClientError):
        bucket.finalizer().finalize_if_complete(FILE_ID)
    file = bucket.ledger.get_file(FILE_ID)
    assert file is not None and file.reported_at is None
    assert file.last_finalize_error is not None
    assert file.last_finalize_error.startswith("ClientError:")  # a code, never a message

    assert bucket.finalizer().finalize_if_complete(FILE_ID) is not None  # at once: released
    bucket.assert_reported_once()
    assert bucket.file().finalize_attempts == 2


def test_a_vanished_holder_keeps_the_file_for_the_lease_then_is_taken_over(
    bucket: Bucket,
) -> None:
    bucket.complete()
    assert bucket.ledger.claim_finalization(FILE_ID, "vanished", now=bucket.clock()) is not None
    bucket.clock.now += LEASE - 1
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is None
    assert bucket.finalizer().sweep().as_dict() == {"stale": 0, "reported": 0, "failed": 0}

    bucket.clock.now += 2
    assert bucket.finalizer().finalize_if_complete(FILE_ID) is not None
    # The late holder wakes up: every step of its claim is refused.
    assert bucket.ledger.record_report_written(FILE_ID, "vanished") is False
    assert bucket.ledger.mark_reported(FILE_ID, "complete", owner="vanished") is False
    assert bucket.ledger.release_finalization(FILE_ID, "vanished", "late") is False
    bucket.assert_reported_once()


def test_the_sweep_finishes_released_claims_and_counts_one_that_fails_again(
    bucket: Bucket,
) -> None:
    bucket.complete()
    bucket.s3.fail("PutObject", "reports/")
    with pytest.raises(ClientError):
        bucket.finalizer().finalize_if_complete(FILE_ID)
    bucket.s3.fail("PutObject", "reports/")
    assert bucket.finalizer().sweep().as_dict() == {"stale": 1, "reported": 0, "failed": 1}
    assert bucket.finalizer().sweep().as_dict() == {"stale": 1, "reported": 1, "failed": 0}
    assert bucket.finalizer().sweep().as_dict() == {"stale": 0, "reported": 0, "failed": 0}
    bucket.assert_reported_once()


def test_the_sweep_stops_when_time_runs_low_and_leaves_the_rest_for_the_next(
    bucket: Bucket,
) -> None:
    bucket.complete()
    assert bucket.ledger.claim_finalization(FILE_ID, "vanished", now=bucket.clock()) is not None
    bucket.clock.now += LEASE + 1
    assert bucket.finalizer().sweep(time_left=lambda: 29.0).as_dict() == {
        "stale": 1,
        "reported": 0,
        "failed": 0,
    }
    assert bucket.finalizer().sweep().reported == 1
    bucket.assert_reported_once()


def test_an_unknown_file_is_not_claimed() -> None:
    assert Bucket().finalizer().finalize_if_complete("0" * 32) is None
