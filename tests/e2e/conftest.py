"""End-to-end fixtures: the local stack (moto server + ADM sandbox + the real handlers), set up
by the real setup state machine with a small test config."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from adm_local.stack import LocalStack

SETUP_CONFIG: dict[str, Any] = {
    "region": "NA",
    "managerAccountId": "amzn1.ads1ma1.sandbox",
    "advertiserAccountId": "ADV-SANDBOX-1",
    "audiences": [
        {"name": "e2e_members", "countryCode": "US"},
        {"name": "e2e_bulk", "countryCode": "US"},
        {"name": "e2e_faults", "countryCode": "US"},
        {"name": "e2e_poison", "countryCode": "US"},
        {"name": "e2e_eu", "countryCode": "DE"},
        {"name": "e2e_mapped", "countryCode": "US"},
    ],
    "conversionDefinitions": [
        {
            "name": "e2e_orders",
            "conversionType": "OFF_AMAZON_PURCHASES",
            "countingMethod": "EVERY",
            "source": "SERVER_TO_SERVER",
            "sourceType": "OFFLINE",
            "value": 1,
        }
    ],
    "sharingRules": [],
    # A CRM export's own column names; its delete/ files fall back to this mapping.
    "mappings": {
        "audiences/e2e_mapped": {
            "columns": {"Customer ID": "external_id", "E-Mail": "email", "Mobile": "phone"},
            "defaults": {"country": "US"},
        }
    },
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


def dataset_id(stack: LocalStack, audience: str) -> str:
    entry = stack.registry.get("audience", audience)
    assert entry is not None
    return entry.id


def members_of(stack: LocalStack, audience: str) -> dict[str, Any]:
    return dict(stack.sandbox.state()["datasets"][dataset_id(stack, audience)]["members"])


def member_requests(stack: LocalStack, audience: str) -> int:
    path = f"/adm/audiences/{dataset_id(stack, audience)}/members"
    return sum(1 for r in stack.sandbox.requests if r.path == path and r.status == 200)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def people(count: int, start: int = 0) -> list[list[str]]:
    """Rows of ``customer_id,email,phone,first_name,last_name,zip`` — all valid, US."""
    return [
        [
            f"cust-{i:07d}",
            f"person.{i}@example.com",
            f"+1 206 555 {i % 10000:04d}",
            "Alex",
            f"Tester{i % 97}",
            f"{98000 + i % 1000:05d}",
        ]
        for i in range(start, start + count)
    ]


PEOPLE_HEADER = ["customer_id", "email", "phone", "first_name", "last_name", "zip"]
