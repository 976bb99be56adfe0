"""``adm-ingest setup CONFIG --against URL --account-secret ID=FILE`` with AEP datasets of
several orgs: the embedded Secrets Manager holds each account's credentials file under the id
its ``aepSecretId`` names, and each dataset is ensured in its own org of the running sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adm_local.aep_sandbox import AepSandboxServer
from adm_local.cli import main
from adm_local.sandbox import SandboxServer
from tests.setup.aep_accounts_support import (
    ACME_AEP,
    BRAND2_AEP,
    DATASET_ORGS,
    aep_accounts_config,
    aep_secret_id,
)


@pytest.fixture
def sandboxes() -> Iterator[tuple[SandboxServer, AepSandboxServer]]:
    with (
        SandboxServer(port=0, log_stream=None) as adm,
        AepSandboxServer(port=0, accounts=(BRAND2_AEP, ACME_AEP), log_stream=None) as aep,
    ):
        yield adm, aep
        assert aep.internal_errors == []


def test_each_account_secret_given_is_stored_and_each_dataset_lands_in_its_org(
    sandboxes: tuple[SandboxServer, AepSandboxServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    adm, aep = sandboxes
    config = tmp_path / "setup.json"
    config.write_text(json.dumps(aep_accounts_config()))
    argv = ["setup", str(config), "--against", adm.url, "--aep-against", aep.url]
    for account in (BRAND2_AEP, ACME_AEP):
        path = tmp_path / f"aep-credentials-{account.tenant_id}.json"
        path.write_text(json.dumps(account.secret_document()))
        argv += ["--account-secret", f"{aep_secret_id(account)}={path}"]

    assert main(argv) == 0, capsys.readouterr().err

    out = capsys.readouterr().out
    registry = json.loads(out[out.index("{", out.rindex("\nregistry")) :])
    for name, org in DATASET_ORGS.items():
        held = aep.state_of(org.org_id)["datasets"]
        assert registry["aep_dataset"][name] in held, name
        assert [d["name"] for d in held.values()] == [name]


def test_an_account_secret_without_a_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "setup.json"
    config.write_text(json.dumps(aep_accounts_config()))

    with pytest.raises(SystemExit) as exited:
        main(["setup", str(config), "--against", "http://127.0.0.1:9", "--account-secret", "x"])

    assert exited.value.code == 2
    assert "give ID=FILE" in capsys.readouterr().err
