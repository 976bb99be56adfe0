"""``dry-run``'s exit codes: 0 ok, 1 file-level (unreadable, or every record rejected),
2 usage, 3 rejects above ``--fail-on-rejects PCT``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adm_local.cli import main
from adm_local.dryrun_command import exit_code, reject_share

HEADER = "customer_id,email,phone,first_name,last_name,zip,country"
GOOD = [f"crm-{i},person{i}@example.com,,Al,Ex,22150,US" for i in range(3)]
NINE_GOOD = [f"crm-{i},person{i}@example.com,,Al,Ex,22150,US" for i in range(9)]
BAD = ["crm-x,,,,,,US"]  # no identifier: rejected


def dry_run(tmp_path: Path, rows: list[str], *options: str) -> int:
    source = tmp_path / "crm.csv"
    source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return main(["dry-run", str(source), "--out", str(tmp_path / "out"), *options])


def test_every_record_rejected_exits_1_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dry_run(tmp_path, BAD * 4) == 1

    captured = capsys.readouterr()
    assert "rejected 4" in captured.out  # the summary is still printed
    assert captured.err.splitlines() == [
        "adm-ingest: every record was rejected (4): nothing would be sent"
    ]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["rejected"] == 4


def test_with_every_row_malformed_the_header_still_shows_the_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No record reaches the mapping (each row has a field too many), yet the header was read:
    the summary and the report name its columns as the pipeline's report would."""
    assert dry_run(tmp_path, [row + ",extra" for row in GOOD]) == 1

    out = capsys.readouterr().out
    assert "columns: (none)" not in out and "email → email" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["rejected_by_reason"] == {"wrong_field_count": 3}
    assert "email" in {column["column"] for column in report["mapping"]["columns"]}


@pytest.mark.parametrize(
    ("rows", "threshold", "code"),
    [
        (NINE_GOOD + BAD, "10", 0),  # 10 % rejected: not above 10
        (NINE_GOOD + BAD, "9.9", 3),
        (GOOD + BAD, "20", 3),  # 25 %
        (GOOD + BAD, "25", 0),
        (GOOD, "0", 0),  # nothing rejected is never above the threshold
        (GOOD + BAD, None, 0),  # no threshold: rejects are in the report, exit 0
    ],
)
def test_fail_on_rejects_exits_3_above_the_threshold(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[str],
    threshold: str | None,
    code: int,
) -> None:
    options = ["--fail-on-rejects", threshold] if threshold is not None else []

    assert dry_run(tmp_path, rows, *options) == code

    err = capsys.readouterr().err
    if code == 3:
        assert err.strip().endswith(f"above --fail-on-rejects {float(threshold or 0):g} %")
    else:
        assert err == ""


@pytest.mark.parametrize("threshold", ["-1", "101", "lots"])
def test_a_bad_threshold_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], threshold: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        dry_run(tmp_path, GOOD, "--fail-on-rejects", threshold)

    assert exited.value.code == 2
    assert "--fail-on-rejects" in capsys.readouterr().err


def test_the_verdict_rules() -> None:
    report = {"records_read": 8, "accepted": 6, "rejected": 2}

    assert reject_share(report) == 25.0
    assert exit_code(report) == 0
    assert exit_code(report, 24.9) == 3
    assert exit_code(report | {"accepted": 0, "rejected": 8}, 100) == 1
    assert exit_code({"records_read": 0, "accepted": 0, "rejected": 0}) == 1


def test_json_prints_the_report_and_keeps_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json``, as on every command that prints data: stdout is the report (what
    ``report.json`` holds), the verdict stays on stderr and in the exit code."""
    assert dry_run(tmp_path, GOOD + BAD, "--json", "--fail-on-rejects", "20") == 3

    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown == json.loads((tmp_path / "out" / "report.json").read_text())
    assert (shown["records_read"], shown["rejected"]) == (4, 1)
    assert "above --fail-on-rejects 20 %" in captured.err
