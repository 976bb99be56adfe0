"""Drop a file, check what the sandbox received: one test per kind of data and per input shape."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from adm_ingest import registry as names
from adm_ingest.normalize import hash_pii
from adm_local.stack import LocalStack
from tests.e2e.conftest import (
    PEOPLE_HEADER,
    csv_bytes,
    dataset_id,
    member_requests,
    members_of,
    people,
)

pytestmark = pytest.mark.e2e

MIXED = b"""customer_id,email,phone,first_name,last_name,country,notes
good-1,ann.lee@example.com,(206) 555-0101,Ann,Lee,US,fine
good-2,,+1 415 555 0102,,,US,phone only
bad-1,not-an-email,,,,US,no usable identifier
"good-3","bo.chen@example.com",,"Bo","Chen",US,"quoted
multi-line note"
bad-2,short row
bad-3,uk.person@example.co.uk,,,,GB,no consent signal
bad-4,x@example.com,,,,Narnia,bad country
"""


def test_mixed_file_is_fully_accounted_for_with_line_numbers(stack: LocalStack) -> None:
    key = "audiences/e2e_members/mixed.csv"
    stack.drop(key, MIXED)
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    assert report["status"] == "complete"
    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        7,
        3,
        4,
        0,
    )
    assert report["balanced"] is True
    assert report["rejected_by_reason"] == {
        "invalid_country": 1,
        "missing_consent": 1,
        "no_identifier": 1,
        "wrong_field_count": 1,
    }
    # Line numbers are physical lines: the quoted note spans lines 5-6.
    assert stack.rejects(key) == [
        (4, "rejected", "no_identifier"),
        (7, "rejected", "wrong_field_count"),
        (8, "rejected", "missing_consent"),
        (9, "rejected", "invalid_country"),
    ]
    members = members_of(stack, "e2e_members")
    assert {"good-1", "good-2", "good-3"} <= set(members)
    ann = members["good-1"]["userIdentity"]["hashedPiis"][0]
    assert ann["em"] == hash_pii("email", "ann.lee@example.com", "US")
    assert ann["ph"] == hash_pii("phone", "(206) 555-0101", "US")
    assert report["identifier_coverage"]["email"]["valid"] == 2
    # Consent: the four US records whose consent was resolved had none (the US requires none);
    # the UK one without a signal and the one without a country are among the rejects.
    assert report["consent_sources"] == {"none": 4}


def test_delete_prefix_removes_members(stack: LocalStack) -> None:
    stack.drop("audiences/e2e_members/adds.csv", csv_bytes(PEOPLE_HEADER, people(3, 100)))
    stack.pump(timeout=60)
    assert {"cust-0000100", "cust-0000101"} <= set(members_of(stack, "e2e_members"))

    key = "audiences/e2e_members/delete/unsubscribed.csv"
    stack.drop(key, b"customer_id,email\ncust-0000100,person.100@example.com\ncust-0000101,\n")
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None and report["accepted"] == 2 and report["balanced"]
    remaining = members_of(stack, "e2e_members")
    assert "cust-0000100" not in remaining and "cust-0000101" not in remaining
    assert "cust-0000102" in remaining


def test_conversions_are_sent_once_per_dedupe_id(stack: LocalStack) -> None:
    now = datetime.now(UTC)
    recent = (now - timedelta(hours=2)).isoformat()
    rows = [
        ["o-1", recent, "buyer.one@example.com", "19.99", "USD", "1"],
        ["o-2", recent, "buyer.two@example.com", "5.00", "USD", "2"],
        ["o-3", (now - timedelta(days=9)).isoformat(), "late@example.com", "1.00", "USD", "1"],
        ["o-4", recent, "", "1.00", "USD", "1"],
    ]
    header = ["order_id", "event_time", "email", "revenue", "currency_code", "quantity"]
    body = csv_bytes(header, rows)
    stack.drop("conversions/e2e_orders/day1.csv", body)
    stack.drop("conversions/e2e_orders/day1-again.csv", body)  # the same orders re-exported
    stack.pump(timeout=60)

    first = stack.report("conversions/e2e_orders/day1.csv")
    assert first is not None
    assert (first["accepted"], first["rejected"]) == (2, 2)
    assert first["rejected_by_reason"] == {"no_identifier": 1, "timestamp_too_old": 1}
    definition_id = stack.registry.id_of("conversion", "e2e_orders")
    definition = stack.sandbox.state()["conversionDefinitions"][definition_id]
    assert definition["eventCount"] == 2  # the re-export deduplicated by clientDedupeId
    assert definition["duplicatesIgnored"] == 2
    assert {e["clientDedupeId"] for e in definition["events"]} == {"o-1", "o-2"}


def test_identity_deletion(stack: LocalStack) -> None:
    key = "deletions/2026-11/requests.jsonl"
    lines = [
        {"customer_id": "cust-1"},
        {"email": "forget.me@example.com"},
        {"note": "nothing to identify"},
    ]
    stack.drop(key, "\n".join(json.dumps(line) for line in lines).encode())
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None
    assert (report["accepted"], report["rejected"]) == (2, 1)
    received = stack.sandbox.state()["identityDeletions"]
    assert {"externalUserId": "cust-1"} in received
    hashed = hash_pii("email", "forget.me@example.com", "US")
    assert any(
        t.get("identity", {}).get("hashedPiis", [{}])[0].get("em") == hashed for t in received
    )


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("gzip.csv.gz", lambda rows: gzip.compress(csv_bytes(PEOPLE_HEADER, rows))),
        (
            "array.json",
            lambda rows: json.dumps(
                [dict(zip(PEOPLE_HEADER, r, strict=True)) for r in rows]
            ).encode(),
        ),
        (
            "array.json.gz",
            lambda rows: gzip.compress(
                json.dumps([dict(zip(PEOPLE_HEADER, r, strict=True)) for r in rows]).encode()
            ),
        ),
    ],
)
def test_compressed_and_json_array_inputs_are_staged(stack: LocalStack, name, encode) -> None:
    rows = people(12, {"gzip.csv.gz": 200, "array.json": 300, "array.json.gz": 400}[name])
    key = f"audiences/e2e_members/{name}"
    stack.drop(key, encode(rows))
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None and report["accepted"] == 12 and report["balanced"]
    assert {r[0] for r in rows} <= set(members_of(stack, "e2e_members"))
    # Staged chunks are cleaned up once the file is reported.
    listed = stack.client("s3").list_objects_v2(Bucket=stack.names.bucket, Prefix="_staging/")
    assert listed.get("KeyCount", 0) == 0


def test_unknown_audience_is_a_file_level_error(stack: LocalStack) -> None:
    key = "audiences/no_such_audience/file.csv"
    stack.drop(key, csv_bytes(PEOPLE_HEADER, people(2)))
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None
    assert report["status"] == "error"
    assert "unknown audience 'no_such_audience'" in report["error"]
    assert report["requests_sent"] == 0


def test_file_level_format_error_is_reported_not_retried(stack: LocalStack) -> None:
    key = "audiences/e2e_members/empty.csv"
    stack.drop(key, b"")
    stats = stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None and report["status"] == "error"
    assert "empty" in report["error"]
    assert stats.dead_letters == 0


def test_eea_records_need_consent(stack: LocalStack) -> None:
    key = "audiences/e2e_eu/de.csv"
    body = (
        b"customer_id,email,tcf_string\n"
        b"de-1,eins@example.de,CPc_TCF_STRING\n"
        b"de-2,zwei@example.de,\n"
    )
    stack.drop(key, body)
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None
    assert report["rejected_by_reason"] == {"missing_consent": 1}
    assert report["consent_sources"] == {"record": 1}  # de-2 is a reject, not "none"
    members = members_of(stack, "e2e_eu")
    assert set(members) == {"de-1"}
    assert members["de-1"]["userConsent"]["consent"]["tcf"] == "CPc_TCF_STRING"
    assert members["de-1"]["userConsent"]["geo"]["countryCode"] == "DE"


def test_consent_defaults_of_the_mapping_are_their_own_source(stack: LocalStack) -> None:
    """A record taking the mapping's default consent, or repeating it, counts as
    ``mapping_default``; one with a value of its own as ``record``."""
    prefix = "audiences/e2e_eu"
    config = '{"defaults":{"tcf":"CPc_DEFAULT_TCF"}}'
    stack.registry.put(names.MAPPING, prefix, "m-consent", config=config)
    try:
        key = f"{prefix}/defaults.csv"
        body = (
            b"customer_id,email,tcf_string\n"
            b"de-3,drei@example.de,CPc_OWN_TCF\n"
            b"de-4,vier@example.de,\n"
            b"de-5,fuenf@example.de,CPc_DEFAULT_TCF\n"
        )
        stack.drop(key, body)
        stack.pump(timeout=60)
    finally:
        stack.registry.put(names.MAPPING, prefix, "m-empty", config="{}")
    report = stack.report(key)
    assert report is not None and report["status"] == "complete"
    assert (report["accepted"], report["rejected"]) == (3, 0)
    assert report["consent_sources"] == {"mapping_default": 2, "record": 1}
    members = members_of(stack, "e2e_eu")
    assert members["de-4"]["userConsent"]["consent"]["tcf"] == "CPc_DEFAULT_TCF"
    assert members["de-3"]["userConsent"]["consent"]["tcf"] == "CPc_OWN_TCF"


def test_own_outputs_do_not_trigger_work(stack: LocalStack) -> None:
    before = member_requests(stack, "e2e_members")
    stack.drop("reports/audiences/e2e_members/fake.csv.json", b"{}")
    stack.drop("rejects/audiences/e2e_members/fake.csv.csv", b"line,outcome,reason\n")
    stack.pump(timeout=30)
    assert member_requests(stack, "e2e_members") == before
    assert dataset_id(stack, "e2e_members")
