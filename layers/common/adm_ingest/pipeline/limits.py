"""What a split may read, and for how long: the file limits and the data stream that keeps them.

A file's content reaches the readers through one :class:`DataStream`: the S3 body, inflated
when it is gzip (detected by its magic bytes), counted in data bytes. The stream refuses a file
over :class:`FileLimits` (decompressed size; compression ratio, a likely decompression bomb) and
consults the invocation's clock every :data:`CLOCK_BYTES` of data, raising :class:`OutOfTime`
when time is short — on bytes, not records, so blank lines, huge lines or a sparse file are
timed like any other. Readers given a :class:`~adm_ingest.readers.ReadProgress` know, at that
moment, where the records they have not yielded yet begin: the splitter continues from there.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adm_ingest.readers import FileFormatError

GIB = 1 << 30
CLOCK_BYTES = 1 << 20
"""Data bytes between two looks at the clock (and the most one ``read`` returns)."""
CLOCK_GRACE_BYTES = 256 << 10
"""Data read before the clock is first consulted: every invocation gets past a file's opening
(format sniffing, a CSV header of up to 128 KiB) and so always makes progress."""
_RAW_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


class FileLimitError(FileFormatError):
    """The file is over one of the :class:`FileLimits` (the message names the limit and the
    setting that raises it, never a value from the file)."""


class OutOfTime(Exception):
    """The invocation is running out of time: stop where the reader got and continue later."""


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Bounds on one file's content; see the settings of the same names."""

    max_decompressed_bytes: int = 50 * GIB
    """``MAX_DECOMPRESSED_BYTES``: the most data a file may hold (a plain file's size; a gzip
    file's decompressed size)."""
    max_records: int = 100_000_000
    """``MAX_RECORDS_PER_FILE``: the most records (and footer lines) a file may hold."""
    max_compression_ratio: float = 1000.0
    """``MAX_COMPRESSION_RATIO``: decompressed ÷ compressed bytes above which a gzip file is
    refused as a likely bomb. CSV exports compress 5–15×, deflate can't exceed ≈ 1032×: only
    data that is nearly all one repeated pattern comes near it."""
    ratio_after_bytes: int = 64 << 20
    """The ratio is checked once this much has been decompressed (a small file's highly
    compressible start never trips it), and from then on after every block."""

    def too_large(self) -> FileLimitError:
        return FileLimitError(
            f"the file holds more than {self.max_decompressed_bytes:,} bytes of data "
            "(the limit, MAX_DECOMPRESSED_BYTES)"
        )

    def too_many_records(self) -> FileLimitError:
        return FileLimitError(
            f"the file holds more than {self.max_records:,} records "
            "(the limit, MAX_RECORDS_PER_FILE); records after that were not read"
        )


class DataStream:
    """A file's data for the readers: ``read`` returns at most :data:`CLOCK_BYTES` at a time.

    Args:
        raw: the S3 body (or a ranged one).
        limits: refused beyond these (:class:`FileLimitError`).
        inflate: decompress when the data starts with the gzip magic (a whole object only).
        start: the data offset of ``raw``'s first byte (a ranged GET of a plain file).
        cap: end the data after this offset (a sample); :attr:`capped` says it did.

    Raises (from ``read``):
        FileLimitError: over a limit. FileFormatError: a corrupt or truncated gzip stream, or
        gzip inside gzip (whose inner data would escape the limits). OutOfTime: see
        :meth:`watch`.
    """

    def __init__(
        self,
        raw: Any,
        limits: FileLimits,
        *,
        inflate: bool,
        start: int = 0,
        cap: int | None = None,
    ) -> None:
        self._raw = raw
        self._limits = limits
        self._cap = cap
        self.position = start
        """Data offset of the next byte ``read`` returns."""
        self.capped = False
        self._consumed = 0
        """Compressed bytes the inflater has consumed (exactly: not what was read ahead)."""
        self._input = b""
        self._inflater: Any = None
        self._member_started = False
        self._raw_done = False
        self._clock: Callable[[], bool] | None = None
        self._next_check = 0
        self._every = CLOCK_BYTES
        if inflate and start == 0:
            self._input = raw.read(_RAW_BLOCK)
            if self._input.startswith(_GZIP_MAGIC):
                self._inflater = zlib.decompressobj(wbits=31)

    @property
    def compressed(self) -> bool:
        return self._inflater is not None

    @property
    def ratio_settled(self) -> bool:
        """True once the compression-ratio guard can no longer refuse what was read so far
        without refusing the file: not compressed, or past ``ratio_after_bytes``."""
        return not self.compressed or self.position >= self._limits.ratio_after_bytes

    def watch(
        self,
        time_short: Callable[[], bool],
        *,
        every: int = CLOCK_BYTES,
        grace: int = CLOCK_GRACE_BYTES,
    ) -> None:
        """From now on, ask ``time_short`` every ``every`` data bytes (first after ``grace``
        bytes more) and raise :class:`OutOfTime` from ``read`` when it says so."""
        self._clock = time_short
        self._every = max(1, every)
        self._next_check = self.position + max(grace, self._every)

    def skip(self, count: int) -> None:
        """Read and drop ``count`` data bytes (a resumed gzip split fast-forwards: inflating
        costs a small fraction of parsing)."""
        target = self.position + count
        while self.position < target:
            if not self._read(min(target - self.position, _RAW_BLOCK)):
                raise FileFormatError("the file is shorter than when its split began")

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._clock is not None and self.position >= self._next_check:
            self._next_check = self.position + self._every
            if self._clock():
                raise OutOfTime
        return self._read(self._every if size < 0 else min(size, self._every))

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()

    def _read(self, want: int) -> bytes:
        if self._cap is not None:
            want = min(want, self._cap - self.position)
            if want <= 0:
                self.capped = True
                return b""
        if self._inflater is not None:
            data = self._inflate(want)
            if data and self.position == 0 and data.startswith(_GZIP_MAGIC):
                raise FileFormatError("the file is gzip inside gzip; compress it once")
        elif self._input:
            data, self._input = self._input[:want], self._input[want:]
        else:
            data = self._raw.read(want)
        self.position += len(data)
        if self.position > self._limits.max_decompressed_bytes:
            raise self._limits.too_large()
        if (
            self._inflater is not None
            and self.position >= self._limits.ratio_after_bytes
            and self.position > self._limits.max_compression_ratio * max(self._consumed, 1)
        ):
            raise FileLimitError(
                f"the file expands more than {self._limits.max_compression_ratio:,.0f} times "
                "when decompressed: refused as a likely decompression bomb (the limit, "
                "MAX_COMPRESSION_RATIO)"
            )
        return data

    def _inflate(self, want: int) -> bytes:
        """Up to ``want`` decompressed bytes (all gzip members, as ``gzip`` reads them)."""
        try:
            while True:
                data: bytes = self._inflater.decompress(self._input, want)
                if self._inflater.eof:
                    rest = self._inflater.unused_data
                    self._inflater = zlib.decompressobj(wbits=31)
                    self._member_started = False
                else:
                    rest = self._inflater.unconsumed_tail
                    self._member_started |= len(rest) < len(self._input)
                self._consumed += len(self._input) - len(rest)
                self._input = rest
                if data:
                    return data
                if not self._input:
                    if not self._raw_done:
                        self._input = self._raw.read(_RAW_BLOCK)
                        self._raw_done = not self._input
                    if self._raw_done:
                        break
        except zlib.error:
            raise FileFormatError("the gzip stream is corrupt") from None
        if self._member_started:
            raise FileFormatError("the gzip stream is truncated")
        return b""
