"""Hostile JSON nesting through the whole pipeline (issue #10, finding 2): before, a deep file
made the splitter raise MemoryError on every attempt and no report was ever written. Now a
too-deep record is one ``too_deep`` reject, and what cannot be read is one error report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adm_ingest.report import report_key
from adm_local.stack import LocalStack

pytestmark = pytest.mark.e2e

RECORD = b'{"email":"deep.json.person@example.com"}'


def report_versions(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    """The final report's versions (an audience file's ``committed`` report, written while its
    match rate is awaited, is not one)."""
    s3 = stack.client("s3")
    listed = s3.list_object_versions(Bucket=stack.names.bucket, Prefix=report_key(key))
    versions = [v for v in listed.get("Versions", []) if v["Key"] == report_key(key)]
    return [
        v
        for v in versions
        if json.loads(
            s3.get_object(Bucket=stack.names.bucket, Key=v["Key"], VersionId=v["VersionId"])[
                "Body"
            ].read()
        )["status"]
        != "committed"
    ]


def test_a_json_array_nested_100k_deep_gets_exactly_one_report_with_too_deep_rejects(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_members/deep-100k.json"
    deep_array = b"[" * 100_000 + b"]" * 100_000
    deep_value = b'{"email":"x@example.com","x":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001
    stack.drop(key, b"[" + deep_array + b"," + RECORD + b"," + deep_value + b"]")
    stats = stack.pump(timeout=120)

    report = stack.report(key)
    assert report is not None and report["status"] != "error", report
    assert (report["records_read"], report["accepted"], report["rejected"]) == (3, 1, 2)
    assert report["rejected_by_reason"] == {"too_deep": 2}
    assert stack.rejects(key) == [(1, "rejected", "too_deep"), (3, "rejected", "too_deep")]
    assert len(report_versions(stack, key)) == 1
    assert stats.dead_letters == 0


def test_deep_json_lines_are_rejected_line_by_line(stack: LocalStack) -> None:
    key = "audiences/e2e_members/deep-lines.jsonl"
    other = RECORD.replace(b"@", b"+2@")  # another person: identical lines are sent once
    lines = [RECORD, b'{"a":' * 20_000 + b"1" + b"}" * 20_000, b"[" * 100 + b"]" * 100, other]
    stack.drop(key, b"\n".join(lines) + b"\n")
    stack.pump(timeout=120)

    report = stack.report(key)
    assert report is not None
    assert (report["records_read"], report["accepted"], report["rejected"]) == (4, 2, 2)
    assert stack.rejects(key) == [(2, "rejected", "too_deep"), (3, "rejected", "too_deep")]
    assert len(report_versions(stack, key)) == 1


def test_an_array_too_deep_to_skip_is_one_error_report_naming_the_limit(
    stack: LocalStack,
) -> None:
    key = "audiences/e2e_members/bottomless.json"
    stack.drop(key, b"[" + RECORD + b"," + b"[" * 1_100_000)
    stats = stack.pump(timeout=120)

    report = stack.report(key)
    assert report is not None
    assert report["status"] == "error"
    assert "element 2 is nested more than 1,000,000 levels deep" in report["error"]
    assert len(report_versions(stack, key)) == 1
    assert stats.dead_letters == 0
