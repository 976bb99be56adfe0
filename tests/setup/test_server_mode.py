"""``make demo`` runs the setup against a moto *server*: the same ASL, handlers in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto.server import ThreadedMotoServer

from adm_ingest.setup import Outcome
from adm_local.sandbox import SandboxServer
from adm_local.setup_runner import SetupEnvironment, run_setup
from tests.setup.setup_support import REGION, credentials_document

pytestmark = pytest.mark.e2e


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # What the local stack does: every boto3 client of this process talks to the server.
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("MOTO_PORT", str(port))
    # Powertools caches its Secrets Manager client per process; one built by an earlier test
    # (without AWS_ENDPOINT_URL) would bypass the server.
    parameters_base.DEFAULT_PROVIDERS.clear()
    try:
        yield endpoint
    finally:
        server.stop()
        parameters_base.DEFAULT_PROVIDERS.clear()


def test_setup_runs_on_a_moto_server_twice(
    moto_server: str, sandbox: SandboxServer, example_config: dict[str, Any]
) -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="adm-demo", SecretString=json.dumps(credentials_document(sandbox))
    )
    environment = SetupEnvironment("adm-demo", "registry-demo", sandbox.url, sandbox.token_url)

    first = run_setup(example_config, environment=environment, endpoint_url=moto_server)
    second = run_setup(example_config, environment=environment, endpoint_url=moto_server)

    assert first.ok, first.format_table()
    assert {item.outcome for item in first.items} == {Outcome.CREATED}
    assert second.ok and second.changed == []
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName="registry-demo")["Items"]
    assert len(items) == len([i for i in first.items if i.kind.value == "registry"])
