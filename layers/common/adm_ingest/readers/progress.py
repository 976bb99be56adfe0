"""Where a reader can be resumed (:class:`ReadProgress`)."""

from __future__ import annotations

from dataclasses import dataclass

from adm_ingest.readers.formats import Format


@dataclass(slots=True)
class ReadProgress:
    """Where a reader can be resumed, and what it has learned of the file's layout.

    A reader given one updates it as it goes — once per block of the stream for CSV / JSON
    Lines (and for a boundary scan), whose records it hands over before it reads the next; once
    per record block it yields for a JSON array — so that whenever the reader asks its stream
    for more bytes, everything it has yielded lies before :attr:`offset` and nothing after. A
    consumer whose stream interrupts that read (a splitter out of time) can therefore resume at
    ``offset`` without reading any record twice. Costs nothing per record.
    """

    offset: int = 0
    """Byte offset (of the stream's data, decompressed) where the records not yet yielded
    begin: a record start or blank space before one; in a JSON array, see
    :attr:`after_element`."""
    line: int = 1
    """Line (JSON array: element number) of the first record not yet yielded."""
    after_element: bool = False
    """JSON array only: ``offset`` is just after an element (a ``,`` or the closing ``]``
    follows), not at an element start."""
    format: Format | None = None
    delimiter: str | None = None
    """CSV delimiter, once the header has been read."""
    header: tuple[str, ...] | None = None
    """CSV column names, once the header has been read."""
    header_range: tuple[int, int] | None = None
    """``[start, end)`` of the CSV header line in the stream's data, once read: what a resumed
    read re-reads instead of remembering the names (which are file content)."""
