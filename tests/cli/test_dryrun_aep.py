"""``adm-ingest dry-run FILE --kind aep --schema SCHEMA.json [--mapping M]`` (issue 12, item 8).

The dry-run writes the exact part files the pipeline would upload into the dataset's batch —
``parts/part-000000.json`` …, one per chunk, JSON Lines of XDM rows validated against the
schema — plus ``report.json`` and ``rejects.csv``, whose rows say the line and the failing path
and rule. The schema is the Schema Registry's ``xed-full`` document (here: the AEP sandbox's
seeded Profile and ExperienceEvent schemas), compiled as the setup workflow compiles it.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from adm_ingest.aep.xdm_validation import compile_schema, validate
from adm_local.aep_sandbox.schemas import seeded_schemas
from adm_local.cli import main

TENANT = "acmecorp"
PROFILE, EVENT = (schema.full() for schema in seeded_schemas(TENANT))
HEADER = "email,first_name,last_name,zip,country,points,tier"
# line → (row, the rejects file's reason; None: uploaded). Line 1 is the header.
ROWS: dict[int, tuple[str, str | None]] = {
    2: ("jane@example.com,Jane,Doe,22150,US,120,gold", None),
    3: (
        "bob@example.com,Bob,Ray,123456789012,US,5,silver",
        "invalid_xdm: homeAddress.postalCode maxLength",
    ),
    4: ("kim@example.com,Kim,Wu,10001,US,7,platinum", f"invalid_xdm: _{TENANT}.loyalty.tier enum"),
    5: (",No,Email,10001,US,1,gold", "no_identifier: identityMap: no configured identity"),
    6: ("lee@example.com,Lee,Ng,10001,US,,bronze", None),
}
MAPPING = {
    "xdm": {
        "columns": {"points": "_{tenant}.loyalty.points", "tier": "_{tenant}.loyalty.tier"},
        "identities": [{"column": "email", "namespace": "Email", "primary": True}],
    }
}
JANE = {
    "personalEmail": {"address": "jane@example.com"},
    "person": {"name": {"firstName": "Jane", "lastName": "Doe"}},
    "homeAddress": {"postalCode": "22150", "countryCode": "US"},
    f"_{TENANT}": {"loyalty": {"points": 120, "tier": "gold"}},
    "identityMap": {"Email": [{"id": "jane@example.com", "primary": True}]},
}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def csv_file(path: Path, rows: list[str]) -> Path:
    return write(path, "\n".join([HEADER, *rows]) + "\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "csv": csv_file(tmp_path / "loyalty.csv", [row for row, _ in ROWS.values()]),
        "profile": write(tmp_path / "profile.json", PROFILE),
        "event": write(tmp_path / "event.json", EVENT),
        "mapping": write(tmp_path / "mapping.json", MAPPING),
    }


def dry_run(source: Path, out: Path, *extra: str | Path, schema: Path | None = None) -> int:
    argv = ["dry-run", str(source), "--kind", "aep", "--out", str(out), *map(str, extra)]
    return main(argv + (["--schema", str(schema)] if schema is not None else []))


def report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text()))


def rejects(out: Path) -> dict[int, str]:
    with (out / "rejects.csv").open(newline="") as stream:
        return {int(row["line"]): row["reason"] for row in csv.DictReader(stream)}


def parts(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((out / "parts").iterdir())}


def test_good_rows_become_one_part_file_and_bad_rows_rejects_with_their_lines(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = dry_run(files["csv"], out, "--mapping", files["mapping"], schema=files["profile"])

    assert code == 0
    assert rejects(out) == {line: why for line, (_, why) in ROWS.items() if why}
    found = report(out)
    assert (found["records_read"], found["accepted"], found["rejected"]) == (5, 2, 3)
    assert found["balanced"] is True
    assert found["rejected_by_reason"] == {"invalid_xdm": 2, "no_identifier": 1}
    assert (found["kind"], found["chunks"], found["requests_built"]) == ("aep", 1, 1)
    assert found["mapping"]["class"] == "profile"
    assert list(parts(out)) == ["part-000000.json"]  # the chunk's part, as it is uploaded
    assert not (out / "requests").exists()
    summary = capsys.readouterr().out
    assert "points → _acmecorp.loyalty.points" in summary and "bodies in" in summary
    assert "jane@example.com" not in (out / "report.json").read_text() + summary


def test_the_part_file_holds_validated_xdm_json_lines(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert dry_run(files["csv"], out, "--mapping", files["mapping"], schema=files["profile"]) == 0

    body = parts(out)["part-000000.json"]
    assert body.endswith(b"\n")
    rows = [json.loads(line) for line in body.splitlines()]
    assert rows[0] == JANE
    # Line 6 has no points: the key is left out (AEP takes no null or empty value).
    assert rows[1][f"_{TENANT}"] == {"loyalty": {"tier": "bronze"}}
    form = compile_schema(PROFILE)
    assert [validate(form, row) for row in rows] == [[], []]
    assert body == b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in rows)


def test_gzip_and_json_array_inputs_give_the_same_part_file(
    files: dict[str, Path], tmp_path: Path
) -> None:
    names = HEADER.split(",")
    records = [dict(zip(names, row.split(","), strict=True)) for row, _ in ROWS.values()]
    sources = {
        "csv": files["csv"],
        "gzip": tmp_path / "loyalty.csv.gz",
        "array": write(tmp_path / "loyalty.json", records),
    }
    sources["gzip"].write_bytes(gzip.compress(files["csv"].read_bytes()))
    for kind, source in sources.items():
        code = dry_run(
            source, tmp_path / kind, "--mapping", files["mapping"], schema=files["profile"]
        )
        assert code == 0, kind

    assert parts(tmp_path / "gzip") == parts(tmp_path / "csv")
    assert parts(tmp_path / "array") == parts(tmp_path / "csv")
    assert rejects(tmp_path / "gzip") == rejects(tmp_path / "csv")
    # A JSON array's records are numbered by element (the first is 1), not by text line.
    assert rejects(tmp_path / "array") == {
        line - 1: why for line, why in rejects(tmp_path / "csv").items()
    }


def test_one_part_file_per_chunk_of_the_pipeline_s_part_size(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [f"u{n}@example.com,U,{n},10001,US,{n},gold" for n in range(30)]
    source = csv_file(tmp_path / "many.csv", rows)
    row_bytes = len(rows[0]) + 1
    monkeypatch.setenv("AEP_PART_BYTES", str(10 * row_bytes))  # about ten rows of source
    out = tmp_path / "out"

    assert dry_run(source, out, "--mapping", files["mapping"], schema=files["profile"]) == 0

    written = parts(out)
    assert list(written) == ["part-000000.json", "part-000001.json", "part-000002.json"]
    emails = [
        json.loads(line)["personalEmail"]["address"]
        for body in written.values()
        for line in body.splitlines()
    ]
    assert emails == [f"u{n}@example.com" for n in range(30)]  # every row once, in order
    assert [body.count(b"\n") for body in written.values()] == [10, 10, 10]
    assert (report(out)["chunks"], report(out)["requests_built"]) == (3, 3)

    # A second run with fewer chunks leaves no part of the first behind.
    monkeypatch.delenv("AEP_PART_BYTES")
    assert dry_run(source, out, "--mapping", files["mapping"], schema=files["profile"]) == 0
    assert list(parts(out)) == ["part-000000.json"]


def test_an_experience_event_schema_makes_events_with_ids_and_checks_their_time(
    files: dict[str, Path], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "orders.csv",
        "order_id,email,event_time,total\n"
        "o-1,jane@example.com,2026-01-05T10:00:00Z,12.50\n"
        "o-2,bob@example.com,2999-01-01T00:00:00Z,3\n"
        "o-3,kim@example.com,,4\n",
    )
    mapping = write(
        tmp_path / "events.json",
        {
            "xdm": {
                "columns": {"total": "_{tenant}.order.total", "event_time": "timestamp"},
                "id_column": "order_id",
                "identities": [{"column": "email", "namespace": "Email", "primary": True}],
            }
        },
    )
    out = tmp_path / "out"
    assert dry_run(source, out, "--mapping", mapping, schema=files["event"]) == 0

    (row,) = [json.loads(line) for line in parts(out)["part-000000.json"].splitlines()]
    assert (row["_id"], row["timestamp"]) == ("o-1", "2026-01-05T10:00:00Z")
    assert row[f"_{TENANT}"] == {"order": {"total": 12.5}}
    assert row["identityMap"] == {"Email": [{"id": "jane@example.com", "primary": True}]}
    assert validate(compile_schema(EVENT), row) == []
    assert rejects(out) == {
        3: "timestamp_in_future: timestamp: in the future",
        4: "missing_timestamp: timestamp: required",
    }
    assert report(out)["mapping"]["class"] == "experience_event"


def test_kind_is_destination_s_other_name(files: dict[str, Path], tmp_path: Path) -> None:
    argv = ["dry-run", str(files["csv"]), "--mapping", str(files["mapping"])]
    schema = ["--schema", str(files["profile"])]
    assert main([*argv, "--kind", "aep", "--out", str(tmp_path / "a"), *schema]) == 0
    assert main([*argv, "--destination", "aep", "--out", str(tmp_path / "b"), *schema]) == 0
    assert parts(tmp_path / "a") == parts(tmp_path / "b")


def test_a_schema_the_validator_does_not_understand_is_an_error_naming_its_path(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = json.loads(json.dumps(PROFILE))
    broken["properties"]["homeAddress"]["properties"]["city"] = {"oneOf": [{"type": "string"}]}
    schema = write(tmp_path / "broken.json", broken)
    out = tmp_path / "out"

    assert dry_run(files["csv"], out, schema=schema) == 2
    error = capsys.readouterr().err
    assert "XDM schema at homeAddress.city" in error and "oneOf" in error
    assert not out.exists()


def test_a_schema_of_another_class_or_not_a_schema_is_refused(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {
        **PROFILE,
        "meta:class": "https://ns.adobe.com/xdm/context/product",
        "meta:extends": [],
    }
    assert dry_run(files["csv"], tmp_path / "o", schema=write(tmp_path / "p.json", other)) == 2
    assert "meta:class" in capsys.readouterr().err
    assert dry_run(files["csv"], tmp_path / "o", schema=write(tmp_path / "l.json", [1])) == 2
    assert "expected a JSON object" in capsys.readouterr().err
    assert dry_run(files["csv"], tmp_path / "o", schema=tmp_path / "missing.json") == 2
    assert not (tmp_path / "o").exists()


def test_a_destination_without_a_schema_refuses_one(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dry-run", str(files["csv"]), "--kind", "audience_members", "--out", str(tmp_path)]
    assert main([*argv, "--schema", str(files["profile"])]) == 2
    assert "takes no schema" in capsys.readouterr().err
