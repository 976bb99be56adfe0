"""Reading input objects from S3: whole or by byte range (staged chunks are read as any other
object; their format is :mod:`adm_ingest.readers.staged`).

Every read is pinned to the object version (or ETag) the splitter saw, so a file overwritten
while it is being processed fails loudly instead of mixing two versions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from adm_ingest.readers import read_header


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
