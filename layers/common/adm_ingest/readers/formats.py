"""What a file is (its :class:`Format`), the errors a whole file can raise, and the sizes every
reader shares."""

from __future__ import annotations

from enum import StrEnum

BLOCK_SIZE = 4 << 20
"""Bytes requested per ``read`` call; big blocks keep the per-call overhead negligible."""
MAX_RECORD_BYTES = 128 << 10
"""Largest accepted record (and the csv module's default field size limit)."""
MAX_JSON_DEPTH = 64
"""Default deepest nesting of a JSON record (the ``MAX_JSON_DEPTH`` setting); records are flat
objects (depth 1), so this only decides how a bad record is named and bounds the work on it."""


class Format(StrEnum):
    """Record layout of a file (compression is orthogonal)."""

    CSV = "csv"
    JSON_LINES = "jsonl"
    JSON_ARRAY = "json"


class FileFormatError(Exception):
    """The file as a whole cannot be read. The message names positions, never values."""


class NoRecordsError(FileFormatError):
    """The file (or, for a reader resumed mid-file, the rest of it) holds no records."""


class RangeScanUnsupported(Exception):
    """The file cannot be cut into byte ranges (gzip, or a JSON array); read it whole instead."""

    def __init__(self, format: Format, compressed: bool) -> None:
        self.format = format
        self.compressed = compressed
        why = "gzip-compressed" if compressed else "a JSON array"
        super().__init__(f"byte ranges of {why} file cannot be read; read the file whole")
