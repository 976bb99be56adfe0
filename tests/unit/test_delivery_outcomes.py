"""Honest delivery outcomes, attempt accounting and in-chunk duplicates.

* A batch whose connection never opened (ConnectTimeout) failed ``not_delivered``; one whose
  answer was lost after the request went out (ReadTimeout) is ``unconfirmed_delivery`` — the
  worker records which batch, so a dead-lettered chunk fails exactly that one as unconfirmed.
* Every attempt (by status, dropped, unreachable) and every wait reaches the chunk's tally,
  the ledger adds it to the file with the chunk's counts (exactly once), the report shows it.
* Within a chunk an identical request item is sent once; the later ones are rejected
  ``duplicate_in_file``, deterministically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from adm_ingest.adm import AdmClient, ClientSettings, Deadline, RetryPolicy, Timeouts, Transport
from adm_ingest.adm.auth import Credentials
from adm_ingest.attempts import AttemptStats
from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import (
    AudienceMembers,
    ConversionEvents,
    DeliveryTarget,
    destination_for,
)
from adm_ingest.ledger import FileEntry, FileRecord, Ledger
from adm_ingest.mapping import build_plan
from adm_ingest.outcomes import Failure, Tally
from adm_ingest.pipeline.worker import ChunkRetryable, ChunkWorker
from adm_ingest.processing import RecordProcessor
from adm_ingest.report import build_report
from tests.record_support import Record, blocks

MEMBERS = DeliveryTarget("audience_members", "vip", "amzn1.adm.dataset.vip")

# -- classification: what the worker records when a batch can't be delivered ----------------


class RaisingSession:
    """A requests session whose every request fails with ``error`` (no network involved)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls += 1
        raise self.error

    def close(self) -> None:
        pass


class StaticTokens:
    def token(self, *, deadline: Deadline | None = None) -> str:
        return "Atza|static"

    def invalidate(self) -> None:
        pass


class RecordingLedger:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def record_chunk_error(self, file_id: str, index: int, reason: str, **extra: Any) -> None:
        self.errors.append({"reason": reason, **extra})


def client_failing_with(error: Exception) -> AdmClient:
    retry = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0)
    settings = ClientSettings("https://adm.example", "https://lwa.example/token", retry=retry)
    transport = Transport(
        timeouts=Timeouts(), retry=retry, session=RaisingSession(error), sleep=lambda _: None
    )
    credentials = Credentials("amzn1.application-oa2-client.x", "s", "Atzr|r", "NA", "ma", "adv")
    return AdmClient(settings, credentials, StaticTokens(), transport=transport)  # type: ignore[arg-type]


def one_batch(processor: RecordProcessor) -> Any:
    (batch,) = processor.batches(
        blocks([Record(2, {"customer_id": "c-1", "email": "jane@example.com"})])
    )
    return batch


@pytest.mark.parametrize(
    ("error", "code", "unconfirmed_batch", "outcome"),
    [
        (requests.ConnectTimeout("connect timed out"), Failure.NOT_DELIVERED, None, "unreachable"),
        (requests.ReadTimeout("read timed out"), Failure.UNCONFIRMED_DELIVERY, 3, "dropped"),
    ],
    ids=["connect-timeout", "read-timeout"],
)
def test_a_batch_that_was_never_sent_is_not_delivered_one_whose_answer_was_lost_unconfirmed(
    error: Exception, code: Failure, unconfirmed_batch: int | None, outcome: str
) -> None:
    ledger = RecordingLedger()
    worker = ChunkWorker(
        s3=None,
        ledger=ledger,  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        finalizer=None,  # type: ignore[arg-type]
        clients=lambda destination, target: client_failing_with(error),
    )
    processor = RecordProcessor(
        destination_for(MEMBERS), build_plan(["customer_id", "email"]), ConsentPolicy()
    )
    batch = one_batch(processor)
    pointer = SimpleNamespace(file_id="f" * 32, index=0, chunk_id="f" * 32 + "-000000", session={})
    with pytest.raises(ChunkRetryable) as caught:
        worker._deliver(pointer, processor, batch, worker.clients(AudienceMembers, MEMBERS), 3)  # type: ignore[arg-type]
    assert caught.value.reason == f"{code}:no_response"
    (recorded,) = ledger.errors
    assert recorded["reason"] == f"{code}:no_response"
    assert recorded["unconfirmed_batch"] == unconfirmed_batch
    assert recorded["attempts"] == AttemptStats(Counter({outcome: 2}))
    assert processor.tally.attempts == {outcome: 2}


# -- the ledger: attempts of failed runs, unconfirmed batches, counted once ------------------


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        dynamodb.create_table(
            TableName="ledger",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ledger = Ledger("ledger", dynamodb=dynamodb)
        ledger.register_file(
            FileEntry(
                "f" * 32, "b", "audiences/vip/x.csv", None, None, 1, "audience_members", "vip", "d"
            )
        )
        yield ledger


def test_failed_runs_keep_their_attempts_and_an_unconfirmed_batch_stays_unconfirmed(
    ledger: Ledger,
) -> None:
    file_id = "f" * 32
    dropped = AttemptStats(Counter({"dropped": 2}), 0.04)
    throttled = AttemptStats(Counter({"429": 2}), 2.0)
    ledger.record_chunk_error(
        file_id, 0, "unconfirmed_delivery:no_response", unconfirmed_batch=1, attempts=dropped
    )
    ledger.record_chunk_error(file_id, 0, "not_delivered:throttled", attempts=throttled)
    chunk = ledger.get_chunk(file_id, 0)
    assert chunk is not None
    assert chunk.last_error == "not_delivered:throttled"
    assert chunk.unconfirmed_batches == {1}  # a later throttled run does not clear it
    assert chunk.attempt_log == (dropped, throttled)
    assert chunk.attempts == 2


def test_a_chunks_attempts_are_added_to_its_file_exactly_once(ledger: Ledger) -> None:
    file_id = "f" * 32
    tally = Tally(read=3, accepted=3)
    tally.requests["200"] += 1
    tally.count_attempts({"429": 2, "dropped": 1, "200": 1}, 1500)
    assert ledger.complete_chunk(file_id, 0, tally, status="done")
    assert not ledger.complete_chunk(file_id, 0, tally, status="done")  # redelivered
    other = Tally(read=1, accepted=1)
    other.requests["200"] += 1
    other.count_attempts({"200": 1}, 0)
    assert ledger.complete_chunk(file_id, 1, other, status="done")
    file = ledger.get_file(file_id)
    assert file is not None
    assert file.request_attempts == {"429": 2, "dropped": 1, "200": 2}
    assert file.retry_wait_ms == 1500
    requests_section = build_report(file)["requests"]
    assert requests_section == {
        "sent": 2,
        "final_by_status": {"200": 2},
        "attempts": 5,
        "attempts_by_status": {"200": 2, "429": 2, "dropped": 1},
        "retry_wait_seconds": 1.5,
    }


def test_a_report_without_attempt_counts_still_has_the_requests_section() -> None:
    report = build_report(FileRecord("f" * 32, key="k", requests={"200": 2}))
    assert report["requests"] == {
        "sent": 2,
        "final_by_status": {"200": 2},
        "attempts": 0,
        "attempts_by_status": {},
        "retry_wait_seconds": 0.0,
    }
    assert (report["requests_sent"], report["requests_by_status"]) == (2, {"200": 2})


# -- duplicates within a chunk ----------------------------------------------------------------


def members_processor() -> RecordProcessor:
    return RecordProcessor(
        destination_for(MEMBERS), build_plan(["customer_id", "email"]), ConsentPolicy()
    )


def rows(*values: tuple[str, str]) -> list[Record]:
    return [
        Record(line, {"customer_id": cid, "email": email})
        for line, (cid, email) in enumerate(values, start=2)
    ]


def test_identical_members_are_sent_once_and_the_later_ones_rejected_duplicate_in_file() -> None:
    processor = members_processor()
    records = rows(
        ("c-1", "jane@example.com"),
        ("c-2", "joe@example.com"),
        ("c-1", "JANE@example.com "),  # the same member once normalized and hashed
        ("c-1", "jane@example.com"),
    )
    (batch,) = processor.batches(blocks(records))
    assert batch.lines == [2, 3]
    tally = processor.tally
    assert tally.rejected == {"duplicate_in_file": 2}
    assert [(f.line, f.reason) for f in tally.fates] == [
        (4, "duplicate_in_file"),
        (5, "duplicate_in_file"),
    ]
    tally.accepted += len(batch)
    assert tally.balanced


def test_the_same_person_under_another_id_or_identity_is_not_a_duplicate() -> None:
    processor = members_processor()
    records = rows(
        ("c-1", "jane@example.com"),
        ("c-9", "jane@example.com"),  # another externalUserId
        ("c-1", "jane.doe@example.com"),  # another identity
    )
    (batch,) = processor.batches(blocks(records))
    assert batch.lines == [2, 3, 4]
    assert processor.tally.rejected == {}


def test_dedupe_is_deterministic_so_a_retried_chunk_replays_the_same_batches() -> None:
    records = rows(*[(f"c-{i % 7}", f"p{i % 7}@example.com") for i in range(40)])
    first = [(b.body, b.lines) for b in members_processor().batches(blocks(records))]
    second = [(b.body, b.lines) for b in members_processor().batches(blocks(records))]
    assert first == second
    assert [lines for _, lines in first] == [list(range(2, 9))]


def test_identical_conversion_events_are_sent_once_too() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    events = ConversionEvents(DeliveryTarget("conversions", "purchase", "CD-1"), clock=lambda: now)
    plan = build_plan(["order_id", "email", "event_time", "value"])
    processor = RecordProcessor(events, plan, ConsentPolicy(country="US"))
    event = {"email": "a@example.com", "event_time": "2026-11-26T10:00:00Z", "value": "9.50"}
    records = [
        Record(2, {"order_id": "o-1", **event}),
        Record(3, {"order_id": "o-1", **event}),  # the same order exported twice
        Record(4, {"order_id": "o-2", **event}),
    ]
    (batch,) = processor.batches(blocks(records))
    assert batch.lines == [2, 4]
    assert processor.tally.rejected == {"duplicate_in_file": 1}
