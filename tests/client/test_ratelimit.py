"""The shared AIMD rate limiter: slots, decreases, pauses and fallbacks, on moto's DynamoDB
with a fake clock; then the transport hook; then workers against a rate-limited sandbox.

The limiter is specified by what a worker experiences: *when* ``acquire`` lets it send (the
fake clock advances only by the limiter's own sleeps) and what the shared item says after.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import AdmClient, Deadline, DeadlineExceeded, Transport
from adm_ingest.adm.ratelimit import (
    DynamoRateStore,
    RateConfig,
    RateState,
    SharedRateLimiter,
    StoreUnavailable,
)
from adm_local.resources import create_ledger_table
from tests.client.client_support import sandbox_credentials, sandbox_settings
from tests.client.scripted_http import Reply

TABLE = "ledger"
ACCOUNT = "ADV-1"
T0 = 1_800_000_000.0
CONFIG = RateConfig(max_rps=10.0, min_rps=1.0, decrease=0.5, increase=0.5, default_pause=1.0)


class FakeTime:
    """A wall clock that moves only when someone sleeps on it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.slept: list[float] = []
        self.meanwhile: Callable[[], None] | None = None
        """Runs once, during the next sleep (what other workers do while this one waits)."""

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.meanwhile is not None:
            action, self.meanwhile = self.meanwhile, None
            action()
        self.now += seconds


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        create_ledger_table(client, TABLE)
        yield client


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


def limiter(dynamodb: Any, fake: FakeTime, config: RateConfig = CONFIG) -> SharedRateLimiter:
    store = DynamoRateStore(dynamodb, TABLE, ACCOUNT)
    return SharedRateLimiter(store, config, clock=fake.clock, sleep=fake.sleep)


def forever(fake: FakeTime) -> Deadline:
    return Deadline.after(3600, clock=fake.clock)


def send_times(worker: SharedRateLimiter, fake: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        worker.acquire(forever(fake))
        times.append(round(fake.now - T0, 3))
    return times


def item(dynamodb: Any) -> dict[str, Any]:
    key = {"pk": {"S": f"rate#{ACCOUNT}"}, "sk": {"S": "rate"}}
    found = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    return {name: value.get("N", value.get("S")) for name, value in found.items()}


# -- pacing -------------------------------------------------------------------------------------


def test_a_fresh_account_is_paced_at_the_maximum_rate(dynamodb: Any, time_: FakeTime) -> None:
    assert send_times(limiter(dynamodb, time_), time_, 4) == [0.0, 0.1, 0.2, 0.3]
    stored = item(dynamodb)
    assert float(stored["base_rps"]) == 10.0 and float(stored["next_at"]) == T0 + 0.4
    assert int(stored["expires_at"]) > T0  # the ledger's TTL attribute


def test_two_workers_share_one_schedule(dynamodb: Any, time_: FakeTime) -> None:
    a, b = limiter(dynamodb, time_), limiter(dynamodb, time_)
    starts = []
    for worker in (a, b, a, b, b, a):
        # Each claims the next slot of the same item: together they send at 10/s, not 20/s.
        worker.acquire(forever(time_))
        starts.append(round(time_.now - T0, 3))
    assert starts == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_an_idle_schedule_restarts_at_now_instead_of_bursting(
    dynamodb: Any, time_: FakeTime
) -> None:
    worker = limiter(dynamodb, time_)
    send_times(worker, time_, 3)
    time_.now += 30  # no requests for 30 s: 300 unused slots lie in the past
    assert send_times(worker, time_, 3) == [30.2, 30.3, 30.4]


def test_a_slot_past_the_deadline_is_refused(dynamodb: Any, time_: FakeTime) -> None:
    worker = limiter(dynamodb, time_)
    worker.acquire(forever(time_))
    with pytest.raises(DeadlineExceeded, match="send slot"):
        worker.acquire(Deadline.after(0.05, clock=time_.clock))  # the next slot is 0.1 s away


# -- AIMD ---------------------------------------------------------------------------------------


def test_a_429_halves_the_shared_rate_and_pauses_everyone_until_retry_after(
    dynamodb: Any, time_: FakeTime
) -> None:
    a, b = limiter(dynamodb, time_), limiter(dynamodb, time_)
    a.acquire(forever(time_))
    a.observe(429, 2.0)
    stored = item(dynamodb)
    assert float(stored["base_rps"]) == 5.0 and int(float(stored["epoch"])) == 1
    assert float(stored["pause_until"]) == T0 + 2.0
    # The other worker learns it from the item: it waits for the pause, then sends at 5/s
    # (a slot is 1 / the rate when it was claimed, before the pause).
    b.acquire(forever(time_))
    assert time_.now == T0 + 2.0
    b.acquire(forever(time_))
    assert time_.now - (T0 + 2.0) == pytest.approx(0.2, abs=1e-3)


def test_a_429_without_retry_after_pauses_the_default(dynamodb: Any, time_: FakeTime) -> None:
    worker = limiter(dynamodb, time_)
    worker.acquire(forever(time_))
    worker.observe(429, None)
    worker.acquire(forever(time_))
    assert time_.now == T0 + CONFIG.default_pause


def test_concurrent_429s_of_one_epoch_decrease_once(dynamodb: Any, time_: FakeTime) -> None:
    a, b = limiter(dynamodb, time_), limiter(dynamodb, time_)
    a.acquire(forever(time_))
    b.acquire(forever(time_))
    # Both requests went out at 10/s; both are answered 429: that is one congestion event.
    a.observe(429, 1.0)
    b.observe(429, 1.0)
    stored = item(dynamodb)
    assert int(float(stored["epoch"])) == 1 and float(stored["base_rps"]) == 5.0


def test_a_slot_overtaken_by_a_pause_is_given_up_for_one_after_it(
    dynamodb: Any, time_: FakeTime
) -> None:
    slow = RateConfig(max_rps=2.0, min_rps=0.5)  # 0.5 s slots: long enough to re-check
    a, b = limiter(dynamodb, time_, slow), limiter(dynamodb, time_, slow)
    a.acquire(forever(time_))  # sends at once, and is answered 429 while b sleeps towards
    time_.meanwhile = lambda: a.observe(429, 2.0)  # its slot at 0.5 s
    b.acquire(forever(time_))
    assert time_.now == T0 + 2.0  # not into the pause: at its end


def test_the_rate_grows_additively_without_429s_up_to_the_cap(
    dynamodb: Any, time_: FakeTime
) -> None:
    worker = limiter(dynamodb, time_)
    worker.acquire(forever(time_))
    worker.observe(429, 0.0)  # 10 → 5/s
    state = worker.state
    assert state.rate(CONFIG, time_.now) == 5.0
    assert state.rate(CONFIG, time_.now + 4) == 7.0  # +0.5/s per second
    assert state.rate(CONFIG, time_.now + 60) == CONFIG.max_rps
    time_.now += 4
    worker.acquire(forever(time_))
    assert worker.rate() == 7.0


def test_the_rate_never_drops_below_the_floor(dynamodb: Any, time_: FakeTime) -> None:
    worker = limiter(dynamodb, time_)
    for _ in range(8):
        worker.acquire(forever(time_))
        worker.observe(429, 0.0)
    assert worker.rate() == CONFIG.min_rps
    assert float(item(dynamodb)["base_rps"]) == CONFIG.min_rps


def test_successes_and_other_errors_write_nothing(dynamodb: Any, time_: FakeTime) -> None:
    worker = limiter(dynamodb, time_)
    worker.acquire(forever(time_))
    before = item(dynamodb)
    for status in (200, 207, 400, 500, 503):
        worker.observe(status, 5.0)
    assert item(dynamodb) == before


def test_decrease_steps_follow_the_config() -> None:
    config = RateConfig(max_rps=20, min_rps=2, decrease=0.7, increase=0.25)
    state = RateState.fresh(config, 0.0)
    after = state.decreased(config, 10.0, pause=1.5)
    assert after.base_rps == pytest.approx(14.0) and after.epoch == 1
    assert after.pause_until == 11.5
    assert after.rate(config, 14.0) == pytest.approx(15.0)


@pytest.mark.parametrize(
    "settings",
    [
        {"min_rps": 0},
        {"min_rps": 5, "max_rps": 4},
        {"decrease": 1.0},
        {"decrease": 0.0},
        {"increase": -1},
    ],
)
def test_nonsense_configs_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateConfig(**settings)


# -- when DynamoDB fails ------------------------------------------------------------------------


class BrokenDynamoDB:
    """A DynamoDB client whose every call fails, as an unreachable endpoint would."""

    def __init__(self) -> None:
        self.calls = 0

    def update_item(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import EndpointConnectionError

        self.calls += 1
        raise EndpointConnectionError(endpoint_url="https://dynamodb.invalid")


def test_a_failing_store_falls_back_to_local_pacing_and_says_so_once(
    time_: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenDynamoDB()
    worker = SharedRateLimiter(
        DynamoRateStore(broken, TABLE, ACCOUNT), CONFIG, clock=time_.clock, sleep=time_.sleep
    )
    with caplog.at_level(logging.WARNING, logger="adm_ingest.adm.ratelimit"):
        times = send_times(worker, time_, 4)
        worker.observe(429, 1.0)  # AIMD goes on locally
        times += send_times(worker, time_, 2)
    assert times == [0.0, 0.1, 0.2, 0.3, 1.3, 1.5]
    assert worker.local and broken.calls == 1  # no DynamoDB call while pacing locally
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "pacing locally" in warnings[0].getMessage()
    assert "EndpointConnectionError" in warnings[0].getMessage()


def test_after_the_fallback_period_the_shared_item_is_tried_again(
    dynamodb: Any, time_: FakeTime
) -> None:
    class FlakyDynamoDB:
        def __init__(self) -> None:
            self.failing = True

        def update_item(self, **request: Any) -> dict[str, Any]:
            if self.failing:
                raise StoreUnavailable("ProvisionedThroughputExceededException")
            return dict(dynamodb.update_item(**request))

    flaky = FlakyDynamoDB()
    worker = SharedRateLimiter(
        DynamoRateStore(flaky, TABLE, ACCOUNT), CONFIG, clock=time_.clock, sleep=time_.sleep
    )
    worker.acquire(forever(time_))
    assert worker.local
    flaky.failing = False
    time_.now += CONFIG.fallback_seconds + 1
    worker.acquire(forever(time_))
    assert not worker.local and float(item(dynamodb)["next_at"]) > time_.now


def test_a_schedule_written_far_ahead_is_restarted(dynamodb: Any, time_: FakeTime) -> None:
    worker = limiter(dynamodb, time_)
    worker.acquire(forever(time_))
    key = {"pk": {"S": f"rate#{ACCOUNT}"}, "sk": {"S": "rate"}}
    dynamodb.update_item(  # a worker with a clock a day ahead wrote this
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET next_at = :far",
        ExpressionAttributeValues={":far": {"N": str(T0 + 86_400)}},
    )
    start = time_.now
    worker.acquire(forever(time_))
    assert time_.now == start  # not a day's wait
    assert float(item(dynamodb)["next_at"]) < start + 1


# -- the transport hook -------------------------------------------------------------------------


class RecordingLimiter:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def acquire(self, deadline: Deadline) -> None:
        self.events.append(("acquire", None))

    def observe(self, status: int, retry_after: float | None) -> None:
        self.events.append(("observe", (status, retry_after)))


def test_the_transport_paces_every_attempt_and_reports_every_answer(scripted: Any) -> None:
    scripted.script.extend(
        [Reply(429, headers={"Retry-After": "0"}), Reply(503), Reply(200, b'{"ok": true}')]
    )
    recording = RecordingLimiter()
    transport = Transport(limiter=recording, sleep=lambda _: None)
    response = transport.request(
        "POST", scripted.url + "/x", deadline=transport.deadline_after(10), replay_safe=True
    )
    assert response.status_code == 200
    assert recording.events == [
        ("acquire", None),
        ("observe", (429, 0.0)),
        ("acquire", None),
        ("observe", (503, None)),  # only a 429's Retry-After is a pacing signal
        ("acquire", None),
        ("observe", (200, None)),
    ]


def test_token_requests_are_not_paced(sandbox: Any) -> None:
    recording = RecordingLimiter()
    client = AdmClient(sandbox_settings(sandbox), sandbox_credentials(sandbox), limiter=recording)
    with client:
        client.get_terms()
    # One ADM call paced; the LwA token grant before it went around the limiter.
    assert recording.events == [("acquire", None), ("observe", (200, None))]


# -- against a rate-limited sandbox -------------------------------------------------------------


def test_workers_sharing_a_limiter_item_stay_under_a_sandbox_limit(
    sandbox: Any, dynamodb: Any
) -> None:
    """Three workers, each with its own client and limiter, share one item; the sandbox allows
    30 requests/s (bursts of 5); the workers start at 40/s and must find the limit."""
    limit, burst = 30, 5
    sandbox.faults.set(requests_per_second=limit, burst=burst, path="/adm/")
    requests_each = 35
    config = RateConfig(max_rps=40, min_rps=1)

    def work() -> None:
        store = DynamoRateStore(dynamodb, TABLE, ACCOUNT)
        with AdmClient(
            sandbox_settings(sandbox),
            sandbox_credentials(sandbox),
            limiter=SharedRateLimiter(store, config),
        ) as client:
            for _ in range(requests_each):
                client.get_terms()

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    calls = [r for r in sandbox.requests if r.path == "/adm/terms"]
    throttled = sum(1 for r in calls if r.status == 429)
    assert sum(1 for r in calls if r.status == 200) == 3 * requests_each  # nothing lost
    assert throttled / len(calls) < 0.02
    span = calls[-1].at - calls[0].at
    assert len(calls) / span < limit + burst  # the limit (plus its burst) was never outrun
