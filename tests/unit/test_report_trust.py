"""What a report carries so the user can trust it: the resolved mapping, warnings, the
encoding, skipped lines, where countries came from and records by country — from the ledger's
file item, where chunks add their counters exactly once.

Warnings are built in one place (``adm_ingest.notices``) and carry column names, field names,
codes and counts, never a value from a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.ledger import (
    _MAX_EXPRESSION,
    OTHER_COUNTRIES,
    FileEntry,
    FileFacts,
    FileRecord,
    Ledger,
    _chunk_update,
)
from adm_ingest.mapping import build_plan
from adm_ingest.notices import file_warnings, foreign_data_message
from adm_ingest.outcomes import Tally
from adm_ingest.records import Reason
from adm_ingest.report import MAX_MAPPING_ENTRIES, build_report, mapping_section

FILE_ID = "e" * 32
TABLE = "ledger"


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ledger = Ledger(TABLE, dynamodb=dynamodb)
        ledger.register_file(
            FileEntry(
                FILE_ID,
                "b",
                "audiences/vip/x.csv",
                None,
                None,
                10,
                "audience_members",
                "vip",
                "ds-1",
            )
        )
        yield ledger


def chunk_tally(**counts: Any) -> Tally:
    tally = Tally(read=counts.pop("read", 0), accepted=counts.pop("accepted", 0))
    for name, values in counts.items():
        getattr(tally, name).update(values)
    return tally


# -- the ledger ---------------------------------------------------------------------------


def test_chunks_add_notes_skipped_lines_country_sources_and_countries_exactly_once(
    ledger: Ledger,
) -> None:
    first = chunk_tally(
        read=3,
        accepted=3,
        notes={"naive_timestamp_as_utc": 2},
        skipped={"report_footer": 1},
        country_sources={"record": 1, "dataset": 2},
        countries={"DE": 1, "US": 2},
    )
    second = chunk_tally(read=2, accepted=2, country_sources={"dataset": 2}, countries={"US": 2})
    assert ledger.complete_chunk(FILE_ID, 0, first, status="done")
    assert not ledger.complete_chunk(FILE_ID, 0, first, status="done")  # redelivered
    assert ledger.complete_chunk(FILE_ID, 1, second, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert file.notes == {"naive_timestamp_as_utc": 2}
    assert file.skipped == {"report_footer": 1}
    assert file.country_sources == {"record": 1, "dataset": 4}
    assert file.countries == {"DE": 1, "US": 4}
    assert file.read == 5


def test_file_facts_are_stored_once_the_split_knows_them(ledger: Ledger) -> None:
    plan = build_plan(["Email", "Shoe Size"])
    ledger.record_file_facts(
        FILE_ID,
        FileFacts(
            mapping=mapping_section(plan),
            encoding="utf-8",
            country_column=False,
            default_country="US",
            default_country_source="dataset",
        ),
    )
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert file.mapping["unknown"] == [{"column": "Shoe Size", "did_you_mean": []}]
    assert file.country_column is False


def test_a_chunk_of_many_countries_folds_the_rarest_to_fit_dynamodb_expression_limit(
    ledger: Ledger,
) -> None:
    codes = [f"{a}{b}" for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    countries = {code: 1000 - i for i, code in enumerate(codes)}  # AA most frequent
    tally = chunk_tally(
        read=10,
        rejected={reason.value: 1 for reason in Reason},
        requests={"200": 1, "429": 1},
        notes={f"note{i}": 1 for i in range(6)},
        country_sources={"record": sum(countries.values())},
        countries=countries,
    )
    tally.coverage.invalid.update({f"field{i}": 1 for i in range(8)})
    expression, names, values, _ = _chunk_update(0, tally)
    assert len(expression) <= _MAX_EXPRESSION
    stored = {
        names[key]: values[":v" + key[2:]]
        for key in names
        if key.startswith("#k") and f"#aC.{key} " in expression
    }
    assert OTHER_COUNTRIES in stored
    assert stored["AA"] == 1000  # the most frequent stay exact
    assert sum(stored.values()) == sum(countries.values())  # nothing lost, only folded
    assert ledger.complete_chunk(FILE_ID, 0, tally, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.countries == stored


# -- the report ---------------------------------------------------------------------------


def file_item(**extra: Any) -> FileRecord:
    plan = build_plan(
        ["E-Mail", "Phone", "Cust#", "Shoe Size"],
        {"columns": {"E-Mail": "email", "Zip Code": "postal"}},
    )
    return FileRecord(
        **{
            "file_id": FILE_ID,
            "key": "audiences/vip/x.csv",
            "read": 10,
            "accepted": 8,
            "rejected": {"mangled_by_spreadsheet": 2},
            "failed": {},
            "mapping": mapping_section(plan),
            "encoding": "utf-8",
            "country_column": False,
            "default_country": "US",
            "default_country_source": "dataset",
            "country_sources": {"dataset": 10},
            "countries": {"US": 10},
            "notes": {},
            "skipped": {},
            **extra,
        }
    )


def test_every_report_carries_the_resolved_mapping() -> None:
    mapping = build_report(file_item())["mapping"]
    assert mapping["columns"] == [
        {"column": "E-Mail", "field": "email", "pii_set": 1, "hashed": False, "source": "config"},
        {"column": "Phone", "field": "phone", "pii_set": 1, "hashed": False, "source": "detected"},
    ]
    assert mapping["missing"] == ["Zip Code"]
    assert [entry["column"] for entry in mapping["unknown"]] == ["Cust#", "Shoe Size"]


def test_the_report_carries_encoding_skipped_lines_country_sources_and_records_by_country() -> None:
    report = build_report(
        file_item(
            skipped={"report_footer": 2},
            country_sources={"record": 3, "dataset": 7},
            countries={"DE": 3, "US": 7},
            encoding="cp1252",
        )
    )
    assert report["encoding"] == "cp1252"
    assert report["lines_skipped"] == {"report_footer": 2}
    assert report["country_sources"] == {"dataset": 7, "record": 3}
    assert list(report["records_by_country"].items()) == [("US", 7), ("DE", 3)]


def codes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {warning["code"]: warning for warning in report["warnings"]}


def test_warnings_name_columns_codes_and_counts() -> None:
    warnings = codes(
        build_report(
            file_item(
                notes={"naive_timestamp_as_utc": 4},
                skipped={"report_footer": 1},
                encoding="cp1252",
            )
        )
    )
    assert warnings["configured_column_missing"]["message"].startswith(
        "configured column 'Zip Code' (postal) is not in the file"
    )
    assert warnings["unknown_columns"]["count"] == 2
    assert "Cust# (did you mean external_id?), Shoe Size" in warnings["unknown_columns"]["message"]
    assert warnings["naive_timestamp_as_utc"] == {
        "code": "naive_timestamp_as_utc",
        "message": "4 timestamps had no time zone and were read as UTC; set `timezone` in the mapping",
        "count": 4,
    }
    assert "re-export those columns as text" in warnings["mangled_by_spreadsheet"]["message"]
    assert "decoded as cp1252" in warnings["encoding_fallback"]["message"]
    assert warnings["lines_skipped"]["count"] == 1
    assert warnings["country_defaulted"] == {
        "code": "country_defaulted",
        "message": "no country column was found; all 8 records were sent as US (the audience's country)",
        "count": 8,
    }


def test_a_suggestion_from_the_mapping_summary_appears_in_the_unknown_columns_warning() -> None:
    summary = {"unknown": [{"column": "Emial", "did_you_mean": "email"}], "missing": []}
    (warning,) = file_warnings(FileRecord(FILE_ID, mapping=summary))
    assert "Emial (did you mean email?)" in warning["message"]


def test_no_country_warning_when_the_file_has_a_country_column_or_nothing_defaulted() -> None:
    assert "country_defaulted" not in codes(build_report(file_item(country_column=True)))
    assert "country_defaulted" not in codes(build_report(file_item(country_sources={"record": 10})))


def test_data_that_looks_foreign_is_a_warning_with_counts_by_hint_kind() -> None:
    profile = {
        "default_country": "US",
        "sampled": 40,
        "defaulted": 40,
        "disagreeing": 30,
        "hints": {"phone_calling_code": 25, "email_country_domain": 30},
        "hinted_countries": {"DE": 28, "AT": 2},
        "looks_foreign": True,
    }
    warning = codes(build_report(file_item(country_profile=profile)))["country_looks_foreign"]
    assert warning["count"] == 30
    assert warning["message"].startswith(
        "30 of the 40 sampled records that take the default country US look like another "
        "country's (phone calling code: 25, email country domain: 30; pointing to DE (28), AT (2))"
    )
    assert "strict_country" in foreign_data_message(profile, strict=True)
    quiet = {**profile, "looks_foreign": False}
    assert "country_looks_foreign" not in codes(build_report(file_item(country_profile=quiet)))


def test_a_report_of_a_file_that_never_got_a_survey_still_has_every_key() -> None:
    report = build_report(
        FileRecord(FILE_ID, key="audiences/nope/x.csv", error="unknown audience 'nope'")
    )
    assert report["status"] == "error"
    for key in (
        "mapping",
        "warnings",
        "encoding",
        "lines_skipped",
        "country_sources",
        "records_by_country",
    ):
        assert key in report
    assert report["warnings"] == []


def test_the_stored_mapping_is_bounded() -> None:
    header = [f"junk column {i}" for i in range(MAX_MAPPING_ENTRIES + 25)]
    section = mapping_section(build_plan(header))
    assert len(section["unknown"]) == MAX_MAPPING_ENTRIES
    assert section["truncated"] == {"unknown": 25}
    assert (
        codes({"warnings": file_warnings(FileRecord(FILE_ID, mapping=section))})["unknown_columns"][
            "count"
        ]
        == MAX_MAPPING_ENTRIES
    )


def test_tally_counters_start_empty() -> None:
    tally = Tally()
    assert tally.notes == tally.skipped == tally.country_sources == tally.countries == Counter()


def test_a_borrowed_mapping_notes_its_absent_columns_once_instead_of_warning_per_column() -> None:
    config = {"columns": {"Customer ID": "external_id", "Email Address": "email", "City": "city"}}
    plan = build_plan(["customer_id", "email"], config)

    own = mapping_section(plan)
    borrowed = mapping_section(plan, inherited_from="audiences/crm")

    assert [w["code"] for w in own["warnings"]].count("configured_column_missing") == 3
    assert borrowed["inherited_from"] == "audiences/crm"
    assert [w["code"] for w in borrowed["warnings"]] == ["inherited_mapping"]
    assert "3 of its columns are not in the file" in borrowed["warnings"][0]["message"]
    assert borrowed["missing"] == own["missing"]  # still listed, just not a warning each
