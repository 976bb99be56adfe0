"""The CSV header: told apart from a first record, and read back from its bytes by the worker.

A file without a header row would have its first person's values read as column names — and
column names travel (issue #10, finding 9). A first line shaped like a record is therefore a
file-level error whose message names a position, never a value. A real header never is: every
header of the export corpus passes.

Chunk messages name the header's byte range instead of carrying its names; reading that range
back gives exactly the header the splitter's scan read, for any file the scan accepts.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.readers import (
    NO_HEADER_HINT,
    FileFormatError,
    open_records,
    read_header,
    scan_boundaries,
)

EXPORTS = Path(__file__).parents[1] / "fixtures" / "exports"
CORPUS = sorted(p for p in EXPORTS.glob("*.csv"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_every_corpus_header_is_a_header_and_reads_back_from_its_bytes(path: Path) -> None:
    data = path.read_bytes()
    scan = scan_boundaries(io.BytesIO(data))
    assert scan.header is not None and scan.header_range is not None and scan.delimiter
    start, end = scan.header_range
    assert not data[start:end].startswith(b"\xef\xbb\xbf")  # the range starts after a BOM
    header = read_header(
        io.BytesIO(data[start:end]), delimiter=scan.delimiter, encoding=scan.encoding
    )
    assert header == scan.header


@pytest.mark.parametrize(
    "header",
    [
        "Email,2024,Q3 Total",  # odd names beside a known one
        "id,Zip4,10 Day Spend,Amount",
        "First Name,Last Name,Street 1,12",
        "fn,ln,ct",
        "Zelda,Quartermaine,Shelbyville",  # names only: no shape tells it from a header
        "Kundennummer;Vorname;PLZ",
    ],
)
def test_a_header_with_a_known_name_or_without_data_shapes_is_a_header(header: str) -> None:
    data = f"{header}\n{','.join('x' * len(header.split(',')))}\n".encode()
    assert scan_boundaries(io.BytesIO(data)).header is not None


HEADERLESS = [
    # The finding: no email, phone or hash in the first row, but an address and a postcode.
    ("Zelda,Quartermaine,742 Evergreen Terrace,Shelbyville,WA,US", 3),
    ("Philippa,Ravensworth,12 Baker Street,London,NW1 6XE,GB", 3),
    ("Hans,Krähenbühl,Hauptstrasse,1010,Wien,AT", 4),
    ("Wilhelmina,Featherstonehaugh,M5V 3L9,Toronto", 3),
    ("Bartholomew,Okonkwo,1990-04-17,Lagos", 3),
    ("Jan,de Vries,1012 AB,Amsterdam", 3),
    ("Jan,de Vries,1012 AB,149.90", 4),  # an evident value is named before a weaker shape
    # Evident values say so alone, known names or not.
    ("zelda.quartermaine@example.com,Zelda", 1),
    ("Email,+1 (206) 555-0199", 2),
    ("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8,x", 1),
]


@pytest.mark.parametrize(("first_line", "column"), HEADERLESS)
def test_a_first_line_shaped_like_a_record_is_one_clear_error_naming_no_value(
    first_line: str, column: int
) -> None:
    data = f"{first_line}\n{first_line}\n".encode()
    for read in (
        lambda: scan_boundaries(io.BytesIO(data)),
        lambda: list(open_records(io.BytesIO(data))),
    ):
        with pytest.raises(FileFormatError) as raised:
            read()
        message = str(raised.value)
        assert message.startswith("the file seems to have no header row")
        assert f"column {column} of the first line" in message and NO_HEADER_HINT in message
        said = message.replace(NO_HEADER_HINT, "").lower()
        for value in first_line.split(","):
            assert len(value) < 4 or value.lower() not in said, value


NAME = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from('", \n'),
    min_size=1,
    max_size=12,
).filter(lambda name: name.strip() and "\r" not in name)


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(NAME, min_size=1, max_size=6, unique_by=str.strip),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    bom=st.booleans(),
    blank_lines=st.integers(0, 2),
    crlf=st.booleans(),
    encoding=st.sampled_from(["utf-8", "cp1252"]),
)
def test_the_header_range_reads_back_exactly_the_scanned_header(
    names: list[str],
    delimiter: str,
    bom: bool,
    blank_lines: int,
    crlf: bool,
    encoding: str,
) -> None:
    ending = "\r\n" if crlf else "\n"
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=ending)
    writer.writerow(["email", *names])
    writer.writerow(["a@example.com", *("v" for _ in names)])
    try:
        body = text.getvalue().encode(encoding)
    except UnicodeEncodeError:
        return  # a name cp1252 can't hold
    data = (
        (b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"")
        + ending.encode() * (blank_lines)
        + body
    )
    try:
        scan = scan_boundaries(io.BytesIO(data), delimiter=delimiter)
    except FileFormatError:
        return  # a header the scan refuses has no range to read
    assert scan.header_range is not None
    list(scan)  # the encoding settles while scanning
    start, end = scan.header_range
    assert (
        read_header(io.BytesIO(data[start:end]), delimiter=delimiter, encoding=scan.encoding)
        == scan.header
    )
