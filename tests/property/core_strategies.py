"""Hypothesis strategies for the record path: source records as a CRM export would hold them.

Column names are ones header auto-detection knows, so ``build_plan(None)`` maps them. Every
column mixes realistic values with junk (empty strings, arbitrary text), so generated records
cover the accepted path and every rejection reason. Timestamps are relative to :data:`NOW`;
destinations under test get ``clock=lambda: NOW``.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import DESTINATIONS as DESTINATION_CLASSES
from adm_ingest.destinations import DeliveryTarget, Destination, destination_for
from adm_ingest.records import Reason, Rejection
from tests.record_support import Record

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
"""SHA-256 of "": what a CRM's own hashing sends for a blank field (never forwarded)."""

JUNK = st.one_of(st.just(""), st.text(max_size=12), st.text(string.printable, max_size=12))


def _or_junk(values: list[str]) -> st.SearchStrategy[str]:
    good = st.sampled_from(values)
    return st.one_of(good, good, good, JUNK)  # mostly usable values, junk one time in four


def _timestamps() -> st.SearchStrategy[str]:
    offset = st.floats(min_value=-9 * 24, max_value=2, allow_nan=False).map(
        lambda hours: NOW + timedelta(hours=hours)
    )
    return st.one_of(
        offset.map(lambda moment: moment.isoformat()),
        offset.map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        offset.map(lambda moment: moment.replace(tzinfo=None).isoformat(sep=" ")),
        offset.map(lambda moment: str(int(moment.timestamp()))),
        offset.map(lambda moment: str(int(moment.timestamp() * 1000))),
        JUNK,
    )


COLUMNS: dict[str, st.SearchStrategy[str]] = {
    # Spreadsheet damage too: a guarded id ('1001, ="1002") and one in scientific notation.
    "customer_id": _or_junk(["crm-1", "crm-2", "C 17", "x", "'1001", '="1002"', "7.01234E+12"]),
    "email": _or_junk(
        ["Jane.Doe@Example.com", "j.smith@example.org", "a@b.co", "not-an-email", EMPTY_DIGEST]
    ),
    "phone": _or_junk(
        [
            *("(571) 412-0599", "+44 20 7946 0958", "030 901820", "12"),
            *('="+442070313000"', "4.4207E+11"),  # a guarded phone; one Excel mangled
        ]
    ),
    "first_name": _or_junk(["Jane", "María", "Jörg", "O'Neil", "N/A"]),
    "last_name": _or_junk(["Doe", "García", "Smith-Jones", "NULL", "Na"]),
    "address": _or_junk(["8 Bluestem Terrace", "1200 North Avenue Apt 5", "Hauptstraße 5"]),
    "city": _or_junk(["Springfield", "München", "Paris"]),
    "state": _or_junk(["Virginia", "WA", "Bayern", "Ontario"]),
    "zip": _or_junk(["22150-1234", "98109", "SW1A 1AA", "75001", "'02134"]),
    "email_2": _or_junk(["second@example.com", "other@example.net"]),
    "phone_2": _or_junk(["+1 206 555 0142"]),
    "country": _or_junk(["US", "usa", "GB", "United Kingdom", "DE", "FR", "JP", "CA", "Narnia"]),
    "ip": _or_junk(["203.0.113.7", "2001:db8::1"]),
    "gpp": _or_junk(["DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"]),
    "tcf": _or_junk(["CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"]),
    "amzn_ad_storage": _or_junk(["GRANTED", "denied", "yes", "0", "n/a", "unknown"]),
    "amzn_user_data": _or_junk(["GRANTED", "DENIED", "true"]),
    "action": _or_junk(["CREATE", "delete", "add", "remove"]),
    "maid": _or_junk(["6D92078A-8246-4BA4-AE5B-76104861E7DC"]),
    "ramp_id": _or_junk(["XY1005wXyWPB8F3l7K9vS2Q"]),
    "timestamp": _timestamps(),
    "value": _or_junk(["129.90", "12.345", "0", "-5", "1,299.50", "abc", "1e3"]),
    "currency": _or_junk(["USD", "eur", "GBP", "XYZ"]),
    "units": _or_junk(["1", "3", "0", "2.0", "-1"]),
    "dedupe_id": _or_junk(["ord-1001", "ord-1002", "'ord-1003", "1.57141E+10"]),
    "event_name": _or_junk(["Offline purchase", "Store visit"]),
    "data_processing": _or_junk(["LIMITED_DATA_USE", "limited_data_use"]),
}


#: Column sets a real export tends to have; a record draws one and adds random other columns.
TYPICAL_COLUMNS: list[tuple[str, ...]] = [
    (),
    ("email", "timestamp"),
    ("customer_id", "email", "phone", "country"),
    ("email", "first_name", "last_name", "zip", "timestamp", "value", "currency"),
]


@st.composite
def source_values(draw: st.DrawFn) -> dict[str, str]:
    """One record's columns: a typical set plus a random subset of :data:`COLUMNS`."""
    names = set(draw(st.sampled_from(TYPICAL_COLUMNS)))
    names.update(draw(st.lists(st.sampled_from(sorted(COLUMNS)), unique=True, max_size=8)))
    return {name: draw(COLUMNS[name]) for name in sorted(names)}


MALFORMED_REASONS = [
    Reason.MALFORMED_RECORD,
    Reason.UNDECODABLE_BYTES,
    Reason.WRONG_FIELD_COUNT,
    Reason.INVALID_JSON,
    Reason.NOT_AN_OBJECT,
]


@st.composite
def record_streams(draw: st.DrawFn, max_size: int = 20) -> list[Record | Rejection]:
    """What a reader yields: records and reader-level rejections, on distinct ascending lines."""
    size = draw(st.integers(min_value=0, max_value=max_size))
    stream: list[Record | Rejection] = []
    line = 1
    for _ in range(size):
        line += draw(st.integers(min_value=1, max_value=3))  # multi-line records skip lines
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            stream.append(Rejection(line, draw(st.sampled_from(MALFORMED_REASONS))))
        else:
            stream.append(Record(line, draw(source_values())))
    return stream


def destination_of(cls: type[Destination]) -> Destination:
    """A fresh destination of ``cls`` (on the fixed clock, for conversions' time checks)."""
    target = DeliveryTarget(cls.name, "vip", "DS-1") if cls.namespace else DeliveryTarget(cls.name)
    return destination_for(target, clock=lambda: NOW)


#: A new instance per draw, so a test may adjust one (e.g. its ``wire`` limits) safely.
DESTINATIONS = st.sampled_from(
    [cls for cls in DESTINATION_CLASSES if not cls.own_record_path]  # the shared preparation
).map(destination_of)
POLICIES = st.sampled_from(
    [
        ConsentPolicy(country="US"),
        ConsentPolicy(country="GB"),
        ConsentPolicy(country="DE", tcf="CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"),
        ConsentPolicy(country="FR", amzn_ad_storage="GRANTED", amzn_user_data="GRANTED"),
    ]
)
