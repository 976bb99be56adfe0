"""A redriven chunk moves to its next generation: a message from an older one (a duplicate of
the original chunk message, or its copy still in the DLQ) is dropped by the worker and the
dead-letter recorder alike — never processed or failed behind the redrive's back — while
the current generation's message is processed, and its dead letter keeps the record a next
redrive needs."""

from __future__ import annotations

from dataclasses import replace

from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.deadletter import record_dead_letter
from tests.worker.fakes import FakeAdm, UntouchableClient, World, member_rows


def _redriven(world: World) -> None:
    """The chunk as a redrive leaves it: no status, generation 1."""
    world.ledger._chunk(world.file_id, 0)["redrives"] = 1


def test_an_older_generation_is_dropped_by_the_worker_and_the_recorder() -> None:
    world = World(member_rows(4))
    _redriven(world)
    client = UntouchableClient()
    assert world.worker(client).process(world.pointer).status == "superseded"
    assert record_dead_letter(world.worker(client), world.pointer).status == "superseded"
    assert client.touched == []
    assert world.chunk().status is None and world.file().chunks_done == 0


def test_the_current_generation_is_processed_and_its_dead_letter_recorded() -> None:
    world = World(member_rows(4))
    _redriven(world)
    current: ChunkPointer = replace(world.pointer, redrive=1)
    failed = record_dead_letter(world.worker(UntouchableClient()), current)
    assert failed.status == "failed"
    record = world.chunk().dead_letter
    assert record is not None and record.generation == 1
    assert ChunkPointer.from_message(record.pointer) == current
    assert record.counted["maps"]["failed"] == {"not_delivered": 4}
    assert record.lines == (2, 5)  # the rows of the rejects file it wrote

    other = World(member_rows(4))
    _redriven(other)
    done = other.worker(FakeAdm()).process(replace(other.pointer, redrive=1))
    assert (done.status, done.accepted) == ("done", 4)
