"""Chunk pointers: the SQS message that tells a worker which records to process.

A pointer carries where the records are (a byte range of the original object, pinned to its
version/ETag, or a staged chunk object), how to read them (format, delimiter, text encoding and,
for a CSV range, the byte range of the file's header line), which line the chunk starts at, how
many records it holds, and where they go. It never carries anything read from the file: not a
record value, not a column name (a headerless file's first record would be read as one). The
worker range-GETs the header line itself.

Message versions (``"v"``): **2** (written now) has ``layout.header_range`` and never a
``layout.header``; **1** (written before) carried the header's names in ``layout.header`` and is
still read, so chunks queued before a deploy are processed after it. Anything else is refused
with :class:`UnsupportedMessage` (a poison message: the dead-letter path accounts for it).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from adm_ingest.destinations import DeliveryTarget, destination_class

MESSAGE_VERSION = 2
READABLE_VERSIONS = frozenset({1, 2})
"""Versions :meth:`ChunkPointer.from_message` reads (1: before the header left the message)."""


class UnsupportedMessage(ValueError):
    """A chunk message this code can't read: an unknown version, or not a chunk pointer. The
    text names the version at most, never the message's content."""


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
    """CSV column names, as a version-1 message carried them; ``None`` in every pointer the
    splitter makes now (see :attr:`header_range`)."""
    encoding: str = "utf-8"
    """The CSV text encoding the file's scan settled on (a message without one: UTF-8)."""
    header_range: tuple[int, int] | None = None
    """``[start, end)`` of the CSV header line in the original object (after a BOM): a mid-file
    range has no header row of its own, so the worker reads the names from these bytes
    (``readers.read_header``). ``None`` for JSON Lines and staged chunks."""


@dataclass(frozen=True, slots=True)
class ChunkPointer:
    """One unit of work for a worker."""

    file_id: str
    index: int
    bucket: str
    key: str
    destination: str
    """The destination's name (:attr:`~adm_ingest.destinations.Destination.name`)."""
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
    session: dict[str, str] = field(default_factory=dict)
    """The file's session with its destination (remote ids ``open_file`` returned; ``{}`` for
    ADM's destinations)."""
    default_country: str = "US"
    default_country_source: str = "deployment_default"
    """Where ``default_country`` came from: ``dataset`` (the audience's registered country) or
    ``deployment_default`` (the ``DEFAULT_COUNTRY`` setting); see ``consent.CountrySource``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chunk_id(self) -> str:
        return f"{self.file_id}:{self.index:06d}"

    @property
    def target(self) -> DeliveryTarget:
        return DeliveryTarget(self.destination, self.target_name, self.target_id)

    def to_message(self) -> str:
        """The version-:data:`MESSAGE_VERSION` message body.

        Raises:
            ValueError: the layout carries column names (only a version-1 message had them).
        """
        if self.layout.header is not None:
            raise ValueError("a chunk message carries no column names: give a header_range")
        body = asdict(self)
        del body["layout"]["header"]
        body["v"] = MESSAGE_VERSION
        body["chunk_id"] = self.chunk_id
        return orjson.dumps(body).decode()

    @classmethod
    def from_message(cls, body: str | bytes) -> ChunkPointer:
        """Read a version 1 or 2 message.

        Raises:
            UnsupportedMessage: another version, a version-2 message with column names, or a
                body that is not a chunk pointer.
        """
        try:
            data = orjson.loads(body)
            version = data.pop("v", None) if isinstance(data, dict) else None
        except orjson.JSONDecodeError:
            raise UnsupportedMessage("the chunk message is not JSON") from None
        if type(version) is not int or version not in READABLE_VERSIONS:
            shown = f" {version}" if type(version) is int else ""
            raise UnsupportedMessage(f"unsupported chunk message version{shown}")
        try:
            return cls._from_dict(data, version)
        except (AttributeError, LookupError, TypeError, ValueError) as error:
            if isinstance(error, UnsupportedMessage):
                raise
            raise UnsupportedMessage(f"malformed version-{version} chunk message") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any], version: int) -> ChunkPointer:
        layout = data.pop("layout")
        data.pop("chunk_id", None)
        header = layout.get("header")
        if header is not None and version >= 2:
            raise UnsupportedMessage(f"a version-{version} chunk message carries column names")
        header_range = layout.get("header_range")
        if "kind" in data:  # versions 1 and 2 named the destination by its file kind
            data["destination"] = data.pop("kind")
        # A name this code knows (a former one becomes today's), or UnknownDestination.
        data["destination"] = destination_class(data["destination"]).name
        return cls(
            **{
                **data,
                "layout": SourceLayout(
                    format=layout["format"],
                    delimiter=layout.get("delimiter"),
                    header=tuple(header) if header is not None else None,
                    encoding=layout.get("encoding") or "utf-8",
                    header_range=_pair(header_range),
                ),
                "byte_range": _pair(data.get("byte_range")),
            }
        )


def _pair(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    start, end = value
    return int(start), int(end)
