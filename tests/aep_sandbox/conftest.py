"""Fixtures: a fresh AEP sandbox per test (no processing delay, a 1 KiB single-PUT limit so
the large-file rule is testable), its seeded schemas, and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import Aep, authenticated_session

PUT_LIMIT = 1024


@pytest.fixture
def sandbox() -> Iterator[AepSandboxServer]:
    """A fresh sandbox; the test fails if the sandbox failed on a request (a sandbox bug)."""
    with AepSandboxServer(port=0, put_limit_bytes=PUT_LIMIT, log_stream=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def aep(sandbox: AepSandboxServer) -> Iterator[Aep]:
    with authenticated_session(sandbox) as session:
        yield Aep(sandbox, session)


@pytest.fixture
def profile_schema_id(sandbox: AepSandboxServer) -> str:
    return sandbox.schemas[0].id


@pytest.fixture
def event_schema_id(sandbox: AepSandboxServer) -> str:
    return sandbox.schemas[1].id
