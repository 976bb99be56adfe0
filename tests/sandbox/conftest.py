"""Fixtures: a fresh sandbox per test, and authenticated clients of it.

The ``sandbox`` fixture fails the test if the sandbox noticed that one of its own responses
broke the documented response schema, or if it failed on a request (a sandbox bug).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adm_local.sandbox import SandboxServer
from tests.sandbox.sandbox_http import Api, authenticated_session


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox; the test fails if any response it sent broke the documented schema or
    the sandbox failed on a request (answered 500 on its own)."""
    with SandboxServer(port=0, log_stream=None) as server:
        yield server
        assert server.schema_violations == []
        assert server.internal_errors == []


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[Api]:
    """An authenticated client of a sandbox that has not been onboarded yet."""
    with authenticated_session(sandbox) as session:
        yield Api(sandbox, session)


@pytest.fixture
def onboarded(api: Api) -> Api:
    """An authenticated client whose manager account accepted the terms and has a data room."""
    api.onboard()
    return api
