"""Delivered rows: the per-chunk line index, and remote refusals turned into source lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adm_ingest.batching import SpooledBody, SpoolingBatcher
from adm_ingest.destinations import ChunkRefusal, RemoteState, RowRefusal
from adm_ingest.outcomes import FAILED, RecordFate
from adm_ingest.pipeline.delivered_rows import (
    REMOTE_FATES,
    UNLOCATED_LINE,
    DeliveredRows,
    account_remote,
    remote_failures,
)
from adm_ingest.report import staging_prefix

BUCKET = "inputs"
FILE_ID = "a" * 32


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def rows(s3: Any) -> DeliveredRows:
    index = DeliveredRows(s3)
    index.record(BUCKET, FILE_ID, 0, [[2, 3, 5]])
    index.record(BUCKET, FILE_ID, 1, [[7, 8], [9]])  # two batches of one chunk, in order
    return index


def failures(rows: DeliveredRows, state: RemoteState) -> list[RecordFate]:
    return list(remote_failures(rows, BUCKET, FILE_ID, state))


def test_the_index_keeps_each_chunks_delivered_lines_in_order(rows: DeliveredRows) -> None:
    assert rows.chunks(BUCKET, FILE_ID) == [0, 1]
    assert list(rows.lines(BUCKET, FILE_ID, 1)) == [7, 8, 9]
    assert list(rows.lines(BUCKET, FILE_ID, 4)) == []


def test_a_located_refusal_fails_the_line_at_that_position(rows: DeliveredRows) -> None:
    state = RemoteState(True, "success", refusals=(RowRefusal(1, 2, "aep_1401"),))
    assert failures(rows, state) == [RecordFate(9, FAILED, "aep_1401")]


def test_a_refusal_without_a_position_is_failed_on_line_zero(rows: DeliveredRows) -> None:
    state = RemoteState(True, "success", refusals=(RowRefusal(None, None, "aep_1401"),))
    assert failures(rows, state) == [RecordFate(UNLOCATED_LINE, FAILED, "aep_1401")]


def test_a_refused_chunk_range_fails_every_line_it_delivered(rows: DeliveredRows) -> None:
    state = RemoteState(True, "failed", False, refused_chunks=(ChunkRefusal(1, 1, "aep_E"),))
    assert [fate.line for fate in failures(rows, state)] == [7, 8, 9]


def test_an_unsuccessful_state_that_names_nothing_fails_everything_delivered(
    rows: DeliveredRows,
) -> None:
    state = RemoteState(True, "timed_out", succeeded=False)
    assert {fate.reason for fate in failures(rows, state)} == {"remote_timed_out"}
    assert [fate.line for fate in failures(rows, state)] == [2, 3, 5, 7, 8, 9]


def test_success_without_refusals_fails_nothing(rows: DeliveredRows, s3: Any) -> None:
    assert account_remote(rows, BUCKET, FILE_ID, RemoteState(True, "success")) == {}
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=staging_prefix(FILE_ID) + REMOTE_FATES)
    assert listed["KeyCount"] == 0


def test_the_remote_failures_are_staged_as_the_files_last_fates(
    rows: DeliveredRows, s3: Any
) -> None:
    state = RemoteState(True, "success", refusals=(RowRefusal(0, 0, "aep_X"),))
    assert account_remote(rows, BUCKET, FILE_ID, state) == {"aep_X": 1}
    body = s3.get_object(Bucket=BUCKET, Key=staging_prefix(FILE_ID) + REMOTE_FATES)["Body"]
    assert body.read().decode().splitlines() == ["2,failed,aep_X"]


@settings(max_examples=15, deadline=None)
@given(
    chunks=st.lists(st.lists(st.integers(1, 10**6), min_size=1, max_size=20), max_size=4),
    picks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 19)), max_size=10),
)
def test_each_refused_row_is_failed_once_on_its_own_line(
    chunks: list[list[int]], picks: list[tuple[int, int]]
) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        index = DeliveredRows(s3)
        for number, lines in enumerate(chunks):
            index.record(BUCKET, FILE_ID, number, [lines])
        wanted = {(c, r) for c, r in picks if c < len(chunks) and r < len(chunks[c])}
        state = RemoteState(
            True, "success", refusals=tuple(RowRefusal(c, r, "aep_X") for c, r in sorted(wanted))
        )
        fates = failures(index, state)
        assert sorted(fate.line for fate in fates) == sorted(chunks[c][r] for c, r in wanted)


def test_the_spooling_batcher_builds_a_json_lines_body_without_holding_a_list_of_items() -> None:
    batcher = SpoolingBatcher(max_items=2)
    assert batcher.add(b'{"a":1}', 2) is None
    assert batcher.add(b'{"a":2}', 3) is None
    first = batcher.add(b'{"a":3}', 5)
    last = batcher.flush()

    assert first is not None and last is not None and batcher.flush() is None
    assert isinstance(first.body, SpooledBody) and first.body.read() == b'{"a":1}\n{"a":2}\n'
    assert list(first.lines) == [2, 3] and list(last.lines) == [5]
    assert isinstance(last.body, SpooledBody) and last.body.size == len(b'{"a":3}\n')
