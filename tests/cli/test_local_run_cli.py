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
