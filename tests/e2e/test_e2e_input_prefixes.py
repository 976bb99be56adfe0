"""The local stack notifies the splitter for exactly the declared input prefixes.

``adm_ingest.pipeline.routing.INPUT_PREFIXES`` is the one declaration; template.yaml is held to
it by ``tests/test_template.py``, and the local stack is checked here by what its bucket does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest

from adm_ingest.pipeline.routing import INPUT_PREFIXES
from adm_ingest.report import OUTPUT_PREFIXES
from adm_local.stack import LocalStack


@pytest.fixture(scope="module")
def bare_stack() -> Iterator[LocalStack]:
    with LocalStack() as local:  # provisioned, no setup run: nothing here reaches ADM
        yield local


def test_the_bucket_has_one_notification_per_declared_input_prefix(bare_stack: LocalStack) -> None:
    s3 = bare_stack.client("s3")
    configuration = s3.get_bucket_notification_configuration(Bucket=bare_stack.names.bucket)
    prefixes = [
        rule["Value"]
        for queue in configuration["QueueConfigurations"]
        for rule in queue["Filter"]["Key"]["FilterRules"]
        if rule["Name"] == "prefix"
    ]
    assert sorted(prefixes) == sorted(INPUT_PREFIXES)


def test_only_keys_under_an_input_prefix_reach_the_splitter(bare_stack: LocalStack) -> None:
    inputs = [f"{prefix}notified/file.csv" for prefix in INPUT_PREFIXES]
    others = [f"{prefix}quiet/file.csv" for prefix in OUTPUT_PREFIXES] + ["elsewhere/file.csv"]
    for key in inputs + others:
        bare_stack.drop(key, b"id\n1\n")

    notified = []
    while messages := bare_stack.receive(bare_stack.names.s3_events_queue):
        for message in messages:
            body = json.loads(message["Body"])
            notified += [unquote_plus(r["s3"]["object"]["key"]) for r in body.get("Records", [])]
            bare_stack.client("sqs").delete_message(
                QueueUrl=bare_stack.queue_url(bare_stack.names.s3_events_queue),
                ReceiptHandle=message["ReceiptHandle"],
            )
    assert sorted(notified) == sorted(inputs)
