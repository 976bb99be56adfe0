"""The dead-letter recorder never loops: poison is counted and removed, chunks are failed.

A message in the chunk dead-letter queue that names no chunk of a registered file — not JSON,
another message version, missing fields, an S3 event or a split continuation — is recorded as
poison (a ledger counter per queue and kind, a SHA-256 of its first 64 bytes, never the bytes)
and reported to the batch processor as handled, so it leaves the queue; a chunk pointer is
failed in its file's ledger as before. One message's trouble never fails its batch neighbours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from adm_ingest.clients import no_clients
from adm_ingest.ledger import FileEntry, Ledger
from adm_ingest.outcomes import Tally
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout
from adm_ingest.pipeline.deadletter import (
    PoisonMessage,
    handle_dead_letter,
    read_dead_letter,
)
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.worker import ChunkResult, ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter, report_key
from adm_local.functions import load_function
from adm_local.resources import create_ledger_table, create_registry_table
from adm_local.stepfunctions import LocalLambdaContext

BUCKET = "adm-ingest-deadletter"
QUEUE = "adm-ingest-chunks-dlq"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"
FILE_ID = "d" * 32
KEY = "audiences/vip/gone.csv"
SECRET_LOOKING = "jane.doe@example.com,+44 7700 900123,Jane,Doe"

POINTER = ChunkPointer(
    file_id=FILE_ID,
    index=0,
    bucket=BUCKET,
    key=KEY,
    destination="audience_members",
    target_name="vip",
    target_id="DS-1",
    layout=SourceLayout("csv", ",", header_range=(0, 32)),  # the object is gone: never read
    first_line=2,
    records=3,
)

POISON: dict[str, str] = {
    "not_json": SECRET_LOOKING,
    "not_an_object": '["a", "list"]',
    "s3_event": orjson.dumps(
        {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": KEY}}}]}
    ).decode(),
    "split_continuation": orjson.dumps(
        {"object": {"bucket": BUCKET, "key": KEY}, "checkpoint": {}, "file_id": FILE_ID}
    ).decode(),
    "wrong_version": orjson.dumps({**orjson.loads(POINTER.to_message()), "v": 99}).decode(),
    "invalid_pointer": orjson.dumps({"v": 1, "file_id": FILE_ID, "index": 0}).decode(),
    "invalid_pointer:records": replace(POINTER, records=10**12).to_message(),
    "invalid_pointer:kind": POINTER.to_message().replace("audience_members", "nonsense"),
}


@pytest.mark.parametrize("case", POISON)
def test_poison_is_classified_with_a_digest_of_its_first_64_bytes_only(case: str) -> None:
    body = POISON[case]
    found = read_dead_letter(body)
    assert isinstance(found, PoisonMessage)
    assert found.kind == case.split(":")[0]
    assert found.digest == hashlib.sha256(body.encode()[:64]).hexdigest()
    assert found.size == len(body.encode())


def test_a_chunk_pointer_is_read_as_one() -> None:
    assert read_dead_letter(POINTER.to_message()) == POINTER


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_ledger_table(dynamodb.meta.client, "ledger")
        create_registry_table(dynamodb.meta.client, "registry")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        ledger = Ledger("ledger", dynamodb=dynamodb)
        worker = ChunkWorker(
            s3=s3,
            ledger=ledger,
            registry=Registry("registry", dynamodb=dynamodb),
            finalizer=Finalizer(ledger, ReportWriter(s3, BUCKET)),
            clients=no_clients,  # the dead-letter path never calls the destination
        )
        yield {"s3": s3, "ledger": ledger, "worker": worker, "dynamodb": dynamodb}


def register(ledger: Ledger) -> None:
    ledger.register_file(
        FileEntry(FILE_ID, BUCKET, KEY, None, None, 10, "audience_members", "vip", "DS-1")
    )
    ledger.record_split(FILE_ID, chunks_total=1, records_total=3)


def poison_item(aws: dict[str, Any]) -> dict[str, Any]:
    item = (
        aws["dynamodb"]
        .Table("ledger")
        .get_item(Key={"pk": f"POISON#{QUEUE}", "sk": "poison"})
        .get("Item")
    )
    assert item is not None
    return dict(item)


def test_poison_is_counted_per_queue_and_kind_and_nothing_of_it_is_stored(
    aws: dict[str, Any],
) -> None:
    for body in POISON.values():
        assert isinstance(handle_dead_letter(aws["worker"], body, queue=QUEUE), PoisonMessage)
    item = poison_item(aws)
    assert item["messages"] == len(POISON)
    assert item["kind_invalid_pointer"] == 3 and item["kind_not_json"] == 1
    last = POISON["invalid_pointer:kind"].encode()
    assert item["last_digest"] == hashlib.sha256(last[:64]).hexdigest()
    stored = orjson.dumps(item, default=str).decode()
    for fragment in ("jane", "7700", "gone.csv", "audience_members"):
        assert fragment not in stored


def test_a_pointer_to_a_file_the_ledger_does_not_know_is_poison(aws: dict[str, Any]) -> None:
    found = handle_dead_letter(aws["worker"], POINTER.to_message(), queue=QUEUE)
    assert isinstance(found, PoisonMessage) and found.kind == "unknown_file"
    assert poison_item(aws)["kind_unknown_file"] == 1


def test_a_chunk_of_a_registered_file_is_failed_and_its_file_reported(
    aws: dict[str, Any],
) -> None:
    register(aws["ledger"])
    result = handle_dead_letter(aws["worker"], POINTER.to_message(), queue=QUEUE)
    assert isinstance(result, ChunkResult) and result.status == "failed"
    file = aws["ledger"].get_file(FILE_ID)
    assert file is not None and file["status"] == "complete_with_failures"
    assert file["failed"] == {"not_delivered": 3}  # never sent: the object is gone
    assert aws["s3"].head_object(Bucket=BUCKET, Key=report_key(KEY))


def test_a_chunk_counted_before_its_finalization_failed_is_finalized_now(
    aws: dict[str, Any],
) -> None:
    register(aws["ledger"])
    aws["ledger"].complete_chunk(FILE_ID, 0, _three_failed(), status="done")  # ...then a crash
    result = handle_dead_letter(aws["worker"], POINTER.to_message(), queue=QUEUE)
    assert isinstance(result, ChunkResult) and result.status == "already_done"
    assert aws["s3"].head_object(Bucket=BUCKET, Key=report_key(KEY))


def _three_failed() -> Tally:
    tally = Tally(read=3)
    tally.fail(range(2, 5), "not_delivered")
    return tally


# -- the handler: partial batch responses ---------------------------------------------------


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def test_the_handler_removes_poison_and_fails_only_the_message_that_failed(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "BUCKET": BUCKET,
        "LEDGER_TABLE": "ledger",
        "REGISTRY_TABLE": "registry",
        "POWERTOOLS_METRICS_NAMESPACE": "adm-ingest",
        "POWERTOOLS_SERVICE_NAME": "adm-ingest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    register(aws["ledger"])
    other = replace(POINTER, file_id="e" * 32)
    aws["ledger"].register_file(
        FileEntry(other.file_id, BUCKET, KEY, None, None, 1, "audience_members", "vip", "DS-1")
    )
    app = load_function("deadletter")
    original = app.runtime.worker.ledger.get_chunk

    def get_chunk(file_id: str, index: int) -> dict[str, Any] | None:
        if file_id == other.file_id:  # the ledger fails for this one message
            raise RuntimeError("ledger unavailable")
        return original(file_id, index)

    monkeypatch.setattr(app.runtime.worker.ledger, "get_chunk", get_chunk)
    event = {
        "Records": [
            sqs_record("m-poison", POISON["not_json"]),
            sqs_record("m-chunk", POINTER.to_message()),
            sqs_record("m-flaky", other.to_message()),
        ]
    }
    response = app.lambda_handler(event, LocalLambdaContext(function_name="deadletter"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-flaky"}]}
    assert poison_item(aws)["messages"] == 1
    file = aws["ledger"].get_file(FILE_ID)
    assert file is not None and file["status"] == "complete_with_failures"
