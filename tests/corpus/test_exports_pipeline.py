"""Corpus files through the whole local pipeline (moto + the ADM sandbox + the real handlers): what
the sandbox holds for every accepted line, and the rejects file for every rejected one, match the
same sidecars the dry-run is held to — one file per kind, a gzipped one among them.

Conversions are judged against the real clock here (the worker has no test clock), so the orders
export is restamped: every timestamp moves by (now − the corpus's fixed now), keeping each order's
place relative to the 7-day window.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adm_local.stack import LocalStack
from tests.corpus.exports import FIXED_NOW, Export, check_item, corpus

pytestmark = pytest.mark.e2e

BY_NAME = {export.name: export for export in corpus()}
SHOPIFY_CUSTOMERS = BY_NAME["shopify_customers_export.csv"]
SALESFORCE = BY_NAME["salesforce_contacts_accounts_report.csv"]
UNSUBSCRIBES = BY_NAME["crm_unsubscribes.csv.gz"]
ORDERS = BY_NAME["shopify_orders_export.csv"]
ERASURES = BY_NAME["privacy_erasure_requests.csv"]

SHOPIFY_TIME = "%Y-%m-%d %H:%M:%S %z"
ORDER_TIME_COLUMNS = ("Created at", "Paid at")

SETUP_CONFIG: dict[str, Any] = {
    "region": "NA",
    "managerAccountId": "amzn1.ads1ma1.sandbox",
    "advertiserAccountId": "ADV-SANDBOX-1",
    "audiences": [
        {"name": "corpus_shopify_us", "countryCode": SHOPIFY_CUSTOMERS.spec["country"]},
        {"name": "corpus_salesforce_us", "countryCode": SALESFORCE.spec["country"]},
    ],
    "conversionDefinitions": [
        {
            "name": "corpus_orders",
            "conversionType": "OFF_AMAZON_PURCHASES",
            "countingMethod": "EVERY",
            "source": "SERVER_TO_SERVER",
            "sourceType": "OFFLINE",
            "value": 1,
        }
    ],
    "sharingRules": [],
    "mappings": {"conversions/corpus_orders": ORDERS.spec["mapping"]},
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        records_per_chunk=5000,
        max_receive_count=3,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={"TIME_MARGIN_MS": "5000"},
    ) as local:
        report = local.setup(SETUP_CONFIG)
        assert report.ok, report.format_table()
        yield local


def members_of(stack: LocalStack, audience: str) -> dict[str, Any]:
    entry = stack.registry.get("audience", audience)
    assert entry is not None
    return dict(stack.sandbox.state()["datasets"][entry.id]["members"])


def expected_rejects(export: Export) -> list[tuple[int, str, str]]:
    return [
        (n, "rejected", e["reason"]) for n, e in sorted(export.with_outcome("rejected").items())
    ]


def unmatched(export: Export, received: list[dict[str, Any]], lines: dict[int, Any]) -> list[str]:
    """The accepted lines no received item matches (each line must match one item)."""
    problems = []
    for line, expected in sorted(lines.items()):
        if not any(not check_item(export, line, expected, item) for item in received):
            problems.append(f"line {line}: nothing received matches {expected}")
    return problems


def drop_and_report(stack: LocalStack, key: str, body: bytes) -> dict[str, Any]:
    stack.drop(key, body)
    stack.pump(timeout=120)
    report = stack.report(key)
    assert report is not None
    return report


def assert_accounted(export: Export, report: dict[str, Any], rejects: list[Any]) -> None:
    assert report["status"] == "complete", report.get("error")
    assert report["accepted"] == len(export.with_outcome("accepted"))
    assert report["balanced"] is True
    assert rejects == expected_rejects(export)
    skipped: dict[str, int] = {}
    for reason in export.skipped.values():
        skipped[reason] = skipped.get(reason, 0) + 1
    assert (report.get("lines_skipped") or {}) == skipped


def test_salesforce_report_with_its_footer(stack: LocalStack) -> None:
    key = f"audiences/corpus_salesforce_us/{SALESFORCE.name}"
    report = drop_and_report(stack, key, SALESFORCE.path.read_bytes())
    assert_accounted(SALESFORCE, report, stack.rejects(key))
    received = list(members_of(stack, "corpus_salesforce_us").values())
    assert not unmatched(SALESFORCE, received, SALESFORCE.with_outcome("accepted"))


def test_shopify_customers_then_their_gzipped_unsubscribes(stack: LocalStack) -> None:
    key = f"audiences/corpus_shopify_us/{SHOPIFY_CUSTOMERS.name}"
    report = drop_and_report(stack, key, SHOPIFY_CUSTOMERS.path.read_bytes())
    assert_accounted(SHOPIFY_CUSTOMERS, report, stack.rejects(key))
    received = list(members_of(stack, "corpus_shopify_us").values())
    problems = unmatched(SHOPIFY_CUSTOMERS, received, SHOPIFY_CUSTOMERS.with_outcome("accepted"))
    assert not problems, "\n".join(problems)

    key = f"audiences/corpus_shopify_us/delete/{UNSUBSCRIBES.name}"
    report = drop_and_report(stack, key, UNSUBSCRIBES.path.read_bytes())
    assert_accounted(UNSUBSCRIBES, report, stack.rejects(key))
    remaining = members_of(stack, "corpus_shopify_us")
    removed = [
        e["external_id"]
        for e in UNSUBSCRIBES.with_outcome("accepted").values()
        if "external_id" in e
    ]
    assert removed and not set(removed) & set(remaining)


def restamped(export: Export, shift: timedelta) -> bytes:
    """The export with every order timestamp moved by ``shift`` (same lines, same format)."""
    rows = list(csv.reader(io.StringIO(export.text(), newline="")))
    header = rows[0]
    positions = [header.index(column) for column in ORDER_TIME_COLUMNS]
    for row in rows[1:]:
        for position in positions:
            if row[position]:
                moment = datetime.strptime(row[position], SHOPIFY_TIME) + shift
                row[position] = moment.strftime(SHOPIFY_TIME)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def test_shopify_orders_as_conversions(stack: LocalStack) -> None:
    shift = datetime.now(UTC).replace(microsecond=0) - FIXED_NOW
    key = f"conversions/corpus_orders/{ORDERS.name}"
    report = drop_and_report(stack, key, restamped(ORDERS, shift))
    assert_accounted(ORDERS, report, stack.rejects(key))
    definition_id = stack.registry.id_of("conversion", "corpus_orders")
    received = stack.sandbox.state()["conversionDefinitions"][definition_id]["events"]
    accepted = {
        line: {
            **expected,
            "timestamp": (
                datetime.fromisoformat(expected["timestamp"].replace("Z", "+00:00")) + shift
            ).isoformat(),
        }
        for line, expected in ORDERS.with_outcome("accepted").items()
    }
    problems = unmatched(ORDERS, received, accepted)
    assert not problems, "\n".join(problems)


def test_privacy_erasure_requests_as_identity_deletions(stack: LocalStack) -> None:
    key = f"deletions/{ERASURES.name}"
    report = drop_and_report(stack, key, ERASURES.path.read_bytes())
    assert_accounted(ERASURES, report, stack.rejects(key))
    received = stack.sandbox.state()["identityDeletions"]
    problems = unmatched(ERASURES, received, ERASURES.with_outcome("accepted"))
    assert not problems, "\n".join(problems)
