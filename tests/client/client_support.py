"""Helpers for the ADM client tests: sandbox credentials and fast-retry client settings."""

from __future__ import annotations

from adm_ingest.adm import ClientSettings, RetryPolicy, Timeouts
from adm_ingest.adm.auth import Credentials

# Fast retries in tests; the policy itself is tested separately.
TEST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2)


# -- the ADM sandbox ---------------------------------------------------------------------


def sandbox_credentials(sandbox: object, **overrides: str) -> Credentials:
    """Credentials for the sandbox's seeded account (with optional field overrides)."""
    values = sandbox.account.secret_document()  # type: ignore[attr-defined]
    return Credentials.from_mapping({**values, **overrides})


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
