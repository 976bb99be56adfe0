"""The operator's commands against a local stack (the variables it sets are what a deployed
function has; boto3's default session reads them): ``progress``, ``report``, ``redrive``;
and the CLI's promises — documented exit codes, ``--json``, ``--version``, completion, and one
clear line (never a traceback) for a user's mistake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adm_local.cli import main
from adm_local.operator.progress import bar, progress_of
from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, people

pytestmark = pytest.mark.e2e

CONFIG = {
    "region": "NA",
    "managerAccountId": "amzn1.ads1ma1.sandbox",
    "advertiserAccountId": "ADV-SANDBOX-1",
    "audiences": [
        {"name": "cli_members", "countryCode": "US"},
        {"name": "cli_faults", "countryCode": "US"},
    ],
    "conversionDefinitions": [],
    "sharingRules": [],
}
KEY = "audiences/cli_members/four.csv"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        max_receive_count=2,
        worker_timeout_s=30,
        environment={"MATCH_RATE_DELAY_SECONDS": "0"},  # final at delivery: no metrics poll
    ) as local:
        assert local.setup(CONFIG).ok
        rows = [*people(3, 900_000), ["short-row"]]  # 1 of 4 rejected: 25 %
        local.drop(KEY, csv_bytes(PEOPLE_HEADER, rows))
        local.pump(timeout=60)
        yield local


def test_progress_of_a_reported_file(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["progress", KEY, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reported"] is True and shown["fraction"] == 1.0
    assert (shown["chunks_done"], shown["chunks_total"]) == (1, 1)
    assert (shown["read"], shown["accepted"], shown["rejected"], shown["failed"]) == (4, 3, 1, 0)
    assert main(["progress", KEY, "--watch"]) == 0  # reported: one line, no waiting
    assert "100%" in capsys.readouterr().out


def test_the_bar_shows_chunks_records_rate_and_eta() -> None:
    from adm_ingest.ledger import FileRecord

    file = FileRecord(
        "f" * 32,
        key="k.csv",
        created_at="2026-12-01T10:00:00Z",
        split_done=True,
        chunks_total=4,
        chunks_done=1,
        records_total=20_000,
        read=5_000,
        accepted=5_000,
        status="processing",
    )
    ten_seconds_later = datetime(2026, 12, 1, 10, 0, 10, tzinfo=UTC).timestamp()
    progress = progress_of(file, now=ten_seconds_later)
    assert progress.records_per_second == 500.0 and progress.eta_seconds == 30.0
    assert bar(progress, width=8) == (
        "[##......]  25% 1/4 chunks 5,000/20,000 records 500/s ETA 30s processing"
    )


def test_report_as_text_json_and_its_reject_threshold(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", KEY]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{KEY}: complete\n")
    assert "read 4 = accepted 3 + rejected 1 + failed 0" in text
    assert "rejected: wrong_field_count 1" in text
    assert main(["report", KEY, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 3
    assert main(["report", KEY, "--fail-on-rejects", "10"]) == 3  # 25 % > 10 %
    assert main(["report", KEY, "--fail-on-rejects", "25"]) == 0


def test_report_html_is_fetched_when_written(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = stack.client("s3")
    s3.delete_object(Bucket=stack.names.bucket, Key=f"reports/{KEY}.html")
    assert main(["report", KEY, "--html", "--out", str(tmp_path)]) == 0
    assert "no HTML report" in capsys.readouterr().err
    s3.put_object(Bucket=stack.names.bucket, Key=f"reports/{KEY}.html", Body=b"<html>ok</html>")
    assert main(["report", KEY, "--html", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{KEY}.html").read_bytes() == b"<html>ok</html>"
    assert main(["report", KEY, "--open"]) == 2  # --open needs --html
    capsys.readouterr()


@pytest.mark.parametrize("key", ["../escape.csv", "audiences/x/../../../escape.csv"])
def test_report_html_never_saves_outside_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """The saved page's path is the folder plus the key: a key that climbs out of the folder
    is a usage error, before anything is fetched or written."""
    out = tmp_path / "reports"
    assert main(["report", key, "--html", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("adm-ingest: error: ") and "would be saved outside" in err
    assert not any(tmp_path.rglob("*.html"))


def test_unknown_keys_and_missing_resources_are_one_line(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("progress", "report", "redrive"):
        assert main([command, "audiences/cli_members/nope.csv"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("adm-ingest: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    monkeypatch.delenv("LEDGER_TABLE")
    assert main(["progress", KEY]) == 2
    assert "--table" in capsys.readouterr().err
    monkeypatch.setenv("LEDGER_TABLE", "no-such-table")
    assert main(["progress", KEY]) == 1
    assert "ResourceNotFoundException" in capsys.readouterr().err


def test_redrive_from_the_command_line(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "audiences/cli_faults/dead.csv"
    dataset = stack.registry.id_of("audience", "cli_faults")
    stack.sandbox.faults.set(server_errors=10_000, status=500, path=f"/adm/audiences/{dataset}/")
    try:
        stack.drop(key, csv_bytes(PEOPLE_HEADER, people(5, 910_000)))
        assert stack.pump(timeout=120).dead_letters == 1
    finally:
        stack.sandbox.faults.clear()
    capsys.readouterr()
    assert main(["report", key]) == 0
    assert "failed: not_delivered 5" in capsys.readouterr().out

    capsys.readouterr()  # the functions' logs of the pump
    assert main(["redrive", "--json"]) == 0  # every file: this one is the only one
    result = json.loads(capsys.readouterr().out)
    assert [(f["key"], f["sent"]) for f in result["files"]] == [(key, 1)]
    stack.pump(timeout=60)
    capsys.readouterr()
    assert main(["report", key, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["accepted"], report["failed"]) == ("complete", 5, 0)
    assert main(["redrive", key]) == 0
    assert "nothing to redrive" in capsys.readouterr().out


def test_version_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("adm-ingest ")
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "progress" in script and "redrive" in script and "--fail-on-rejects" in script


def test_a_missing_credentials_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inventory", "--credentials", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert "nope.json" in err and "Traceback" not in err and err.count("\n") == 1


def test_an_unknown_secret_is_one_line(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inventory", "--secret", "no/such/secret"]) == 1
    err = capsys.readouterr().err
    assert "could not read the secret 'no/such/secret'" in err and err.count("\n") == 1


def test_progress_while_the_chunks_are_queued(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "audiences/cli_members/queued.csv"
    stack.drop(key, csv_bytes(PEOPLE_HEADER, people(3, 920_000)))
    stack.split()  # the chunk waits in its queue
    capsys.readouterr()
    assert main(["progress", key, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["reported"], shown["split_done"], shown["records_total"]) == (False, True, 3)
    assert (shown["chunks_done"], shown["chunks_total"], shown["fraction"]) == (0, 1, 0.0)
    assert main(["progress", key]) == 0
    assert "0/1 chunks 0/3 records" in capsys.readouterr().out
    stack.pump(timeout=60)
    capsys.readouterr()
    assert main(["progress", key, "--watch", "--interval", "0.1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["reported"] is True
