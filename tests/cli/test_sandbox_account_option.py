"""``adm-ingest sandbox --account NAME``: more manager accounts, each with a login of its own.

The option, its usage errors (one line, exit 2, nothing started), the stable ids and logins
derived from NAME, the credentials files and the lines printed for each account (golden), and
— with the command running in a subprocess, as a user starts it — the printed lines used as
they are: the account's credentials file works with the client and ``inventory``, and sees its
account only.
"""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import time
from pathlib import Path

import pytest

from adm_ingest.adm import AdmClient, ClientSettings
from adm_ingest.adm.auth import Credentials
from adm_ingest.setup.config import load_config
from adm_local.cli import build_parser, main
from adm_local.sandbox import SandboxAccount
from adm_local.sandbox import cli as sandbox_cli
from adm_local.sandbox_command import (
    adm_account_entry,
    adm_account_lines,
    write_adm_account_credentials,
)
from tests.cli.test_sandbox_exports import BASE_ENV, COMMAND, start_sandbox

ACME = SandboxAccount.named("acme")

# -- the option and its usage errors -----------------------------------------------------------


def test_the_option_repeats_and_defaults_to_no_extra_account() -> None:
    parser = build_parser()

    assert parser.parse_args(["sandbox"]).account == []
    given = parser.parse_args(["sandbox", "--account", "acme", "--account", "brand-2"])
    assert given.account == ["acme", "brand-2"]
    # The plain ADM sandbox command shares the option (one parser for both).
    assert sandbox_cli.build_parser().parse_args(["--account", "acme"]).account == ["acme"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["default"], "--account 'default': default is the top-level account's name"),
        (
            ["a b"],
            "--account 'a b': must be 1–64 letters, digits, '_' or '-', "
            "starting with a letter or digit",
        ),
        (
            ["_acme"],
            "--account '_acme': must be 1–64 letters, digits, '_' or '-', "
            "starting with a letter or digit",
        ),
        (
            ["a" * 65],
            f"--account '{'a' * 65}': must be 1–64 letters, digits, '_' or '-', "
            "starting with a letter or digit",
        ),
        (["acme", "b", "acme"], "--account 'acme' is given twice"),
    ],
)
def test_a_name_a_setup_config_could_not_use_is_one_usage_line(
    names: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [arg for name in names for arg in ("--account", name)]

    assert main(["sandbox", "--port", "0", *argv]) == 2
    assert capsys.readouterr().err.splitlines() == [f"adm-ingest: error: {message}"]
    assert sandbox_cli.main(["--port", "0", *argv]) == 2
    assert capsys.readouterr().err.splitlines() == [f"adm-sandbox: error: {message}"]


def test_the_longest_name_the_config_takes_is_taken() -> None:
    (account,) = sandbox_cli.extra_accounts(["a" * 64])
    assert account.manager_account_id == "amzn1.ads1ma1.sandbox-" + "a" * 64


# -- the accounts: stable ids, a login each ---------------------------------------------------


def test_a_name_gives_the_same_fake_ids_and_login_every_time() -> None:
    assert ACME.secret_document() == {
        "client_id": "amzn1.application-oa2-client.sandbox-acme",
        "client_secret": "sandbox-secret-acme",
        "refresh_token": "Atzr|sandbox-refresh-token-acme",
        "region": "NA",
        "manager_account_id": "amzn1.ads1ma1.sandbox-acme",
        "advertiser_account_id": "ADV-SANDBOX-acme",
        "profile_id": "7329139872",
    }
    assert SandboxAccount.named("acme") == ACME
    assert "sandbox-secret-acme" not in repr(ACME)


def test_two_names_share_no_id_and_no_login_with_each_other_or_the_seeded_account() -> None:
    accounts = [SandboxAccount(), *(SandboxAccount.named(n) for n in ("acme", "Acme", "b_2"))]
    for field in ("client_id", "refresh_token", "manager_account_id", "advertiser_account_id"):
        values = [getattr(account, field) for account in accounts]
        assert len(set(values)) == len(values), field
    assert all(len(a.profile_id) == 10 and a.profile_id.isdigit() for a in accounts)


# -- what the command writes and prints -------------------------------------------------------


def test_each_account_has_a_private_credentials_file_beside_the_seeded_one(
    tmp_path: Path,
) -> None:
    accounts = sandbox_cli.extra_accounts(["acme", "b_2"])

    written = write_adm_account_credentials(tmp_path, ["acme", "b_2"], accounts)

    assert [(name, path.name) for name, _, path in written] == [
        ("acme", "adm-credentials-acme.json"),
        ("b_2", "adm-credentials-b_2.json"),
    ]
    for (_, account, path), expected in zip(written, accounts, strict=True):
        assert account == expected
        assert json.loads(path.read_text()) == expected.secret_document()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        Credentials.from_mapping(json.loads(path.read_text()))  # what the clients read


def test_the_printed_lines_per_account_golden() -> None:
    lines = adm_account_lines(
        [("acme", ACME, Path("/tmp/with space/adm-credentials-acme.json"))],
        "http://127.0.0.1:8765",
    )

    assert lines == [
        "# More manager accounts (--account): per account, a client command with its",
        '# credentials, then its entry for the setup config\'s "accounts" (items name it',
        '# with "account"). Locally, `adm-ingest setup CONFIG --against http://127.0.0.1:8765`',
        "# and `adm-ingest local run --setup CONFIG` create its secretId; on AWS: your secret.",
        "ADM_CREDENTIALS_FILE='/tmp/with space/adm-credentials-acme.json' adm-ingest inventory",
        '{"name": "acme", "managerAccountId": "amzn1.ads1ma1.sandbox-acme", '
        '"advertiserAccountId": "ADV-SANDBOX-acme", "profileId": "7329139872", '
        '"secretId": "adm-ingest/credentials-acme"}',
    ]
    assert adm_account_lines([], "http://127.0.0.1:8765") == []
    assert ACME.client_secret not in "\n".join(lines)  # a path, not the secret


def test_the_printed_entry_is_a_valid_account_of_a_setup_config() -> None:
    seeded = SandboxAccount()
    config = load_config(
        {
            "region": "NA",
            "managerAccountId": seeded.manager_account_id,
            "advertiserAccountId": seeded.advertiser_account_id,
            "accounts": [adm_account_entry("acme", ACME)],
            "audiences": [{"name": "acme_customers", "countryCode": "US", "account": "acme"}],
        }
    )

    (account,) = config.accounts
    assert (account.name, account.region, account.secret_id) == (
        "acme",
        "NA",
        "adm-ingest/credentials-acme",
    )
    assert (account.manager_account_id, account.advertiser_account_id, account.profile_id) == (
        ACME.manager_account_id,
        ACME.advertiser_account_id,
        ACME.profile_id,
    )


# -- the running command, used as a user would -------------------------------------------------


def _printed(process: subprocess.Popen[str], accounts: int) -> tuple[dict[str, str], list[str]]:
    """The export values, and the per-account lines (credentials line, entry) after them."""
    assert process.stdout is not None
    exports: dict[str, str] = {}
    others: list[str] = []
    deadline = time.monotonic() + 30
    while len(others) < 2 * accounts and time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the sandbox ended early after {exports} {others}"
        if line.startswith("export "):
            name, _, value = line.strip().removeprefix("export ").partition("=")
            (exports[name],) = shlex.split(value)
        elif not line.startswith("#"):
            others.append(line.strip())
    return exports, others


def _inventory(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "inventory"], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_printed_lines_reach_the_extra_account_and_it_alone(tmp_path: Path) -> None:
    sandbox = start_sandbox("--account", "acme", "--onboarded")
    try:
        exports, (use_line, entry_line) = _printed(sandbox, accounts=1)
        assert json.loads(entry_line) == adm_account_entry("acme", ACME)
        assignment, _, command = use_line.partition(" ")
        assert command == "adm-ingest inventory"
        name, _, value = assignment.partition("=")
        assert name == "ADM_CREDENTIALS_FILE"
        (acme_file,) = shlex.split(value)
        assert Path(acme_file).parent == Path(exports["ADM_CREDENTIALS_FILE"]).parent
        assert json.loads(Path(acme_file).read_text()) == ACME.secret_document()

        # One audience in each account, each created with that account's own credentials.
        settings = ClientSettings.for_region("NA", environ=exports)
        created = {}
        for label, path in (("acme", acme_file), ("seeded", exports["ADM_CREDENTIALS_FILE"])):
            credentials = Credentials.from_mapping(json.loads(Path(path).read_text()))
            with AdmClient(settings, credentials) as adm:
                created[label] = adm.create_audience(f"{label}_audience", "US").data_set_id

        # The printed line, as a shell runs it: the exports, then its own credentials file.
        acme = _inventory(BASE_ENV | exports | {"ADM_CREDENTIALS_FILE": acme_file})
        assert acme.returncode == 0, acme.stderr
        assert "acme_audience" in acme.stdout and created["acme"] in acme.stdout
        assert "seeded_audience" not in acme.stdout and ACME.manager_account_id in acme.stdout
        seeded = _inventory(BASE_ENV | exports)
        assert seeded.returncode == 0, seeded.stderr
        assert "seeded_audience" in seeded.stdout and "acme_audience" not in seeded.stdout
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert not Path(acme_file).exists()  # the temporary folder goes with the sandbox
