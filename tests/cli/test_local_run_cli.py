"""``adm-ingest local run FILE --prefix …``: the local pipeline on the user's own file (set up
from events/setup-config.json), its report printed, and the documented exit codes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adm_local.cli import main
from tests.e2e.conftest import PEOPLE_HEADER, csv_bytes, people

pytestmark = pytest.mark.e2e


def test_a_users_file_runs_through_the_local_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "my-export.csv"
    export.write_bytes(csv_bytes(PEOPLE_HEADER, [*people(3), ["short-row"]]))
    code = main(
        [
            "local",
            "run",
            str(export),
            "--prefix",
            "audiences/crm_customers_us/",
            "--json",
            "--fail-on-rejects",
            "20",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 3  # 1 of 4 rejected: 25 % > 20 %
    assert report["file"]["key"] == "audiences/crm_customers_us/my-export.csv"
    assert (report["records_read"], report["accepted"], report["rejected"]) == (4, 3, 1)
    # When the answers came: the series sums to the requests, inside the file's own time.
    summed: Counter[str] = Counter()
    for point in report["requests_over_time"]:
        summed.update(point["requests"])
        assert report["timings"]["received_at"][:16] <= point["minute"][:16]
        assert point["minute"][:16] <= report["timings"]["finished_at"][:16]
    assert summed == report["requests_by_status"] and sum(summed.values()) >= 1


def test_usage_mistakes_are_one_line_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["local", "run", str(missing), "--prefix", "audiences/x/"]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    export = tmp_path / "export.csv"
    export.write_text("email\nperson@example.com\n")
    assert main(["local", "run", str(export), "--prefix", "elsewhere/x/"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("adm-ingest: error: --prefix elsewhere/x/: key is not under")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["local", "run", str(export), "--prefix", "audiences/x/", "--setup", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_a_name_the_setup_config_lacks_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text("email\nperson@example.com\n")
    assert main(["local", "run", str(export), "--prefix", "audiences/not_configured/"]) == 2
    assert "'not_configured' is not in" in capsys.readouterr().err


def test_out_keeps_the_html_report_and_the_rejects_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local stack's bucket goes away when the command ends: ``--out`` copies what a person
    opens (the HTML report, the rejects file) out of it, beside the JSON, under their keys —
    into a folder that keeps whatever else it holds."""
    export = tmp_path / "my-export.csv"
    export.write_bytes(csv_bytes(PEOPLE_HEADER, [*people(3), ["short-row"]]))
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    prefix = "audiences/crm_customers_us/"

    assert main(["local", "run", str(export), "--prefix", prefix, "--out", str(out)]) == 0

    key = f"{prefix}my-export.csv"
    page = (out / "reports" / f"{key}.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "wrong_field_count" in page
    assert json.loads((out / "reports" / f"{key}.json").read_text())["rejected"] == 1
    rejects = (out / "rejects" / f"{key}.csv").read_text().splitlines()
    assert rejects[0] == "line,outcome,reason" and rejects[1:] == ["5,rejected,wrong_field_count"]
    assert (out / "mine.txt").read_text() == "kept"
    assert f"saved {out / 'reports' / f'{key}.html'}" in capsys.readouterr().err


def test_mapping_sets_up_the_file_s_own_column_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The AEP sample with the AEP example config: without ``--mapping`` no column maps to
    XDM, every row is rejected; with the sample's mapping, the rows the demo accepts are."""
    events = Path(__file__).resolve().parents[2] / "events"
    sample = events / "data" / "aep-loyalty-profiles.csv"
    argv = ["local", "run", str(sample), "--prefix", "aep/loyalty_profiles/"]
    argv += ["--setup", str(events / "setup-config-aep.json"), "--json"]

    mapped = events / "mappings" / "aep-loyalty-profiles.json"
    assert main([*argv, "--mapping", str(mapped)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accepted"] >= 1
    assert report["records_read"] == report["accepted"] + report["rejected"] + report["failed"]

    bad = tmp_path / "mapping.json"
    bad.write_text("[1]")
    assert main([*argv, "--mapping", str(bad)]) == 2
    assert "must each hold a JSON object" in capsys.readouterr().err
