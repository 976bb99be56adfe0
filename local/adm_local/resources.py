"""The DynamoDB tables and the file reports topic template.yaml declares, created on moto for
local runs and tests.

Key schemas match template.yaml: the ledger is keyed ``pk`` + ``sk`` (file and chunk items)
with the sparse finalizing index, the registry ``pk``, Powertools' idempotency table ``id``.
The topic gets an SQS subscription, so a local run can read what a subscriber would receive.
"""

from __future__ import annotations

from typing import Any

from adm_ingest.ledger import CLAIMED_AT_ATTRIBUTE, FINALIZING_ATTRIBUTE, FINALIZING_INDEX


def create_table(dynamodb: Any, name: str, hash_key: str, range_key: str | None = None) -> None:
    """Create an on-demand table with string keys, unless it already exists."""
    if name in dynamodb.list_tables().get("TableNames", []):
        return
    keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key else [])
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": kind} for k, kind in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def create_ledger_table(dynamodb: Any, name: str) -> None:
    """The ledger with its sparse finalizing index (as template.yaml's ``LedgerTable``)."""
    if name in dynamodb.list_tables().get("TableNames", []):
        return
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": FINALIZING_ATTRIBUTE, "AttributeType": "S"},
            {"AttributeName": CLAIMED_AT_ATTRIBUTE, "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": FINALIZING_INDEX,
                "KeySchema": [
                    {"AttributeName": FINALIZING_ATTRIBUTE, "KeyType": "HASH"},
                    {"AttributeName": CLAIMED_AT_ATTRIBUTE, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_registry_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, "pk")


def create_idempotency_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, "id")


def create_file_reports_topic(sns: Any, sqs: Any, name: str, queue_name: str) -> tuple[str, str]:
    """The file reports topic (template.yaml's ``FileReportsTopic``) and an SQS queue subscribed
    to it, envelopes kept (subject, attributes and message, as an SQS subscriber gets them).
    Returns the topic's ARN and the queue's URL."""
    topic_arn = str(sns.create_topic(Name=name)["TopicArn"])
    queue_url = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    return topic_arn, queue_url
