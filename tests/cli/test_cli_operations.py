"""The day-two CLI commands against the sandbox, with credentials from a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_local.cli import main
from adm_local.sandbox import SandboxServer


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(port=0, onboarded=True, log_stream=None) as server:
        monkeypatch.setenv(API_URL_ENV, server.url)
        monkeypatch.setenv(TOKEN_URL_ENV, server.token_url)
        yield server


@pytest.fixture
def credentials(tmp_path: Path, sandbox: SandboxServer) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(sandbox.account.secret_document()))
    return path


def _audience(sandbox: SandboxServer, name: str) -> str:
    from adm_ingest.adm import AdmClient, ClientSettings
    from adm_ingest.adm.auth import Credentials

    credentials = Credentials.from_mapping(sandbox.account.secret_document())
    with AdmClient(ClientSettings.for_region("NA"), credentials) as client:
        return client.create_audience(name, "US").data_set_id


def test_inventory_and_status_list_what_exists(
    sandbox: SandboxServer, credentials: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_set_id = _audience(sandbox, "cli_audience")
    assert main(["inventory", "--credentials", str(credentials)]) == 0
    listed = capsys.readouterr().out
    assert "cli_audience" in listed and data_set_id in listed

    assert main(["status", data_set_id, "--credentials", str(credentials)]) == 0
    status = capsys.readouterr().out
    assert data_set_id in status and "cli_audience" in status


def test_delete_dataset_needs_confirmation(
    sandbox: SandboxServer, credentials: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_set_id = _audience(sandbox, "doomed_audience")
    assert main(["delete-dataset", data_set_id, "--credentials", str(credentials)]) == 2
    assert "--yes" in capsys.readouterr().err
    assert data_set_id in sandbox.state()["datasets"]

    assert main(["delete-dataset", data_set_id, "--yes", "--credentials", str(credentials)]) == 0
    assert data_set_id not in sandbox.state()["datasets"]


def test_inventory_and_status_print_json(
    sandbox: SandboxServer, credentials: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_set_id = _audience(sandbox, "json_audience")
    assert main(["inventory", "--credentials", str(credentials), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"kind", "name", "id", "status", "detail"} <= set(rows[0])
    assert any(row["id"] == data_set_id and row["name"] == "json_audience" for row in rows)

    assert main(["status", data_set_id, "--credentials", str(credentials), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["dataSetId"], status["name"]) == (data_set_id, "json_audience")
