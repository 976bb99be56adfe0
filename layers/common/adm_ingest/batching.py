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

    __slots__ = (
        "_items",
        "_lines",
        "_room",
        "_size",
        "max_bytes",
        "max_items",
        "prefix",
        "suffix",
    )

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
        self._room = max_bytes - len(prefix) - len(suffix)
        """Bytes the items and their separating commas may take in one body."""
        self._size = -1
        """Bytes the pending items take, each counted with one comma (-1: the first has none)."""

    def fits_alone(self, item: bytes) -> bool:
        return len(item) <= self._room

    def add(self, item: bytes, line: int) -> Batch | None:
        """Add one serialized item; returns the previous batch if this item started a new one."""
        size = len(item) + 1
        finished = None
        if self._size + size > self._room or len(self._items) >= self.max_items:
            if size - 1 > self._room:  # fits_alone, inlined: this runs once per record
                raise ItemTooLarge(
                    f"item of {size - 1} bytes exceeds the {self.max_bytes} byte limit"
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
        batch = Batch(b",".join(items), self._lines)
        self._items = []
        self._lines = []
        self._size = -1
        return batch

    @property
    def pending(self) -> int:
        return len(self._items)
