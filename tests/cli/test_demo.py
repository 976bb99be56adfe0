"""`make demo` is one of the README's two commands: it must keep working, end to end."""

from __future__ import annotations

import pytest

from adm_local.cli import main

pytestmark = pytest.mark.e2e


def test_demo_runs_the_samples_through_and_every_report_balances(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "second run: SUCCEEDED, 0 item(s) changed" in out
    assert out.count("(balanced)") == 5  # every sample file except the unregistered one
    assert "NOT BALANCED" not in out
    assert "unknown audience 'not_set_up_yet'" in out
    assert "identity deletions received: 3" in out
