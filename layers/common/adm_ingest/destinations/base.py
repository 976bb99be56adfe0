"""The one small interface every destination implements.

A destination knows three things about its API call: how to turn a prepared record into one
request item (or a rejection), how items are wrapped and limited in a request body, and how to
send a body and read back which items the API refused. The splitter, worker, dry-run and ledger
only ever talk to this interface — they never branch on the destination.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import orjson

from adm_ingest.batching import MAX_REQUEST_BYTES, BodyBatcher
from adm_ingest.record_rules import AMAZON_RULES, RecordRules
from adm_ingest.records import Kind, PreparedRecord, Rejection


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """Where a file's records go: the resolved ADM id (dataSetId / conversionDefinitionId; empty
    for identity deletions) and the human name it was resolved from."""

    kind: Kind
    name: str = ""
    id: str = ""


@dataclass(slots=True)
class Delivery:
    """What the API said about one request: 0-based item index → rejection reason code for each
    refused item (every other item was accepted), plus ids to trace the request."""

    status: int
    rejected: dict[int, str] = field(default_factory=dict)
    request_id: str | None = None
    ingress_id: str | None = None


class AdmApi(Protocol):
    """The slice of :class:`adm_ingest.adm.AdmClient` the destinations use."""

    def ingest_members(self, data_set_id: str, body: bytes | Mapping[str, Any]) -> Any: ...
    def ingest_conversion_events(self, body: bytes | Mapping[str, Any]) -> Any: ...
    def delete_identities(self, body: bytes | Mapping[str, Any]) -> Any: ...


class Destination(ABC):
    """Base class: subclasses set the class constants and implement :meth:`build` and
    :meth:`send`."""

    kind: ClassVar[Kind]
    content_type: ClassVar[str]
    max_items: ClassVar[int]
    max_bytes: ClassVar[int] = MAX_REQUEST_BYTES
    rules: ClassVar[RecordRules] = AMAZON_RULES
    """Which fields the destination takes, how PII is hashed, whether consent is required."""
    reads_values: ClassVar[bool] = False
    """Whether the destination reads money / units / timestamps, and so is built with the
    file's :class:`~adm_ingest.values.ParseOptions` (``__init__(target, options=…)``)."""

    def __init__(self, target: DeliveryTarget) -> None:
        self.target = target
        self.notes: Counter[str] = Counter()
        """File-level observations (e.g. ``naive_timestamp_as_utc``) the report turns into
        warnings: counts only, never values."""

    @abstractmethod
    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        """One request item for ``record``, or why it can't be sent."""

    @abstractmethod
    def envelope(self) -> tuple[bytes, bytes]:
        """The serialized body around the items: ``(prefix, suffix)``."""

    @abstractmethod
    def send(self, client: AdmApi, body: bytes) -> Delivery:
        """POST one body; map per-item errors to 0-based indexes."""

    def batcher(self) -> BodyBatcher:
        prefix, suffix = self.envelope()
        return BodyBatcher(prefix, suffix, max_items=self.max_items, max_bytes=self.max_bytes)

    @staticmethod
    def serialize(item: Mapping[str, Any]) -> bytes:
        return orjson.dumps(item)

    def encode(self, record: PreparedRecord) -> bytes | Rejection:
        """The serialized request item for ``record`` — exactly ``serialize(build(record))`` —
        or why it can't be sent. The record path calls this; a destination may override it
        with a faster encoding, which must stay byte-identical to that reference."""
        item = self.build(record)
        return item if type(item) is Rejection else orjson.dumps(item)


MAX_API_CODE = 64
"""Characters of an API error code kept in a reason code."""
_UNSAFE_IN_CODE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_code(code: str) -> str:
    """An API-supplied error code as part of a reason code: at most :data:`MAX_API_CODE`
    characters of ``[A-Za-z0-9_.-]``, any other character replaced by ``_``. Reason codes are
    map keys in the ledger and the report and cells of ``rejects.csv``: whatever the API says,
    they stay short, plain and free of separators, line breaks and formula characters."""
    return _UNSAFE_IN_CODE.sub("_", code[:MAX_API_CODE])


def error_reason(code: str | None) -> str:
    """The rejection reason recorded for an item the API refused."""
    return f"adm_{safe_code(code)}" if code else "adm_rejected"


def refusal_reason(status: int, code: str | None) -> str:
    """The failure reason recorded for a batch the API refused as a whole."""
    return f"adm_{int(status)}_{safe_code(code)}" if code else f"adm_{int(status)}"
