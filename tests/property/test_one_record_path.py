"""One record path: the same records give byte-identical request bodies and the same tally
whatever the file they come in — CSV with minimal quoting (runs of quote-free lines and quoted
lines mixed), CSV with every field quoted, JSON Lines or a JSON array.

Every reader yields blocks of ``(header, lines, rows)``; the plan maps them by position
(``MappingPlan.layout_for``), ``Preparer.prepare`` and the destination's ``encode`` do the rest,
with no branch on the format. Only line numbers differ between formats (a CSV has a header
line and multi-line quoted fields; a JSON array numbers its elements), so outcomes are compared
by the record's position in the file.

Records are generated as a CRM export would hold them — any subset of the known columns,
values realistic or junk (spreadsheet damage, ids JSON must escape, delimiters, quotes and line
breaks inside values, non-ASCII text) — and in JSON some values are numbers or booleans, which
the readers stringify as a CSV holds them.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import DESTINATIONS as DESTINATION_CLASSES
from adm_ingest.destinations import Destination
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import FileFormatError, open_records
from tests.property.core_strategies import COLUMNS, POLICIES, destination_of

EXTERNAL_IDS = st.one_of(
    st.sampled_from(["crm-1", 'say "hi"', "back\\slash", "tab\there", "naïve", "\u2028", "%s"]),
    st.sampled_from(["'1001", '="1001"', "7.01234E+12", "a+b", "a,b", "two\nlines", "cr\rhere"]),
    # In JSON these are written as a number or a boolean (which the readers stringify).
    st.sampled_from(["1001", "0", "-12", "true", "false"]),
    st.text(max_size=10),
)
CONFIGS = st.sampled_from(
    [
        None,
        # A configured column takes the first email set; the detected one moves to the next.
        {"columns": {"email_2": "email", "customer_id": "external_id"}},
        # A column declared hashed.
        {"hashed": ["email"]},
        # Defaults that decide the context of every record.
        {"defaults": {"country": "GB", "gpp": "DBABMA~100%"}},
    ]
)
FORMATS = ("csv", "csv_quoted", "jsonl", "json_array")
_INTEGER = re.compile(r"-?[1-9][0-9]{0,14}|0")


@st.composite
def exports(draw: st.DrawFn) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and records (every record has every column: a JSON record whose keys differ
    from the first record's would resolve its late columns later, as documented)."""
    columns = draw(st.lists(st.sampled_from(sorted(COLUMNS)), unique=True, min_size=1, max_size=9))
    records = []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        values = {name: draw(COLUMNS[name]) for name in columns}
        if "customer_id" in columns and draw(st.booleans()):
            values["customer_id"] = draw(EXTERNAL_IDS)
        # A NUL byte makes the readers refuse a CSV as binary; JSON would take it.
        records.append({name: value.replace("\x00", "") for name, value in values.items()})
    return columns, records


def written(
    fmt: str, columns: list[str], records: list[dict[str, str]], typed: list[bool]
) -> bytes:
    """``records`` as a file of format ``fmt``; in JSON, where ``typed`` says so, a value that
    reads back the same is written as a number or a boolean."""
    if fmt.startswith("csv"):
        quote_all = fmt == "csv_quoted"
        rows = [columns, *([record[name] for name in columns] for record in records)]
        return "".join(",".join(_cell(v, quote_all) for v in row) + "\n" for row in rows).encode()
    objects = [
        {name: _typed(value) if wants else value for name, value in record.items()}
        for record, wants in zip(records, typed, strict=True)
    ]
    if fmt == "jsonl":
        return b"".join(orjson.dumps(item) + b"\n" for item in objects)
    return orjson.dumps(objects)


def _cell(value: str, quote_all: bool) -> str:
    """A CSV field, quoted when it must be (RFC 4180: a delimiter, a quote, CR or LF in it —
    the csv module leaves a lone CR unquoted) or when every field is."""
    if quote_all or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _typed(value: str) -> Any:
    if _INTEGER.fullmatch(value):
        return int(value)
    return {"true": True, "false": False}.get(value, value)


def outcome(data: bytes, destination: Destination, policy: ConsentPolicy, config: Any) -> Any:
    """Bodies, each batch's records and every fate by the record's position in the file; the
    tally's counts; and how many records and skipped lines the reader found."""
    processor = RecordProcessor(destination, build_plan(None, config), policy)
    try:
        batches = [
            (batch.body, batch.lines) for batch in processor.batches(open_records(io.BytesIO(data)))
        ]
    except FileFormatError as error:  # a CSV of blank lines only has no records
        return {"file_error": str(error)}
    tally = processor.tally
    lines = sorted({line for _, batch in batches for line in batch} | {f.line for f in tally.fates})
    position = {line: n for n, line in enumerate(lines)}
    return {
        "batches": [(body, [position[line] for line in batch]) for body, batch in batches],
        "fates": [(position[f.line], f.outcome, f.reason) for f in tally.fates],
        "summary": tally.summary(),
        "country_sources": dict(tally.country_sources),
        "countries": dict(tally.countries),
        "notes": dict(tally.notes),
        "read": tally.read,
        "skipped": sum(tally.skipped.values()),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    export=exports(),
    kind=st.sampled_from([cls for cls in DESTINATION_CLASSES if not cls.own_record_path]),
    policy=POLICIES,
    config=CONFIGS,
    max_items=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_the_same_records_send_the_same_bodies_and_count_the_same_in_every_format(
    export: tuple[list[str], list[dict[str, str]]],
    kind: type[Destination],
    policy: ConsentPolicy,
    config: Any,
    max_items: int,
    data: st.DataObject,
) -> None:
    columns, records = export
    typed = data.draw(st.lists(st.booleans(), min_size=len(records), max_size=len(records)))

    def destination() -> Destination:
        built = destination_of(kind)
        # Small batches, so most files make several requests.
        built.wire = replace(built.wire, max_items=max_items)
        return built

    outcomes = {
        fmt: outcome(written(fmt, columns, records, typed), destination(), policy, config)
        for fmt in FORMATS
    }
    # A CSV row of empty fields (or a report footer's words) is no record; nor is a line of
    # whitespace. JSON has no such lines: those files hold other records, not the same ones.
    csv_read = outcomes["csv"]
    assume("file_error" not in csv_read)
    assume(csv_read["read"] == len(records) and csv_read["skipped"] == 0)
    for fmt in FORMATS[1:]:
        assert outcomes[fmt] == outcomes["csv"], fmt
