"""Fixtures for the ADM client tests: the ADM sandbox, a ready client, a scripted HTTP server.

``sandbox`` / ``adm_client`` run the client against ``adm_local.sandbox.SandboxServer`` over
real HTTP (this pair is meant to move to tests/conftest.py for everyone). ``scripted`` is a
tiny real HTTP server answering a script of responses, for transport behaviour the sandbox
has no knob for (HTTP-date ``Retry-After``, exact response sequences).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from scripted_http import ScriptedServer

from adm_ingest.adm import AdmClient, ClientSettings, RetryPolicy, Timeouts
from adm_ingest.auth import Credentials, TokenProvider

# Fast retries in tests; the policy itself is tested separately.
TEST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


# -- the ADM sandbox ---------------------------------------------------------------------


def sandbox_credentials(sandbox: object, **overrides: str) -> Credentials:
    """Credentials for the sandbox's seeded account (with optional field overrides)."""
    account = sandbox.account  # type: ignore[attr-defined]
    values = {
        "client_id": account.client_id,
        "client_secret": account.client_secret,
        "refresh_token": account.refresh_token,
        "region": "NA",
        "manager_account_id": account.manager_account_id,
        "advertiser_account_id": account.advertiser_account_id,
        "profile_id": account.profile_id,
        **overrides,
    }
    return Credentials.from_mapping(values)


def sandbox_settings(sandbox: object, **overrides: object) -> ClientSettings:
    """Settings pointing at the sandbox, with fast test retries."""
    values: dict[str, object] = {
        "api_url": sandbox.url,  # type: ignore[attr-defined]
        "token_url": sandbox.token_url,  # type: ignore[attr-defined]
        "retry": TEST_RETRY,
        "timeouts": Timeouts(connect=2.0, read=5.0),
        "call_budget": 10.0,
        **overrides,
    }
    return ClientSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sandbox() -> Iterator[object]:
    """A fresh ADM sandbox on a free port, onboarded (terms accepted, data room created)."""
    from adm_local.sandbox import SandboxServer

    with SandboxServer(port=0, onboarded=True, log_stream=None) as server:
        yield server


@pytest.fixture
def new_sandbox() -> Iterator[object]:
    """A fresh ADM sandbox for an account that has not accepted the terms yet."""
    from adm_local.sandbox import SandboxServer

    with SandboxServer(port=0, log_stream=None) as server:
        yield server


@pytest.fixture
def adm_client(sandbox: object) -> Iterator[AdmClient]:
    """An :class:`AdmClient` authenticated against ``sandbox`` with its seeded credentials."""
    with AdmClient(sandbox_settings(sandbox), sandbox_credentials(sandbox)) as client:
        yield client


@pytest.fixture
def token_provider(adm_client: AdmClient) -> TokenProvider:
    """The client's token provider (to count refreshes)."""
    return adm_client.tokens


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record, DEBUG and up, from every logger."""
    caplog.set_level(logging.DEBUG)
    return caplog
