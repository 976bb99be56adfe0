"""An AWS session without a region (no AWS_REGION, no profile's region) is one line that
says what to set — botocore's own text is only "You must specify a region."."""

from __future__ import annotations

from pathlib import Path

import pytest

from adm_local.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize(
    "command",
    [
        ["progress", "audiences/x/a.csv", "--bucket", "b", "--table", "t"],
        ["setup", str(ROOT / "events" / "setup-config.json"), "--against", "aws"],
    ],
)
def test_no_region_says_what_to_set(
    no_region: None, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(command) == 1

    err = capsys.readouterr().err.strip()
    assert err == (
        "adm-ingest: error: no AWS region (set AWS_REGION or AWS_DEFAULT_REGION, or a "
        "profile's region)"
    )
