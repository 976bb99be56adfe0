"""Country safety end to end: a file with no country column under a US audience, whose data
looks German, is reported with where its countries came from and a warning — and refused,
nothing sent, when its mapping says ``strict_country``."""

from __future__ import annotations

import orjson
import pytest

from adm_local.stack import LocalStack
from tests.e2e.conftest import csv_bytes, member_requests

pytestmark = pytest.mark.e2e

GERMAN_LOOKING = csv_bytes(
    ["Email", "Mobile", "Vorname", "PLZ"],
    [[f"kunde.{i}@example.de", f"+49 151 2345 {i:04d}", "Jörg", f"{10115 + i}"] for i in range(30)],
)


def test_a_defaulted_country_and_foreign_looking_data_are_reported(stack: LocalStack) -> None:
    key = "audiences/e2e_members/kunden.csv"
    stack.drop(key, GERMAN_LOOKING)
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    assert report["status"] == "complete"
    assert report["accepted"] == 30
    assert report["country_sources"] == {"dataset": 30}
    assert report["records_by_country"] == {"US": 30}
    assert report["encoding"] == "utf-8"
    assert report["lines_skipped"] == {}
    columns = {c["column"]: c["field"] for c in report["mapping"]["columns"]}
    assert columns == {"Email": "email", "Mobile": "phone"}
    warnings = {warning["code"]: warning for warning in report["warnings"]}
    assert warnings["country_defaulted"]["message"] == (
        "no country column was found; all 30 records were sent as US (the audience's country)"
    )
    foreign = warnings["country_looks_foreign"]
    assert foreign["count"] == 30
    assert "phone calling code: 30, email country domain: 30" in foreign["message"]
    assert "pointing to DE (30)" in foreign["message"]
    assert report["country_profile"]["hints"] == {
        "phone_calling_code": 30,
        "email_country_domain": 30,
    }
    text = orjson.dumps(report).decode()
    assert "example.de" not in text and "2345" not in text  # counts and codes, never a value


def test_strict_country_refuses_foreign_looking_data_and_sends_nothing(
    stack: LocalStack,
) -> None:
    stack.registry.put(
        "mapping", "audiences/e2e_bulk", "", config=orjson.dumps({"strict_country": True}).decode()
    )
    before = member_requests(stack, "e2e_bulk")
    key = "audiences/e2e_bulk/kunden.csv"
    stack.drop(key, GERMAN_LOOKING)
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    assert member_requests(stack, "e2e_bulk") == before
    assert report["status"] == "error"
    assert report["error"].startswith(
        "30 of the 30 sampled records that take the default country US"
    )
    assert "nothing was sent (`strict_country` is set in the mapping)" in report["error"]
    assert report["records_read"] == 0
    assert report["mapping"] is not None
