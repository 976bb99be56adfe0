"""Chunk pointers on SQS carry nothing read from the file, and are still enough to read it.

Every message the splitter sends for a CSV file — chunk pointers and its own continuation
messages — and the split checkpoint it keeps in the ledger are inspected for the file's column
names and values (issue #10, item 7). The worker reads the header from the object itself (one
small ranged GET per file while it stays warm) and processes every chunk exactly as it did
when the message carried the header (a version-1 message, which it still reads).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from adm_ingest.clients import no_clients
from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.pipeline.worker import ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_local.resources import create_ledger_table, create_registry_table

BUCKET = "pointers-test"

COLUMNS = ["Quillfeather Kundennummer", "E-Mail Zebulon", "Mobile", "Wolverhampton Notiz"]
"""Column names nobody else would write (two of them are detected: e-mail and mobile)."""


def crm_file(rows: int, *, bom: bool = True, encoding: str = "utf-8") -> tuple[bytes, list[str]]:
    values = []
    lines = [";".join(f'"{name}"' if " " in name else name for name in COLUMNS)]
    for i in range(rows):
        row = [f"ravensworth-{i:04d}", f"thistlewood{i}@obscure-mail.example",
               f"+1 571 412 {i:04d}", '"Krähenbühl\nzweite Zeile"' if i % 9 == 0 else "Grüße"]  # fmt: skip
        values += row[:3]
        lines.append(";".join(row))
    body = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return (b"\xef\xbb\xbf" + body if bom else body), values


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
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
        finalizer = Finalizer(ledger, ReportWriter(s3, BUCKET))
        splitter = Splitter(
            s3=s3, sqs=sqs, ledger=ledger, registry=registry, finalizer=finalizer,
            chunk_queue_url=chunks, split_queue_url=splits, records_per_chunk=7,
            margin_seconds=1.0,
            clock_bytes=2048, clock_grace_bytes=0,  # a small file continues, gzip included
        )  # fmt: skip
        worker = ChunkWorker(
            s3=s3, ledger=ledger, registry=registry, finalizer=finalizer, clients=no_clients
        )  # never sends: the tests run chunks with send=False
        yield {"s3": s3, "sqs": sqs, "chunks": chunks, "splits": splits, "ledger": ledger,
               "splitter": splitter, "worker": worker}  # fmt: skip


def drain(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def put(aws: dict[str, Any], key: str, body: bytes) -> ObjectRef:
    response = aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
    return ObjectRef(BUCKET, key, response.get("VersionId"), response["ETag"].strip('"'), len(body))


def split_in_steps(aws: dict[str, Any], ref: ObjectRef) -> dict[str, list[str]]:
    """Split ``ref`` one batch of ten chunks per invocation; everything the splitter wrote."""
    sent: dict[str, list[str]] = {"chunk messages": [], "continuations": [], "checkpoints": []}
    outcome = aws["splitter"].split(ref, lambda: 0.0)
    while outcome.status == "continued":
        saved = aws["ledger"].get_file(outcome.file_id)["split_checkpoint"]
        sent["checkpoints"].append(orjson.dumps(saved, default=str).decode())
        (message,) = drain(aws["sqs"], aws["splits"])
        sent["continuations"].append(message)
        sent["chunk messages"] += drain(aws["sqs"], aws["chunks"])
        outcome = aws["splitter"].handle_continuation(orjson.loads(message), lambda: 0.0)
    assert outcome.status == "queued", outcome.error
    sent["chunk messages"] += drain(aws["sqs"], aws["chunks"])
    return sent


@pytest.mark.parametrize("compressed", [False, True], ids=["range-read", "staged gzip"])
def test_no_message_or_checkpoint_holds_a_column_name_or_value(
    aws: dict[str, Any], compressed: bool
) -> None:
    body, values = crm_file(150)
    ref = put(aws, "audiences/aud/crm.csv", gzip.compress(body) if compressed else body)
    sent = split_in_steps(aws, ref)
    # ≥ ceil(150 / 7): a continuation may cut a chunk short (time is checked on bytes).
    assert len(sent["chunk messages"]) >= 22
    assert len(sent["continuations"]) >= 2 and len(sent["checkpoints"]) >= 2
    words = {word for name in COLUMNS for word in name.split()}
    for where, bodies in sent.items():
        for text in bodies:
            for secret in (*COLUMNS, *words, *values, "Krähenbühl", "Grüße"):
                assert secret.lower() not in text.lower(), f"{secret!r} in {where}"
    for message in map(orjson.loads, sent["chunk messages"]):
        assert message["v"] == 2 and "header" not in message["layout"]
        assert (message["layout"]["header_range"] is None) is compressed


@pytest.mark.parametrize(
    ("bom", "encoding"), [(True, "utf-8"), (False, "utf-8"), (False, "cp1252")]
)
def test_the_worker_reads_each_chunk_as_it_did_when_the_message_carried_the_header(
    aws: dict[str, Any], bom: bool, encoding: str
) -> None:
    body, _ = crm_file(60, bom=bom, encoding=encoding)
    ref = put(aws, "audiences/aud/crm.csv", body)
    assert aws["splitter"].split(ref, lambda: 1000.0).status == "queued"
    pointers = sorted(
        map(ChunkPointer.from_message, drain(aws["sqs"], aws["chunks"])), key=lambda p: p.index
    )
    assert len(pointers) == 9 and all(p.layout.encoding == encoding for p in pointers)
    ranged_gets = []
    aws["s3"].meta.events.register(
        "provide-client-params.s3.GetObject",
        lambda params, **_: ranged_gets.append(params.get("Range")),
    )
    worker: ChunkWorker = aws["worker"]
    header = tuple(COLUMNS)
    for pointer in pointers:
        assert pointer.layout.header is None and pointer.layout.header_range is not None
        # What a version-1 message said: the same pointer with the header's names.
        v1 = replace(pointer, layout=SourceLayout(
            pointer.layout.format, pointer.layout.delimiter, header, pointer.layout.encoding
        ))  # fmt: skip
        now, before = worker.run(pointer, [], send=False), worker.run(v1, [], send=False)
        assert now.summary() == before.summary()
        assert now.fates == before.fates and now.read == pointer.records
    assert sum(now.read for now in [worker.run(p, [], send=False) for p in pointers]) == 60
    start, end = pointers[0].layout.header_range
    header_gets = [r for r in ranged_gets if r == f"bytes={start}-{end - 1}"]
    assert header_gets == [header_gets[0]]  # one GET of the header for the whole file
    assert start == (3 if bom else 0)
