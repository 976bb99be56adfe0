"""Fixtures the unit tests of the ledger share."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from adm_ingest.ledger import Ledger
from adm_local.resources import create_ledger_table

LEDGER_TABLE = "ledger"


@pytest.fixture
def moto_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A :class:`Ledger` on an empty table of moto's DynamoDB (the table the stack creates)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_ledger_table(dynamodb.meta.client, LEDGER_TABLE)
        yield Ledger(LEDGER_TABLE, dynamodb=dynamodb)
