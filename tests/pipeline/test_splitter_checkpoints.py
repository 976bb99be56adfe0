"""The splitter: the same chunks whether a file is split in one invocation or in many.

A split that runs short of time saves a checkpoint and queues a continuation message; the next
invocation resumes exactly there. Chunk pointers (ids, byte ranges, first lines, counts) must
be identical to a one-shot split, for range-read files and for staged (gzip) files.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.continuation import SplitContinuation
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef, open_object, read_header_range
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.readers import open_records, read_staged
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_local.resources import create_ledger_table, create_registry_table
from tests.record_support import flat

BUCKET = "ingest-test"
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client("sqs")
        chunks = sqs.create_queue(QueueName="chunks")["QueueUrl"]
        splits = sqs.create_queue(QueueName="splits")["QueueUrl"]
        dynamodb = boto3.client("dynamodb")
        create_ledger_table(dynamodb, "ledger")
        create_registry_table(dynamodb, "registry")
        registry = Registry("registry")
        registry.put("audience", "aud", "DS-1", country="US")
        ledger = Ledger("ledger")
        splitter = Splitter(
            s3=s3,
            sqs=sqs,
            ledger=ledger,
            registry=registry,
            finalizer=Finalizer(ledger, ReportWriter(s3, BUCKET)),
            chunk_queue_url=chunks,
            split_queue_url=splits,
            records_per_chunk=7,
            margin_seconds=1.0,
        )
        yield {
            "s3": s3,
            "sqs": sqs,
            "chunks": chunks,
            "splits": splits,
            "splitter": splitter,
            "ledger": ledger,
        }


def drain(sqs: Any, url: str) -> list[str]:
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def put(aws: dict[str, Any], key: str, body: bytes) -> ObjectRef:
    response = aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
    return ObjectRef(BUCKET, key, response.get("VersionId"), response["ETag"].strip('"'), len(body))


def csv_file(rows: int) -> bytes:
    lines = ["id,email,note"]
    for i in range(rows):
        note = '"two\nlines"' if i % 5 == 0 else "plain"
        lines.append(f"c{i},p{i}@example.com,{note}")
    return ("\n".join(lines) + "\n").encode()


def split_with_interruptions(aws: dict[str, Any], ref: ObjectRef, every: int) -> int:
    """Split, letting each invocation queue ``every`` batches of 10 chunks before time is up."""
    calls = {"n": 0}

    def time_left() -> float:
        calls["n"] += 1
        return 0.0 if calls["n"] % every == 0 else 1000.0

    outcome = aws["splitter"].split(ref, time_left)
    invocations = 1
    while outcome.status == "continued":
        (message,) = drain(aws["sqs"], aws["splits"])
        outcome = aws["splitter"].handle_continuation(
            SplitContinuation.from_message(message), time_left
        )
        invocations += 1
    assert outcome.status == "queued"
    return invocations


def pointers(aws: dict[str, Any]) -> list[ChunkPointer]:
    found = [ChunkPointer.from_message(b) for b in drain(aws["sqs"], aws["chunks"])]
    return sorted(found, key=lambda p: p.index)


def records_of(aws: dict[str, Any], pointer: ChunkPointer) -> list[tuple[int, dict[str, str]]]:
    s3 = aws["s3"]
    if pointer.staged_key:
        stream = open_object(s3, ObjectRef(BUCKET, pointer.staged_key))
        found = flat(read_staged(stream))
    else:
        ref = ObjectRef(BUCKET, pointer.key, pointer.version_id, pointer.etag)
        layout = pointer.layout
        assert layout.header_range is not None and layout.delimiter is not None
        header = read_header_range(
            s3, ref, layout.header_range, delimiter=layout.delimiter, encoding=layout.encoding
        )
        found = flat(
            open_records(
                open_object(s3, ref, pointer.byte_range),
                format=layout.format,
                delimiter=layout.delimiter,
                header=header,
                first_line=pointer.first_line,
                encoding=layout.encoding,
            )
        )
    return [(r.line, getattr(r, "values", {})) for r in found]


def test_interrupted_range_split_equals_one_shot(aws: dict[str, Any]) -> None:
    body = csv_file(500)
    one_shot = put(aws, "audiences/aud/one.csv", body)
    assert aws["splitter"].split(one_shot, lambda: 1000.0).status == "queued"
    expected = pointers(aws)

    resumed = put(aws, "audiences/aud/resumed.csv", body)
    invocations = split_with_interruptions(aws, resumed, every=2)
    got = pointers(aws)

    assert invocations > 3
    assert len(got) == len(expected) == 72  # ceil(500 / 7)
    assert [(p.index, p.byte_range, p.first_line, p.records) for p in got] == [
        (p.index, p.byte_range, p.first_line, p.records) for p in expected
    ]
    # Reading every chunk back yields every record once, with its true line number.
    lines = [line for p in got for line, _ in records_of(aws, p)]
    whole = [r.line for r in flat(open_records(io.BytesIO(body)))]
    assert lines == whole
    file = aws["ledger"].get_file(got[0].file_id)
    assert file.split_done and file.records_total == 500 and file.chunks_total == 72


def test_interrupted_staged_split_equals_one_shot(aws: dict[str, Any]) -> None:
    body = gzip.compress(csv_file(300))
    resumed = put(aws, "audiences/aud/resumed.csv.gz", body)
    split_with_interruptions(aws, resumed, every=1)
    got = pointers(aws)
    assert len(got) == 43  # ceil(300 / 7)
    assert all(p.staged_key for p in got)
    lines = [line for p in got for line, _ in records_of(aws, p)]
    assert lines == [r.line for r in flat(open_records(io.BytesIO(gzip.decompress(body))))]


def test_redelivered_s3_event_queues_nothing_new(aws: dict[str, Any]) -> None:
    ref = put(aws, "audiences/aud/twice.csv", csv_file(20))
    assert aws["splitter"].split(ref, lambda: 1000.0).status == "queued"
    first = pointers(aws)
    assert aws["splitter"].split(ref, lambda: 1000.0).status == "duplicate"
    assert pointers(aws) == []
    assert len(first) == 3


def test_chunk_messages_carry_pointers_not_data(aws: dict[str, Any]) -> None:
    ref = put(aws, "audiences/aud/pii.csv", csv_file(10))
    aws["splitter"].split(ref, lambda: 1000.0)
    bodies = drain(aws["sqs"], aws["chunks"])
    assert bodies
    for body in bodies:
        assert "@example.com" not in body
        message = json.loads(body)
        assert "header" not in message["layout"] and "note" not in body  # no column names
        assert message["layout"]["header_range"] == [0, len(b"id,email,note\n")]


def cp1252_file(rows: int, first_accent: int) -> bytes:
    lines = ["id;email;name"]
    for i in range(rows):
        name = "Smith" if i < first_accent else ["Müller", "Pérez", "Nuñez", "Groß"][i % 4]
        lines.append(f"c{i};p{i}@example.com;{name}")
    lines.append('"Grand Totals ({rows} records)"')
    lines.append('"Confidential Information - Do Not Distribute"')
    return ("\n".join(lines) + "\n").encode("cp1252")


@pytest.mark.parametrize("every", [1, 2, 1000])
def test_every_chunk_after_the_first_non_ascii_byte_carries_the_detected_encoding(
    aws: dict[str, Any], every: int
) -> None:
    body = cp1252_file(300, first_accent=150)
    ref = put(aws, f"audiences/aud/excel-{every}.csv", body)
    split_with_interruptions(aws, ref, every=every)
    got = pointers(aws)
    first_non_ascii = next(i for i, byte in enumerate(body) if byte >= 0x80)
    for pointer in got:
        start, end = pointer.byte_range or (0, 0)
        if end > first_non_ascii:
            assert pointer.layout.encoding == "cp1252"
        else:  # queued before the decision: pure ASCII, which reads alike in any encoding
            assert body[start:end].isascii()
    whole = [(r.line, getattr(r, "values", {})) for r in flat(open_records(io.BytesIO(body)))]
    assert [record for p in got for record in records_of(aws, p)] == whole
    assert whole[-3][1]["name"] == "Groß"
    # The scan counts the two footer lines with the records; the workers skip them.
    assert sum(p.records for p in got) == 302


def test_a_gzipped_cp1252_file_is_staged_as_decoded_utf8(aws: dict[str, Any]) -> None:
    body = cp1252_file(20, first_accent=0)
    ref = put(aws, "audiences/aud/excel.csv.gz", gzip.compress(body))
    outcome = aws["splitter"].split(ref, lambda: 1000.0)
    assert (outcome.status, outcome.encoding) == ("queued", "cp1252")
    got = pointers(aws)
    records = [record for p in got for record in records_of(aws, p)]
    assert records[:2] == [
        (2, {"id": "c0", "email": "p0@example.com", "name": "Müller"}),
        (3, {"id": "c1", "email": "p1@example.com", "name": "Pérez"}),
    ]
    assert records[-2:] == [(22, {}), (23, {})]  # the footers, staged as report_footer lines


def test_the_split_outcome_names_the_encoding(aws: dict[str, Any]) -> None:
    utf8 = put(aws, "audiences/aud/u.csv", "id,name\n1,Müller\n".encode())
    ascii_only = put(aws, "audiences/aud/a.csv", b"id,name\n1,Smith\n")
    assert aws["splitter"].split(utf8, lambda: 1000.0).encoding == "utf-8"
    assert aws["splitter"].split(ascii_only, lambda: 1000.0).encoding == "utf-8"
