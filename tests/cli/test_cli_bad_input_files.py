"""A file the user points a command at that is not what it should be — JSON that is not an
object, a mapping that is not JSON or not there — is one ``adm-ingest: error:`` line naming
the file, exit 2 (usage), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from adm_local.cli import main

NOT_AN_OBJECT = '["client_id", "client_secret"]'


def _one_error_line(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("adm-ingest: error: ")
    for part in expected:
        assert part in lines[0]
    return lines[0]


def test_an_adm_credentials_file_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "creds.json"
    credentials.write_text(NOT_AN_OBJECT)

    assert main(["inventory", "--credentials", str(credentials)]) == 2

    line = _one_error_line(capsys, str(credentials), "JSON object")
    assert "client_secret" not in line  # nothing of the file's content is quoted


def test_an_aep_credentials_file_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "aep.json"
    credentials.write_text(NOT_AN_OBJECT)

    assert main(["aep-status", "01BATCH", "--secret-file", str(credentials)]) == 2

    _one_error_line(capsys, str(credentials), "JSON object")


def test_an_aep_credentials_file_that_is_not_json_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "aep.json"
    credentials.write_text("{not json")

    assert main(["aep-status", "01BATCH", "--secret-file", str(credentials)]) == 2

    _one_error_line(capsys, str(credentials))


@pytest.mark.parametrize("content", ["{not json", None])
def test_a_dry_run_mapping_that_is_not_json_or_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    source = tmp_path / "crm.csv"
    source.write_text("email,country\nperson@example.com,US\n")
    mapping = tmp_path / "mapping.json"
    if content is not None:
        mapping.write_text(content)
    args = ["dry-run", str(source), "--mapping", str(mapping), "--out", str(tmp_path / "out")]

    assert main(args) == 2

    line = _one_error_line(capsys, str(mapping))
    assert "Errno" not in line
