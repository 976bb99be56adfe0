"""Top-level JSON arrays: elements cut by position (so a split can resume after any of them),
deep ones skipped without being built."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import orjson

from adm_ingest.readers.blocks import BLOCK_ROWS, ReadItem, RecordBlock
from adm_ingest.readers.formats import FileFormatError
from adm_ingest.readers.json_values import json_record, too_deep
from adm_ingest.readers.opening import CONTENT
from adm_ingest.readers.progress import ReadProgress
from adm_ingest.records import Rejection


def json_array_blocks(
    blocks: Iterator[bytes],
    first_line: int,
    max_depth: int = 64,
    data_offset: int = 0,
    progress: ReadProgress | None = None,
    max_rows: int = BLOCK_ROWS,
) -> Iterator[ReadItem]:
    """The elements of a top-level JSON array, numbered from ``first_line``, as blocks of
    consecutive records with the same keys (and rejections).

    An element nested deeper than ``max_depth`` is rejected ``too_deep`` without being built
    (its end is found by a token scan that counts depth). ``progress`` learns the end of the
    last element yielded — a block is handed over whole, so until then its elements lie after
    ``progress.offset`` and a resumed read reads them again (offsets count from the stream's
    start: ``data_offset`` is what was skipped before ``blocks``, a BOM).
    """
    number = first_line - 1
    elements = _JsonArray(blocks, max_depth, first_line)
    header: tuple[str, ...] = ()
    lines: list[int] = []
    rows: list[list[str]] = []
    end = last_end = 0
    try:
        for end, value in elements:
            number += 1
            record = (
                too_deep(number, max_depth)
                if value is _TOO_DEEP
                else json_record(number, value, max_depth)
            )
            if type(record) is Rejection:
                _reached(progress, data_offset + end, number)
                if rows:
                    yield RecordBlock(header, lines, rows)
                    lines, rows = [], []
                yield record
                continue
            keys, values = record
            if rows and (keys != header or len(rows) >= max_rows):
                _reached(progress, last_end, number - 1)
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
            header = keys
            lines.append(number)
            rows.append(values)
            last_end = data_offset + end
    except Exception as error:
        # The elements read before the problem are the file's, whatever comes after them (a
        # split stages and reports them; one out of time resumes after them): hand them over.
        if rows:
            _reached(progress, last_end, lines[-1])
            yield RecordBlock(header, lines, rows)
        if isinstance(error, FileFormatError) or not isinstance(error, ValueError | RecursionError):
            raise error
        # A decoder's message may quote the input: never pass it on.
        raise FileFormatError(
            f"the JSON array is invalid or not UTF-8 after element {number}"
        ) from None
    if rows:
        _reached(progress, data_offset + end, number)
        yield RecordBlock(header, lines, rows)


def _reached(progress: ReadProgress | None, offset: int, number: int) -> None:
    """Every element up to ``number``, which ends at ``offset``, has been yielded."""
    if progress is not None:
        progress.offset, progress.line, progress.after_element = offset, number + 1, True


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|"|[\[\]{},]', re.DOTALL)
"""What decides where a JSON value ends: whole strings (a lone ``"``: one not closed yet),
brackets, braces and commas."""
_FAST_TRIES = 4
"""Candidate ends the fast path tries (each a parse) before scanning the element exactly."""
MAX_JSON_ELEMENT_BYTES = 64 << 20
"""Largest element of a JSON array (it is held in memory whole to be parsed)."""
_TOO_DEEP = object()
"""What :class:`_JsonArray` yields for an element nested deeper than its ``max_depth``."""


class _JsonArray:
    """Iterate ``(end offset, value)`` over the elements of one top-level JSON array.

    Positions are what a resumable split needs and what a streaming parser does not tell, so
    the array is cut here: an element ``{…}`` usually ends at its first ``}``, which orjson
    confirms by parsing exactly that span (a JSON object can't be a proper prefix of another,
    so a span that parses *is* the element); when it does not (a ``}`` inside a string or a
    nested object), the next few are tried, then the element's end is found by an exact token
    scan (:data:`_JSON_TOKENS`) and it is parsed with the standard library (which also takes
    integers beyond 64 bits). Syntax errors, invalid UTF-8, a missing ``]``, content after it
    raise :class:`ValueError` (turned into a :class:`FileFormatError` by the caller).
    """

    def __init__(self, blocks: Iterator[bytes], max_depth: int = 64, first_line: int = 1) -> None:
        self._blocks = blocks
        self._max_depth = max_depth
        self._number = first_line - 1
        """The number of the element being read (for a file-level error's message)."""
        self._buf = b""
        self._base = 0
        """Stream offset of ``_buf[0]``."""
        self._pos = 0

    def _more(self) -> bool:
        """Append the next block, dropping what was consumed; False at the end."""
        block = next(self._blocks, None)
        if block is None:
            return False
        self._base += self._pos
        self._buf = self._buf[self._pos :] + block
        self._pos = 0
        return True

    def _next_byte(self) -> int | None:
        """The next non-whitespace byte (positioned on it), None at the end of the stream."""
        while True:
            found = CONTENT.search(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return self._buf[self._pos]
            self._pos = len(self._buf)
            if not self._more():
                return None

    def __iter__(self) -> Iterator[tuple[int, object]]:
        first = self._next_byte()
        if first != 0x5B:  # [
            what = {0x7B: "an object", 0x22: "a string", None: "missing"}.get(first, "a scalar")
            raise FileFormatError(f"the file's top-level JSON value is {what}, not an array")
        self._pos += 1
        opening = self._next_byte()
        if opening is None:
            raise ValueError("the array is not closed")
        if opening == 0x5D:  # ]: an empty array
            self._pos += 1
        else:
            while True:
                end, value = self._element()
                yield self._base + end, value
                self._pos = end
                separator = self._next_byte()
                self._pos += 1
                if separator == 0x5D:
                    break
                if separator != 0x2C:  # ,
                    raise ValueError("expected , or ]")
                if self._next_byte() in (0x5D, None):
                    raise ValueError("an element is missing")
        if self._next_byte() is not None:
            raise ValueError("content after the array")

    def _element(self) -> tuple[int, object]:
        """The element at ``_pos``: its end in ``_buf`` and its value (:data:`_TOO_DEEP` for
        one nested deeper than ``max_depth``: never built)."""
        self._number += 1
        while True:
            found = self._fast()
            if found is not None:
                return found
            end, deepest = _element_end(self._buf, self._pos)
            if deepest > MAX_SKIPPED_DEPTH:
                raise FileFormatError(
                    f"element {self._number} is nested more than {MAX_SKIPPED_DEPTH:,} levels "
                    "deep: the rest of the JSON array cannot be read"
                )
            if end is not None:
                if deepest > self._max_depth:
                    return end, _TOO_DEEP
                return end, _loads_exactly(self._buf[self._pos : end])
            if len(self._buf) - self._pos > MAX_JSON_ELEMENT_BYTES:
                raise FileFormatError(
                    f"a JSON array element is larger than {MAX_JSON_ELEMENT_BYTES} bytes"
                )
            if not self._more():
                raise ValueError("the array is not closed")

    def _fast(self) -> tuple[int, object] | None:
        buf, pos = self._buf, self._pos
        first = buf[pos]
        if first == 0x7B or first == 0x5B:  # { or [: ends at a matching } or ]
            close = b"}" if first == 0x7B else b"]"
            end = buf.find(close, pos + 1)
            for _ in range(_FAST_TRIES):
                if end == -1:
                    return None
                try:
                    return end + 1, orjson.loads(buf[pos : end + 1])
                except orjson.JSONDecodeError:
                    end = buf.find(close, end + 1)
            return None
        return None  # a scalar element (rare: rejected as not an object)


def _element_end(buf: bytes, pos: int) -> tuple[int | None, int]:
    """Where the JSON value starting at ``buf[pos]`` ends (exclusive), by its tokens — None if
    ``buf`` ends first — and the deepest nesting seen so far (``{}`` is 1). Validity is the
    parser's business: this only follows nesting."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(buf, pos):
        start = token.start()
        kind = buf[start]
        if kind == 0x22:  # "
            if token.end() - start == 1:
                return None, deepest  # a string not closed within the buffer
            if depth == 0:
                return token.end(), deepest  # a string element
            continue
        if kind in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif kind in b"]}":
            if depth == 0:
                return start, deepest  # a number / literal element, ended by the array's ]
            depth -= 1
            if depth == 0:
                return token.end(), deepest
        elif depth == 0:
            return start, deepest  # a number / literal element, ended by a comma
    return None, deepest


def _loads_exactly(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    # Beyond orjson: integers over 64 bits, nesting over 1024. NaN / Infinity stay invalid.
    return json.loads(data.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> object:
    raise ValueError("not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number out of range")
    return value


MAX_SKIPPED_DEPTH = 1_000_000
"""Deepest nesting a too-deep array element may have and still be skipped to read the next
one; an element nested deeper than that is a file-level error."""
