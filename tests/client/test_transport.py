"""The transport over real HTTP against a scripted server: what is retried, how long it waits."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from adm_ingest.adm import (
    DeadlineExceeded,
    RetryableError,
    RetryPolicy,
    ServerError,
    Throttled,
    Timeouts,
    Transport,
)
from tests.client.scripted_http import Reply, ScriptedServer


def transport(**policy: float) -> Transport:
    values = {"max_attempts": 4, "base_delay": 0.05, "max_delay": 0.2, **policy}
    return Transport(timeouts=Timeouts(connect=1.0, read=2.0), retry=RetryPolicy(**values))


def send(t: Transport, server: ScriptedServer, *, replay_safe: bool = True, budget: float = 10.0):
    return t.request(
        "GET", server.url + "/adm/terms", deadline=t.deadline_after(budget), replay_safe=replay_safe
    )


def test_success_and_client_errors_are_returned_untouched(scripted: ScriptedServer) -> None:
    scripted.then(Reply(404, b'{"code":"NotFound"}'))
    t = transport()
    assert send(t, scripted).status_code == 404
    assert send(t, scripted).status_code == 200
    assert len(scripted.received) == 2  # a 404 is an answer, not a failure: no retry


def test_retry_after_seconds_is_obeyed(scripted: ScriptedServer) -> None:
    scripted.then(Reply(429, b'{"code":"TooManyRequests"}', {"Retry-After": "1"}))
    started = time.monotonic()
    response = send(transport(), scripted)
    assert response.status_code == 200
    first, second = scripted.received
    assert second.at - first.at >= 1.0
    assert time.monotonic() - started >= 1.0


def test_retry_after_http_date_is_obeyed(scripted: ScriptedServer) -> None:
    # HTTP-dates have one-second resolution: ask for a date 2 s ahead, expect ≥ 1 s of waiting.
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    scripted.then(Reply(503, b"{}", {"Retry-After": when}))
    assert send(transport(), scripted).status_code == 200
    first, second = scripted.received
    assert second.at - first.at >= 1.0


def test_5xx_is_retried_until_attempts_run_out(scripted: ScriptedServer) -> None:
    scripted.default = Reply(502, b'{"code":"BadGateway","message":"upstream"}')
    with pytest.raises(ServerError) as caught:
        send(transport(max_attempts=3), scripted)
    assert len(scripted.received) == 3
    assert caught.value.status == 502
    assert isinstance(caught.value, RetryableError)


def test_gives_up_within_the_budget_instead_of_sleeping_past_it(
    scripted: ScriptedServer,
) -> None:
    # Retry-After 5 s but only 1.5 s of budget: it must stop now, not sleep into the deadline.
    scripted.default = Reply(429, b"{}", {"Retry-After": "5"})
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        send(transport(max_attempts=10), scripted, budget=1.5)
    assert time.monotonic() - started < 1.5
    assert len(scripted.received) == 1
    assert caught.value.retry_after == 5.0


def test_budget_bounds_many_backoff_retries(scripted: ScriptedServer) -> None:
    scripted.default = Reply(500, b"{}")
    started = time.monotonic()
    with pytest.raises(RetryableError):
        send(transport(max_attempts=1000, base_delay=0.1, max_delay=0.3), scripted, budget=1.0)
    assert time.monotonic() - started <= 1.0
    assert len(scripted.received) >= 3  # it did retry while there was time


def test_not_replay_safe_requests_are_never_resent(scripted: ScriptedServer) -> None:
    scripted.then(Reply(503, b"{}"))
    with pytest.raises(ServerError):
        send(transport(), scripted, replay_safe=False)
    assert len(scripted.received) == 1


def test_dropped_connection_is_retried(scripted: ScriptedServer) -> None:
    scripted.then(Reply(drop=True))
    assert send(transport(), scripted).status_code == 200
    assert len(scripted.received) == 2


def test_dropped_connection_on_a_create_is_a_retryable_error_without_replay(
    scripted: ScriptedServer,
) -> None:
    scripted.then(Reply(drop=True))
    with pytest.raises(RetryableError, match="no response"):
        send(transport(), scripted, replay_safe=False)
    assert len(scripted.received) == 1


def test_unreachable_host_gives_a_retryable_error() -> None:
    with ScriptedServer() as gone:
        url = gone.url
    t = transport(max_attempts=2)
    with pytest.raises(RetryableError):
        t.request("GET", url + "/x", deadline=t.deadline_after(5.0), replay_safe=True)


def test_read_timeout_is_capped_by_the_deadline(scripted: ScriptedServer) -> None:
    t = Transport(timeouts=Timeouts(connect=1.0, read=30.0), retry=RetryPolicy(max_attempts=1))
    # A request needs at least min_attempt_seconds: an exhausted budget fails before sending.
    with pytest.raises(DeadlineExceeded):
        send(t, scripted, budget=0.0)
    assert scripted.received == []
