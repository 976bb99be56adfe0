"""What the worker does with each kind of delivery failure — through the destination's own
classification, with a fake ADM client and a fake ledger.

* transient (429, 5xx, no answer, the call's time budget) and needs-a-human (credentials):
  :class:`ChunkRetryable`, after recording on the chunk why (``not_delivered:<detail>``, or
  ``unconfirmed_delivery:<detail>`` when some attempt may have reached ADM — then the batch's
  number joins ``unconfirmed_batches``) and the attempts that run made; nothing is counted on
  the file, and the retry counts those attempts into the chunk's outcome;
* permanent (a body refused as a whole): that batch's records fail with ``adm_<status>_<code>``
  and the chunk goes on;
* anything the destination does not recognize is a bug: it propagates, unrecorded;
* out of time before a batch: ``not_delivered:out_of_time``, and that batch is not sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from adm_ingest.adm.errors import (
    AuthError,
    BadRequest,
    DeadlineExceeded,
    RetryableError,
    ServerError,
    Throttled,
)
from adm_ingest.attempts import AttemptStats
from adm_ingest.destinations import DeliveryFailed, FailureClass
from adm_ingest.pipeline.worker import ChunkRetryable
from adm_ingest.report import report_key
from tests.worker.fakes import KEY, FakeAdm, World, member_rows, small_batches

ROWS = 6
PER_BATCH = 2  # three batches: c-0,c-1 · c-2,c-3 · c-4,c-5


@pytest.fixture(autouse=True)
def two_per_batch() -> Iterator[None]:
    with small_batches(PER_BATCH):
        yield


@pytest.fixture
def world() -> World:
    return World(member_rows(ROWS))


def stats(**by_outcome: int) -> AttemptStats:
    return AttemptStats(Counter({k.removeprefix("s"): v for k, v in by_outcome.items()}), 0.25)


RETRYABLE = {
    "throttled": (Throttled(429, "TooManyRequests", ""), stats(s429=3), "not_delivered:throttled"),
    "server error": (
        ServerError(503, "ServiceUnavailable", ""),
        stats(s503=3),
        "not_delivered:server_error",
    ),
    "never connected": (
        RetryableError("connect timeout", maybe_delivered=False),
        stats(unreachable=3),
        "not_delivered:no_response",
    ),
    "answer lost": (
        RetryableError("read timeout", maybe_delivered=True),
        stats(dropped=1, s503=2),
        "unconfirmed_delivery:no_response",
    ),
    "an earlier attempt's answer lost, then throttled": (
        Throttled(429, "TooManyRequests", ""),
        stats(dropped=1, s429=2),
        "unconfirmed_delivery:throttled",
    ),
    "call budget spent": (
        DeadlineExceeded("budget"),
        stats(s503=1),
        "not_delivered:out_of_time",
    ),
    "credentials (needs a human)": (AuthError("revoked"), stats(s401=2), "not_delivered:auth"),
    "an answer lost, then the credentials failed on a refresh": (
        AuthError("revoked"),
        stats(dropped=1, s401=1),
        "unconfirmed_delivery:auth",
    ),
}


@pytest.mark.parametrize("case", RETRYABLE)
def test_a_transient_or_needs_a_human_failure_leaves_the_chunk_for_a_retry_and_says_why(
    world: World, case: str
) -> None:
    error, attempts, reason = RETRYABLE[case]
    client = FakeAdm(errors={1: error}, attempts={1: attempts})
    with pytest.raises(ChunkRetryable) as raised:
        world.worker(client).process(world.pointer)

    assert raised.value.reason == reason
    assert len(client.bodies) == 2  # the failing batch was the last one tried
    chunk = world.chunk()
    assert chunk.status is None
    assert chunk.last_error == reason
    assert chunk.attempts == 1
    assert chunk.attempt_log == (attempts,)
    unconfirmed = reason.startswith("unconfirmed_delivery")
    assert chunk.unconfirmed_batches == ({1} if unconfirmed else set())
    assert len(chunk.delivered_batches) == 1  # batch 0, kept for the retry
    file = world.file()
    assert (file.chunks_done, file.read, file.counted_chunks) == (0, 0, frozenset())
    assert world.s3.versions(report_key(KEY)) == 0

    # The retry replays batch 0, sends the other two, and counts the failed run's attempts.
    retry = FakeAdm()
    assert world.worker(retry).process(world.pointer).status == "done"
    assert retry.sent_ids() == [["c-2", "c-3"], ["c-4", "c-5"]]
    file = world.file()
    assert (file.read, file.accepted, file.failed) == (ROWS, ROWS, {})
    assert Counter(file.request_attempts) == Counter({"200": 3}) + attempts.by_outcome
    assert file.retry_wait_ms == 250
    assert file.reported_at


def test_a_second_failed_run_keeps_the_unconfirmed_batch_and_both_runs_attempts(
    world: World,
) -> None:
    lost = stats(dropped=2)
    throttled = stats(s429=3)
    first = FakeAdm(errors={1: RetryableError("read timeout", maybe_delivered=True)})
    first.attempts[1] = lost
    with pytest.raises(ChunkRetryable):
        world.worker(first).process(world.pointer)
    second = FakeAdm(errors={0: Throttled(429, "TooManyRequests", "")}, attempts={0: throttled})
    with pytest.raises(ChunkRetryable, match=r"^not_delivered:throttled$"):
        world.worker(second).process(world.pointer)

    assert second.sent_ids() == [["c-2", "c-3"]]  # batch 0 replayed, not re-sent
    chunk = world.chunk()
    assert chunk.unconfirmed_batches == {1}  # a throttled run does not make it "not delivered"
    assert chunk.attempt_log == (lost, throttled)
    assert chunk.attempts == 2


def test_a_body_refused_as_a_whole_fails_its_records_and_the_chunk_goes_on(world: World) -> None:
    client = FakeAdm(errors={1: BadRequest(400, "INVALID_ARGUMENT", "bad body")})
    result = world.worker(client).process(world.pointer)

    assert result.status == "done"
    assert len(client.bodies) == 3  # the batch after the refused one was sent
    file = world.file()
    assert (file.read, file.accepted) == (ROWS, 4)
    assert file.failed == {"adm_400_INVALID_ARGUMENT": 2}
    assert file.requests == {"200": 2, "400": 1}
    refused = world.chunk().delivered_batches[1]
    assert (refused.status, refused.failed) == (400, "adm_400_INVALID_ARGUMENT")
    assert world.chunk().last_error is None


def test_members_adm_refuses_are_rejected_by_its_code_the_others_accepted(world: World) -> None:
    client = FakeAdm(refuse={"c-1": "INVALID_EMAIL", "c-4": "INVALID_EMAIL"})
    world.worker(client).process(world.pointer)
    file = world.file()
    assert (file.read, file.accepted, file.rejected) == (ROWS, 4, {"adm_INVALID_EMAIL": 2})


@pytest.mark.parametrize("failure", [FailureClass.TRANSIENT, FailureClass.NEEDS_HUMAN])
def test_the_worker_retries_on_the_neutral_class_alone(world: World, failure: FailureClass) -> None:
    """A destination that raises :class:`DeliveryFailed` itself (no ADM error involved)."""
    client = FakeAdm(errors={0: DeliveryFailed(failure, "remote_busy", status=503)})
    with pytest.raises(ChunkRetryable) as retry:
        world.worker(client).process(world.pointer)
    assert retry.value.reason == world.chunk().last_error == "not_delivered:remote_busy"
    assert world.chunk().delivered_batches == ()


def test_the_worker_fails_a_permanently_refused_batch_on_the_neutral_class_alone(
    world: World,
) -> None:
    refused = DeliveryFailed(FailureClass.PERMANENT, "remote_refused", status=409)
    world.worker(FakeAdm(errors={0: refused})).process(world.pointer)
    assert world.file().failed == {"remote_refused": 2}
    assert world.file().requests == {"409": 1, "200": 2}


class Bug(Exception):
    """Something no destination classifies."""


def test_an_error_the_destination_does_not_recognize_propagates_unrecorded(world: World) -> None:
    client = FakeAdm(errors={1: Bug()})
    with pytest.raises(Bug):
        world.worker(client).process(world.pointer)
    chunk = world.chunk()
    assert chunk.last_error is None and chunk.attempts == 0
    assert len(chunk.delivered_batches) == 1
    assert world.file().chunks_done == 0


@pytest.mark.parametrize("delivered", [0, 2])
def test_out_of_time_before_a_batch_sends_nothing_more(world: World, delivered: int) -> None:
    asked: list[None] = []

    def time_left() -> float:
        asked.append(None)
        return 60.0 if len(asked) <= delivered else 19.9  # the margin is 20 s

    client = FakeAdm()
    with pytest.raises(ChunkRetryable) as raised:
        world.worker(client, time_left=time_left).process(world.pointer)
    assert raised.value.reason == "not_delivered:out_of_time"
    assert len(client.bodies) == delivered
    chunk = world.chunk()
    assert chunk.last_error == "not_delivered:out_of_time"
    assert (chunk.attempts, chunk.attempt_log, chunk.unconfirmed_batches) == (1, (), set())
    assert len(chunk.delivered_batches) == delivered


def test_a_chunk_already_counted_is_not_run_again_but_a_finalization_owed_is_done(
    world: World,
) -> None:
    world.s3.fail("PutObject", "reports/")  # counted, then the report write failed
    with pytest.raises(ClientError):
        world.worker(FakeAdm()).process(world.pointer)
    counted = world.file()
    assert counted.chunks_done == 1 and counted.reported_at is None

    client = FakeAdm()  # the redelivered chunk only finalizes
    assert world.worker(client).process(world.pointer).status == "already_done"
    assert client.bodies == []
    assert world.file().read == counted.read == ROWS
    assert world.file().reported_at
    assert world.s3.versions(report_key(KEY)) == 1
