"""A file's mapping is validated once, at split time, and pinned: every chunk uses that version.

The splitter stores the validated mapping (canonical JSON) and its content hash on the file's
ledger item and puts the hash into every chunk pointer; the worker maps each chunk with exactly
that version, read from the ledger once per warm worker and checked against the hash — never
the registry's current mapping. A mapping the registry holds that can't be right (a default
country or consent value, a decimal mark, a time zone, a date order) is one file-level error
before any chunk is queued, instead of every chunk retried into the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest import registry as names
from adm_ingest.clients import no_clients
from adm_ingest.ledger import Ledger
from adm_ingest.mapping_config import MappingConfig, MappingMismatch, PinnedMapping
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.continuation import SplitContinuation
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.sources import ObjectRef
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.pipeline.worker import ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_local.resources import create_ledger_table, create_registry_table

BUCKET = "pinned-test"
PREFIX = "audiences/aud"
KEY = f"{PREFIX}/crm.csv"
ROWS = 40
MAPPED = {"columns": {"Kontakt": "email"}, "defaults": {"country": "US"}}
""""Kontakt" is no column name auto-detection knows: only this mapping makes it an email."""
CHANGED = {"columns": {"Kontakt": "external_id"}}
"""What a setup re-run registers while the file is being split and processed."""


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
        registry.put(names.AUDIENCE, "aud", "DS-1", country="US")
        ledger = Ledger("ledger")
        finalizer = Finalizer(ledger, ReportWriter(s3, BUCKET))
        splitter = Splitter(
            s3=s3, sqs=sqs, ledger=ledger, registry=registry, finalizer=finalizer,
            chunk_queue_url=chunks, split_queue_url=splits, records_per_chunk=5,
            margin_seconds=1.0, clock_bytes=256, clock_grace_bytes=0,
        )  # fmt: skip
        worker = ChunkWorker(
            s3=s3, ledger=ledger, registry=registry, finalizer=finalizer, clients=no_clients
        )  # never sends: chunks run with send=False
        yield {"s3": s3, "sqs": sqs, "chunks": chunks, "splits": splits, "ledger": ledger,
               "registry": registry, "splitter": splitter, "worker": worker}  # fmt: skip


def register_mapping(aws: dict[str, Any], config: dict[str, Any]) -> None:
    """As the setup workflow's SaveRegistry writes it."""
    document = json.dumps(config, sort_keys=True, separators=(",", ":"))
    aws["registry"].put(names.MAPPING, PREFIX, "m-" + str(len(document)), config=document)


def put_file(aws: dict[str, Any]) -> ObjectRef:
    body = "id,Kontakt\n" + "".join(f"c{i},person{i}@example.com\n" for i in range(ROWS))
    response = aws["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=body.encode())
    return ObjectRef(BUCKET, KEY, response.get("VersionId"), response["ETag"].strip('"'), len(body))


def drain(aws: dict[str, Any], queue: str) -> list[str]:
    bodies = []
    while (
        messages := aws["sqs"]
        .receive_message(QueueUrl=aws[queue], MaxNumberOfMessages=10)
        .get("Messages", [])
    ):
        for message in messages:
            bodies.append(message["Body"])
            aws["sqs"].delete_message(QueueUrl=aws[queue], ReceiptHandle=message["ReceiptHandle"])
    return bodies


def pointers(aws: dict[str, Any]) -> list[ChunkPointer]:
    found = (ChunkPointer.from_message(body) for body in drain(aws, "chunks"))
    return sorted(found, key=lambda p: p.index)


def emails_mapped(aws: dict[str, Any], chunks: list[ChunkPointer]) -> int:
    worker: ChunkWorker = aws["worker"]
    return sum(worker.run(p, [], send=False).coverage.valid["email"] for p in chunks)


def test_the_split_pins_the_validated_mapping_and_every_pointer_names_it(
    aws: dict[str, Any],
) -> None:
    register_mapping(aws, MAPPED)
    outcome = aws["splitter"].split(put_file(aws), lambda: 1000.0)
    assert outcome.status == "queued"
    file = aws["ledger"].get_file(outcome.file_id)
    assert file is not None
    pinned = file.pinned_mapping()
    assert pinned == PinnedMapping.of(PREFIX, MappingConfig.from_dict(MAPPED))
    assert file.mapping_hash == pinned.content_hash and file.mapping_prefix == PREFIX
    chunks = pointers(aws)
    assert len(chunks) == ROWS // 5
    assert {p.mapping_hash for p in chunks} == {pinned.content_hash}
    assert {p.mapping_prefix for p in chunks} == {PREFIX}


def test_a_setup_re_run_mid_file_changes_nothing_for_the_files_remaining_chunks(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    register_mapping(aws, MAPPED)
    calls = {"n": 0}

    def time_left() -> float:  # every other look at the clock: out of time
        calls["n"] += 1
        return 0.0 if calls["n"] % 2 == 0 else 1000.0

    outcome = aws["splitter"].split(put_file(aws), time_left)
    assert outcome.status == "continued"
    first_part = pointers(aws)
    # The setup workflow runs again while the file is half split…
    register_mapping(aws, CHANGED)
    continuations = 0
    while outcome.status == "continued":
        (message,) = drain(aws, "splits")
        outcome = aws["splitter"].handle_continuation(
            SplitContinuation.from_message(message), time_left
        )
        continuations += 1
    assert outcome.status == "queued" and continuations >= 1
    rest = pointers(aws)
    assert first_part and rest
    chunks = first_part + rest
    pinned = PinnedMapping.of(PREFIX, MappingConfig.from_dict(MAPPED))
    assert {p.mapping_hash for p in chunks} == {pinned.content_hash}

    # …and while its chunks are processed: the worker never asks the registry.
    monkeypatch.setattr(
        aws["registry"], "get", lambda *_: pytest.fail("the worker read the registry")
    )
    assert emails_mapped(aws, chunks) == ROWS  # every chunk mapped "Kontakt" → email


def test_a_warm_worker_reads_a_pinned_mapping_once_and_checks_its_hash(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    register_mapping(aws, MAPPED)
    aws["splitter"].split(put_file(aws), lambda: 1000.0)
    chunks = pointers(aws)
    ledger: Ledger = aws["ledger"]
    reads = {"n": 0}
    get_file = ledger.get_file

    def counting_get_file(file_id: str) -> Any:
        reads["n"] += 1
        return get_file(file_id)

    monkeypatch.setattr(ledger, "get_file", counting_get_file)
    assert emails_mapped(aws, chunks) == ROWS
    assert reads["n"] == 1  # the other chunks take it from the cache, by hash

    # A pointer naming another version than the file pinned: refused, never guessed.
    other = PinnedMapping.of(PREFIX, MappingConfig.from_dict(CHANGED)).content_hash
    with pytest.raises(MappingMismatch):
        aws["worker"].run(replace(chunks[0], mapping_hash=other), [], send=False)


def test_a_file_without_a_registered_mapping_pins_auto_detection(aws: dict[str, Any]) -> None:
    outcome = aws["splitter"].split(put_file(aws), lambda: 1000.0)
    file = aws["ledger"].get_file(outcome.file_id)
    assert file is not None
    assert file.pinned_mapping() == PinnedMapping.of("", None)
    register_mapping(aws, MAPPED)  # registered after the split began: not this file's
    chunks = pointers(aws)
    assert emails_mapped(aws, chunks) == 0  # "Kontakt" is not detected without a mapping


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"defaults": {"country": "XX"}}, "defaults['country']: 'XX' is not a known country"),
        ({"defaults": {"amzn_ad_storage": "MAYBE"}}, "defaults['amzn_ad_storage']"),
        ({"decimal": ";"}, "'decimal' must be"),
        ({"timezone": "Mars/Olympus"}, "'timezone'"),
        ({"date_order": "dmy"}, "'date_order' must be"),
        ({"columns": {"Kontakt": "emial"}}, "unknown target field 'emial'"),
    ],
)
def test_a_mapping_with_a_bad_value_is_one_file_level_error_before_any_chunk(
    aws: dict[str, Any], config: dict[str, Any], named: str
) -> None:
    register_mapping(aws, config)
    outcome = aws["splitter"].split(put_file(aws), lambda: 1000.0)
    assert outcome.status == "error" and outcome.chunks == 0
    assert outcome.error is not None and outcome.error.startswith("invalid column mapping: ")
    assert named in outcome.error
    assert drain(aws, "chunks") == []
    file = aws["ledger"].get_file(outcome.file_id)
    assert file is not None and file.error == outcome.error
    assert file.status == "error"  # reported at once: nothing was queued to wait for
