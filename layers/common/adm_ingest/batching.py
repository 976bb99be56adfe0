"""Request batching: pack serialized items into bodies that respect the API's limits.

Items are serialized once (orjson) and bodies are assembled by joining bytes, so a batch's size
is known exactly without serializing it twice. A body is ``prefix + separator.join(items) +
suffix``: a JSON body of items (``{"members":[`` … ``]}`` with commas) or a file of JSON Lines
(no envelope, newline-separated) — each destination declares its :class:`WireFormat`.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

MAX_REQUEST_BYTES = 10 * 1024 * 1024
"""ADM's documented request size limit (10 MB)."""


SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
"""A spooled body stays in memory up to this size, then moves to ephemeral storage (/tmp)."""


class SpooledBody:
    """A request body too large to hold in memory: written to a spooled temporary file (RAM
    up to :data:`SPOOL_IN_MEMORY_BYTES`, then Lambda's ephemeral storage), read back as a
    stream. Deleted when closed (or collected)."""

    __slots__ = ("file", "size")

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 — lives as long as the body
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def stream(self) -> IO[bytes]:
        """The body from its first byte (the same file object: one reader at a time)."""
        self.file.seek(0)
        return self.file

    def read(self) -> bytes:
        """The whole body (tests and small bodies only)."""
        return self.stream().read()

    def close(self) -> None:
        self.file.close()


Body = bytes | SpooledBody
"""A request body: bytes, or a spooled file for bodies sent as a stream."""


@dataclass(slots=True)
class Batch:
    """One request body and, per item in order, the line number of the record it came from."""

    body: Body
    lines: Sequence[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, slots=True)
class WireFormat:
    """How a destination frames its items in one request body, and the body's limits."""

    prefix: bytes
    suffix: bytes
    max_items: int
    max_bytes: int = MAX_REQUEST_BYTES
    separator: bytes = b","

    def batcher(self) -> BodyBatcher:
        return BodyBatcher(
            self.prefix,
            self.suffix,
            max_items=self.max_items,
            max_bytes=self.max_bytes,
            separator=self.separator,
        )


def json_items(key: str, *, max_items: int, max_bytes: int = MAX_REQUEST_BYTES) -> WireFormat:
    """A JSON object whose one member ``key`` is the array of items: ``{"key":[…]}``."""
    return WireFormat(f'{{"{key}":['.encode(), b"]}", max_items=max_items, max_bytes=max_bytes)


def json_lines(*, max_items: int, max_bytes: int) -> WireFormat:
    """A file of JSON Lines: one item per line, each line ending in a newline."""
    return WireFormat(b"", b"\n", max_items=max_items, max_bytes=max_bytes, separator=b"\n")


class Batcher(Protocol):
    """What the record path needs of a batcher: items in, finished batches out."""

    def add(self, item: bytes, line: int) -> Batch | None: ...

    def flush(self) -> Batch | None: ...


class ItemTooLarge(ValueError):
    """A single item does not fit in an empty body."""


class BodyBatcher:
    """Accumulates items; :meth:`add` returns a finished :class:`Batch` when the next item would
    exceed ``max_items`` or ``max_bytes``."""

    __slots__ = (
        "_items",
        "_lines",
        "_room",
        "_size",
        "max_bytes",
        "max_items",
        "prefix",
        "separator",
        "suffix",
    )

    def __init__(
        self,
        prefix: bytes,
        suffix: bytes,
        *,
        max_items: int,
        max_bytes: int = MAX_REQUEST_BYTES,
        separator: bytes = b",",
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.prefix = prefix
        self.suffix = suffix
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.separator = separator
        self._items: list[bytes] = []
        self._lines: list[int] = []
        self._room = max_bytes - len(prefix) - len(suffix)
        """Bytes the items and their separators may take in one body."""
        self._size = -len(separator)
        """Bytes the pending items take, each counted with one separator (the first has none)."""

    def add(self, item: bytes, line: int) -> Batch | None:
        """Add one serialized item; returns the previous batch if this item started a new one."""
        size = len(item) + len(self.separator)
        finished = None
        if self._size + size > self._room or len(self._items) >= self.max_items:
            if len(item) > self._room:
                raise ItemTooLarge(
                    f"item of {len(item)} bytes exceeds the {self.max_bytes} byte limit"
                )
            finished = self.flush()
        self._size += size
        self._items.append(item)
        self._lines.append(line)
        return finished

    def flush(self) -> Batch | None:
        """The pending batch (None when empty); the batcher starts over empty."""
        items = self._items
        if not items:
            return None
        # The envelope goes onto the first and last item, so the body is copied once, by join.
        items[0] = self.prefix + items[0]
        items[-1] += self.suffix
        batch = Batch(self.separator.join(items), self._lines)
        self._items = []
        self._lines = []
        self._size = -len(self.separator)
        return batch

    @property
    def pending(self) -> int:
        return len(self._items)


class SpoolingBatcher:
    """JSON Lines into one :class:`SpooledBody` per ``max_items`` items: a body of any size is
    built without being held in memory (the line numbers are kept as a compact array)."""

    __slots__ = ("_body", "_lines", "max_items")

    def __init__(self, *, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._body: SpooledBody | None = None
        self._lines: array[int] = array("I")

    def add(self, item: bytes, line: int) -> Batch | None:
        finished = self.flush() if len(self._lines) >= self.max_items else None
        body = self._body
        if body is None:
            body = self._body = SpooledBody()
        body.write(item + b"\n")
        self._lines.append(line)
        return finished

    def flush(self) -> Batch | None:
        body = self._body
        if body is None:
            return None
        batch = Batch(body, self._lines)
        self._body = None
        self._lines = array("I")
        return batch
