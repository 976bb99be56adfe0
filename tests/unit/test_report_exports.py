"""Specification of how the readers take CRM *report* exports: the footer block a report tool
writes after the data (never records, never rejected people), and files that are not UTF-8
(saved by Excel as Windows "ANSI"), detected once per file and read alike whole or in ranges.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import AudienceMembers, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import CsvRows, detect_encoding, open_records, scan_boundaries
from adm_ingest.records import Reason, Rejection, SourceRecord

FOOTER = "a report footer or blank trailer line"


def footer(line: int) -> Rejection:
    return Rejection(line, Reason.REPORT_FOOTER, FOOTER)


def read(data: bytes, **options: object) -> list:
    return list(open_records(io.BytesIO(data), **options))  # type: ignore[arg-type]


def flat(items: Iterable[SourceRecord | Rejection | CsvRows]) -> list[SourceRecord | Rejection]:
    """The records of a ``rows=True`` stream, its CsvRows blocks opened."""
    return [r for item in items for r in (item if isinstance(item, CsvRows) else [item])]


class Trickle(io.RawIOBase):
    """At most ``step`` bytes per read, so blocks end anywhere (mid-character too)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def read_in_ranges(data: bytes, every: int, step: int) -> tuple[list, str]:
    """Scan, cut a range every ``every`` records, read each range as a worker does."""
    scan = scan_boundaries(Trickle(data, step))
    starts = list(scan)[::every]
    ends = [offset for offset, _ in starts[1:]] + [len(data)]
    out: list = []
    for (offset, line), end in zip(starts, ends, strict=True):
        out += open_records(
            Trickle(data[offset:end], step),
            format=scan.format,
            header=scan.header,
            delimiter=scan.delimiter,
            first_line=line,
            encoding=scan.encoding,
        )
    return out, scan.encoding


# --- report footers ----------------------------------------------------------------------------

# A Salesforce "details only" report exported as CSV: every value quoted, LF line ends, and the
# footer block Salesforce appends after the last row.
SALESFORCE = (
    '"First Name","Last Name","Email","Mailing Country","Phone"\n'
    '"Jane","Doe","jane.doe@example.com","United States","(555) 010-2000"\n'
    '"Ana","Pérez","ana.perez@example.es","Spain",""\n'
    '"Bob","","bob@example.com","United States","555-010-3000"\n'
    "\n"
    '"Grand Totals (3 records)"\n'
    '""\n'
    '""\n'
    '"Confidential Information - Do Not Distribute"\n'
    '""\n'
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
).encode()


def test_a_salesforce_report_export_reads_as_its_rows_and_a_skipped_footer_block() -> None:
    assert read(SALESFORCE) == [
        SourceRecord(
            2,
            {
                "First Name": "Jane",
                "Last Name": "Doe",
                "Email": "jane.doe@example.com",
                "Mailing Country": "United States",
                "Phone": "(555) 010-2000",
            },
        ),
        SourceRecord(
            3,
            {
                "First Name": "Ana",
                "Last Name": "Pérez",
                "Email": "ana.perez@example.es",
                "Mailing Country": "Spain",
                "Phone": "",
            },
        ),
        SourceRecord(
            4,
            {
                "First Name": "Bob",
                "Last Name": "",
                "Email": "bob@example.com",
                "Mailing Country": "United States",
                "Phone": "555-010-3000",
            },
        ),
        footer(6),
        footer(7),
        footer(8),
        footer(9),
        footer(10),
        footer(11),
    ]


def test_footers_are_counted_as_skipped_lines_never_as_read_or_rejected_records() -> None:
    target = DeliveryTarget("audience_members", "a", "ds-1")
    processor = RecordProcessor(
        AudienceMembers(target), build_plan(None), ConsentPolicy(country="US")
    )
    batches = list(processor.batches(open_records(io.BytesIO(SALESFORCE), rows=True)))
    tally = processor.tally
    tally.accepted += sum(len(batch) for batch in batches)  # as if ADM took every item
    assert tally.read == 3 and tally.skipped == {"report_footer": 6}
    assert "report_footer" not in tally.rejected
    assert all(fate.reason != "report_footer" for fate in tally.fates)
    assert sum(len(batch) for batch in batches) + tally.rejected_total == 3
    assert tally.balanced
    assert tally.summary()["lines_skipped"] == {"report_footer": 6}


OTHER_TOOLS = (
    b"email,first_name,amount,notes\n"
    b"a@example.com,Ann,10.00,x\n"
    b"b@example.com,Bo,20.00,y\n"
    b",,,\n"  # 4: an empty row
    b"Total,,30.00,\n"  # 5
    b'"Total records: 2",,,\n'  # 6
    b'"Generated by Acme CRM 7.2, export service",,,\n'  # 7
    b'"Report generated on 2026-03-01 10:00 UTC"\n'  # 8
    b'"Filtered By: Owner equals Me, Stage equals Won"\n'  # 9
    b"Page 1 of 1\n"  # 10
    b"End of Report\r\n"  # 11
)


@pytest.mark.parametrize("step", [None, 1, 7])
@pytest.mark.parametrize("rows", [False, True])
def test_the_footers_of_other_report_tools_are_recognised_too(step: int | None, rows: bool) -> None:
    stream = Trickle(OTHER_TOOLS, step) if step else io.BytesIO(OTHER_TOOLS)
    got = flat(open_records(stream, rows=rows))  # type: ignore[arg-type]
    assert [r.line for r in got if isinstance(r, SourceRecord)] == [2, 3]
    assert [r for r in got if isinstance(r, Rejection)] == [footer(n) for n in range(4, 12)]


def test_a_footer_in_the_middle_of_a_quote_free_run_splits_the_run_around_it() -> None:
    data = b"email\na@example.com\nTotal\nb@example.com\n"
    assert read(data, rows=False) == [
        SourceRecord(2, {"email": "a@example.com"}),
        footer(3),
        SourceRecord(4, {"email": "b@example.com"}),
    ]


@pytest.mark.parametrize(
    "line",
    [
        b"Totally,,,",  # not the word: a value that starts like one
        b"Total,,,+15550102000",  # a phone number is no total
        b"Total,,,5550102000",
        b"Total,jane@example.com,,",  # a footer word with a person's email is a person
        b"Generated,,,",  # "generated" alone says nothing
        b",,Copyright Street 5,",  # an address after empty fields is a value, not the footer
        b"Page,,,",
        b"Total Wine & More,,,",
    ],
)
def test_near_footers_stay_records(line: bytes) -> None:
    (record,) = read(b"a,b,c,d\n" + line + b"\n")
    assert isinstance(record, SourceRecord)


COLUMNS = ["email", "phone", "first_name", "last_name", "zip", "customer_id", "city", "sha256"]
PERSON_VALUES = {
    "email": st.emails(),
    "phone": st.from_regex(
        r"\+?1? ?\(?[2-9][0-9]{2}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}", fullmatch=True
    ),
    "first_name": st.from_regex(r"[A-Z][a-z]{1,11}", fullmatch=True),
    "last_name": st.from_regex(r"[A-Z][a-z]{1,11}(-[A-Z][a-z]{1,11})?", fullmatch=True),
    "zip": st.from_regex(r"[0-9]{5}(-[0-9]{4})?|[A-Z][0-9][A-Z] [0-9][A-Z][0-9]", fullmatch=True),
    "customer_id": st.from_regex(r"(CRM|cust|00Q)-?[0-9A-Za-z]{1,15}|[0-9]{1,12}", fullmatch=True),
    "city": st.from_regex(r"[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12})?", fullmatch=True),
    "sha256": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
}
# The documented blind spot: a value that is itself a footer phrase ("Total" as a first name).
FOOTER_WORDS = {"total", "totals", "subtotal", "subtotals", "confidential", "copyright"}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    columns=st.lists(st.sampled_from(COLUMNS), unique=True, min_size=1, max_size=8),
    data=st.data(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_a_person_row_with_a_single_filled_field_is_always_a_record(
    columns: list[str], data: st.DataObject, quoting: int, delimiter: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    writer.writerow(columns)
    expected = []
    for line in range(2, 2 + data.draw(st.integers(1, 6))):
        filled = data.draw(st.sampled_from(columns))
        value = data.draw(PERSON_VALUES[filled].filter(lambda v: v.lower() not in FOOTER_WORDS))
        row = [value if name == filled else "" for name in columns]
        writer.writerow(row)
        expected.append(SourceRecord(line, dict(zip(columns, row, strict=True))))
    got = read(out.getvalue().encode(), delimiter=delimiter)
    assert got == expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(1, 12),
    footers=st.lists(
        st.sampled_from(
            [
                '"Grand Totals ({n} records)"',
                '""',
                '"Confidential Information - Do Not Distribute"',
                '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."',
                "Total,,{n}.00",
                '"Total records: {n}"',
                "End of Report",
                ",,",
                '"Generated by Example CRM"',
            ]
        ),
        min_size=1,
        max_size=6,
    ),
    every=st.integers(1, 5),
    step=st.integers(1, 64),
)
def test_scan_counts_footers_as_lines_and_ranges_yield_them_as_skipped(
    people: int, footers: list[str], every: int, step: int
) -> None:
    body = "email,first_name,amount\n" + "".join(
        f"p{i}@example.com,N{i},{i}.50\n" for i in range(people)
    )
    body += "".join(f.format(n=people) + "\n" for f in footers)
    data = body.encode()
    whole = read(data)
    assert len([r for r in whole if isinstance(r, SourceRecord)]) == people
    assert whole[people:] == [footer(people + 2 + i) for i in range(len(footers))]
    # The scan does not decode lines: it counts every footer line as a record start.
    assert sum(1 for _ in scan_boundaries(io.BytesIO(data))) == people + len(footers)
    assert read_in_ranges(data, every, step)[0] == whole


# --- encoding ----------------------------------------------------------------------------------

# A HubSpot contacts export opened and saved by Excel on a German Windows: "CSV (semicolon
# delimited)", Windows-1252, CRLF.
HUBSPOT_EXCEL = (
    "Vorname;Nachname;E-Mail;Straße;Stadt;Land\r\n"
    "Jürgen;Müller;juergen.mueller@example.de;Hauptstraße 5;München;Germany\r\n"
    "José;Pérez;jose.perez@example.es;Calle Mayor 1;Málaga;Spain\r\n"
    "Zoë;Øster;zoe@example.dk;Strøget 2;København;Denmark\r\n"
    'Renée;"Dupont; fils";renee@example.fr;"12, rue de l\'Église";Besançon;France\r\n'
    "Chris;Smith;chris@example.com;1 Main St;Springfield;United States\r\n"
).encode("cp1252")


def test_an_excel_cp1252_export_is_decoded_as_cp1252_and_says_so() -> None:
    reader = open_records(io.BytesIO(HUBSPOT_EXCEL))
    records = list(reader)
    assert reader.encoding == "cp1252"
    assert [r.values["Nachname"] for r in records] == [
        "Müller",
        "Pérez",
        "Øster",
        "Dupont; fils",
        "Smith",
    ]
    assert records[0].values["Straße"] == "Hauptstraße 5"
    assert records[3].values == {
        "Vorname": "Renée",
        "Nachname": "Dupont; fils",
        "E-Mail": "renee@example.fr",
        "Straße": "12, rue de l'Église",
        "Stadt": "Besançon",
        "Land": "France",
    }
    scan = scan_boundaries(io.BytesIO(HUBSPOT_EXCEL))
    assert scan.encoding == "cp1252" and scan.encoding_settled  # settled by the header
    assert scan.header == ("Vorname", "Nachname", "E-Mail", "Straße", "Stadt", "Land")


def test_a_gzipped_cp1252_export_is_detected_the_same_way() -> None:
    reader = open_records(io.BytesIO(gzip.compress(HUBSPOT_EXCEL)), rows=True)
    records = flat(reader)
    assert reader.encoding == "cp1252"
    assert records[1].values["Stadt"] == "Málaga"


def test_a_stray_byte_in_a_utf8_file_rejects_only_its_record() -> None:
    data = (
        "email,last_name\n"
        "a@example.com,Müller\n"
        "b@example.com,Gar\xe7on\n"  # written in UTF-8 below: fine
        "c@example.com,Caf\udce9\n"  # one latin-1 byte, 0xE9, in the middle of UTF-8
        "d@example.com,Groß\n"
    ).encode("utf-8", "surrogateescape")
    reader = open_records(io.BytesIO(data), rows=True)
    got = flat(reader)
    assert reader.encoding == "utf-8"
    assert got == [
        SourceRecord(2, {"email": "a@example.com", "last_name": "Müller"}),
        SourceRecord(3, {"email": "b@example.com", "last_name": "Garçon"}),
        Rejection(4, Reason.UNDECODABLE_BYTES, "not valid UTF-8"),
        SourceRecord(5, {"email": "d@example.com", "last_name": "Groß"}),
    ]


def test_json_is_utf8_whatever_its_bytes() -> None:
    data = b'{"email": "a@example.com", "n": "Caf\xe9"}\n{"email": "b@example.com"}\n'
    reader = open_records(io.BytesIO(data))
    assert list(reader) == [
        Rejection(1, Reason.UNDECODABLE_BYTES, "not valid UTF-8"),
        SourceRecord(2, {"email": "b@example.com"}),
    ]
    assert reader.encoding == "utf-8"


def test_a_utf8_bom_settles_utf8_even_with_bad_bytes_later() -> None:
    data = b"\xef\xbb\xbfemail,n\na@example.com,Caf\xe9\n"
    reader = open_records(io.BytesIO(data))
    assert list(reader) == [Rejection(2, Reason.UNDECODABLE_BYTES, "not valid UTF-8")]
    assert reader.encoding == "utf-8"


def cp1252_file(rows: int, first_accent: int) -> bytes:
    """ASCII rows up to ``first_accent``, then names with accents (and some quoted fields)."""
    lines = ["id;email;name;street"]
    for i in range(rows):
        name = "Smith" if i < first_accent else ["Müller", "Pérez", "Nuñez", "Groß"][i % 4]
        street = f'"{i} Main St; Apt 2"' if i % 6 == 0 else f"{i} Königsallee"
        if i < first_accent:
            street = f"{i} Main St"
        lines.append(f"c{i};p{i}@example.com;{name};{street}")
    return ("\n".join(lines) + "\n").encode("cp1252")


@pytest.mark.parametrize("first_accent", [0, 13, 39])
@pytest.mark.parametrize("every", [1, 4, 7])
@pytest.mark.parametrize("step", [1, 5, 4096])
def test_ranges_of_a_cp1252_file_read_exactly_like_the_whole_file(
    first_accent: int, every: int, step: int
) -> None:
    data = cp1252_file(40, first_accent)
    whole_reader = open_records(io.BytesIO(data))
    whole = list(whole_reader)
    assert whole_reader.encoding == "cp1252"
    assert whole[-1].values["name"] == "Groß"
    got, encoding = read_in_ranges(data, every, step)
    assert encoding == "cp1252"
    assert got == whole


def test_a_scan_settles_the_encoding_when_it_reaches_the_first_non_ascii_byte() -> None:
    data = cp1252_file(40, first_accent=20)
    scan = scan_boundaries(Trickle(data, 16))
    seen = []
    for offset, _line in scan:
        seen.append((offset, scan.encoding, scan.encoding_settled))
    first_non_ascii = next(i for i, byte in enumerate(data) if byte >= 0x80)
    for offset, encoding, settled in seen:
        # Whenever a start is yielded, every byte before it has been looked at.
        if offset > first_non_ascii:
            assert (encoding, settled) == ("cp1252", True)
        if not settled:
            assert encoding == "utf-8" and data[:offset].isascii()


def test_an_ascii_file_is_utf8_and_stays_unsettled() -> None:
    scan = scan_boundaries(io.BytesIO(b"email\na@example.com\n"))
    list(scan)
    assert (scan.encoding, scan.encoding_settled) == ("utf-8", False)


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [
        ("Jürgen Müller, Hauptstraße, Köln, Größe", "cp1252", "cp1252"),
        ("José Muñoz, Peña, Núñez, Ibáñez, Martínez", "cp1252", "cp1252"),
        ("“quoted” – dash … €5 Œuvre", "cp1252", "cp1252"),
        ("Jürgen Müller, Hauptstraße, Köln, Größe", "utf-8", "utf-8"),
        (
            "Łukasz Wiśniewski; Małgorzata Dąbrowska; Paweł Wróbel; Bożena Szczęsna; "
            "Wojciech Żółkiewski; Zofia Kowalczyk; Grzegorz Brzęczyszczykiewicz",
            "cp1250",
            "cp1250",
        ),
    ],
)
def test_detect_encoding(text: str, codec: str, expected: str) -> None:
    sample = "\n".join([text] * 20).encode(codec)
    first = next(i for i, byte in enumerate(sample) if byte >= 0x80)
    assert detect_encoding(sample[first:]) == expected


def test_a_utf8_sequence_cut_at_the_end_of_the_sample_is_not_held_against_utf8() -> None:
    sample = "é".encode() * 10 + "é".encode()[:1]
    assert detect_encoding(sample, complete=False) == "utf-8"


def test_an_unknown_encoding_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown text encoding"):
        open_records(io.BytesIO(b"a\n1\n"), encoding="klingon")
