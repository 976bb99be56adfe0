"""CSV records as blocks of field lists (after the header: see :mod:`~adm_ingest.readers.header`).

Every record of a CSV file — in a run of quote-free lines split with ``str.split``, or cut one
by one where quotes are — ends up the same way: its fields appended to the current
:class:`~adm_ingest.readers.blocks.RecordBlock`. Whatever is not a well-formed record (bad
quoting, a wrong field count, undecodable bytes, too long) is a rejection, and a report footer
a ``report_footer`` rejection; each one ends the block before it, so file order is kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from adm_ingest.readers.blocks import BLOCK_ROWS, ReadItem, RecordBlock, too_large
from adm_ingest.readers.encoding import Decoding, encoding_name
from adm_ingest.readers.footers import FooterTest, footer
from adm_ingest.readers.formats import MAX_RECORD_BYTES
from adm_ingest.readers.lines import BlockEnd, Raw, Run
from adm_ingest.records import Reason, Rejection

_SURELY_SHORT = MAX_RECORD_BYTES // 4
"""Characters below which a line cannot exceed :data:`MAX_RECORD_BYTES` (≤ 4 UTF-8 bytes each)."""


def csv_fields(text: str, delimiter: str) -> list[str] | None:
    """Split one record's text into fields; ``None`` when its quoting is malformed."""
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if '"' not in text and "\r" not in text and "\n" not in text:
        return text.split(delimiter)
    try:
        rows = list(csv.reader((text,), delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def csv_blocks(
    raws: Iterator[Raw | Run | BlockEnd],
    header: tuple[str, ...],
    delimiter: str,
    decoding: Decoding,
    max_rows: int = BLOCK_ROWS,
) -> Iterator[ReadItem]:
    """The records of ``raws`` (from :func:`~adm_ingest.readers.lines.split_records` with
    ``runs`` and ``block_ends``) as blocks of ``header``'s fields, and rejections."""
    width = len(header)
    test = FooterTest.of(delimiter)
    maybe, direct, heads, is_footer = test.maybe, test.direct, test.heads, test.footer
    lines: list[int] = []
    rows: list[list[str]] = []
    add_line, add_row = lines.append, rows.append
    for raw in raws:
        if type(raw) is Run:
            line = raw.line - 1
            texts = raw.text.split("\n")
            texts.pop()  # the empty remainder after the run's last LF
            for text in texts:
                line += 1
                # One test on the first character spares most lines both the blank-line strip
                # and the footer test (FooterTest.matches, inlined).
                first = text[:1]
                if first in maybe:
                    if first in " \t\r" and not text.strip(" \t\r"):
                        continue  # a blank line is no record
                    if (first in direct or text[:3] in heads) and is_footer(text):
                        rejection = footer(line)
                        if rows:
                            yield RecordBlock(header, lines, rows)
                            lines, rows = [], []
                            add_line, add_row = lines.append, rows.append
                        yield rejection
                        continue
                fields = text.split(delimiter)
                if len(fields) != width or len(text) >= _SURELY_SHORT or "\r" in text:
                    # A CR, a wrong field count or a long line: decided as for a line cut on
                    # its own, from the same text.
                    if len(text.encode(decoding.encoding)) >= MAX_RECORD_BYTES:  # with its LF
                        problem: Rejection | None = too_large(line)
                    else:
                        fields, problem = _checked(line, csv_fields(text + "\n", delimiter), width)
                    if problem is not None:
                        if rows:
                            yield RecordBlock(header, lines, rows)
                            lines, rows = [], []
                            add_line, add_row = lines.append, rows.append
                        yield problem
                        continue
                add_line(line)
                add_row(fields)
                if len(rows) >= max_rows:
                    yield RecordBlock(header, lines, rows)
                    lines, rows = [], []
                    add_line, add_row = lines.append, rows.append
            continue
        if type(raw) is BlockEnd:
            # The stream is read next: hand over every record taken from it so far.
            if rows:
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
                add_line, add_row = lines.append, rows.append
            continue
        _, line, data, oversized = raw  # type: ignore[misc]  # a Raw: runs and block ends are handled above
        problem = None
        if oversized or data is None:
            problem = too_large(line)
        else:
            try:
                text = data.decode(decoding.encoding)
            except UnicodeDecodeError:
                problem = Rejection(
                    line, Reason.UNDECODABLE_BYTES, f"not valid {encoding_name(decoding.encoding)}"
                )
            else:
                if test.matches(text):
                    problem = footer(line)
                elif '"' in text or "\r" in text:
                    fields, problem = _checked(line, csv_fields(text, delimiter), width)
                else:
                    # The common record (no quote, LF end) inlined: its only LF is the record
                    # end (records are cut at the first even-quote LF), so splitting and then
                    # trimming the last field is csv_fields' result without a call and a copy.
                    fields = text.split(delimiter)
                    if text[-1] == "\n":
                        fields[-1] = fields[-1][:-1]
                    if len(fields) != width:
                        problem = _wrong_count(line, len(fields), width)
        if problem is not None:
            if rows:
                yield RecordBlock(header, lines, rows)
                lines, rows = [], []
                add_line, add_row = lines.append, rows.append
            yield problem
            continue
        add_line(line)
        add_row(fields)
        if len(rows) >= max_rows:
            yield RecordBlock(header, lines, rows)
            lines, rows = [], []
            add_line, add_row = lines.append, rows.append
    if rows:
        yield RecordBlock(header, lines, rows)


def _checked(line: int, fields: list[str] | None, width: int) -> tuple[list[str], Rejection | None]:
    """``fields`` if they are a record of a ``width``-column header, else why not."""
    if fields is None:
        return [], Rejection(line, Reason.MALFORMED_RECORD, "bad quoting")
    if len(fields) != width:
        return fields, _wrong_count(line, len(fields), width)
    return fields, None


def _wrong_count(line: int, count: int, width: int) -> Rejection:
    return Rejection(line, Reason.WRONG_FIELD_COUNT, f"{count} fields; the header has {width}")
