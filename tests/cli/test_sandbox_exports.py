"""``adm-ingest sandbox`` prints the export lines a client needs; with exactly those set,
``inventory`` and ``aep-status`` talk to the sandboxes (not to Amazon's or Adobe's login hosts)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adm_ingest.adm import AdmClient, ClientSettings
from adm_ingest.adm.auth import Credentials
from adm_local.sandbox.auth import SandboxAccount
from adm_local.sandbox_command import export_lines

ROOT = Path(__file__).resolve().parents[2]
NAMES = {
    "ADM_API_URL",
    "ADM_TOKEN_URL",
    "ADM_CREDENTIALS_FILE",
    "AEP_API_URL",
    "AEP_IMS_URL",
    "AEP_CREDENTIALS_FILE",
}
# What a user's shell would hold: a PATH and the interpreter's module path, no credentials.
BASE_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "PYTHONPATH": f"{ROOT / 'layers/common'}:{ROOT / 'local'}",
    "HOME": os.environ.get("HOME", "/tmp"),
}
COMMAND = [sys.executable, "-c", "from adm_local.cli import main; raise SystemExit(main())"]


def start_sandbox(*options: str) -> subprocess.Popen[str]:
    """``adm-ingest sandbox --port 0 --aep-port 0 --quiet OPTIONS…`` as a user runs it, its
    stdout (the printed lines) piped; the caller terminates it."""
    return subprocess.Popen(
        [*COMMAND, "sandbox", "--port", "0", "--aep-port", "0", "--quiet", *options],
        env=BASE_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def parse_exports(lines: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in lines:
        assert line.startswith("export ")
        name, _, value = line.removeprefix("export ").partition("=")
        (values[name],) = shlex.split(value)
    return values


def read_exports(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while len(lines) < len(NAMES) and time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the sandbox ended early after {lines}"
        if line.startswith("export "):
            lines.append(line.strip())
    return parse_exports(lines)


def test_inventory_and_aep_status_reach_the_sandbox_with_the_printed_exports(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / "sandbox.env"
    sandbox = start_sandbox("--onboarded", "--env-file", str(env_file))
    try:
        exports = read_exports(sandbox)
        assert set(exports) == NAMES
        assert all(exports[name].startswith("http://127.0.0.1:") for name in NAMES if "URL" in name)
        assert parse_exports(env_file.read_text().splitlines()) == exports
        # An audience to find: created through the client the exports describe.
        credentials = Credentials.from_mapping(
            json.loads(Path(exports["ADM_CREDENTIALS_FILE"]).read_text())
        )
        with AdmClient(ClientSettings.for_region("NA", environ=exports), credentials) as adm:
            data_set_id = adm.create_audience("exported_audience", "US").data_set_id

        client_env = BASE_ENV | exports
        inventory = subprocess.run(
            [*COMMAND, "inventory"], env=client_env, capture_output=True, text=True, timeout=60
        )
        assert inventory.returncode == 0, inventory.stderr
        assert "exported_audience" in inventory.stdout and data_set_id in inventory.stdout

        # The AEP sandbox grants the token and answers for the unknown batch itself.
        status = subprocess.run(
            [*COMMAND, "aep-status", "01NOSUCHBATCH"],
            env=client_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 1
        assert "Traceback" not in status.stderr
        assert status.stderr.startswith("adm-ingest: error: ")
        assert "401" not in status.stderr and "403" not in status.stderr
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    # The temporary credentials folder goes with the sandbox.
    assert not Path(exports["ADM_CREDENTIALS_FILE"]).exists()


def test_without_credentials_a_client_command_says_how_to_get_them(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [*COMMAND, "inventory"], env=BASE_ENV, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "adm-ingest: error: give --credentials or --secret, or set ADM_CREDENTIALS_FILE or "
        "ADM_SECRET_ID (`adm-ingest sandbox` prints the lines for its account)"
    ]


@pytest.mark.parametrize("folder", ["/tmp/plain", "/tmp/with space"])
def test_export_lines_are_shell_safe(folder: str) -> None:
    lines = export_lines(
        adm_url="http://127.0.0.1:8765",
        adm_token_url="http://127.0.0.1:8765/auth/o2/token",
        aep_url="http://127.0.0.1:8766",
        adm_credentials=Path(folder) / "adm.json",
        aep_credentials=Path(folder) / "aep.json",
    )

    values = parse_exports(lines)
    assert values["ADM_CREDENTIALS_FILE"] == f"{folder}/adm.json"
    assert values["ADM_TOKEN_URL"] == "http://127.0.0.1:8765/auth/o2/token"
    assert set(values) == NAMES
    assert SandboxAccount().client_secret not in "\n".join(lines)  # a path, not the secret


def test_a_relative_credentials_dir_is_exported_as_an_absolute_path(tmp_path: Path) -> None:
    """The lines are pasted into another shell, which need not be in the same folder."""
    options = ["--credentials-dir", "sandbox-creds", "--account", "acme"]
    process = subprocess.Popen(
        [*COMMAND, "sandbox", "--port", "0", "--aep-port", "0", "--quiet", *options],
        env=BASE_ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        values = read_exports(process)
        assert process.stdout is not None
        account_line = process.stdout.readline()
        while not account_line.startswith("ADM_CREDENTIALS_FILE="):
            account_line = process.stdout.readline()
            assert account_line, "no line for --account acme"
    finally:
        process.terminate()
        process.wait(timeout=30)
    folder = tmp_path.resolve() / "sandbox-creds"
    assert values["ADM_CREDENTIALS_FILE"] == str(folder / "adm-credentials.json")
    assert values["AEP_CREDENTIALS_FILE"] == str(folder / "aep-credentials.json")
    assert account_line.split()[0] == f"ADM_CREDENTIALS_FILE={folder / 'adm-credentials-acme.json'}"
