"""A retried chunk re-sends only what was not delivered, and ends as one clean run would.

The worker records every batch that got its final answer (a :class:`DeliveredBatch`) before
it sends the next; batching is deterministic, so a later run of the same chunk replays the
recorded batches — their acceptances, refusals and whole-batch failures — and sends only the
rest. Whatever stopped the first run after ``k`` batches (a crash, a transient API error, the
Lambda running out of time), the retry sends exactly the clean run's bodies ``k…`` and the
file's counters, rejects file and report equal the clean run's; only the attempts of the
failed run are added on top (they happened, and the report says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.adm.errors import BadRequest, ServerError
from adm_ingest.attempts import AttemptStats
from adm_ingest.pipeline.worker import ChunkRetryable
from adm_ingest.report import rejects_key, report_key
from tests.worker.fakes import KEY, FakeAdm, World, member_rows, small_batches

MAX_ROWS = 24
FAILED_RUN_ATTEMPTS = AttemptStats(Counter({"503": 2}), 0.5)


def time_for(batches: int) -> Callable[[], float]:
    """A ``time_left`` that runs out after the worker asked before ``batches`` batches."""
    asked = Counter[str]()

    def time_left() -> float:
        asked["calls"] += 1
        return float("inf") if asked["calls"] <= batches else 0.0

    return time_left


@settings(max_examples=60)
@given(
    rows=st.integers(min_value=1, max_value=MAX_ROWS),
    max_items=st.integers(min_value=1, max_value=6),
    invalid=st.frozensets(st.integers(min_value=0, max_value=MAX_ROWS - 1)),
    refused=st.frozensets(st.integers(min_value=0, max_value=MAX_ROWS - 1)),
    data=st.data(),
)
def test_a_retry_sends_only_the_undelivered_batches_and_tallies_as_one_clean_run(
    rows: int,
    max_items: int,
    invalid: frozenset[int],
    refused: frozenset[int],
    data: st.DataObject,
) -> None:
    lines = member_rows(rows, without_identifier=invalid)
    refuse = {f"c-{n}": "INVALID_EMAIL" for n in refused}
    with small_batches(max_items):
        probe, counting = FakeAdm(refuse=refuse), World(lines)  # how many batches there are
        counting.worker(probe).process(counting.pointer)
        batches = len(probe.bodies)
        bad = data.draw(st.frozensets(st.integers(0, max(batches - 1, 0))), label="refused bodies")
        bad = frozenset(n for n in bad if n < batches)

        def refusing(first: int = 0, also: Mapping[int, BaseException] | None = None) -> FakeAdm:
            """A client whose call ``n`` is batch ``first + n``: the bodies in ``bad`` refused
            as a whole, and the calls in ``also`` failing as given."""
            errors: dict[int, BaseException] = {
                n - first: BadRequest(400, "INVALID_ARGUMENT", "") for n in bad if n >= first
            }
            errors.update(also or {})
            return FakeAdm(refuse=refuse, errors=errors)

        # The reference: one run, nothing in its way (the bodies in `bad` refused as a whole).
        clean = World(lines)
        reference = refusing()
        clean.worker(reference).process(clean.pointer)

        k = data.draw(st.integers(0, batches), label="batches delivered before the stop")
        stops = ["crash"] + (["server_error", "out_of_time"] if k < batches else [])
        stop = data.draw(st.sampled_from(stops), label="what stopped the first run")

        world = World(lines)
        if stop == "crash":  # the first run died after recording batch k-1
            for delivered in clean.chunk().delivered_batches[:k]:
                world.ledger.record_delivered_batch(world.file_id, 0, delivered)
        elif stop == "server_error":
            first = refusing(also={k: ServerError(503, "ServiceUnavailable", "")})
            first.attempts[k] = FAILED_RUN_ATTEMPTS
            with pytest.raises(ChunkRetryable, match=r"^not_delivered:server_error$"):
                world.worker(first).process(world.pointer)
            assert first.bodies == reference.bodies[: k + 1]
        else:
            first = refusing()
            with pytest.raises(ChunkRetryable, match=r"^not_delivered:out_of_time$"):
                world.worker(first, time_left=time_for(k)).process(world.pointer)
            assert first.bodies == reference.bodies[:k]

        retry = refusing(first=k)
        result = world.worker(retry).process(world.pointer)

    assert result.status == "done"
    assert retry.bodies == reference.bodies[k:]  # nothing delivered is sent again
    expected, got = clean.file(), world.file()
    for counter in (
        "read",
        "accepted",
        "rejected",
        "failed",
        "requests",
        "ingress_ids",
        "request_minutes",
    ):
        assert getattr(got, counter) == getattr(expected, counter), counter
    extra = FAILED_RUN_ATTEMPTS.by_outcome if stop == "server_error" else Counter()
    assert Counter(got.request_attempts) == Counter(expected.request_attempts) + extra
    assert world.s3.body(rejects_key(KEY)) == clean.s3.body(rejects_key(KEY))
    assert got.status == expected.status and got.reported_at
    assert got.read == got.accepted + sum(got.rejected.values()) + sum(got.failed.values())
    assert world.s3.versions(report_key(KEY)) == 1
