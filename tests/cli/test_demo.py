"""`make demo` is one of the README's two commands: it must keep working, end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adm_local import demo
from adm_local.cli import main

pytestmark = pytest.mark.e2e


def test_demo_runs_the_samples_through_and_every_report_balances(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output = tmp_path / "demo-output"
    (output / "reports").mkdir(parents=True)
    (output / "reports" / "stale.json").write_text("{}")  # from an earlier run
    monkeypatch.setattr(demo, "DEMO_OUTPUT", output)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "second run: SUCCEEDED, 0 item(s) changed" in out
    # every sample file except the unregistered one
    assert out.count("(balanced)") == 6
    assert "NOT BALANCED" not in out
    assert "unknown audience 'not_set_up_yet'" in out
    assert "identity deletions received: 3" in out
    # The AEP sample: one batch, seen open, then successful, and a report with its rejects.
    loading = re.search(r"AEP batch (\w+): loading\n", out)
    assert loading is not None
    assert out.index(f"AEP batch {loading.group(1)}: success") > loading.end()
    assert "remote: success" in out
    assert "line   4: rejected (invalid_xdm: homeAddress.postalCode maxLength)" in out
    assert "ana.diaz@example.com" not in out  # the sample's rows are never printed

    # Every file's outputs are left in demo-output/, and the demo ends by naming them.
    assert not (output / "reports" / "stale.json").exists()
    listed = out[out.index("8. the outputs") :].splitlines()[1:]
    paths = {Path(line.strip()) for line in listed if line.startswith("  /")}
    assert paths == {path for path in output.rglob("*") if path.is_file()}
    for _, key, _ in demo.DROPS + demo.AEP_DROPS:
        assert (output / "reports" / f"{key}.json").is_file(), key
        page = (output / "reports" / f"{key}.html").read_text()
        assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    crm = "audiences/crm_customers_us/2026-11-27/crm-export.csv"
    assert (output / "rejects" / f"{crm}.csv").read_text().startswith("line,outcome,reason\n")
    assert "missing_consent" in (output / "reports" / f"{crm}.html").read_text()

    # One file notification per sample file (SNS → its SQS subscriber), the unknown one a warning.
    notifications = out.split("file notifications (SNS", 1)[1].splitlines()
    sent = [line for line in notifications if "→ s3://adm-ingest-local/reports/" in line]
    assert len(sent) == 7
    assert any(line.split()[:2] == ["warning", "error"] for line in sent)


def test_a_demo_config_with_accounts_gets_sandboxes_that_serve_them() -> None:
    """``demo --config`` with ``accounts``: the stack's sandboxes hold the config's ADM account
    and AEP org, and its Secrets Manager their secrets (the sample config needs none)."""
    from adm_local.aep_sandbox.ims import AepAccount
    from adm_local.sandbox.auth import SandboxAccount

    sample = demo._with_aep(demo.EVENTS / "setup-config.json")
    assert demo._stack_accounts(sample) == {
        "sandbox_kwargs": {"accounts": ()},
        "aep_sandbox_kwargs": {"accounts": ()},
        "secrets": {},
    }
    acme = SandboxAccount.named("acme")
    config = sample | {
        "accounts": [
            {
                "name": "acme",
                "managerAccountId": acme.manager_account_id,
                "advertiserAccountId": acme.advertiser_account_id,
                "secretId": "adm-ingest/credentials-acme",
                "aepSecretId": "adm-ingest/aep-acme",
            }
        ]
    }
    accounts = demo._stack_accounts(config)
    assert [a.manager_account_id for a in accounts["sandbox_kwargs"]["accounts"]] == [
        acme.manager_account_id
    ]
    assert accounts["aep_sandbox_kwargs"] == {"accounts": (AepAccount.named("acme"),)}
    assert set(accounts["secrets"]) == {"adm-ingest/credentials-acme", "adm-ingest/aep-acme"}
    # An invalid config: no accounts here; the setup run names its errors.
    assert demo._stack_accounts({"audiences": "nope"})["secrets"] == {}
