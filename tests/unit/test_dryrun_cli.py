"""``adm-ingest dry-run`` (issue 2, item 7), driven through the CLI entry point on real files.

"Done when: ``adm-ingest dry-run`` on a CSV with mixed good and bad rows accounts for every
row." Record-level problems exit 0 (they are in the report); file-level problems exit 1 and
write nothing; usage problems (a missing file, a bad mapping) exit 2.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from adm_local.cli import main

HEADER = "customer_id,email,phone,first_name,last_name,zip,country,action"
# line → (row, expected outcome); line 1 is the header.
MIXED_ROWS: dict[int, tuple[str, str]] = {
    2: ("crm-1,jane.doe@example.com,(571) 412-0599,Jane,Doe,22150,US,", "accepted"),
    3: ("crm-2,j.smith@example.org,,John,Smith,98109,USA,add", "accepted"),
    4: ("crm-3,,,,,,US,", "no_identifier"),
    5: ("crm-4,ann@example.co.uk,,Ann,Lee,SW1A 1AA,GB,", "missing_consent"),
    6: ("crm-5,bob@example.com,,Bob,Ray,10001,Atlantis,", "invalid_country"),
    7: ("crm-6,kim@example.com,,Kim,Wu,10001,US,upsert", "accepted"),
    8: ("crm-7,lee@example.com,,Lee,Ng,10001,US,frobnicate", "invalid_action"),
    9: ("crm-8,only-two-fields@example.com", "wrong_field_count"),
    10: ("crm-9,,,,,,US,remove", "accepted"),  # DELETE by externalUserId alone
    11: ("crm-10,no-at-sign,,,,,US,", "no_identifier"),
}


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def dry_run(*argv: str | Path) -> int:
    return main(["dry-run", *map(str, argv)])


def report(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())


def rejects(out: Path) -> list[dict[str, str]]:
    with (out / "rejects.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


def bodies(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_bytes()) for p in sorted((out / "requests").glob("*.json"))]


def test_a_csv_with_mixed_rows_accounts_for_every_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_csv(tmp_path / "crm.csv", [row for row, _ in MIXED_ROWS.values()])
    out = tmp_path / "out"

    assert (
        dry_run(source, "--destination", "audience_members", "--country", "US", "--out", out) == 0
    )

    expected_rejects = {
        line: outcome for line, (_, outcome) in MIXED_ROWS.items() if outcome != "accepted"
    }
    found = report(out)
    assert found["records_read"] == len(MIXED_ROWS)
    assert found["accepted"] == len(MIXED_ROWS) - len(expected_rejects)
    assert found["rejected"] == len(expected_rejects)
    assert found["balanced"] is True
    assert found["rejected_by_reason"] == {
        reason: list(expected_rejects.values()).count(reason)
        for reason in sorted(set(expected_rejects.values()))
    }
    assert {int(r["line"]): r["reason"] for r in rejects(out)} == expected_rejects
    assert {r["outcome"] for r in rejects(out)} == {"rejected"}

    (body,) = bodies(out)
    assert [m["externalUserId"] for m in body["members"]] == ["crm-1", "crm-2", "crm-6", "crm-9"]
    assert [m["action"] for m in body["members"]] == ["CREATE", "CREATE", "CREATE", "DELETE"]
    assert found["requests_built"] == 1

    summary = capsys.readouterr().out
    assert f"read {len(MIXED_ROWS)}" in summary and "rejected missing_consent: 1" in summary


def test_one_body_file_per_request(tmp_path: Path) -> None:
    rows = [f"crm-{n},p{n}@example.com,,,,,US," for n in range(5003)]
    out = tmp_path / "out"
    assert dry_run(write_csv(tmp_path / "big.csv", rows), "--out", out) == 0
    names = sorted(p.name for p in (out / "requests").iterdir())
    assert names == ["0001.json", "0002.json"]
    assert [len(b["members"]) for b in bodies(out)] == [5000, 3]
    assert report(out)["requests_built"] == 2
    assert report(out)["requests"] == {"dry_run": 2}


def test_a_rerun_replaces_the_bodies_of_the_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    big = [f"crm-{n},p{n}@example.com,,,,,US," for n in range(5001)]
    assert dry_run(write_csv(tmp_path / "big.csv", big), "--out", out) == 0
    assert dry_run(write_csv(tmp_path / "small.csv", big[:1]), "--out", out) == 0
    assert sorted(p.name for p in (out / "requests").iterdir()) == ["0001.json"]


def test_gzip_input(tmp_path: Path) -> None:
    rows = [row for row, _ in MIXED_ROWS.values()]
    plain = write_csv(tmp_path / "crm.csv", rows)
    packed = tmp_path / "crm.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert dry_run(plain, "--out", tmp_path / "plain") == 0
    assert dry_run(packed, "--out", tmp_path / "packed") == 0
    assert bodies(tmp_path / "packed") == bodies(tmp_path / "plain")
    assert rejects(tmp_path / "packed") == rejects(tmp_path / "plain")


def test_json_array_input_numbers_records_by_element(tmp_path: Path) -> None:
    source = tmp_path / "deletions.json"
    source.write_text(
        json.dumps(
            [
                {"customer_id": "crm-1"},
                {"email": "Forget.Me@Example.com"},
                {"email": ""},
                "not an object",
            ]
        )
    )
    out = tmp_path / "out"
    assert dry_run(source, "--destination", "identity_deletions", "--out", out) == 0
    (body,) = bodies(out)
    assert body["targetIdentities"][0] == {"externalUserId": "crm-1"}
    assert set(body["targetIdentities"][1]) == {"identity"}
    assert {(r["line"], r["reason"]) for r in rejects(out)} == {
        ("3", "no_identifier"),
        ("4", "not_an_object"),
    }


def test_a_mapping_config_file_renames_ignores_and_sets_defaults(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "export.csv",
        ["K-1,jane@example.com,+44 20 7946 0958,secret note", "K-2,john@example.com,,"],
        header="Kundennummer,E-Post,Handy,email_note",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": {"Kundennummer": "external_id", "E-Post": "email", "Handy": "phone"},
                "ignore": ["email_note"],
                "defaults": {"country": "GB", "tcf": "CPXxRfAPXxRfAAfKABENB-Cg"},
            }
        )
    )
    out = tmp_path / "out"
    assert dry_run(source, "--mapping", mapping, "--out", out) == 0

    (body,) = bodies(out)
    first = body["members"][0]
    assert first["externalUserId"] == "K-1"
    assert first["userConsent"] == {
        "geo": {"countryCode": "GB"},
        "consent": {"tcf": "CPXxRfAPXxRfAAfKABENB-Cg"},
    }
    assert set(first["userIdentity"]["hashedPiis"][0]) == {"em", "ph"}
    assert "secret note" not in (out / "requests" / "0001.json").read_text()
    found = report(out)
    assert found["default_country"] == "GB"
    assert found["mapping"]["ignored"] == ["email_note"]
    assert found["accepted"] == 2


def test_an_invalid_mapping_config_is_a_file_level_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_csv(tmp_path / "crm.csv", ["crm-1,a@example.com,,,,,US,"])
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"columns": {"email": "favourite_colour"}}))
    assert dry_run(source, "--mapping", mapping, "--out", tmp_path / "out") == 2
    assert "adm-ingest: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"jane.doe@example.com,5714120599\nj.smith@example.org,2065550142\n", "no header"),
    ],
)
def test_file_level_errors_exit_1_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    source = tmp_path / "broken.csv"
    source.write_bytes(content)
    out = tmp_path / "out"
    assert dry_run(source, "--out", out) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "jane.doe" not in err
    assert not out.exists()


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert dry_run(tmp_path / "nope.csv", "--out", tmp_path / "out") == 2
    assert "no such file" in capsys.readouterr().err


def test_the_mapping_parse_options_reach_the_conversions_destination(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from adm_local.dryrun import dry_run as library_dry_run

    source = tmp_path / "bestellungen.csv"
    source.write_text(
        "order_id;event_time;email;revenue;currency_code;quantity\n"
        "A-1;26.11.2026 18:30;kunde@example.de;1.234,56;EUR;1.000\n"
        "A-2;03.04.2026 10:00;alt@example.de;45,90;EUR;1\n",  # April: older than 7 days
        encoding="utf-8",
    )
    mapping = {"decimal": ",", "date_order": "DMY", "timezone": "Europe/Berlin"}
    result = library_dry_run(
        source,
        destination="conversions",
        out_dir=tmp_path / "out",
        mapping=mapping,
        clock=lambda: datetime(2026, 11, 27, 12, tzinfo=UTC),
    )
    (body,) = bodies(tmp_path / "out")
    (sent,) = body["eventData"]
    assert (sent["timestamp"], sent["value"], sent["currencyCode"], sent["unitsSold"]) == (
        "2026-11-26T17:30:00.000Z",
        1234.56,
        "EUR",
        1000,
    )
    assert result.report["rejected_by_reason"] == {"timestamp_too_old": 1}


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"decimal": ";"}, "decimal"),
        ({"timezone": "Europe/Pariss"}, "timezone"),
        ({"date_order": "DDMMYY"}, "date_order"),
    ],
)
def test_invalid_parse_options_are_a_file_level_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, str], key: str
) -> None:
    source = write_csv(tmp_path / "crm.csv", ["crm-1,a@example.com,,,,,US,"])
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(options))
    out = tmp_path / "out"
    assert dry_run(source, "--mapping", mapping, "--out", out) == 2
    assert f"error: {key}:" in capsys.readouterr().err
    assert not out.exists()
