"""The splitter's continuation message is versioned like the chunk messages: version 1 (and
the unversioned shape written before it) is read, anything else is refused, naming at most the
version; the splitter's handler counts a refused one as poison and drops it."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from adm_ingest.pipeline.chunks import UnsupportedMessage
from adm_ingest.pipeline.continuation import (
    CONTINUATION_VERSION,
    SplitCheckpoint,
    SplitContinuation,
)
from adm_ingest.pipeline.sources import ObjectRef
from adm_local.functions import load_function
from adm_local.resources import create_ledger_table, create_registry_table
from adm_local.stepfunctions import LocalLambdaContext

CONTINUATION = SplitContinuation(
    file_id="c" * 32,
    object=ObjectRef("bucket", "audiences/vip/big.csv.gz", "v7", "etag", 10**9),
    checkpoint=SplitCheckpoint(
        chunk_index=12,
        records=60_000,
        layout={"format": "csv", "delimiter": ";", "encoding": None},
        source={"offset": 123_456, "line": 60_002, "compressed": True, "format": "csv"},
    ),
)


def test_a_continuation_survives_its_message_round_trip() -> None:
    message = CONTINUATION.to_message()
    assert SplitContinuation.from_message(message) == CONTINUATION
    assert orjson.loads(message)["v"] == CONTINUATION_VERSION == 1


def test_an_unversioned_continuation_of_the_previous_release_is_still_read() -> None:
    old = orjson.loads(CONTINUATION.to_message())
    del old["v"]
    assert SplitContinuation.from_message(orjson.dumps(old)) == CONTINUATION


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"v": 2}, "unsupported continuation message version 2"),
        ({"v": "1"}, "unsupported continuation message version$"),
        ({"checkpoint": {"chunk_index": 1, "secret": "zelda@example.com"}}, "malformed"),
        ({"object": {"bucket": "b"}}, "malformed"),
        ({"checkpoint": None}, "malformed"),
    ],
)
def test_an_unreadable_continuation_is_refused_naming_no_content(
    change: dict[str, Any], error: str
) -> None:
    body = {**orjson.loads(CONTINUATION.to_message()), **change}
    with pytest.raises(UnsupportedMessage, match=error) as raised:
        SplitContinuation.from_message(orjson.dumps(body))
    assert "zelda" not in str(raised.value)
    for junk in (b"not json", b"[1]"):
        with pytest.raises(UnsupportedMessage):
            SplitContinuation.from_message(junk)


def test_the_splitter_drops_an_unreadable_continuation_as_counted_poison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "BUCKET": "bucket",
        "LEDGER_TABLE": "ledger",
        "REGISTRY_TABLE": "registry",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_ledger_table(dynamodb, "ledger")
        create_registry_table(dynamodb, "registry")
        app = load_function("splitter")
        body = orjson.dumps({**orjson.loads(CONTINUATION.to_message()), "v": 9}).decode()
        record = {"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:r:1:splits",
                  "body": body}  # fmt: skip
        result = app.lambda_handler({"Records": [record]}, LocalLambdaContext("splitter"))
        assert result == {"files": []}
        item = dynamodb.get_item(
            TableName="ledger", Key={"pk": {"S": "POISON#splits"}, "sk": {"S": "poison"}}
        )["Item"]
        assert item["kind_unreadable_continuation"] == {"N": "1"}
        assert "big.csv" not in str(item)
