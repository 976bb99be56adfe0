"""Redrive's ledger operations (moto): a dead-lettered chunk's failure is reversed exactly —
the file item is as it was before the chunk was counted — once, only within the run that took
the reported file, and re-opening makes the file finalizable again when the chunk is counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.ledger import DeadLetter, FileRecord, Ledger
from adm_ingest.ledger_redrive import RedriveConflict, RedriveLedger, RedriveRefused
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout
from adm_ingest.pipeline.redrive import Redriver
from adm_ingest.report import REJECTS_HEADER, rejects_key, staging_prefix
from adm_local.resources import create_ledger_table
from tests.unit.test_ledger_report import BUCKET, FILE_ID, KEY, TABLE, entry, tally

DONE = tally(
    read=5,
    accepted=4,
    rejected={"no_identifier": 1},
    valid={"email": 4},
    requests={"200": 1},
    ingress_ids=["ing-0"],
)
FAILED = tally(
    read=5,
    accepted=2,
    rejected={"no_identifier": 1},
    failed={"not_delivered": 2},
    valid={"email": 4},
    requests={"200": 1},
    ingress_ids=["ing-1"],
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Ledger, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_ledger_table(dynamodb.meta.client, TABLE)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield Ledger(TABLE, dynamodb=dynamodb), s3


def pointer(index: int, first_line: int) -> ChunkPointer:
    return ChunkPointer(
        file_id=FILE_ID,
        index=index,
        bucket=BUCKET,
        key=KEY,
        destination="audience_members",
        target_name="vip",
        target_id="DS-1",
        layout=SourceLayout("csv", ","),
        first_line=first_line,
        records=5,
    )


def counters(file: FileRecord) -> tuple[Any, ...]:
    return (
        file.chunks_done,
        file.counted_chunks,
        file.read,
        file.accepted,
        file.ingress_ids,
        dict(file.rejected),
        dict(file.failed),
        dict(file.coverage_valid),
        dict(file.requests),
    )


@pytest.fixture
def reported(aws: tuple[Ledger, Any]) -> tuple[Ledger, tuple[Any, ...]]:
    """Chunk 0 done, chunk 1 dead-lettered (failed, with its record), the file reported;
    returns the ledger and the file's counters as they were before chunk 1 was counted."""
    ledger = aws[0]
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=2, records_total=10)
    ledger.complete_chunk(FILE_ID, 0, DONE, status="done")
    before = ledger.get_file(FILE_ID)
    assert before is not None
    record = DeadLetter(pointer(1, 7).to_message(), 0, (8, 10))
    assert ledger.complete_chunk(FILE_ID, 1, FAILED, status="failed", dead_letter=record)
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")
    return ledger, counters(before)


def test_the_reversal_restores_the_file_as_it_was_before_the_failed_chunk(
    reported: tuple[Ledger, tuple[Any, ...]],
) -> None:
    ledger, before = reported
    records = RedriveLedger(ledger)
    chunk = ledger.get_chunk(FILE_ID, 1)
    assert chunk is not None and chunk.dead_letter is not None
    assert chunk.dead_letter.counted["maps"]["failed"] == {"not_delivered": 2}

    records.open(FILE_ID, "run-1")
    assert records.reverse(FILE_ID, chunk, "run-1")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    # "failed" held only this chunk's count: removed, not left at zero.
    assert counters(file) == before
    again = ledger.get_chunk(FILE_ID, 1)
    assert again is not None and (again.status, again.redrives) == (None, 1)
    # The same chunk, read before the reversal, is not reversed a second time.
    assert not records.reverse(FILE_ID, chunk, "run-1")
    assert counters(ledger.get_file(FILE_ID)) == before  # type: ignore[arg-type]


def test_only_a_reported_file_is_taken_and_only_by_the_run_holding_it(
    reported: tuple[Ledger, tuple[Any, ...]],
) -> None:
    ledger, _ = reported
    records = RedriveLedger(ledger)
    chunk = ledger.get_chunk(FILE_ID, 1)
    assert chunk is not None
    records.open(FILE_ID, "run-1")
    records.open(FILE_ID, "run-2")  # a second run takes over (the first may have crashed)
    with pytest.raises(RedriveConflict):
        records.reverse(FILE_ID, chunk, "run-1")
    assert not records.reopen(FILE_ID, "run-1")
    assert records.reverse(FILE_ID, chunk, "run-2")
    assert records.reopen(FILE_ID, "run-2")
    with pytest.raises(RedriveRefused, match="not written yet"):
        records.open(FILE_ID, "run-3")  # re-opened: not reported any more


def test_a_reopened_file_is_finalized_again_once_its_chunk_is_counted(
    reported: tuple[Ledger, tuple[Any, ...]],
) -> None:
    ledger, _ = reported
    records = RedriveLedger(ledger)
    chunk = ledger.get_chunk(FILE_ID, 1)
    assert chunk is not None
    records.open(FILE_ID, "run")
    assert records.reverse(FILE_ID, chunk, "run")
    assert records.reopen(FILE_ID, "run")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.status, file.reported_at, file.report_written_at) == ("processing", None, None)
    assert FILE_ID in ledger.stale_finalizations()  # the sweep will see it
    assert ledger.claim_finalization(FILE_ID, "early") is None  # chunk 1 is not counted yet
    assert ledger.complete_chunk(FILE_ID, 1, DONE, status="done")
    claimed = ledger.claim_finalization(FILE_ID, "again")
    assert claimed is not None and claimed.finalize_attempts == 1  # a first write, no retry
    assert (claimed.read, claimed.accepted, dict(claimed.failed)) == (10, 8, {})


def test_a_committed_file_is_refused(aws: tuple[Ledger, Any]) -> None:
    ledger = aws[0]
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=1, records_total=5)
    ledger.complete_chunk(FILE_ID, 0, FAILED, status="failed")
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    assert ledger.record_commit(FILE_ID, "owner", {"batch": "B-1"}, now=1.0)
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")
    with pytest.raises(RedriveRefused, match="committed"):
        RedriveLedger(ledger).open(FILE_ID, "run")


def test_a_committed_file_whose_destination_takes_more_is_reopened_uncommitted(
    aws: tuple[Ledger, Any],
) -> None:
    # An ADM audience's commit only reads the match rate: the redriven file is committed anew.
    ledger = aws[0]
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=1, records_total=5)
    ledger.complete_chunk(FILE_ID, 0, FAILED, status="failed")
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    assert ledger.record_commit(FILE_ID, "owner", {"metrics_dataset": "D-1"}, now=1.0)
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")
    records = RedriveLedger(ledger)

    records.open(FILE_ID, "run", after_commit=True)
    assert records.reopen(FILE_ID, "run")

    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.committed_at, dict(file.commit_session), file.remote_state) == (None, {}, None)


def test_the_redriver_carries_the_other_chunks_rejects_in_order(
    aws: tuple[Ledger, Any], reported: tuple[Ledger, tuple[Any, ...]]
) -> None:
    ledger, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"the object")
    old = (
        REJECTS_HEADER + b'3,rejected,no_identifier\n8,failed,not_delivered\n9,rejected,"a, b"\n'
        b'10,failed,not_delivered\n14,rejected,"x, y"\n'
    )
    s3.put_object(Bucket=BUCKET, Key=rejects_key(KEY), Body=old)
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="chunks")["QueueUrl"]
    redriver = Redriver(ledger, s3=s3, sqs=sqs, chunk_queue_url=queue)

    result = redriver.redrive_file(FILE_ID)

    assert [(c.index, c.outcome) for c in result.chunks] == [(1, "redriven")]
    prefix = f"{staging_prefix(FILE_ID)}fates/"
    staged = {
        obj["Key"].removeprefix(prefix): s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    }
    # Chunk 1's rows (lines 7-10) are dropped: its worker writes them again, between these.
    assert staged == {
        "000001-carried.csv": b"3,rejected,no_identifier\n",
        "000001~carried.csv": b'14,rejected,"x, y"\n',  # kept verbatim
    }
    sent = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert [ChunkPointer.from_message(m["Body"]).redrive for m in sent] == [1]
    assert redriver.redrive_file(FILE_ID).chunks == []  # run twice: nothing more to send


def test_a_chunk_failed_without_a_record_is_listed_not_redriven(aws: tuple[Ledger, Any]) -> None:
    ledger, s3 = aws
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=1, records_total=5)
    ledger.complete_chunk(FILE_ID, 0, FAILED, status="failed")  # an earlier release's
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")
    redriver = Redriver(ledger, s3=s3, sqs=boto3.client("sqs"), chunk_queue_url="unused")
    result = redriver.redrive_file(FILE_ID)
    assert [(c.index, c.outcome) for c in result.chunks] == [(0, "skipped")]
    assert "no redrive record" in result.chunks[0].reason
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.reported_at is not None  # untouched
