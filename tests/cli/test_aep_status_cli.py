"""``adm-ingest aep-status <batch id>`` (issue 12, item 8) against the AEP sandbox over HTTP.

It reads the AEP credentials from ``--secret-file`` or the ``AEP_SECRET_ID`` secret (boto3),
honours ``AEP_API_URL`` / ``AEP_IMS_URL``, and prints the batch's status, AEP's metrics and its
errors — codes and counts, never a value of a row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.aep import AepClient
from adm_ingest.aep.auth import AepCredentials
from adm_ingest.aep.endpoints import AEP_API_URL_ENV, AEP_IMS_URL_ENV, AepSettings
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.cli import main

GOOD = {
    "personalEmail": {"address": "ana@example.com"},
    "homeAddress": {"postalCode": "28001", "countryCode": "ES"},
    "identityMap": {"Email": [{"id": "ana@example.com", "primary": True}]},
}
NO_IDENTITY = {"personalEmail": {"address": "bob.secret@example.com"}}  # identityMap required
LONG_POSTCODE = GOOD | {"homeAddress": {"postalCode": "SECRET-1234567"}}  # maxLength 10
VALUES = ("ana@example.com", "bob.secret@example.com", "SECRET-1234567", "28001")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[AepSandboxServer]:
    with AepSandboxServer(port=0, log_stream=None) as server:
        monkeypatch.setenv(AEP_API_URL_ENV, server.url)
        monkeypatch.setenv(AEP_IMS_URL_ENV, server.url)
        monkeypatch.delenv("AEP_SECRET_ID", raising=False)
        yield server
        assert server.internal_errors == []


@pytest.fixture
def client(sandbox: AepSandboxServer) -> Iterator[AepClient]:
    credentials = AepCredentials.from_mapping(sandbox.account.secret_document())
    with AepClient(credentials, AepSettings.from_environ()) as aep:
        yield aep


@pytest.fixture
def secret_file(sandbox: AepSandboxServer, tmp_path: Path) -> Path:
    path = tmp_path / "aep-credentials.json"
    path.write_text(json.dumps(sandbox.account.secret_document()))
    return path


def batch_of(client: AepClient, sandbox: AepSandboxServer, *rows: dict[str, Any], **kw: Any) -> str:
    dataset = client.create_dataset(f"loyalty-{uuid.uuid4().hex[:6]}", sandbox.schemas[0].id)
    batch = client.create_batch(dataset, external_id=f"test-{uuid.uuid4().hex}", **kw)
    body = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    client.put_file(batch.id, dataset, "part-000000.json", body)
    return batch.id


def status(
    capsys: pytest.CaptureFixture[str], *argv: str | Path
) -> tuple[int, dict[str, list[str]]]:
    """The exit status and the printed table as label → values (a label may repeat)."""
    code = main(["aep-status", *map(str, argv)])
    printed = capsys.readouterr()
    table: dict[str, list[str]] = {}
    for line in printed.out.splitlines():
        label, value = line[:16].strip(), line[17:]
        table.setdefault(label, []).append(value)
    for value in VALUES:
        assert value not in printed.out + printed.err
    return code, table


def test_a_batch_from_loading_to_success(
    client: AepClient,
    sandbox: AepSandboxServer,
    secret_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_id = batch_of(client, sandbox, GOOD, GOOD)

    code, table = status(capsys, batch_id, "--secret-file", secret_file)
    assert code == 0
    assert table["batch"] == [batch_id]
    assert table["status"] == ["loading"]
    assert "input records" not in table  # no metrics before promotion

    client.complete_batch(batch_id)
    code, table = status(capsys, batch_id, "--secret-file", secret_file)
    assert code == 0
    assert table["status"] == ["success"]
    assert (table["input records"], table["output records"]) == (["2"], ["2"])
    assert table["failed records"] == ["0"]
    assert table["external id"][0].startswith("test-")
    assert "error" not in table and "row errors" not in table
    assert main(["aep-status", batch_id, "--secret-file", str(secret_file), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["batch"], shown["status"], shown["input records"]) == (batch_id, "success", "2")


def test_refused_rows_are_counted_by_code_and_field_never_shown(
    client: AepClient,
    sandbox: AepSandboxServer,
    secret_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_id = batch_of(
        client, sandbox, GOOD, NO_IDENTITY, LONG_POSTCODE, GOOD, partial_ingestion_percent=60
    )
    client.complete_batch(batch_id)

    code, table = status(capsys, batch_id, "--secret-file", secret_file)

    assert code == 0
    assert table["status"] == ["success"]
    assert (table["input records"], table["failed records"]) == (["4"], ["2"])
    assert any(error.startswith("INGEST-1212-400") for error in table["error"])
    row_errors = table["row errors"]
    assert len(row_errors) == 2 and all(entry.endswith(": 1") for entry in row_errors)
    assert any("postalCode" in entry for entry in row_errors)


def test_a_failed_batch_shows_its_error_codes(
    client: AepClient,
    sandbox: AepSandboxServer,
    secret_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_id = batch_of(client, sandbox, GOOD, LONG_POSTCODE)  # no partial ingestion
    client.complete_batch(batch_id)

    code, table = status(capsys, batch_id, "--secret-file", secret_file)

    assert code == 0
    assert table["status"] == ["failed"]
    assert table["error"] and all(
        error.split()[0].startswith("INGEST-") for error in table["error"]
    )
    assert table["row errors"]


def test_the_credentials_come_from_the_aep_secret_id_secret(
    client: AepClient,
    sandbox: AepSandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_id = batch_of(client, sandbox, GOOD)
    secret_id = f"adm-ingest/aep-{uuid.uuid4().hex[:8]}"  # Powertools caches by name
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name=secret_id, SecretString=json.dumps(sandbox.account.secret_document())
        )
        monkeypatch.setenv("AEP_SECRET_ID", secret_id)
        code, table = status(capsys, batch_id)
    assert (code, table["status"]) == (0, ["loading"])


def test_missing_credentials_and_unknown_batches_are_errors(
    sandbox: AepSandboxServer,
    secret_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["aep-status", "01NOCREDENTIALS"]) == 2
    assert "AEP_SECRET_ID" in capsys.readouterr().err

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"client_id": "x", "client_secret": "hunter2"}))
    assert main(["aep-status", "01PARTIAL", "--secret-file", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "lacks field(s)" in err and "hunter2" not in err

    assert main(["aep-status", "01UNKNOWNBATCH", "--secret-file", str(secret_file)]) == 1
    assert "01UNKNOWNBATCH" in capsys.readouterr().err
