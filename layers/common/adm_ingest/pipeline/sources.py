"""Reading input objects from S3: whole, by byte range, or staged chunks.

Every read is pinned to the object version (or ETag) the splitter saw, so a file overwritten
while it is being processed fails loudly instead of mixing two versions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from adm_ingest.readers import read_header
from adm_ingest.records import Rejection, SourceRecord

_LINE = "__line"
_REJECTED = "__rejected"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One S3 object version."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = 0

    def get_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            kwargs["VersionId"] = self.version_id
        elif self.etag:
            kwargs["IfMatch"] = self.etag
        return kwargs


def open_object(s3: Any, ref: ObjectRef, byte_range: tuple[int, int | None] | None = None) -> Any:
    """The object's streaming body, optionally only ``[start, end)`` (``end`` None: to EOF)."""
    kwargs = ref.get_kwargs()
    if byte_range is not None:
        start, end = byte_range
        if end is not None and end <= start:
            return _Bytes(b"")
        kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
    return s3.get_object(**kwargs)["Body"]


def read_header_range(
    s3: Any, ref: ObjectRef, header_range: tuple[int, int], *, delimiter: str, encoding: str
) -> tuple[str, ...]:
    """The CSV column names in ``header_range`` of the object (one small ranged GET): what a
    chunk pointer's ``layout.header_range`` names, read as the splitter's scan read them."""
    with contextlib.closing(open_object(s3, ref, header_range)) as stream:
        return read_header(stream, delimiter=delimiter, encoding=encoding)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def close(self) -> None:
        self._pos = len(self._data)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self._data) - self._pos
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk


class ConcatStream:
    """Several binary streams read as one (a CSV header followed by a mid-file range)."""

    def __init__(self, *streams: Any) -> None:
        self._streams = list(streams)

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while self._streams and (size < 0 or len(out) < size):
            want = -1 if size < 0 else size - len(out)
            data = self._streams[0].read(want)
            if not data:
                self._streams.pop(0)
                continue
            out += data
        return bytes(out)


# -- staged chunks -------------------------------------------------------------------------
# Gzip and JSON-array input can't be range-read, so the splitter stages plain chunks: JSON Lines
# of ``{"__line": n, <column>: <value>…}`` or ``{"__line": n, "__rejected": reason}``.


def stage_line(record: SourceRecord | Rejection, line_shift: int = 0) -> bytes:
    """One staged line; ``line_shift`` is added to the record's line (a resumed reader counts
    from the point it resumed at)."""
    if isinstance(record, Rejection):
        return orjson.dumps({_LINE: record.line + line_shift, _REJECTED: record.reason}) + b"\n"
    return orjson.dumps({_LINE: record.line + line_shift, **record.values}) + b"\n"


def read_staged(stream: Any) -> Iterator[SourceRecord | Rejection]:
    """The records of a staged chunk, exactly as the splitter read them."""
    pending = b""
    while True:
        block = stream.read(1 << 20)
        if not block:
            break
        pending += block
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line:
                yield _unstage(line)
    if pending.strip():
        yield _unstage(pending)


def _unstage(line: bytes) -> SourceRecord | Rejection:
    data = orjson.loads(line)
    number = int(data.pop(_LINE))
    if _REJECTED in data:
        return Rejection(number, str(data[_REJECTED]))
    return SourceRecord(number, data)
