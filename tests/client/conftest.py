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

from adm_ingest.adm import AdmClient
from adm_ingest.adm.auth import TokenProvider
from tests.client.client_support import sandbox_credentials, sandbox_settings
from tests.client.scripted_http import ScriptedServer


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


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
