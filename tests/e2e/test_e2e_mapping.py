"""A removal file under ``audiences/<name>/delete/`` has its own header: the audience's
mapping (which names the CREATE file's columns) applies to the columns that exist, and the
others are auto-detected — so ``customer_id`` feeds externalUserId and the DELETE really
removes the member that the CREATE file's ``Customer ID`` created.

A mapping whose values can't be right is one file-level error at split time."""

from __future__ import annotations

import pytest

from adm_ingest import registry as names
from adm_local.stack import LocalStack
from tests.e2e.conftest import csv_bytes, members_of

pytestmark = pytest.mark.e2e

CREATE_HEADER = ["Customer ID", "E-Mail", "Mobile", "First Name", "Last Name", "Zip"]


def test_a_removal_file_with_its_own_header_removes_the_members(stack: LocalStack) -> None:
    people = [
        [f"map-{i}", f"mapped.{i}@example.com", f"+1 206 555 01{i:02d}", "Ann", "Lee", "98109"]
        for i in range(3)
    ]
    stack.drop("audiences/e2e_mapped/crm.csv", csv_bytes(CREATE_HEADER, people))
    stack.pump(timeout=60)
    assert {"map-0", "map-1", "map-2"} <= set(members_of(stack, "e2e_mapped"))

    key = "audiences/e2e_mapped/delete/unsubscribes.csv"
    stack.drop(key, b"customer_id,email\nmap-0,mapped.0@example.com\nmap-1,\n")
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None and report["status"] == "complete" and report["balanced"]
    assert (report["records_read"], report["accepted"], report["rejected"]) == (2, 2, 0)
    remaining = members_of(stack, "e2e_mapped")
    assert "map-0" not in remaining and "map-1" not in remaining
    assert "map-2" in remaining


def test_a_mapping_with_a_bad_default_is_one_file_level_error_and_no_chunk_is_retried(
    stack: LocalStack,
) -> None:
    """Written around the setup's validation (as an older release or a hand edit could): the
    split refuses it before queuing anything, instead of every chunk going to the DLQ."""
    prefix = "audiences/e2e_poison"
    stack.registry.put(names.MAPPING, prefix, "m-bad", config='{"defaults":{"country":"XX"}}')
    try:
        key = f"{prefix}/bad-default.csv"
        stack.drop(key, csv_bytes(["email"], [[f"bad.{i}@example.com"] for i in range(3)]))
        stats = stack.pump(timeout=60)
    finally:
        stack.registry.put(names.MAPPING, prefix, "m-empty", config="{}")
    report = stack.report(key)
    assert report is not None and report["status"] == "error"
    assert report["error"] == (
        "invalid column mapping: defaults['country']: 'XX' is not a known country"
    )
    assert (report["records_read"], report["chunks"]) == (0, 0)
    assert (stats.chunk_messages, stats.chunk_retries, stats.dead_letters) == (0, 0, 0)
