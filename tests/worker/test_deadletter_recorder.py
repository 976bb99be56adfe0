"""The dead-letter recorder accounts for a chunk SQS gave up on, from what the ledger knows.

Batches the worker delivered keep their real outcome (replayed from the chunk's delivered
batches); a batch some attempt of which may have reached ADM fails ``unconfirmed_delivery``;
every other record fails ``not_delivered``. The attempts of the failed runs reach the file's
counters, the file is counted once however often the message is seen, its report is written,
and the destination's client is never used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from adm_ingest.adm.errors import RetryableError, Throttled
from adm_ingest.attempts import AttemptStats
from adm_ingest.pipeline.deadletter import PoisonMessage, handle_dead_letter, record_dead_letter
from adm_ingest.pipeline.worker import ChunkResult, ChunkRetryable
from adm_ingest.report import report_key
from tests.worker.fakes import KEY, FakeAdm, UntouchableClient, World, member_rows, small_batches

QUEUE = "adm-ingest-chunks-dlq"
ROWS = 6
LOST = AttemptStats(Counter({"dropped": 2}), 0.1)
THROTTLED = AttemptStats(Counter({"429": 3}), 1.5)


@pytest.fixture(autouse=True)
def two_per_batch() -> Iterator[None]:
    with small_batches(2):  # batches: c-0,c-1 · c-2,c-3 · c-4,c-5
        yield


@pytest.fixture
def world() -> World:
    """A chunk whose batch 0 was delivered (c-1 refused), whose batch 1's answer was lost once
    and then throttled, and whose batch 2 was never tried: SQS gave up on it."""
    world = World(member_rows(ROWS))
    first = FakeAdm(
        refuse={"c-1": "INVALID_EMAIL"},
        errors={1: RetryableError("read timeout", maybe_delivered=True)},
        attempts={1: LOST},
    )
    with pytest.raises(ChunkRetryable):
        world.worker(first).process(world.pointer)
    second = FakeAdm(errors={0: Throttled(429, "TooManyRequests", "")}, attempts={0: THROTTLED})
    with pytest.raises(ChunkRetryable):
        world.worker(second).process(world.pointer)
    return world


def test_delivered_batches_keep_their_outcome_unconfirmed_and_untried_ones_fail(
    world: World,
) -> None:
    client = UntouchableClient()
    result = record_dead_letter(world.worker(client), world.pointer)

    assert isinstance(result, ChunkResult) and result.status == "failed"
    assert client.touched == []  # the dead-letter path never reaches the destination
    file = world.file()
    assert (file.read, file.accepted) == (ROWS, 1)
    assert file.rejected == {"adm_INVALID_EMAIL": 1}  # batch 0, as delivered
    assert file.failed == {"unconfirmed_delivery": 2, "not_delivered": 2}  # batch 1 · batch 2
    assert Counter(file.request_attempts) == Counter({"200": 1}) + LOST.by_outcome + (
        THROTTLED.by_outcome
    )
    assert file.retry_wait_ms == 1600
    assert file.status == "complete_with_failures" and file.reported_at
    assert file.read == file.accepted + sum(file.rejected.values()) + sum(file.failed.values())
    assert world.chunk().status == "failed"


def test_a_message_seen_twice_is_counted_once(world: World) -> None:
    worker = world.worker(UntouchableClient())
    first = handle_dead_letter(worker, world.pointer.to_message(), queue=QUEUE)
    counted = world.file()
    again = handle_dead_letter(worker, world.pointer.to_message(), queue=QUEUE)

    assert isinstance(first, ChunkResult) and first.status == "failed"
    assert isinstance(again, ChunkResult) and again.status == "already_done"
    assert world.file() == counted
    assert world.s3.versions(report_key(KEY)) == 1


def test_a_chunk_never_tried_fails_every_record_not_delivered() -> None:
    world = World(member_rows(ROWS))
    result = record_dead_letter(world.worker(UntouchableClient()), world.pointer)
    assert result.status == "failed"
    assert world.file().failed == {"not_delivered": ROWS}


@pytest.mark.parametrize("unconfirmed", [True, False])
def test_an_unreadable_chunk_is_failed_by_count(unconfirmed: bool) -> None:
    world = World(member_rows(ROWS))
    if unconfirmed:
        world.ledger.record_chunk_error(
            world.file_id, 0, "unconfirmed_delivery:no_response", unconfirmed_batch=0
        )
    world.s3.objects.pop(KEY)  # the input was deleted meanwhile
    record_dead_letter(world.worker(UntouchableClient()), world.pointer)
    reason = "unconfirmed_delivery" if unconfirmed else "not_delivered"
    assert world.file().failed == {reason: ROWS}
    assert world.file().reported_at


def test_a_pointer_to_no_registered_file_is_poison_counted_not_failed() -> None:
    world = World(member_rows(ROWS))
    stray = world.pointer.to_message().replace(world.file_id, "0" * 32)
    found = handle_dead_letter(world.worker(UntouchableClient()), stray, queue=QUEUE)
    assert isinstance(found, PoisonMessage) and found.kind == "unknown_file"
    poison = world.ledger.items[(f"POISON#{QUEUE}", "poison")]
    assert (poison["messages"], poison["kind_unknown_file"]) == (1, 1)
    assert world.file().chunks_done == 0
