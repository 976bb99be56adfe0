"""Did the API get it? Per attempt, the transport tells "never sent" from "sent, answer lost",
and counts every attempt (by status, dropped, unreachable) and every wait."""

from __future__ import annotations

import time
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError

from adm_ingest.adm import (
    AdmClient,
    ClientSettings,
    RetryableError,
    RetryPolicy,
    Timeouts,
    Transport,
)
from adm_ingest.adm.auth import Credentials
from adm_ingest.attempts import DROPPED, UNREACHABLE, AttemptStats, may_have_reached_server
from tests.client.client_support import sandbox_credentials, sandbox_settings
from tests.client.scripted_http import Reply, ScriptedServer

TOKEN = Reply(200, b'{"access_token":"Atza|scripted","token_type":"bearer","expires_in":3600}')


def _refused() -> requests.ConnectionError:
    # What requests raises for a refused connection: its error wraps urllib3's MaxRetryError,
    # whose reason is the NewConnectionError.
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/adm/x", reason))  # type: ignore[arg-type]


def _aborted() -> requests.ConnectionError:
    cause = RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(ProtocolError("Connection aborted.", cause))


@pytest.mark.parametrize(
    ("error", "reached"),
    [
        (requests.ConnectTimeout("connect timed out"), False),
        (_refused(), False),
        (
            requests.ConnectionError(
                MaxRetryError(None, "/x", NameResolutionError("api.example", None, "no such host"))  # type: ignore[arg-type]
            ),
            False,
        ),
        (requests.ReadTimeout("read timed out"), True),
        (_aborted(), True),
        (requests.exceptions.ChunkedEncodingError("response ended prematurely"), True),
        (requests.ConnectionError("something else went wrong"), True),  # unknown: not proven unsent
    ],
    ids=[
        "connect-timeout",
        "refused",
        "name-resolution",
        "read-timeout",
        "remote-disconnected",
        "chunked-encoding",
        "unknown",
    ],
)
def test_only_a_connection_that_never_opened_is_known_not_sent(
    error: BaseException, reached: bool
) -> None:
    assert may_have_reached_server(error) is reached


def transport(max_attempts: int = 3, read: float = 2.0) -> Transport:
    return Transport(
        timeouts=Timeouts(connect=1.0, read=read),
        retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.02),
    )


def send(t: Transport, url: str, stats: AttemptStats) -> requests.Response:
    return t.request(
        "POST", url, deadline=t.deadline_after(10.0), replay_safe=True, data=b"{}", stats=stats
    )


def test_a_refused_connection_is_not_delivered(scripted: ScriptedServer) -> None:
    with ScriptedServer() as gone:
        url = gone.url + "/adm/x"
    stats = AttemptStats()
    with pytest.raises(RetryableError) as caught:
        send(transport(), url, stats)
    assert caught.value.maybe_delivered is False
    assert stats.by_outcome == {UNREACHABLE: 3}


def test_a_connection_dropped_after_sending_is_unconfirmed(scripted: ScriptedServer) -> None:
    scripted.default = Reply(drop=True)
    stats = AttemptStats()
    with pytest.raises(RetryableError, match="may have been received") as caught:
        send(transport(), scripted.url + "/adm/x", stats)
    assert caught.value.maybe_delivered is True
    assert stats.by_outcome == {DROPPED: 3}
    assert len(scripted.received) == 3  # the server read every body


def test_an_answer_lost_once_stays_unconfirmed_when_later_attempts_are_refused(
    scripted: ScriptedServer,
) -> None:
    scripted.then(Reply(drop=True))
    scripted.default = Reply(503, b'{"code":"ServiceUnavailable"}')
    stats = AttemptStats()
    with pytest.raises(RetryableError) as caught:
        send(transport(), scripted.url + "/adm/x", stats)
    # The 503s say the later attempts were not taken; the first may have been.
    assert caught.value.maybe_delivered is True
    assert stats.by_outcome == {DROPPED: 1, "503": 2}


def test_refused_every_time_is_not_delivered(scripted: ScriptedServer) -> None:
    scripted.default = Reply(429, b"{}", {"Retry-After": "0.05"})
    stats = AttemptStats()
    with pytest.raises(RetryableError) as caught:
        send(transport(), scripted.url + "/adm/x", stats)
    assert caught.value.maybe_delivered is False
    assert stats.by_outcome == {"429": 3}
    assert stats.retry_wait_seconds == pytest.approx(0.1)  # two waits of Retry-After


def test_every_attempt_and_wait_is_counted(scripted: ScriptedServer) -> None:
    scripted.then(
        Reply(429, b"{}", {"Retry-After": "0.1"}),
        Reply(503, b"{}", {"Retry-After": "0.2"}),
        Reply(drop=True),
    )
    stats = AttemptStats()
    started = time.monotonic()
    assert send(transport(max_attempts=4), scripted.url + "/adm/x", stats).status_code == 200
    assert stats.by_outcome == {"429": 1, "503": 1, DROPPED: 1, "200": 1}
    assert stats.attempts == 4
    assert 0.3 <= stats.retry_wait_seconds <= 0.4  # Retry-After 0.1 + 0.2, then a backoff
    assert time.monotonic() - started >= stats.retry_wait_seconds


def test_a_read_timeout_is_unconfirmed_and_the_api_may_indeed_hold_it(sandbox: Any) -> None:
    settings = sandbox_settings(
        sandbox,
        timeouts=Timeouts(connect=1.0, read=0.2),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
    )
    dataset = sandbox_dataset(sandbox)
    with AdmClient(settings, sandbox_credentials(sandbox)) as client:
        client.get_terms()
        client.take_stats()
        sandbox.faults.set(latency=0.5, path=f"/adm/audiences/{dataset}/members")
        with pytest.raises(RetryableError) as caught:
            client.ingest_members(dataset, {"members": [MEMBER]})
        stats = client.take_stats()
    assert caught.value.maybe_delivered is True
    assert stats.by_outcome == {DROPPED: 2}
    assert client.take_stats().attempts == 0  # taken: the next batch starts from zero
    time.sleep(0.6)  # the sandbox applies the slow request after the client gave up on it
    assert "unconfirmed-1" in sandbox.state()["datasets"][dataset]["members"]


def test_accept_then_drop_leaves_the_record_in_the_api(adm_client: AdmClient, sandbox: Any) -> None:
    dataset = sandbox_dataset(sandbox)
    adm_client.get_terms()
    sandbox.faults.set(accept_then_drop=100, path=f"/adm/audiences/{dataset}/members")
    with pytest.raises(RetryableError) as caught:
        adm_client.ingest_members(dataset, {"members": [MEMBER]})
    assert caught.value.maybe_delivered is True
    assert "unconfirmed-1" in sandbox.state()["datasets"][dataset]["members"]
    sandbox.faults.clear()
    # The redrive sends it again: members are keyed by externalUserId, so nothing doubles.
    adm_client.ingest_members(dataset, {"members": [MEMBER]})
    assert list(sandbox.state()["datasets"][dataset]["members"]) == ["unconfirmed-1"]


def test_an_answer_lost_before_a_token_refresh_still_counts(scripted: ScriptedServer) -> None:
    # drop (maybe taken) → 401 → refresh → 503 until the attempts run out.
    unauthorized = Reply(401, b'{"code":"UNAUTHORIZED"}')
    scripted.then(TOKEN, Reply(drop=True), unauthorized, TOKEN)
    scripted.default = Reply(503, b"{}")
    settings = ClientSettings(
        scripted.url,
        scripted.url + "/auth/o2/token",
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
    )
    credentials = Credentials(
        "amzn1.application-oa2-client.x", "s3cret", "Atzr|r", "NA", "ma", "adv"
    )
    with AdmClient(settings, credentials) as client:
        with pytest.raises(RetryableError) as caught:
            client.ingest_members("amzn1.adm.dataset.x", b'{"members":[]}')
        stats = client.take_stats()
    assert caught.value.maybe_delivered is True
    assert stats.by_outcome == {DROPPED: 1, "401": 1, "503": 2}  # token requests not counted


MEMBER = {
    "action": "CREATE",
    "externalUserId": "unconfirmed-1",
    "userConsent": {"geo": {"countryCode": "US"}},
    "userIdentity": {"hashedPiis": [{"em": "a" * 64}]},
}


def sandbox_dataset(sandbox: Any) -> str:
    with AdmClient(sandbox_settings(sandbox), sandbox_credentials(sandbox)) as client:
        return client.create_audience("Unconfirmed_deliveries", "US").data_set_id
