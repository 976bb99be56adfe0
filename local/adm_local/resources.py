"""The DynamoDB tables template.yaml declares, created on moto for local runs and tests.

Key schemas match template.yaml: the ledger is keyed ``pk`` + ``sk`` (file and chunk items),
the registry ``pk``, Powertools' idempotency table ``id``.
"""

from __future__ import annotations

from typing import Any


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
    create_table(dynamodb, name, "pk", "sk")


def create_registry_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, "pk")


def create_idempotency_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, "id")
