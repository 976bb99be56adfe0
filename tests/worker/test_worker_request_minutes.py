"""The worker counts each request at the minute its final answer came — from its one injected
clock — and keeps that minute with the delivered batch, so a retry that replays the batch
counts it at the first run's minute, not its own. A batch stored by a release that kept no
time is counted at the replay's minute (the totals stay whole)."""

from __future__ import annotations

import pytest

from adm_ingest.adm.errors import BadRequest
from adm_ingest.pipeline.worker import ChunkRetryable
from adm_ingest.request_times import minute_of
from tests.worker.fakes import FakeAdm, World, member_rows, small_batches
from tests.worker.test_worker_replay import time_for

T0 = 1_800_000_000.0  # the World's clock: 2027-01-15T08:00Z
LATER = T0 + 10 * 60 + 30  # the retry, ten and a half minutes on


def test_a_delivered_batch_counts_at_its_answers_minute_and_keeps_it() -> None:
    world = World(member_rows(3))
    world.worker(FakeAdm()).process(world.pointer)
    minute = minute_of(T0)
    assert minute == "2027-01-15T08:00Z"
    assert world.file().request_minutes == {f"{minute} 200": 1}
    assert [b.answered_at for b in world.chunk().delivered_batches] == [minute]


def test_a_retry_counts_the_replayed_batches_at_the_first_runs_minute() -> None:
    with small_batches(2):
        world = World(member_rows(6))  # three batches
        refusing = {1: BadRequest(400, "INVALID_ARGUMENT", "")}  # the second refused whole
        with pytest.raises(ChunkRetryable, match="out_of_time"):
            world.worker(FakeAdm(errors=refusing), time_left=time_for(2)).process(world.pointer)
        world.clock.now = LATER
        world.worker(FakeAdm()).process(world.pointer)
    first, retry = minute_of(T0), minute_of(LATER)
    assert world.file().requests == {"200": 2, "400": 1}
    assert world.file().request_minutes == {
        f"{first} 200": 1,  # batch 0, delivered by the first run
        f"{first} 400": 1,  # batch 1, refused in the first run
        f"{retry} 200": 1,  # batch 2, sent by the retry
    }
    assert [b.answered_at for b in world.chunk().delivered_batches] == [first, first, retry]


def test_a_batch_stored_without_its_minute_counts_at_the_replays() -> None:
    with small_batches(2):
        world = World(member_rows(4))  # two batches
        with pytest.raises(ChunkRetryable):
            world.worker(FakeAdm(), time_left=time_for(1)).process(world.pointer)
        chunk = world.ledger.items[(f"file#{world.file_id}", "chunk#000000")]
        for stored in chunk["delivered_batches"]:
            del stored["answered_at"]  # as an older release wrote it
        world.clock.now = LATER
        world.worker(FakeAdm()).process(world.pointer)
    assert world.file().request_minutes == {f"{minute_of(LATER)} 200": 2}
    assert world.file().requests == {"200": 2}
