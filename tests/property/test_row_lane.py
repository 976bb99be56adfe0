"""The row lane is an optimisation, never a behaviour: a CSV file read as :class:`CsvRows`
blocks (fields by position into ``Preparer.prepare_row``, items from the members template)
must give byte-identical bodies, the same lines per batch and the same tally as the same file
read record by record (``SourceRecord`` → ``MappingPlan.apply`` → ``Preparer.prepare`` →
``orjson.dumps(destination.build(...))``).

Files are generated as a CRM export would hold them — any subset of the known columns, values
that are realistic or junk, quoted fields, blank lines, rows with a wrong field count, CRLF —
so the lane, its fall-backs to the record path and the reader's own rejections all interleave.
"""

from __future__ import annotations

import csv
import io
import string
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import (
    DESTINATIONS,
    AudienceMembers,
    AudienceRemovals,
    DeliveryTarget,
    Destination,
    destination_class,
)
from adm_ingest.mapping import build_plan
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import FileFormatError, open_records
from adm_ingest.records import PreparedRecord, Rejection, SourceRecord
from tests.property.core_strategies import COLUMNS, POLICIES, destination_of, source_values

# Values that take the lane's less common turns: ids JSON must escape, a "%" in a consent
# string (the item template is a %-format), non-ASCII text, ids a spreadsheet guarded.
EXTERNAL_IDS = st.one_of(
    st.sampled_from(["crm-1", 'say "hi"', "back\\slash", "tab\there", "naïve", "\u2028", "%s"]),
    # Spreadsheet damage: guards the template must not send as they are, scientific notation.
    st.sampled_from(["'1001", '="1001"', "7.01234E+12", "a+b", "'"]),
    st.text(max_size=10),
)
CONFIGS = st.sampled_from(
    [
        None,
        # A configured column takes the first email set; the detected one moves to the next.
        {"columns": {"email_2": "email", "customer_id": "external_id"}},
        # A column declared hashed.
        {"hashed": ["email"]},
        # Defaults that decide the context of every row.
        {"defaults": {"country": "GB", "gpp": "DBABMA~100%"}},
    ]
)
LINE_DAMAGE = st.sampled_from(["", "", "", "", "blank", "extra_field", "crlf", "quote"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV export: a header of known columns and rows that are mostly, not always, sound."""
    columns = draw(st.lists(st.sampled_from(sorted(COLUMNS)), unique=True, min_size=1, max_size=9))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        values = [draw(COLUMNS[name]) for name in columns]
        if "customer_id" in columns and draw(st.booleans()):
            values[columns.index("customer_id")] = draw(EXTERNAL_IDS)
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(values)
        text = line.getvalue()
        damage = draw(LINE_DAMAGE)
        if damage == "blank":
            out.write(" \t\n")
        elif damage == "extra_field":
            text = text[:-1] + ",extra\n"
        elif damage == "crlf":
            text = text[:-1] + "\r\n"
        elif damage == "quote":
            text = '"' + text[:-1].replace('"', '""') + '"\n'
        out.write(text)
    return out.getvalue().encode()


def _outcome(
    data: bytes, destination: Destination, policy: ConsentPolicy, config: Any, rows: bool
) -> tuple[Any, ...]:
    """Every batch (body, lines), the tally and every fate — or the file-level error."""
    processor = RecordProcessor(destination, build_plan(None, config), policy)
    try:
        batches = [
            (batch.body, batch.lines)
            for batch in processor.batches(open_records(io.BytesIO(data), rows=rows))
        ]
    except FileFormatError as error:
        return ("file error", str(error), processor.tally.read)
    return batches, processor.tally.summary(), processor.tally.fates


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=csv_files(),
    kind=st.sampled_from([d.name for d in DESTINATIONS]),
    policy=POLICIES,
    config=CONFIGS,
    max_items=st.integers(min_value=1, max_value=6),
)
def test_the_row_lane_sends_and_counts_exactly_what_the_record_path_does(
    data: bytes, kind: str, policy: ConsentPolicy, config: Any, max_items: int
) -> None:
    def destination() -> Destination:
        built = destination_of(destination_class(kind))
        built.max_items = max_items  # small batches, so most files make several requests
        return built

    lane = _outcome(data, destination(), policy, config, rows=True)
    record_by_record = _outcome(data, destination(), policy, config, rows=False)
    assert lane == record_by_record


MEMBER_DESTINATIONS = st.sampled_from(
    [
        AudienceMembers(DeliveryTarget("audience_members", "a", "ds-1")),
        AudienceRemovals(DeliveryTarget("audience_removals", "a", "ds-1")),
    ]
)
MEMBER_POLICIES = st.one_of(
    POLICIES,
    st.builds(
        ConsentPolicy,
        country=st.sampled_from(["US", "GB", "JP"]),
        gpp=st.one_of(st.none(), st.text(string.printable, max_size=8)),
        amzn_ad_storage=st.sampled_from([None, "GRANTED", "DENIED"]),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    destination=MEMBER_DESTINATIONS,
    policy=MEMBER_POLICIES,
    values=source_values(),
    external_id=st.one_of(st.none(), EXTERNAL_IDS),
)
def test_a_member_item_is_encoded_exactly_as_orjson_serializes_its_build(
    destination: Destination,
    policy: ConsentPolicy,
    values: dict[str, str],
    external_id: str | None,
) -> None:
    if external_id is not None:
        values = {**values, "customer_id": external_id}
    prepared = Preparer(policy).prepare(build_plan(None).apply(SourceRecord(3, values)))
    if not isinstance(prepared, PreparedRecord):
        return
    # Twice: the second call fills the item from the template the first one made.
    for _ in range(2):
        built = destination.build(prepared)
        encoded = destination.encode(prepared)
        if isinstance(built, Rejection):
            assert encoded == built
        else:
            assert encoded == orjson.dumps(built)
