"""Where the operator's commands find a deployment: flags over the stack's outputs over the
functions' variables; a stack that does not exist is one clear error."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from adm_local.operator.aws import Resources, resources
from adm_local.operator.exits import USAGE, CliError

TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "BucketName": {"Value": "stack-bucket"},
        "LedgerTableName": {"Value": "stack-ledger"},
        "ChunkQueueUrl": {"Value": "https://sqs.example/chunks"},
        "RegistryTableName": {"Value": "stack-registry"},
    },
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("BUCKET", "LEDGER_TABLE", "CHUNK_QUEUE_URL", "ADM_INGEST_STACK"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="adm-ingest", TemplateBody=json.dumps(TEMPLATE)
        )
        yield


def args(**given: str | None) -> argparse.Namespace:
    return argparse.Namespace(
        **({"stack": None, "bucket": None, "table": None, "queue": None} | given)
    )


def test_the_stacks_outputs_with_flags_on_top(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKET", "env-bucket")
    assert resources(args(stack="adm-ingest", table="flag-ledger")) == Resources(
        bucket="stack-bucket",
        ledger_table="flag-ledger",
        chunk_queue_url="https://sqs.example/chunks",
    )
    monkeypatch.setenv("ADM_INGEST_STACK", "adm-ingest")
    assert resources(args()).bucket == "stack-bucket"


def test_the_functions_variables_without_a_stack(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKET", "env-bucket")
    monkeypatch.setenv("LEDGER_TABLE", "env-ledger")
    found = resources(args())
    assert (found.bucket, found.ledger_table, found.chunk_queue_url) == (
        "env-bucket",
        "env-ledger",
        "",
    )
    with pytest.raises(CliError, match=r"--queue \(or \$CHUNK_QUEUE_URL\)") as missing:
        found.need("bucket", "chunk_queue_url")
    assert missing.value.code == USAGE


def test_an_unknown_stack_is_one_error(aws: None) -> None:
    with pytest.raises(CliError, match="stack 'nope'"):
        resources(args(stack="nope"))
