"""The README's multi-account walk-through, locally: a config with the ``accounts`` entry
``adm-ingest sandbox --account acme`` prints is set up against that sandbox (``setup
--against``: its embedded Secrets Manager gets the account's secret), and ``local run`` of an
audience of acme delivers to acme in its stack's sandbox (which serves the config's accounts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adm_ingest.adm import AdmClient, ClientSettings
from adm_ingest.adm.auth import Credentials
from adm_ingest.setup.config import load_config
from adm_local import stack as stack_module
from adm_local.aep_sandbox.ims import AepAccount
from adm_local.cli import main
from adm_local.local_accounts import (
    AccountCredentialsError,
    account_secrets,
    local_stack_accounts,
    sandbox_accounts,
)
from adm_local.sandbox import SandboxAccount, SandboxServer
from adm_local.sandbox_command import adm_account_entry
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, people

pytestmark = pytest.mark.e2e

SEEDED = SandboxAccount()
ACME = SandboxAccount.named("acme")
ACME_SECRET = "adm-ingest/credentials-acme"


def walkthrough_config() -> dict[str, Any]:
    """The README's: the default account's audience, and one of acme (the printed entry)."""
    return {
        "region": "NA",
        "managerAccountId": SEEDED.manager_account_id,
        "advertiserAccountId": SEEDED.advertiser_account_id,
        "accounts": [adm_account_entry("acme", ACME)],
        "audiences": [
            {"name": "crm_customers_us", "countryCode": "US"},
            {"name": "acme_customers", "countryCode": "US", "account": "acme"},
        ],
    }


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _audiences(sandbox: SandboxServer, account: SandboxAccount) -> list[str]:
    """The audience names ``account``'s own credentials list (what ``inventory`` shows)."""
    environ = {"ADM_API_URL": sandbox.url, "ADM_TOKEN_URL": sandbox.token_url}
    credentials = Credentials.from_mapping(account.secret_document())
    with AdmClient(ClientSettings.for_region("NA", environ=environ), credentials) as adm:
        return sorted(audience.name for audience in adm.list_audiences())


# -- the config's accounts, locally ----------------------------------------------------------


def test_each_secret_holds_the_login_the_sandbox_serves_for_its_first_account() -> None:
    config = load_config(
        walkthrough_config()
        | {
            "accounts": [
                adm_account_entry("acme", ACME),
                {
                    "name": "x",
                    "managerAccountId": "M-X",
                    "advertiserAccountId": "A-X",
                    "secretId": "shared",
                    "region": "EU",
                },
                {
                    "name": "y",
                    "managerAccountId": "M-Y",
                    "advertiserAccountId": "A-Y",
                    "secretId": "shared",
                },
                {
                    "name": "z",
                    "managerAccountId": "M-Z",
                    "advertiserAccountId": "A-Z",
                    "profileId": "42",
                },
            ]
        }
    )
    x = SandboxAccount.named("x")

    assert account_secrets(config) == {
        ACME_SECRET: ACME.secret_document("NA"),
        "shared": x.secret_document("EU"),
    }
    acme, served_x, served_y, served_z = sandbox_accounts(config)
    assert acme == ACME  # the printed entry is exactly the --account acme account
    assert (served_x.client_id, served_x.refresh_token) == (x.client_id, x.refresh_token)
    assert (served_y.client_id, served_y.refresh_token) == (x.client_id, x.refresh_token)
    assert (served_y.manager_account_id, served_y.advertiser_account_id) == ("M-Y", "A-Y")
    assert served_y.profile_id == SandboxAccount.named("y").profile_id
    # No secret: the deployment's secret acts for it, so the seeded login holds it.
    assert (served_z.client_id, served_z.refresh_token, served_z.profile_id) == (
        SEEDED.client_id,
        SEEDED.refresh_token,
        "42",
    )
    stack = local_stack_accounts(config)
    assert stack["sandbox_kwargs"] == {"accounts": (acme, served_x, served_y, served_z)}
    assert stack["aep_sandbox_kwargs"] == {"accounts": ()}
    assert stack["secrets"] == account_secrets(config)


def test_an_aep_secret_holds_the_org_the_aep_sandbox_serves_for_its_account() -> None:
    """``--aep-account brand2`` serves ``AepAccount.named("brand2")``: a config account of
    that name with an ``aepSecretId`` gets that org, and the embedded AEP sandbox serves it."""
    config = walkthrough_config()
    config["accounts"].append({"name": "brand2", "aepSecretId": "adm-ingest/aep-brand2"})
    loaded = load_config(config)
    brand2 = AepAccount.named("brand2")

    secrets = account_secrets(loaded)
    assert secrets["adm-ingest/aep-brand2"] == brand2.secret_document()
    assert sandbox_accounts(loaded) == (ACME,)  # an AEP-only account has no ADM login
    assert local_stack_accounts(loaded)["aep_sandbox_kwargs"] == {"accounts": (brand2,)}


def test_given_credentials_replace_the_sandbox_login_of_that_account_s_secret() -> None:
    config = load_config(walkthrough_config())
    mine = {"client_id": "mine"}

    assert account_secrets(config, {ACME_SECRET: mine}) == {ACME_SECRET: mine}
    with pytest.raises(AccountCredentialsError, match="names the secret 'nope'"):
        account_secrets(config, {"nope": mine})
    without_secret = walkthrough_config()
    del without_secret["accounts"][0]["secretId"]
    with pytest.raises(AccountCredentialsError, match=r"names the secret .*: none\)"):
        account_secrets(load_config(without_secret), {ACME_SECRET: mine})


# -- setup --against the running sandbox -------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """What ``adm-ingest sandbox --account acme`` serves."""
    with SandboxServer(port=0, accounts=(ACME,), log_stream=None) as server:
        yield server
        assert server.internal_errors == []


def test_setup_against_the_sandbox_creates_acme_s_items_in_acme_with_its_secret(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path / "setup.json", walkthrough_config())

    assert main(["setup", str(config), "--against", sandbox.url]) == 0

    out = capsys.readouterr().out
    assert "acme:data_room" in out and "acme_customers" in out
    assert _audiences(sandbox, ACME) == ["acme_customers"]
    assert _audiences(sandbox, SEEDED) == ["crm_customers_us"]
    assert sandbox.state_of(ACME.manager_account_id)["terms"]["hasAccepted"] is True


def test_setup_against_the_sandbox_stores_the_given_account_credentials(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path / "setup.json", walkthrough_config())
    wrong = _write(tmp_path / "seeded.json", SEEDED.secret_document())
    right = _write(tmp_path / "acme.json", ACME.secret_document())
    argv = ["setup", str(config), "--against", sandbox.url, "--account-secret"]

    # The seeded login may not act for acme: the file given is the one used.
    assert main([*argv, f"{ACME_SECRET}={wrong}"]) == 1
    assert "FAILED at EnsureAccount" in capsys.readouterr().out
    assert main([*argv, f"{ACME_SECRET}={right}"]) == 0
    assert _audiences(sandbox, ACME) == ["acme_customers"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "nope={file}",
            "no account of the setup config names the secret 'nope' (its secretId / "
            f"aepSecretId: {ACME_SECRET})",
        ),
    ],
)
def test_a_secret_no_account_names_is_one_usage_line(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    message: str,
) -> None:
    config = _write(tmp_path / "setup.json", walkthrough_config())
    file = _write(tmp_path / "acme.json", ACME.secret_document())
    argv = ["setup", str(config), "--against", sandbox.url]

    assert main([*argv, "--account-secret", option.format(file=file)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"adm-ingest: error: {message}"]
    assert sandbox.state_of(ACME.manager_account_id)["datasets"] == {}


# -- local run / setup with their own stack ------------------------------------------------------


@pytest.fixture
def stack_sandbox_states(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The state of each manager account of the local stack's sandbox, as it stops."""
    states: dict[str, Any] = {}
    stop = stack_module.LocalStack.__exit__

    def exit_(self: stack_module.LocalStack, *exc: object) -> None:
        states.update({a.manager_account_id: self.sandbox.state_of(a.manager_account_id)
                       for a in self.sandbox.accounts})  # fmt: skip
        stop(self, *exc)

    monkeypatch.setattr(stack_module.LocalStack, "__exit__", exit_)
    return states


def test_local_run_of_an_acme_audience_delivers_to_acme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack_sandbox_states: dict[str, Any]
) -> None:
    config = _write(tmp_path / "setup.json", walkthrough_config())
    export = tmp_path / "acme-export.csv"
    export.write_bytes(csv_bytes(PEOPLE_HEADER, people(3)))

    argv = ["local", "run", str(export), "--prefix", "audiences/acme_customers/"]
    assert main([*argv, "--setup", str(config), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert (report["records_read"], report["accepted"]) == (3, 3)
    acme = stack_sandbox_states[ACME.manager_account_id]["datasets"]
    (dataset,) = acme.values()
    assert dataset["name"] == "acme_customers" and len(dataset["members"]) == 3
    seeded = stack_sandbox_states[SEEDED.manager_account_id]["datasets"]
    assert [d["name"] for d in seeded.values()] == ["crm_customers_us"]
    assert all(not d["members"] for d in seeded.values())


def test_the_throw_away_setup_serves_the_config_s_accounts_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path / "setup.json", walkthrough_config())

    assert main(["setup", str(config), "--runs", "1"]) == 0
    assert "acme:data_room" in capsys.readouterr().out


def test_local_run_refuses_an_invalid_setup_config_in_one_line_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = walkthrough_config()
    document["accounts"][0]["name"] = "default"
    document["audiences"][1]["account"] = "default"
    config = _write(tmp_path / "setup.json", document)
    export = tmp_path / "export.csv"
    export.write_text("email\nperson@example.com\n")

    argv = ["local", "run", str(export), "--prefix", "audiences/acme_customers/"]
    assert main([*argv, "--setup", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"adm-ingest: error: {config}: accounts[0].name: default is the top-level account's name"
    ]
