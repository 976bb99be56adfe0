"""The sandbox's sustained rate limit: a token bucket, as ADM's per-account throttling."""

from __future__ import annotations

import pytest

from adm_local.sandbox.faults import Throttle
from tests.sandbox.sandbox_http import Api


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_admits_its_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = Throttle(4, burst=2, clock=clock)
    assert [bucket.admit() for _ in range(3)] == [None, None, 1.0]  # 1 s: whole seconds
    clock.now += 0.25  # one token back at 4/s
    assert bucket.admit() is None and bucket.admit() == 1.0
    clock.now += 10  # refills to the burst, not beyond
    assert [bucket.admit() for _ in range(3)] == [None, None, 1.0]
    assert (bucket.admitted, bucket.throttled) == (5, 3)


def test_retry_after_is_the_whole_seconds_until_a_token_or_the_given_value() -> None:
    clock = Clock()
    slow = Throttle(0.25, burst=1, clock=clock)  # a token every 4 s
    assert slow.admit() is None and slow.admit() == 4.0
    fixed = Throttle(10, burst=1, retry_after=0.5, clock=clock)
    assert fixed.admit() is None and fixed.admit() == 0.5


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Throttle(0)


def test_requests_per_second_throttles_api_calls_over_http(api: Api) -> None:
    api.sandbox.faults.set(requests_per_second=0.5, burst=2)

    statuses = [api.call("GET", "/adm/terms") for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "2"
    assert statuses[2].json()["code"] == "TooManyRequestsException"
    throttle = api.sandbox.state()["faults"]["throttle"]
    assert throttle == [{"requests_per_second": 0.5, "burst": 2.0, "admitted": 2, "throttled": 1}]
