"""Where a split that ran out of time continues: the checkpoint, and the message the splitter
queues for itself so a new invocation picks the split up there.

The checkpoint (:class:`SplitCheckpoint`) is saved on the ledger's file item too, so a
redelivered S3 event resumes from it. Neither holds anything read from the file: offsets, line
numbers, counts, the layout's format, delimiter and settled encoding.

Message versions (``"v"``): **1** (written now). A body without ``"v"`` is what the splitter
wrote before continuations were versioned — the same fields — and is read as version 1, so a
split in flight across a deploy continues. Any other version, or a body that is no
continuation, is refused with :class:`~adm_ingest.pipeline.chunks.UnsupportedMessage` (the
splitter's handler counts it as poison and drops it, naming the version at most).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from adm_ingest.pipeline.chunks import UnsupportedMessage
from adm_ingest.pipeline.sources import ObjectRef

CONTINUATION_VERSION = 1
READABLE_CONTINUATION_VERSIONS = frozenset({1})


@dataclass(slots=True)
class SplitCheckpoint:
    """Where a split stopped: enough to resume in a new invocation."""

    chunk_index: int = 0
    """Chunks queued so far (the next chunk's index)."""
    records: int = 0
    """Records covered by those chunks."""
    offset: int | None = None
    """Byte offset of the next chunk's first record (range-read files)."""
    line: int | None = None
    """Line number of that record."""
    header_bytes: int | None = None
    """Length of the CSV header prefix (re-read on resume so the scanner sees a header)."""
    layout: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    """Where a staged split continues (see ``Splitter._source_checkpoint``): the data offset
    after the last staged record, that record's successor's line, and the layout read so far.
    ``None`` before the first continuation — or in a checkpoint written before it existed,
    which resumes by skipping ``records`` records."""

    @classmethod
    def from_dict(cls, data: Any) -> SplitCheckpoint:
        """A checkpoint as stored (ledger) or sent (message); unknown keys are refused.

        Raises:
            TypeError: not a checkpoint.
        """
        if not isinstance(data, dict):
            raise TypeError("a split checkpoint is an object")
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise TypeError("unknown split checkpoint fields")
        return cls(**data)


@dataclass(frozen=True, slots=True)
class SplitContinuation:
    """The message a split that ran out of time queues for itself."""

    file_id: str
    object: ObjectRef
    checkpoint: SplitCheckpoint

    def to_message(self) -> str:
        return orjson.dumps(
            {
                "v": CONTINUATION_VERSION,
                "file_id": self.file_id,
                "object": asdict(self.object),
                "checkpoint": asdict(self.checkpoint),
            }
        ).decode()

    @classmethod
    def from_message(cls, body: str | bytes) -> SplitContinuation:
        """Read a version-1 (or unversioned) continuation.

        Raises:
            UnsupportedMessage: another version, or not a continuation.
        """
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UnsupportedMessage("the continuation message is not JSON") from None
        if not isinstance(data, dict):
            raise UnsupportedMessage("the continuation message is not an object")
        version = data.pop("v", CONTINUATION_VERSION)
        if type(version) is not int or version not in READABLE_CONTINUATION_VERSIONS:
            shown = f" {version}" if type(version) is int else ""
            raise UnsupportedMessage(f"unsupported continuation message version{shown}")
        try:
            ref = ObjectRef(**data["object"])
            return cls(
                file_id=str(data.get("file_id") or ""),
                object=ref,
                checkpoint=SplitCheckpoint.from_dict(data["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError):
            raise UnsupportedMessage(f"malformed version-{version} continuation message") from None
