"""The ledger (DynamoDB) and the report writer (S3), on moto.

The ledger's promises: a file is registered once, a chunk is counted once however often it is
redelivered, counters add up across chunks, and exactly one caller gets to finalize a file —
only once it is fully split and every chunk is done (or it hit a file-level error). The report
writer's: ``reports/<key>.json``, ``rejects/<key>.csv`` (header, then the chunks' fates in chunk
order, multipart when large) and nothing left under ``_staging/<file_id>/``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from adm_ingest.attempts import AttemptStats
from adm_ingest.ledger import (
    DeliveredBatch,
    FileEntry,
    FileFacts,
    FileRecord,
    Ledger,
    RemoteOutcome,
)
from adm_ingest.mapping_config import MappingConfig, MappingMismatch, PinnedMapping
from adm_ingest.outcomes import RecordFate, Tally
from adm_ingest.report import (
    REJECTS_HEADER,
    ReportWriter,
    build_report,
    fates_csv,
    fates_key,
    rejects_key,
    report_key,
)
from adm_local.resources import create_ledger_table

BUCKET = "adm-ingest-test"
TABLE = "ledger"
KEY = "audiences/vip/CRM export 2026-11.csv"
FILE_ID = "f" * 32


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


@pytest.fixture
def ledger(aws: tuple[Ledger, Any]) -> Ledger:
    return aws[0]


@pytest.fixture
def s3(aws: tuple[Ledger, Any]) -> Any:
    return aws[1]


def entry(file_id: str = FILE_ID) -> FileEntry:
    return FileEntry(
        file_id=file_id,
        bucket=BUCKET,
        key=KEY,
        version_id="v1",
        etag='"abc"',
        size=1234,
        destination="audience_members",
        target_name="vip",
        target_id="DS-1",
    )


def tally(
    *,
    read: int,
    accepted: int,
    rejected: dict[str, int] | None = None,
    failed: dict[str, int] | None = None,
    valid: dict[str, int] | None = None,
    invalid: dict[str, int] | None = None,
    requests: dict[str, int] | None = None,
    ingress_ids: list[str] | None = None,
) -> Tally:
    result = Tally(read=read, accepted=accepted)
    result.rejected.update(rejected or {})
    result.failed.update(failed or {})
    result.coverage.valid.update(valid or {})
    result.coverage.invalid.update(invalid or {})
    result.requests.update(requests or {})
    result.ingress_ids.extend(ingress_ids or [])
    return result


CHUNK_0 = tally(
    read=10,
    accepted=7,
    rejected={"no_identifier": 2, "missing_consent": 1},
    valid={"email": 8, "phone": 5},
    invalid={"phone": 2},
    requests={"200": 1},
    ingress_ids=["ing-1"],
)
CHUNK_1 = tally(
    read=6,
    accepted=3,
    rejected={"no_identifier": 1},
    failed={"retries_exhausted": 2},
    valid={"email": 4},
    invalid={"email": 1},
    requests={"200": 1, "503": 2},
    ingress_ids=["ing-2"],
)


# -- the ledger ------------------------------------------------------------------------------


def test_register_file_is_idempotent(ledger: Ledger) -> None:
    assert ledger.register_file(entry()) is True
    assert ledger.register_file(entry()) is False
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.key, file.status, file.read, file.chunks_done) == (
        KEY,
        "splitting",
        0,
        0,
    )
    assert (file.version_id, file.etag) == ("v1", '"abc"')


def test_a_chunk_is_counted_once_however_often_it_completes(ledger: Ledger) -> None:
    ledger.register_file(entry())
    assert ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done") is True
    before = ledger.get_file(FILE_ID)
    assert ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done") is False
    assert ledger.get_file(FILE_ID) == before
    chunk = ledger.get_chunk(FILE_ID, 0)
    assert chunk is not None and chunk.status == "done"


def test_a_file_registered_by_an_older_release_takes_the_new_counter_maps(
    ledger: Ledger,
) -> None:
    """Items written before a deploy lack the maps complete_chunk now adds into; DynamoDB
    refuses ``notes.x = …`` under a missing ``notes``, so the ledger creates them and retries."""
    ledger.register_file(entry())
    ledger._resource_table.update_item(
        Key={"pk": f"file#{FILE_ID}", "sk": "file"},
        UpdateExpression="REMOVE notes, skipped, country_sources, countries",
    )
    chunk = tally(read=3, accepted=3, valid={"email": 3}, requests={"200": 1})
    chunk.notes.update({"naive_timestamp_as_utc": 3})
    chunk.skipped.update({"report_footer": 1})
    chunk.country_sources.update({"dataset": 3})
    chunk.countries.update({"US": 3})
    assert ledger.complete_chunk(FILE_ID, 0, chunk, status="done") is True
    assert ledger.complete_chunk(FILE_ID, 0, chunk, status="done") is False  # still once
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.read, file.accepted, file.chunks_done) == (3, 3, 1)
    assert file.notes == {"naive_timestamp_as_utc": 3}
    assert file.skipped == {"report_footer": 1}
    assert file.country_sources == {"dataset": 3}
    assert file.countries == {"US": 3}
    assert file.coverage_valid == {"email": 3}


def test_a_chunk_of_an_unregistered_file_is_not_counted(ledger: Ledger) -> None:
    assert ledger.complete_chunk("0" * 32, 0, CHUNK_0, status="done") is False
    assert ledger.get_file("0" * 32) is None


def test_counters_add_up_across_chunks(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.complete_chunk(FILE_ID, 1, CHUNK_1, status="done")
    ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.read, file.accepted, file.chunks_done) == (16, 10, 2)
    assert file.rejected == {"no_identifier": 3, "missing_consent": 1}
    assert file.failed == {"retries_exhausted": 2}
    assert file.coverage_valid == {"email": 12, "phone": 5}
    assert file.coverage_invalid == {"phone": 2, "email": 1}
    assert file.requests == {"200": 2, "503": 2}
    assert sorted(file.ingress_ids) == ["ing-1", "ing-2"]
    assert sorted(file.counted_chunks) == [0, 1]


def test_finalize_only_once_split_is_done_and_every_chunk_is_done(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done")
    assert claim(ledger) is None  # still splitting
    ledger.record_split(FILE_ID, chunks_total=2, records_total=16)
    assert claim(ledger) is None  # chunk 1 outstanding
    ledger.complete_chunk(FILE_ID, 1, CHUNK_1, status="done")
    finalized = claim(ledger)
    assert finalized is not None
    assert (finalized.read, finalized.chunks_total, finalized.records_total) == (16, 2, 16)
    assert claim(ledger) is None  # exactly once


def test_chunks_finishing_before_the_split_is_recorded_still_finalize_once(
    ledger: Ledger,
) -> None:
    ledger.register_file(entry())
    ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done")
    ledger.complete_chunk(FILE_ID, 1, CHUNK_1, status="done")
    ledger.record_split(FILE_ID, chunks_total=2, records_total=16)
    claims = [claim(ledger) for _ in range(3)]
    assert sum(claim is not None for claim in claims) == 1


def test_a_file_error_finalizes_and_reports_the_error(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.record_file_error(FILE_ID, "file has no header row")
    finalized = claim(ledger)
    assert finalized is not None
    report = build_report(finalized)
    assert (report["status"], report["error"], report["records_read"]) == (
        "error",
        "file has no header row",
        0,
    )
    assert claim(ledger) is None


def test_a_file_error_after_some_chunks_waits_for_them(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.record_file_error(FILE_ID, "corrupt gzip tail", chunks_total=1, records_total=10)
    assert claim(ledger) is None
    ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done")
    assert claim(ledger) is not None


# -- the report ------------------------------------------------------------------------------


def finalized_file(ledger: Ledger, *tallies: Tally) -> FileRecord:
    ledger.register_file(entry())
    for index, chunk in enumerate(tallies):
        ledger.complete_chunk(FILE_ID, index, chunk, status="done")
    ledger.record_split(FILE_ID, chunks_total=len(tallies), records_total=16)
    finalized = claim(ledger)
    assert finalized is not None
    return finalized


def test_report_document_from_a_finalized_file(ledger: Ledger) -> None:
    report = build_report(finalized_file(ledger, CHUNK_0, CHUNK_1))
    assert report["status"] == "complete_with_failures"
    assert report["balanced"] is True
    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        16,
        10,
        4,
        2,
    )
    assert report["identifier_coverage"]["email"] == {
        "valid": 12,
        "invalid": 1,
        "share_of_records": 0.75,
    }
    assert (report["requests_sent"], report["chunks"]) == (4, 2)
    assert report["rejects_file"] == rejects_key(KEY)
    assert report["target"] == {"name": "vip", "id": "DS-1"}


def stage(s3: Any, file_id: str, index: int, fates: list[RecordFate]) -> None:
    s3.put_object(Bucket=BUCKET, Key=fates_key(file_id, index), Body=fates_csv(fates))


def staged(s3: Any, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [obj["Key"] for obj in listed.get("Contents", [])]


def test_report_writer_writes_report_and_rejects_in_chunk_order_and_cleans_staging(
    ledger: Ledger, s3: Any
) -> None:
    file = finalized_file(ledger, CHUNK_0, CHUNK_1)
    # Staged out of order, as workers finish; chunk 1 has no rejects at all.
    stage(s3, FILE_ID, 2, [RecordFate(31, "rejected", "no_identifier")])
    stage(s3, FILE_ID, 0, [RecordFate(3, "rejected", "no_identifier"),
                           RecordFate(9, "failed", "retries_exhausted")])  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key=f"_staging/{FILE_ID}/chunks/000001.jsonl", Body=b"{}\n")
    other = "e" * 32
    stage(s3, other, 0, [RecordFate(2, "rejected", "no_identifier")])

    report = ReportWriter(s3, BUCKET).write(FILE_ID, file)

    stored = s3.get_object(Bucket=BUCKET, Key=report_key(KEY))["Body"].read()
    assert orjson.loads(stored) == report
    rejects = s3.get_object(Bucket=BUCKET, Key=rejects_key(KEY))["Body"].read()
    assert rejects == (
        REJECTS_HEADER + b"3,rejected,no_identifier\n9,failed,retries_exhausted\n"
        b"31,rejected,no_identifier\n"
    )
    assert staged(s3, f"_staging/{FILE_ID}/") == []
    assert staged(s3, f"_staging/{other}/") == [fates_key(other, 0)]


def test_no_rejects_file_when_nothing_was_rejected(ledger: Ledger, s3: Any) -> None:
    clean = tally(read=5, accepted=5, valid={"email": 5}, requests={"200": 1})
    report = ReportWriter(s3, BUCKET).write(FILE_ID, finalized_file(ledger, clean))
    assert report["status"] == "complete"
    assert report["rejects_file"] is None
    assert staged(s3, "rejects/") == []


def test_a_rejects_file_larger_than_8_mib_is_uploaded_in_parts(ledger: Ledger, s3: Any) -> None:
    file = finalized_file(ledger, CHUNK_0)
    reasons = ["no_identifier", "missing_consent", "invalid_country"]
    chunks = [
        [RecordFate(line, "rejected", reasons[line % 3]) for line in range(start, start + 200_000)]
        for start in (1, 200_001)
    ]
    for index, fates in enumerate(chunks):
        stage(s3, FILE_ID, index, fates)
    expected = REJECTS_HEADER + b"".join(fates_csv(fates) for fates in chunks)
    assert len(expected) > 8 * 1024 * 1024

    ReportWriter(s3, BUCKET).write(FILE_ID, file)

    stored = s3.get_object(Bucket=BUCKET, Key=rejects_key(KEY))
    assert stored["Body"].read() == expected
    assert stored["ETag"].strip('"').endswith("-2")  # a two-part multipart upload


# -- typed records: what goes in comes out, as plain Python ------------------------------------


def test_a_registered_file_reads_back_as_a_typed_record_of_plain_values(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.record_file_facts(
        FILE_ID,
        FileFacts(
            mapping={"columns": [{"column": "Email", "field": "email", "pii_set": 1}]},
            encoding="cp1252",
            country_column=False,
            default_country="DE",
            default_country_source="dataset",
            country_profile={"sampled": 40, "hints": {"phone_calling_code": 3}},
        ),
    )
    ledger.complete_chunk(FILE_ID, 0, CHUNK_0, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.file_id, file.bucket, file.key, file.size, file.destination) == (
        FILE_ID,
        BUCKET,
        KEY,
        1234,
        "audience_members",
    )
    assert (file.target_name, file.target_id, file.status) == ("vip", "DS-1", "splitting")
    assert (file.records_total, file.split_done, file.error) == (None, False, None)
    assert (file.encoding, file.country_column, file.default_country) == ("cp1252", False, "DE")
    # DynamoDB hands back Decimal everywhere, nested maps and lists included: none leaks out.
    assert file.mapping == {"columns": [{"column": "Email", "field": "email", "pii_set": 1}]}
    assert file.country_profile == {"sampled": 40, "hints": {"phone_calling_code": 3}}
    numbers = [file.read, file.accepted, file.chunks_done, file.size, *file.rejected.values()]
    numbers += [file.country_profile["sampled"], file.mapping["columns"][0]["pii_set"]]
    assert all(type(n) is int for n in numbers)
    assert file.counted_chunks == frozenset({0}) and file.ingress_ids == ("ing-1",)


def test_only_the_facts_given_are_written(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.record_file_facts(FILE_ID, FileFacts(encoding="utf-8", default_country="US"))
    ledger.record_file_facts(FILE_ID, FileFacts(encoding="cp1252"))
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.encoding, file.default_country, file.mapping) == ("cp1252", "US", None)


def test_delivered_batches_round_trip_in_order_with_their_attempts(ledger: Ledger) -> None:
    delivered = DeliveredBatch(
        status=207,
        rejected={0: "adm_INVALID_EMAIL", 17: "adm_DUPLICATE"},
        ingress_id="ing-9",
        attempts=AttemptStats(Counter({"429": 2, "207": 1}), 1.5),
    )
    refused = DeliveredBatch(
        status=400, failed="refused_400_bad_body", attempts=AttemptStats(Counter({"400": 1}))
    )
    ledger.record_delivered_batch(FILE_ID, 3, delivered)
    ledger.record_delivered_batch(FILE_ID, 3, refused)
    ledger.record_chunk_error(
        FILE_ID, 3, "not_delivered:throttled", unconfirmed_batch=2, attempts=delivered.attempts
    )
    chunk = ledger.get_chunk(FILE_ID, 3)
    assert chunk is not None
    assert (chunk.file_id, chunk.index, chunk.status) == (FILE_ID, 3, None)
    assert chunk.delivered_batches == (delivered, refused)
    assert type(next(iter(chunk.delivered_batches[0].rejected))) is int
    assert (chunk.last_error, chunk.attempts) == ("not_delivered:throttled", 1)
    assert chunk.attempt_log == (delivered.attempts,)
    assert chunk.unconfirmed_batches == frozenset({2})
    assert ledger.get_chunk(FILE_ID, 4) is None


def test_a_mapping_is_pinned_once_and_reads_back_verified(ledger: Ledger) -> None:
    ledger.register_file(entry())
    first = PinnedMapping.of("audiences/vip", MappingConfig.from_dict({"columns": {"M": "email"}}))
    later = PinnedMapping.of("audiences/vip", MappingConfig.from_dict({"columns": {"X": "email"}}))
    assert ledger.pin_mapping(FILE_ID, first) == first
    assert ledger.pin_mapping(FILE_ID, later) == first  # the first pin stands
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.pinned_mapping() == first
    assert file.mapping_hash == first.content_hash

    ledger._resource_table.update_item(
        Key={"pk": f"file#{FILE_ID}", "sk": "file"},
        UpdateExpression="SET mapping_config = :c",
        ExpressionAttributeValues={":c": later.canonical},
    )
    damaged = ledger.get_file(FILE_ID)
    assert damaged is not None  # still readable (the finalizer needs it)…
    with pytest.raises(MappingMismatch):
        damaged.pinned_mapping()  # …but the mapping is refused


def test_a_destinations_session_is_stored_on_the_file_and_the_first_one_kept(
    ledger: Ledger,
) -> None:
    ledger.register_file(entry())
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.session == {}  # ADM keeps none
    opened = {"batch_id": "01JD-AEP", "dataset": "ds-9"}
    assert ledger.open_session(FILE_ID, opened) == opened
    # A racing split's second open_file keeps the first session: the chunks all carry one.
    assert ledger.open_session(FILE_ID, {"batch_id": "01JD-OTHER"}) == opened
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.session == opened


def test_a_pending_commit_and_its_remote_outcome_read_back_typed(ledger: Ledger) -> None:
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=0, records_total=0)
    claimed = ledger.claim_finalization(FILE_ID, "owner-1", now=1_800_000_000.7)
    assert claimed is not None
    assert (claimed.committed_at, claimed.committed_epoch, claimed.commit_session) == (
        None,
        None,
        {},
    )
    assert (claimed.awaiting_remote, claimed.remote_state) == (False, None)

    assert ledger.record_commit(FILE_ID, "owner-1", {"batch_id": "B-1"}, now=1_800_000_000.7)
    # A retried finalization polls the first commit: its time and session are kept.
    assert ledger.record_commit(FILE_ID, "owner-1", {"batch_id": "B-2"}, now=1_800_000_900.0)
    assert not ledger.record_commit(FILE_ID, "someone-else", {}, now=1_800_000_900.0)
    assert ledger.await_remote(FILE_ID, "owner-1", deadline=1_800_025_200.0)
    parked = ledger.get_file(FILE_ID)
    assert parked is not None
    assert (parked.committed_at, parked.committed_epoch, parked.commit_session) == (
        "2027-01-15T08:00:00Z",
        1_800_000_000,
        {"batch_id": "B-1"},
    )
    assert type(parked.committed_epoch) is int
    assert (parked.awaiting_remote, parked.status, parked.remote_state) == (True, "committed", None)
    assert ledger.claim_finalization(FILE_ID, "owner-2", now=1_900_000_000.0) is None  # parked
    # Found as overdue only once its deadline has passed (its poller never concluded).
    assert ledger.overdue_remote(now=1_800_025_199.0) == []
    assert ledger.overdue_remote(now=1_800_025_201.0) == [FILE_ID]
    assert ledger.stale_finalizations(now=1_900_000_000.0) == []  # not a claim to finish

    outcome = RemoteOutcome("success", True, {"records_written": 5, "batch": "B-1"}, "2027-01-15")
    assert ledger.record_remote_state(FILE_ID, outcome)
    assert not ledger.record_remote_state(FILE_ID, RemoteOutcome("failed", False))  # once
    done = ledger.get_file(FILE_ID)
    assert done is not None and done.remote_state == outcome and not done.awaiting_remote
    assert type(done.remote_state.facts["records_written"]) is int
    assert ledger.claim_finalization(FILE_ID, "owner-2", now=1_900_000_000.0) is not None


def claim(ledger: Ledger) -> FileRecord | None:
    """A finalization claim under a fresh owner token: the file to whoever sees it complete."""
    return ledger.claim_finalization(FILE_ID, uuid.uuid4().hex)
