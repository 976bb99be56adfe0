"""The dry-run cuts a file into chunks exactly where the splitter cuts it (by records and by
source bytes), for range-read files (plain CSV, JSON Lines) and staged ones (gzip, JSON
arrays) — so a destination that uploads one file per chunk sees the same files in both."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.destinations import ChunkSize
from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.readers import RecordBlock, open_records
from adm_ingest.records import Rejection
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_local.dryrun_chunks import chunk_starts, split_items
from adm_local.resources import create_ledger_table, create_registry_table

BUCKET = "chunks-test"
SIZE = ChunkSize(records=7, bytes=300)


@pytest.fixture
def splitter(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Splitter, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_ledger_table(boto3.client("dynamodb"), "ledger")
        create_registry_table(boto3.client("dynamodb"), "registry")
        registry = Registry("registry")
        registry.put("audience", "aud", "DS-1", country="US")
        ledger = Ledger("ledger")
        queue = sqs.create_queue(QueueName="chunks")["QueueUrl"]
        yield (
            Splitter(
                s3=s3,
                sqs=sqs,
                ledger=ledger,
                registry=registry,
                finalizer=Finalizer(ledger, ReportWriter(s3, BUCKET)),
                chunk_queue_url=queue,
                split_queue_url=sqs.create_queue(QueueName="splits")["QueueUrl"],
                chunk_size=lambda _destination: SIZE,
            ),
            (s3, sqs, queue),
        )


def splitter_starts(splitter: tuple[Splitter, Any], name: str, body: bytes) -> list[int]:
    """The first line of every chunk but the first, as the splitter queued them."""
    split, (s3, sqs, queue) = splitter
    key = f"audiences/aud/{name}"
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    ref = ObjectRef(BUCKET, key, put.get("VersionId"), put["ETag"].strip('"'), len(body))
    assert split.split(ref, lambda: 900.0).status != "error"
    pointers = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            pointers.append(ChunkPointer.from_message(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    pointers.sort(key=lambda pointer: pointer.index)
    return [pointer.first_line for pointer in pointers[1:]]


def rows(count: int) -> list[dict[str, str]]:
    # Uneven record sizes, so byte cuts and record cuts both happen.
    return [{"email": f"user{n}@example.com", "note": "x" * (n % 9 * 7)} for n in range(count)]


def csv_bytes(records: list[dict[str, str]]) -> bytes:
    return ("email,note\n" + "".join(f"{r['email']},{r['note']}\n" for r in records)).encode()


FILES = {
    "plain.csv": lambda records: csv_bytes(records),
    "lines.jsonl": lambda records: b"".join(json.dumps(r).encode() + b"\n" for r in records),
    "packed.csv.gz": lambda records: gzip.compress(csv_bytes(records)),
    "array.json": lambda records: json.dumps(records, indent=1).encode(),
}


@pytest.mark.parametrize("name", FILES)
def test_chunks_start_at_the_lines_the_splitter_starts_them(
    name: str, splitter: tuple[Splitter, Any], tmp_path: Path
) -> None:
    body = FILES[name](rows(60))
    path = tmp_path / name
    path.write_bytes(body)

    starts = chunk_starts(path, SIZE, max_depth=64)

    assert len(starts) >= 6  # the cuts are exercised, not one chunk
    assert starts == splitter_starts(splitter, name, body)


def test_split_items_cuts_blocks_at_the_starts_and_keeps_every_item_once(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_bytes(csv_bytes(rows(40)) + b"only-one-field\n")  # line 42: a reader rejection
    starts = chunk_starts(path, ChunkSize(records=10), max_depth=64)
    assert starts == [12, 22, 32, 42]

    with path.open("rb") as stream:
        chunks = [list(chunk) for chunk in split_items(open_records(stream), starts)]

    lines = [
        [
            line
            for item in chunk
            for line in (item.lines if isinstance(item, RecordBlock) else [item.line])
        ]
        for chunk in chunks
    ]
    assert lines == [list(range(2, 12)), *(list(range(s, s + 10)) for s in starts[:-1]), [42]]
    assert type(chunks[-1][0]) is Rejection
