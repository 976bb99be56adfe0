"""Chunk pointers: the SQS message that tells a worker which records to process.

A pointer carries where the records are (a byte range of the original object, pinned to its
version/ETag, or a staged chunk object), how to read them (format, delimiter, header column
names, text encoding), which line the chunk starts at, how many records it holds, and where
they go. It never carries a record value.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from adm_ingest.destinations import Target
from adm_ingest.model import Kind

MESSAGE_VERSION = 1


def file_id_for(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Deterministic from the object's identity, so a redelivered S3 event maps to the same
    file (and the same chunk ids) instead of a second set of work."""
    identity = f"{bucket}\x00{key}\x00{version_id or ''}\x00{(etag or '').strip(chr(34))}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SourceLayout:
    """How to read the chunk's bytes."""

    format: str
    """``csv`` or ``jsonl`` (staged chunks are always ``jsonl``)."""
    delimiter: str | None = None
    header: tuple[str, ...] | None = None
    """CSV column names (a mid-file range has no header row of its own)."""
    encoding: str = "utf-8"
    """The CSV text encoding the file's scan settled on (a message without one: UTF-8)."""


@dataclass(frozen=True, slots=True)
class ChunkPointer:
    """One unit of work for a worker."""

    file_id: str
    index: int
    bucket: str
    key: str
    kind: Kind
    target_name: str
    target_id: str
    layout: SourceLayout
    first_line: int
    records: int
    version_id: str | None = None
    etag: str | None = None
    byte_range: tuple[int, int] | None = None
    """``[start, end)`` byte offsets of the chunk in the original object."""
    staged_key: str | None = None
    """A staged plain chunk object (for gzip and JSON-array input)."""
    mapping_prefix: str = ""
    default_country: str = "US"
    default_country_source: str = "deployment_default"
    """Where ``default_country`` came from: ``dataset`` (the audience's registered country) or
    ``deployment_default`` (the ``DEFAULT_COUNTRY`` setting); see ``consent.CountrySource``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chunk_id(self) -> str:
        return f"{self.file_id}:{self.index:06d}"

    @property
    def target(self) -> Target:
        return Target(self.kind, self.target_name, self.target_id)

    def to_message(self) -> str:
        body = asdict(self)
        body["v"] = MESSAGE_VERSION
        body["chunk_id"] = self.chunk_id
        return orjson.dumps(body).decode()

    @classmethod
    def from_message(cls, body: str | bytes) -> ChunkPointer:
        data = orjson.loads(body)
        layout = data.pop("layout")
        data.pop("v", None)
        data.pop("chunk_id", None)
        header = layout.get("header")
        return cls(
            **{
                **data,
                "kind": Kind(data["kind"]),
                "layout": SourceLayout(
                    format=layout["format"],
                    delimiter=layout.get("delimiter"),
                    header=tuple(header) if header is not None else None,
                    encoding=layout.get("encoding") or "utf-8",
                ),
                "byte_range": tuple(data["byte_range"]) if data.get("byte_range") else None,
            }
        )
