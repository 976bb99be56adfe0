"""A removal file under ``audiences/<name>/delete/`` has its own header: the audience's
mapping (which names the CREATE file's columns) applies to the columns that exist, and the
others are auto-detected — so ``customer_id`` feeds externalUserId and the DELETE really
removes the member that the CREATE file's ``Customer ID`` created."""

from __future__ import annotations

import pytest

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
