"""The export corpus through ``dry_run``: every physical line of every real-looking vendor export
ends exactly as its ``.expected.json`` sidecar says (see ``tests/fixtures/exports/README.md``).

Per file: the sidecar accounts for every record the file holds; rejected lines are in rejects.csv
with their reason; accepted lines are in the request bodies, in file order, with the expected
country, consent, identifiers (as hashes of their clean values) and, for conversions, value,
currency and UTC timestamp; footer lines are skipped, not counted as records; the report balances
and shows the expected encoding, warnings and column mapping; and no cell value of the file
appears anywhere in report.json or rejects.csv.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from adm_local.dryrun import dry_run
from tests.corpus.exports import (
    FIXED_NOW,
    ITEMS_KEY,
    Export,
    check_item,
    corpus,
    leaked,
    mapped_fields,
    sensitive_cells,
    warning_codes,
)

EXPORTS = corpus()
IDS = [export.name for export in EXPORTS]


@pytest.fixture(scope="module")
def runs() -> dict[str, Path]:
    """One dry-run output folder per corpus file, made on first use."""
    return {}


def run(export: Export, runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    if export.name not in runs:
        out = tmp_path_factory.mktemp(export.name.replace(".", "_"))
        dry_run(
            export.path,
            destination=export.kind,
            out_dir=out,
            country=export.spec["country"],
            mapping=export.spec["mapping"],
            clock=lambda: FIXED_NOW,
        )
        runs[export.name] = out
    return runs[export.name]


def report_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_bytes())


def rejects_of(out: Path) -> dict[int, tuple[str, str]]:
    with (out / "rejects.csv").open(newline="", encoding="utf-8") as stream:
        return {int(r["line"]): (r["outcome"], r["reason"]) for r in csv.DictReader(stream)}


def items_of(export: Export, out: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for body in sorted((out / "requests").glob("*.json")):
        items.extend(json.loads(body.read_bytes())[ITEMS_KEY[export.spec["kind"]]])
    return items


@pytest.fixture(params=EXPORTS, ids=IDS)
def export(request: pytest.FixtureRequest) -> Export:
    return request.param


@pytest.fixture
def out(export: Export, runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run(export, runs, tmp_path_factory)


def test_the_sidecar_accounts_for_every_record_of_the_file(export: Export) -> None:
    """A check of the corpus itself: every record start has an expectation and nothing else
    does, and well-formed records have as many cells as the header."""
    header, records = export.table()
    starts = [line for line, _ in records]
    assert sorted(export.lines) == starts
    for line, row in records:
        if line not in export.skipped:
            assert len(row) == len(header), f"line {line} has {len(row)} cells"
    assert set(export.spec["columns"]) <= set(header)
    assert set(export.spec["not_sent"]) <= set(header)


def test_rejected_lines_are_in_rejects_with_their_reason(export: Export, out: Path) -> None:
    expected = {n: ("rejected", e["reason"]) for n, e in export.with_outcome("rejected").items()}
    assert rejects_of(out) == expected


def test_accepted_lines_are_sent_in_order_as_expected(export: Export, out: Path) -> None:
    accepted = sorted(export.with_outcome("accepted").items())
    items = items_of(export, out)
    assert len(items) == len(accepted), (
        f"{len(items)} items sent for the {len(accepted)} accepted lines {[n for n, _ in accepted]}"
    )
    problems = [
        problem
        for (line, expected), item in zip(accepted, items, strict=True)
        for problem in check_item(export, line, expected, item)
    ]
    assert not problems, "\n".join(problems)


def test_the_report_balances_and_skips_footers(export: Export, out: Path) -> None:
    report = report_of(out)
    records = len(export.with_outcome("accepted")) + len(export.with_outcome("rejected"))
    assert report["records_read"] == records
    assert report["accepted"] == len(export.with_outcome("accepted"))
    assert report["rejected"] == len(export.with_outcome("rejected"))
    assert report["balanced"] is True
    skipped: dict[str, int] = {}
    for reason in export.skipped.values():
        skipped[reason] = skipped.get(reason, 0) + 1
    assert (report.get("lines_skipped") or {}) == skipped


def test_the_report_names_the_encoding_and_warnings(export: Export, out: Path) -> None:
    report = report_of(out)
    assert report.get("encoding") == export.spec["encoding"]
    assert set(export.spec["warnings"]) <= warning_codes(report)


def test_columns_feed_the_expected_fields_and_nothing_else(export: Export, out: Path) -> None:
    fields = mapped_fields(report_of(out))
    wrong = {
        column: fields.get(column)
        for column, field in export.spec["columns"].items()
        if fields.get(column) != field
    }
    assert not wrong, f"column → field found (expected {export.spec['columns']}): {wrong}"
    sent = sorted(set(export.spec["not_sent"]) & set(fields))
    assert not sent, f"columns that must feed nothing: {sent}"


def test_no_value_of_the_file_appears_in_the_report_or_rejects(export: Export, out: Path) -> None:
    header, _ = export.table()
    cells = sensitive_cells(export)
    report_text = (out / "report.json").read_text(encoding="utf-8")
    report_text = report_text.replace(json.dumps(str(export.path))[1:-1], "")
    for name, text in (
        ("report.json", report_text),
        ("rejects.csv", (out / "rejects.csv").read_text(encoding="utf-8")),
    ):
        found = leaked(cells, text, header)
        assert not found, f"{name} carries {len(found)} value(s) of the file"
