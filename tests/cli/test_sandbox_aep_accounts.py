"""``adm-ingest sandbox --aep-account NAME`` (issue 13, item 6): another AEP org per NAME, its
credentials written as ``aep-credentials-<NAME>.json`` beside the seeded ones, and a printed
line that points ``aep-status`` at that org — which then sees that org's batches, and the
seeded credentials do not."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import pytest

from adm_ingest.aep import AepClient, AepCredentials, AepSettings
from adm_local.aep_sandbox.ims import AepAccount
from adm_local.sandbox_command import add_aep_account_arguments, named_orgs
from tests.cli.test_sandbox_exports import BASE_ENV, COMMAND, parse_exports, start_sandbox


def test_the_option_is_repeatable_and_takes_account_names_only() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_aep_account_arguments(parser)
    assert parser.parse_args([]).aep_account == []
    names = parser.parse_args(["--aep-account", "brand2", "--aep-account", "eu_retail"])
    assert names.aep_account == ["brand2", "eu_retail"]
    with pytest.raises(argparse.ArgumentError, match="must be 1–64 letters"):
        parser.parse_args(["--aep-account", "../escape"])  # a file name is made of it
    assert named_orgs(["brand2", "eu_retail", "brand2"]) == (
        AepAccount.named("brand2"),
        AepAccount.named("eu_retail"),
    )


def test_each_aep_account_gets_its_credentials_file_and_aep_status_reaches_its_org(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "credentials"
    sandbox = start_sandbox(
        "--credentials-dir", str(folder), "--aep-account", "brand2", "--aep-account", "eu"
    )
    try:
        assert sandbox.stdout is not None
        exports: list[str] = []
        hints: list[str] = []
        deadline = time.monotonic() + 30
        while len(hints) < 2 and time.monotonic() < deadline:
            line = sandbox.stdout.readline()
            assert line, f"the sandbox ended early after {exports} {hints}"
            if line.startswith("export "):
                exports.append(line.strip())
            elif line.startswith("# AEP org "):
                hints.append(line.strip())
        values = parse_exports(exports)
        assert values["AEP_CREDENTIALS_FILE"] == str(folder / "aep-credentials.json")

        files = {}
        for name, hint in zip(("brand2", "eu"), hints, strict=True):
            account = AepAccount.named(name)
            assert hint.startswith(f"# AEP org {name} (org_id={account.org_id} ")
            export = hint.partition("): ")[2]
            (exported,) = parse_exports([export]).items()
            path = folder / f"aep-credentials-{name}.json"
            assert exported == ("AEP_CREDENTIALS_FILE", str(path))
            assert json.loads(path.read_text()) == account.secret_document()
            assert path.stat().st_mode & 0o077 == 0
            files[name] = path

        # A batch in brand2's org, made with its credentials.
        brand2 = AepCredentials.from_mapping(json.loads(files["brand2"].read_text()))
        settings = AepSettings(api_url=values["AEP_API_URL"], ims_url=values["AEP_IMS_URL"])
        with AepClient(brand2, settings) as client:
            schema = next(iter(client.list_schemas())).id
            dataset = client.create_dataset("brand2_loyalty", schema)
            batch = client.create_batch(dataset, external_id="cli-0").id

        def aep_status(credentials: Path) -> subprocess.CompletedProcess[str]:
            env = BASE_ENV | values | {"AEP_CREDENTIALS_FILE": str(credentials)}
            return subprocess.run(
                [*COMMAND, "aep-status", batch, "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        mine = aep_status(files["brand2"])
        assert mine.returncode == 0, mine.stderr
        shown = json.loads(mine.stdout)
        assert (shown["batch"], shown["dataset"], shown["status"]) == (batch, dataset, "loading")
        # The seeded org (and the other one) do not hold brand2's batch.
        for other in (folder / "aep-credentials.json", files["eu"]):
            theirs = aep_status(other)
            assert theirs.returncode == 1, theirs.stdout
            assert theirs.stderr.startswith("adm-ingest: error: ")
            assert "404" in theirs.stderr and "Traceback" not in theirs.stderr
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    # The folder was the caller's: it stays.
    assert (folder / "aep-credentials-brand2.json").exists()
