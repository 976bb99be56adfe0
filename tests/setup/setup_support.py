"""Shared constants and helpers of the setup tests (a uniquely named module: several test
folders have a ``conftest.py``, so ``from tests.client.client_support import …`` would be ambiguous)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from adm_local.sandbox import SandboxServer
from adm_local.setup_runner import SetupReport

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "events" / "setup-config.json"
REGION = "us-east-1"
SECRET_ID = "adm-ingest/test-credentials"
AEP_SECRET_ID = "adm-ingest/test-aep-credentials"
REGISTRY_TABLE = "adm-ingest-registry-test"

Runner = Callable[..., SetupReport]
"""``run(config, *, router=None, **run_setup_options) -> SetupReport`` (the ``run`` fixture)."""


def credentials_document(sandbox: SandboxServer) -> dict[str, str]:
    """The credentials secret JSON for the sandbox's seeded account."""
    return sandbox.account.secret_document()
