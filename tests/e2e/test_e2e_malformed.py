"""Malformed, oversized and vanished files through the real handlers: one error report each,
no staged object (no version) left, never a crash loop or a file left ``splitting``."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from adm_local.stack import LocalStack
from tests.e2e.conftest import SETUP_CONFIG

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tight() -> Iterator[LocalStack]:
    """A stack whose splitter is always short of time: it continues after every block."""
    with LocalStack(records_per_chunk=5000, visibility_timeout=1, worker_timeout_s=30) as local:
        assert local.setup(SETUP_CONFIG).ok
        # The splitter's margin only (TIME_MARGIN_MS would starve the workers too): after its
        # first MiB of data each invocation finds itself out of time, saves a checkpoint and
        # queues its continuation.
        local.functions["splitter"].runtime.splitter.margin_seconds = 10.0**9
        yield local


def staged_versions(stack: LocalStack) -> list[str]:
    listed = stack.client("s3").list_object_versions(Bucket=stack.names.bucket, Prefix="_staging/")
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def people_array(count: int) -> bytes:
    return b",".join(
        b'{"email": "member.%d@example.com", "country": "US"}' % i for i in range(count)
    )


MALFORMED = {
    "header-only.csv.gz": gzip.compress(b"")[:10],
    "truncated.csv.gz": gzip.compress(
        b"email\n" + b"".join(b"t%d@example.com\n" % i for i in range(3000))
    )[:-60],
    "empty.json": b"[]",
    "bad-head.json": b'[{"email": "a@example.com"',
    "bad-tail.json": b"[" + people_array(12_000) + b", {oops]",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_file_gets_one_error_report_and_leaves_nothing_staged(
    stack: LocalStack, name: str
) -> None:
    key = f"audiences/e2e_poison/malformed-{name}"
    stack.drop(key, MALFORMED[name])
    stats = stack.pump(timeout=120)
    report = stack.report(key)
    assert report is not None and report["status"] == "error", report
    assert report["error"] and "@" not in report["error"]
    assert stats.dead_letters == 0
    assert staged_versions(stack) == []


def test_a_file_deleted_before_its_split_gets_an_error_report(stack: LocalStack) -> None:
    key = "audiences/e2e_poison/vanished.csv"
    put = stack.drop(key, b"email\nvanished@example.com\n")
    stack.client("s3").delete_object(Bucket=stack.names.bucket, Key=key, VersionId=put["VersionId"])
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None and report["status"] == "error"
    assert "deleted or replaced" in report["error"]


def test_a_decompression_bomb_is_refused(stack: LocalStack) -> None:
    import zlib

    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"bomb@example.com\n" + b"\n" * ((1 << 20) - 17)
    body = deflate.compress(b"email\n") + b"".join(deflate.compress(piece) for _ in range(128))
    body += deflate.flush()  # 128 MiB of data in ~130 KB: over 1000×
    key = "audiences/e2e_poison/bomb.csv.gz"
    before = len(stack.sandbox.requests)
    stack.drop(key, body)
    stack.pump(timeout=120)
    report = stack.report(key)
    assert report is not None and report["status"] == "error"
    assert "MAX_COMPRESSION_RATIO" in report["error"]
    assert report["records_read"] == 0 and len(stack.sandbox.requests) == before
    assert staged_versions(stack) == []


@pytest.mark.parametrize("gz", [False, True])
def test_blank_lines_continue_from_checkpoints_and_end_in_a_report(
    tight: LocalStack, gz: bool
) -> None:
    body = b"email\n" + b"\n" * (6 << 20) + b"blank.line@example.com\n" + b"\n" * (3 << 20)
    key = f"audiences/e2e_members/blank-lines.csv{'.gz' if gz else ''}"
    tight.drop(key, gzip.compress(body) if gz else body)
    stats = tight.pump(timeout=300)
    report = tight.report(key)
    assert report is not None and report["status"] == "complete", report
    assert (report["records_read"], report["accepted"]) == (1, 1)
    assert stats.continuations >= 5
    assert staged_versions(tight) == []


def test_an_array_with_an_invalid_tail_in_a_tight_stack(tight: LocalStack) -> None:
    """Continuations, chunks already queued, then the error: one report, after those chunks."""
    key = "audiences/e2e_members/tight-bad-tail.json"
    tight.drop(key, b"[" + people_array(40_000) + b", {oops]")
    stats = tight.pump(timeout=300)
    report = tight.report(key)
    assert report is not None and report["status"] == "error"
    assert "after element 40000" in report["error"]
    assert report["records_read"] == report["records_expected"] > 0
    assert stats.continuations >= 1 and stats.dead_letters == 0
    assert staged_versions(tight) == []
