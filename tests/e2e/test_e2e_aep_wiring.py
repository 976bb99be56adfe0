"""The local stack serves AEP as template.yaml wires it: the AEP sandbox on loopback, the
credentials secret seeded with its client, and the functions' environment pointing at both.

A function builds its AEP client from ``AEP_SECRET_ID`` and ``AEP_API_URL`` / ``AEP_IMS_URL``
alone (``AepClient.from_secret``); these tests build one exactly so, in the stack's
environment, and run a batch through its whole lifecycle, so an AEP destination needs no set-up
of its own in ``make demo`` or the end-to-end tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from adm_ingest.aep import AepClient
from adm_ingest.aep.auth import AepCredentials
from adm_ingest.aep.endpoints import AEP_API_URL_ENV, AEP_IMS_URL_ENV, AepSettings
from adm_local.stack import LocalStack

PROFILE_ROW = {
    "personalEmail": {"address": "wiring@example.com"},
    "identityMap": {"Email": [{"id": "wiring@example.com", "primary": True}]},
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(aep_sandbox_kwargs={"processing_delay": 0.2}) as local:
        yield local


def test_the_functions_environment_points_at_the_aep_sandbox(stack: LocalStack) -> None:
    sandbox = stack.aep_sandbox
    assert stack.environment["AEP_SECRET_ID"] == stack.names.aep_secret_id
    assert stack.environment[AEP_API_URL_ENV] == sandbox.url
    assert stack.environment[AEP_IMS_URL_ENV] == sandbox.url
    settings = AepSettings.from_environ()  # what a function reads
    assert (settings.api_url, settings.token_url) == (sandbox.url, sandbox.token_url)
    assert sandbox.url != stack.sandbox.url  # a server of its own beside the ADM sandbox
    # The poller waits seconds, not minutes, between two polls of a batch.
    assert int(stack.environment["POLL_INTERVAL_SECONDS"]) <= 2


def test_the_aep_secret_holds_the_sandbox_s_credential(stack: LocalStack) -> None:
    stored = stack.client("secretsmanager").get_secret_value(SecretId=stack.names.aep_secret_id)
    assert json.loads(stored["SecretString"]) == stack.aep_sandbox.account.secret_document()
    credentials = AepCredentials.from_secret(os.environ["AEP_SECRET_ID"])
    account = stack.aep_sandbox.account
    assert (credentials.client_id, credentials.org_id, credentials.sandbox_name) == (
        account.client_id,
        account.org_id,
        account.sandbox_name,
    )
    # The ADM secret is still the ADM sandbox's: two secrets, one per platform.
    adm = stack.client("secretsmanager").get_secret_value(SecretId=stack.names.secret_id)
    assert json.loads(adm["SecretString"]) == stack.sandbox.account.secret_document()


def test_a_client_built_as_a_function_builds_it_runs_a_batch_to_success(
    stack: LocalStack,
) -> None:
    sandbox = stack.aep_sandbox
    (profile, *_) = sandbox.schemas
    with AepClient.from_secret(os.environ["AEP_SECRET_ID"]) as client:
        dataset_id = client.create_dataset("wiring", profile.id)
        batch = client.create_batch(dataset_id, external_id="wiring-file")
        body = (json.dumps(PROFILE_ROW) + "\n").encode()
        client.put_file(batch.id, dataset_id, "part-0.json", body)
        client.complete_batch(batch.id)
        deadline = time.monotonic() + 10
        while (status := client.get_batch(batch.id).status) not in ("success", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        final = client.get_batch(batch.id)
    assert final.status == "success"
    assert (final.metrics.input_record_count, final.metrics.output_record_count) == (1, 1)
    assert sandbox.tokens.issued == 1  # one IMS token for the whole lifecycle
    assert sandbox.internal_errors == []
    # Nothing of this reached the ADM sandbox.
    assert not any("/ims/" in request.path for request in stack.sandbox.requests)
