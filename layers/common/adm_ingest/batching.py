"""Request batching: pack serialized items into bodies that respect the API's limits.

Items are serialized once (orjson) and bodies are assembled by joining bytes, so a batch's size
is known exactly without serializing it twice. A body is ``prefix + separator.join(items) +
suffix``: a JSON body of items (``{"members":[`` … ``]}`` with commas) or a file of JSON Lines
(no envelope, newline-separated) — each destination declares its :class:`WireFormat`.
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
