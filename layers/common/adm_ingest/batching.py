"""Request batching: pack serialized items into bodies that respect the API's limits.

Items are serialized once (orjson) and bodies are assembled by joining bytes, so a batch's size
is known exactly without serializing it twice. A body is ``prefix + b",".join(items) + suffix``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_REQUEST_BYTES = 10 * 1024 * 1024
"""ADM's documented request size limit (10 MB)."""


@dataclass(slots=True)
class Batch:
    """One request body and, per item in order, the line number of the record it came from."""

    body: bytes
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


class ItemTooLarge(ValueError):
    """A single item does not fit in an empty body."""


class BodyBatcher:
    """Accumulates items; :meth:`add` returns a finished :class:`Batch` when the next item would
    exceed ``max_items`` or ``max_bytes``."""

    __slots__ = ("_items", "_lines", "_size", "max_bytes", "max_items", "prefix", "suffix")

    def __init__(
        self, prefix: bytes, suffix: bytes, *, max_items: int, max_bytes: int = MAX_REQUEST_BYTES
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.prefix = prefix
        self.suffix = suffix
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: list[bytes] = []
        self._lines: list[int] = []
        self._size = len(prefix) + len(suffix)

    def fits_alone(self, item: bytes) -> bool:
        return len(self.prefix) + len(item) + len(self.suffix) <= self.max_bytes

    def add(self, item: bytes, line: int) -> Batch | None:
        """Add one serialized item; returns the previous batch if this item started a new one."""
        size = len(item)
        # fits_alone, inlined: this runs once per record.
        if len(self.prefix) + size + len(self.suffix) > self.max_bytes:
            raise ItemTooLarge(f"item of {len(item)} bytes exceeds the {self.max_bytes} byte limit")
        finished = None
        items = self._items
        if not items:
            self._size += size
        elif len(items) < self.max_items and self._size + 1 + size <= self.max_bytes:
            self._size += 1 + size  # the separating comma, then the item
        else:
            finished = self.flush()
            items = self._items
            self._size += size
        items.append(item)
        self._lines.append(line)
        return finished

    def flush(self) -> Batch | None:
        """The pending batch (None when empty); the batcher starts over empty."""
        if not self._items:
            return None
        batch = Batch(self.prefix + b",".join(self._items) + self.suffix, self._lines)
        self._items = []
        self._lines = []
        self._size = len(self.prefix) + len(self.suffix)
        return batch

    @property
    def pending(self) -> int:
        return len(self._items)
