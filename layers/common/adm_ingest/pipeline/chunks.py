"""Chunk pointers: the SQS message that tells a worker which records to process.

A pointer carries where the records are (a byte range of the original object, pinned to its
version/ETag, or a staged chunk object), how to read them (format, delimiter, text encoding and,
for a CSV range, the byte range of the file's header line), which line the chunk starts at, how
many records it holds, where they go (the destination's name and target, the file's session
with the destination) and which version of the file's mapping maps them (its content hash,
see :class:`~adm_ingest.mapping_config.PinnedMapping`). It never carries anything read from
the file: not a record value, not a column name (a headerless file's first record would be
read as one). The worker range-GETs the header line itself.

Message versions (``"v"``) and which are read:

* **3** (written now): ``destination`` (the destination's stable name), ``session`` (the
  opaque remote ids a destination keeps per file; ``{}`` for ADM) and ``mapping_hash``;
  ``redrive`` (a redrive's generation) when redriven — a v3 message without it is generation 0.
* **2** (written before): ``kind`` instead of ``destination``, no session, no mapping hash and
  an unused ``extra``. Still read — translated to a v3 pointer with ``session={}`` and
  ``mapping_hash=""`` (the file's pinned mapping if it has one, else the registry's, as v2 did)
  — so chunks queued before a deploy are processed after it.
* **1** (header names in ``layout.header``) is no longer read: it predates anything deployed.

Anything else is refused with :class:`UnsupportedMessage` (a poison message: the dead-letter
path accounts for it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from adm_ingest.destinations import DeliveryTarget, UnknownDestination, destination_class

MESSAGE_VERSION = 3
READABLE_VERSIONS = frozenset({2, 3})
"""Versions :meth:`ChunkPointer.from_message` reads (2: translated, see the module docstring)."""


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
    """The destination's stable name (``Destination.name``: ``audience_members``…)."""
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
    """The registry prefix the file's mapping came from (informational; a v2 message's only
    way to its mapping)."""
    mapping_hash: str = ""
    """Content hash of the file's pinned mapping: the worker maps the chunk with exactly that
    version (``""``: a translated v2 message)."""
    session: Mapping[str, str] = field(default_factory=dict)
    """Opaque remote ids the destination keeps for the file (``open_file``); ``{}`` for ADM."""
    default_country: str = "US"
    default_country_source: str = "deployment_default"
    """Where ``default_country`` came from: ``dataset`` (the audience's registered country) or
    ``deployment_default`` (the ``DEFAULT_COUNTRY`` setting); see ``consent.CountrySource``."""
    redrive: int = 0
    """The redrive generation: 0 as split; ``n`` when sent by the chunk's ``n``-th redrive
    (:mod:`adm_ingest.pipeline.redrive`). A message older than its chunk's last redrive is
    stale and is dropped, never counted."""

    @property
    def chunk_id(self) -> str:
        return f"{self.file_id}:{self.index:06d}"

    @property
    def work_id(self) -> str:
        """The chunk id, plus the redrive generation when there is one: the worker's
        idempotency key, so a redriven chunk is not answered from the cache of a message of
        an earlier generation (dropped as ``superseded``)."""
        return self.chunk_id if not self.redrive else f"{self.chunk_id}:r{self.redrive}"

    @property
    def target(self) -> DeliveryTarget:
        # Positional: DeliveryTarget(destination, name, id).
        return DeliveryTarget(self.destination, self.target_name, self.target_id)

    def to_message(self) -> str:
        """The version-:data:`MESSAGE_VERSION` message body."""
        body = asdict(self)
        body["session"] = dict(self.session)
        body["v"] = MESSAGE_VERSION
        body["chunk_id"] = self.chunk_id
        return orjson.dumps(body).decode()

    @classmethod
    def from_message(cls, body: str | bytes) -> ChunkPointer:
        """Read a version 2 or 3 message (see the module docstring).

        Raises:
            UnsupportedMessage: another version, or a body that is not a chunk pointer.
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
            if version == 2:
                data = _v2_as_v3(data)
            return cls._from_dict(data)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, UnsupportedMessage):
                raise
            raise UnsupportedMessage(f"malformed version-{version} chunk message") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> ChunkPointer:
        layout = data.pop("layout")
        data.pop("chunk_id", None)
        if "header" in layout:
            raise UnsupportedMessage("a chunk message carries column names")
        try:  # a name this code knows (a former one becomes today's)
            destination = destination_class(str(data["destination"])).name
        except UnknownDestination:
            raise UnsupportedMessage("a chunk message for no known destination") from None
        session = data.get("session") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in session.items()):
            raise ValueError("a session maps names to strings")
        return cls(
            **{
                **data,
                "destination": destination,
                "layout": SourceLayout(
                    format=layout["format"],
                    delimiter=layout.get("delimiter"),
                    encoding=layout.get("encoding") or "utf-8",
                    header_range=_pair(layout.get("header_range")),
                ),
                "byte_range": _pair(data.get("byte_range")),
                "session": dict(session),
            }
        )


def _v2_as_v3(data: dict[str, Any]) -> dict[str, Any]:
    """A version-2 body as version 3: ``kind`` names the destination (``audience_deletions``
    is read as its new name, ``audience_removals``), no session (ADM keeps none), no mapping
    hash (v2 predates pinning), ``extra`` dropped."""
    translated = {k: v for k, v in data.items() if k not in ("kind", "extra")}
    translated["destination"] = data["kind"]
    translated.setdefault("session", {})
    translated.setdefault("mapping_hash", "")
    return translated


def _pair(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    start, end = value
    return int(start), int(end)
