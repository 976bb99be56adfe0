"""The fake ledger answers as the real one does — the one test here that needs moto.

The worker, dead-letter and finalizer tests in this directory run on :class:`FakeLedger` so
they are fast; they are only as good as the fake. This drives the fake and the real
:class:`~adm_ingest.ledger.Ledger` (on moto's DynamoDB) through the same calls — registration,
delivered batches, chunk errors, counting a chunk once, the finalization lease with its owner
tokens, release, expiry and the sweeper's index — and requires the same answers and the same
records read back (timestamps the real ledger takes from the wall clock compared by presence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.attempts import AttemptStats
from adm_ingest.ledger import DeliveredBatch, FileEntry, Ledger, PinnedMapping
from adm_ingest.outcomes import Tally
from adm_local.resources import create_ledger_table
from tests.worker.fakes import FakeLedger

FILE_ID = "c" * 32
LEASE = 900.0
T = 1_800_000_000.0
WALL_CLOCK = ("created_at", "split_done_at", "report_written_at", "reported_at", "completed_at")


def tally(read: int, accepted: int, **failed: int) -> Tally:
    counted = Tally(read=read, accepted=accepted)
    counted.failed.update(failed)
    counted.rejected["adm_INVALID_EMAIL"] += read - accepted - sum(failed.values())
    counted.requests["200"] += 1
    counted.count_attempts({"200": 1, "429": 2}, 750)
    counted.ingress_ids.append(f"ingress-{read}")
    counted.countries["US"] += read
    return counted


def comparable(record: Any) -> Any:
    if record is None:
        return None
    data = asdict(record)
    for name in WALL_CLOCK:
        if name in data:
            data[name] = bool(data[name])
    return data


def scenario(ledger: Any) -> list[Any]:
    """Every answer and record read back, in order."""
    seen: list[Any] = []
    entry = FileEntry(
        FILE_ID, "b", "audiences/vip/x.csv", "v1", None, 10, "audience_members", "vip", "DS"
    )
    seen += [ledger.register_file(entry), ledger.register_file(entry)]
    seen.append(ledger.pin_mapping(FILE_ID, PinnedMapping.of("", None)).content_hash)
    seen.append(ledger.get_chunk(FILE_ID, 0))
    ledger.record_delivered_batch(
        FILE_ID,
        0,
        DeliveredBatch(
            200, {1: "adm_INVALID_EMAIL"}, "ingress-1", attempts=AttemptStats(Counter({"200": 1}))
        ),
    )
    ledger.record_delivered_batch(
        FILE_ID,
        0,
        DeliveredBatch(400, failed="adm_400_BAD", attempts=AttemptStats(Counter({"400": 1}))),
    )
    lost = AttemptStats(Counter({"dropped": 2}), 0.2)
    ledger.record_chunk_error(
        FILE_ID, 0, "unconfirmed_delivery:no_response", unconfirmed_batch=2, attempts=lost
    )
    ledger.record_chunk_error(FILE_ID, 0, "not_delivered:out_of_time")
    seen.append(comparable(ledger.get_chunk(FILE_ID, 0)))
    seen.append(ledger.claim_finalization(FILE_ID, "early", lease_seconds=LEASE, now=T))
    ledger.record_split(FILE_ID, chunks_total=2, records_total=7)
    seen.append(ledger.complete_chunk(FILE_ID, 0, tally(4, 2, not_delivered=1), status="done"))
    seen.append(ledger.complete_chunk(FILE_ID, 0, tally(4, 2, not_delivered=1), status="done"))
    seen.append(ledger.claim_finalization(FILE_ID, "early", lease_seconds=LEASE, now=T))
    seen.append(ledger.complete_chunk(FILE_ID, 1, tally(3, 3), status="failed"))
    seen.append(ledger.complete_chunk("0" * 32, 0, tally(1, 1), status="done"))
    seen.append(comparable(ledger.get_chunk(FILE_ID, 0)))
    seen.append(comparable(ledger.claim_finalization(FILE_ID, "a", lease_seconds=LEASE, now=T)))
    seen.append(ledger.claim_finalization(FILE_ID, "b", lease_seconds=LEASE, now=T + 10))
    seen.append(ledger.stale_finalizations(lease_seconds=LEASE, now=T + 10))
    seen.append(ledger.record_report_written(FILE_ID, "b"))
    seen.append(ledger.release_finalization(FILE_ID, "a", "ClientError:InternalError"))
    seen.append(ledger.stale_finalizations(lease_seconds=LEASE, now=T + 20))
    seen.append(
        comparable(ledger.claim_finalization(FILE_ID, "b", lease_seconds=LEASE, now=T + 20))
    )
    seen.append(ledger.record_report_written(FILE_ID, "a"))
    seen.append(ledger.record_report_written(FILE_ID, "b"))
    seen.append(ledger.stale_finalizations(lease_seconds=LEASE, now=T + 21 + LEASE))
    seen.append(ledger.mark_reported(FILE_ID, "complete_with_failures", owner="a"))
    seen.append(ledger.mark_reported(FILE_ID, "complete_with_failures", owner="b"))
    seen.append(ledger.stale_finalizations(lease_seconds=0, now=T + 10**6))
    seen.append(ledger.claim_finalization(FILE_ID, "c", lease_seconds=0, now=T + 10**6))
    seen.append(comparable(ledger.get_file(FILE_ID)))
    return seen


@pytest.fixture
def real_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_ledger_table(dynamodb.meta.client, "ledger")
        yield Ledger("ledger", dynamodb=dynamodb)


def test_the_fake_ledger_answers_and_reads_back_as_the_real_one(real_ledger: Ledger) -> None:
    real, fake = scenario(real_ledger), scenario(FakeLedger())
    assert len(real) == len(fake)
    for step, (expected, got) in enumerate(zip(real, fake, strict=True)):
        assert got == expected, f"step {step}"
