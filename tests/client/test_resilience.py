"""Throttling, server errors, dropped connections and token trouble, against the sandbox."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adm_ingest.adm import (
    AdmClient,
    AuthError,
    ClientSettings,
    Deadline,
    RetryableError,
    RetryPolicy,
    ServerError,
    Throttled,
)
from adm_ingest.adm.auth import Credentials
from tests.client.client_support import sandbox_credentials, sandbox_settings
from tests.client.scripted_http import Reply, ScriptedServer

TOKEN_PATH = "/auth/o2/token"


def recorded(sandbox: Any, path_prefix: str, *, expected: int, method: str | None = None) -> list:
    """Matching requests the sandbox recorded, waiting up to 1 s for ``expected`` of them
    (the sandbox records a request just after answering it)."""
    give_up = time.monotonic() + 1.0
    while True:
        found = [
            r
            for r in sandbox.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method)
        ]
        if len(found) >= expected or time.monotonic() > give_up:
            return found
        time.sleep(0.01)


def test_429_with_retry_after_is_waited_out(adm_client: AdmClient, sandbox: Any) -> None:
    adm_client.get_terms()  # token fetched outside the measurement
    sandbox.faults.set(rate_limit=2, retry_after=1, path="/adm/terms")
    started = time.monotonic()
    assert adm_client.get_terms().has_accepted is True
    assert time.monotonic() - started >= 2.0  # two throttled answers, 1 s each
    statuses = [r.status for r in recorded(sandbox, "/adm/terms", expected=4)]
    assert statuses == [200, 429, 429, 200]


def test_5xx_is_retried_then_given_up_within_the_budget(sandbox: Any) -> None:
    settings = sandbox_settings(
        sandbox, retry=RetryPolicy(max_attempts=50, base_delay=0.1, max_delay=0.4), call_budget=1.5
    )
    with AdmClient(settings, sandbox_credentials(sandbox)) as client:
        client.get_terms()
        sandbox.faults.set(server_errors=100, status=503)
        started = time.monotonic()
        with pytest.raises(ServerError) as caught:
            client.list_manager_accounts()
        elapsed = time.monotonic() - started
    assert elapsed <= 1.5
    assert caught.value.status == 503
    assert len(recorded(sandbox, "/managerAccounts", expected=3)) >= 3  # it retried meanwhile


def test_lambda_deadline_tightens_the_budget(adm_client: AdmClient, sandbox: Any) -> None:
    adm_client.get_terms()
    sandbox.faults.set(server_errors=100, status=500)
    adm_client.set_deadline(Deadline.after(0.6))
    started = time.monotonic()
    with pytest.raises(RetryableError):
        adm_client.get_terms()
    assert time.monotonic() - started <= 0.6


def test_5xx_that_clears_is_invisible_to_the_caller(adm_client: AdmClient, sandbox: Any) -> None:
    sandbox.faults.set(server_errors=2, status=502)
    assert adm_client.list_manager_accounts()


def test_creates_are_not_replayed_on_throttling(adm_client: AdmClient, sandbox: Any) -> None:
    sandbox.faults.set(rate_limit=1, retry_after=0, path="/adm/audiences", methods=["POST"])
    with pytest.raises(Throttled) as caught:
        adm_client.create_audience("Not_replayed", "US")
    assert isinstance(caught.value, RetryableError)
    assert len(recorded(sandbox, "/adm/audiences", expected=1, method="POST")) == 1
    # The caller lists first, then creates: nothing exists, so the create goes ahead.
    assert [d.name for d in adm_client.list_audiences()] == []
    assert adm_client.create_audience("Not_replayed", "US").name == "Not_replayed"


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c, sb: c.create_data_room(), "/adm/datarooms"),
        (
            lambda c, sb: c.create_sharing_rule(
                application="DSP_AUDIENCES",
                data_set_id="amzn1.adm.dataset.x",
                destination_account_id=sb.account.advertiser_account_id,
                marketplace_id=sb.account.marketplace_id,
                metadata={"audienceMetadata": {"audienceName": "Never created"}},
            ),
            "/adm/sharingRules",
        ),
        (
            lambda c, sb: c.create_conversion_definitions([{"name": "x"}]),
            "/accounts/",
        ),
    ],
)
def test_every_create_fails_fast_on_a_server_error(
    adm_client: AdmClient, sandbox: Any, call: Any, path: str
) -> None:
    sandbox.faults.set(server_errors=1, status=500, path=path, methods=["POST"])
    with pytest.raises(ServerError):
        call(adm_client, sandbox)
    assert len(recorded(sandbox, path, expected=1, method="POST")) == 1


def test_dropped_connection_is_retried(adm_client: AdmClient, sandbox: Any) -> None:
    adm_client.get_terms()
    sandbox.faults.set(drop_connections=1, path="/adm/audiences")
    assert list(adm_client.list_audiences()) == []
    assert [r.status for r in recorded(sandbox, "/adm/audiences", expected=2)] == [None, 200]


def test_dropped_connection_on_a_create_is_retryable_not_replayed(
    adm_client: AdmClient, sandbox: Any
) -> None:
    adm_client.get_terms()
    sandbox.faults.set(drop_connections=1, path="/adm/audiences", methods=["POST"])
    with pytest.raises(RetryableError):
        adm_client.create_audience("Dropped_create", "US")
    assert len(recorded(sandbox, "/adm/audiences", expected=1, method="POST")) == 1


def test_events_without_dedupe_ids_are_not_replayed(adm_client: AdmClient, sandbox: Any) -> None:
    sandbox.faults.set(server_errors=1, status=503, path="/accounts/")
    body = {"source": "SERVER_TO_SERVER", "eventData": [{"name": "purchase"}]}
    with pytest.raises(ServerError):
        adm_client.ingest_conversion_events(body)
    assert len(recorded(sandbox, "/accounts/", expected=1)) == 1


def test_expired_token_is_refreshed_exactly_once(adm_client: AdmClient, sandbox: Any) -> None:
    adm_client.get_terms()
    refreshes_before = len(recorded(sandbox, TOKEN_PATH, expected=1))
    sandbox.faults.set(expire_tokens=True)
    assert adm_client.get_terms().has_accepted is True
    assert len(recorded(sandbox, TOKEN_PATH, expected=refreshes_before + 1)) == (
        refreshes_before + 1
    )
    assert [r.status for r in recorded(sandbox, "/adm/terms", expected=3)] == [200, 401, 200]
    assert adm_client.tokens.refresh_count == 2


def test_token_is_cached_across_calls(adm_client: AdmClient, sandbox: Any) -> None:
    for _ in range(3):
        adm_client.get_terms()
    assert len(recorded(sandbox, TOKEN_PATH, expected=1)) == 1


def test_token_is_refreshed_shortly_before_it_expires(sandbox: Any) -> None:
    from adm_local.sandbox import SandboxServer

    with SandboxServer(port=0, token_ttl=2, onboarded=True, log_stream=None) as short_lived:
        with AdmClient(sandbox_settings(short_lived), sandbox_credentials(short_lived)) as client:
            client.get_terms()
            time.sleep(1.1)  # past half the 2 s lifetime: the provider refreshes pre-emptively
            client.get_terms()
        statuses = [r.status for r in recorded(short_lived, "/adm/terms", expected=2)]
        assert statuses == [200, 200]  # never a 401
        assert len(recorded(short_lived, TOKEN_PATH, expected=2)) == 2


@pytest.mark.parametrize(
    ("field", "value", "oauth_error"),
    [
        ("refresh_token", "Atzr|revoked-long-ago", "invalid_grant"),
        ("client_secret", "wrong-secret", "invalid_client"),
    ],
)
def test_refused_credentials_are_a_permanent_auth_error_asked_once(
    sandbox: Any, field: str, value: str, oauth_error: str
) -> None:
    credentials = sandbox_credentials(sandbox, **{field: value})
    with AdmClient(sandbox_settings(sandbox), credentials) as client:
        with pytest.raises(AuthError) as first:
            client.get_terms()
        with pytest.raises(AuthError):
            client.list_manager_accounts()
    message = str(first.value)
    assert oauth_error in message
    assert "re-authorize" in message
    assert value not in message
    assert not isinstance(first.value, RetryableError)
    # One token request in all: the refusal is remembered, LwA is not asked in a loop.
    token_calls = recorded(sandbox, TOKEN_PATH, expected=1)
    assert [r.status for r in token_calls] in ([400], [401])
    assert recorded(sandbox, "/adm/", expected=0) == []


def test_token_endpoint_outage_is_retryable(adm_client: AdmClient, sandbox: Any) -> None:
    sandbox.faults.set(server_errors=100, status=503, path=TOKEN_PATH)
    adm_client.set_deadline(Deadline.after(1.0))
    with pytest.raises(RetryableError):
        adm_client.get_terms()


def test_persistent_401_gives_up_after_one_refresh(scripted: ScriptedServer) -> None:
    token = b'{"access_token":"Atza|scripted","token_type":"bearer","expires_in":3600}'
    unauthorized = Reply(401, b'{"code":"UNAUTHORIZED","message":"token rejected"}')
    scripted.then(Reply(200, token), unauthorized, Reply(200, token), unauthorized)
    scripted.default = Reply(500, b"{}")  # anything beyond the script would be a bug
    settings = ClientSettings(scripted.url, scripted.url + TOKEN_PATH)
    credentials = Credentials(
        "amzn1.application-oa2-client.x", "s3cret", "Atzr|r", "NA", "ma", "adv"
    )
    with AdmClient(settings, credentials) as client, pytest.raises(AuthError, match="401"):
        client.get_terms()
    paths = [request.path for request in scripted.received]
    assert paths == [TOKEN_PATH, "/adm/terms", TOKEN_PATH, "/adm/terms"]
