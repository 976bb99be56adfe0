"""Properties of identification (issue 9, part 7), for any values a CRM export may hold.

* A record whose only identifiers are names, city, state or a postal code is never sent — to
  any destination, by the record path or the row lane — and is rejected
  ``insufficient_identifier`` (or ``no_identifier`` when nothing in it was usable).
* A record with a valid email is always sent as an audience member, whatever else it holds,
  with that email's hash in its first PII set.
* No digest that is sent is a known-empty one (the hash of ``""`` or of a placeholder).
"""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import AudienceMembers, DeliveryTarget, Destination
from adm_ingest.identifiers import clean_id
from adm_ingest.mapping import build_plan
from adm_ingest.normalize import hash_pii
from adm_ingest.normalize.placeholders import KNOWN_EMPTY_DIGESTS
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records
from adm_ingest.records import ADM_PII_KEYS, MATCH_KEY_TYPES, Reason, SourceRecord
from tests.property.core_strategies import COLUMNS, DESTINATIONS, POLICIES, source_values

WEAK_COLUMNS = ("first_name", "last_name", "city", "state", "zip")
"""Columns that name a person but cannot identify one."""
CONTEXT_COLUMNS = ("country", "gpp", "tcf", "amzn_ad_storage", "amzn_user_data", "ip")
EVENT_COLUMNS = ("timestamp", "value", "currency", "units", "dedupe_id", "event_name")
"""Columns that say nothing about who the person is (an action may say DELETE, which needs
an id: there is none here)."""
ANY_TEXT = st.text(string.printable + "äöüßéñ", max_size=20)


@st.composite
def weak_records(draw: st.DrawFn) -> dict[str, str]:
    """Only weak identifiers (realistic, junk or arbitrary), plus context and event columns."""
    names = draw(st.lists(st.sampled_from(WEAK_COLUMNS), unique=True, min_size=1))
    names += draw(st.lists(st.sampled_from(CONTEXT_COLUMNS + EVENT_COLUMNS), unique=True))
    values = {name: draw(st.one_of(COLUMNS[name], ANY_TEXT)) for name in names}
    if draw(st.booleans()):
        values["action"] = draw(st.sampled_from(["CREATE", "delete", "remove", "add"]))
    return values


def _csv(records: list[dict[str, str]]) -> bytes:
    columns = sorted({name for record in records for name in record})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # so a lone "\r" in a value is quoted
    writer.writerow(columns)
    for record in records:
        # A NUL byte would make the reader refuse the whole file as binary.
        writer.writerow([record.get(name, "").replace("\x00", "") for name in columns])
    return out.getvalue().encode()


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(weak_records(), min_size=1, max_size=8),
    destination=DESTINATIONS,
    policy=POLICIES,
    rows=st.booleans(),
)
def test_a_record_identified_only_by_names_is_never_sent(
    records: list[dict[str, str]], destination: Destination, policy: ConsentPolicy, rows: bool
) -> None:
    processor = RecordProcessor(destination, build_plan(None), policy)
    if rows:
        stream = open_records(io.BytesIO(_csv(records)), rows=True)
    else:
        stream = iter(SourceRecord(line, values) for line, values in enumerate(records, 2))
    batches = list(processor.batches(stream))
    assert batches == []
    tally = processor.tally
    # A CSV row of empty fields only is no record (the reader skips it, like a footer).
    skipped = sum(tally.skipped.values()) if rows else 0
    assert tally.read + skipped == len(records)
    assert tally.read == tally.rejected_total
    # Any other rejection is about the record's context (country, consent, event fields),
    # which is judged first.
    assert set(tally.rejected) <= IDENTITY_REASONS | CONTEXT_REASONS


IDENTITY_REASONS = {Reason.INSUFFICIENT_IDENTIFIER, Reason.NO_IDENTIFIER}
CONTEXT_REASONS = {
    Reason.INVALID_COUNTRY,
    Reason.MISSING_COUNTRY,
    Reason.MISSING_CONSENT,
    Reason.MISSING_AMAZON_CONSENT,
    Reason.INVALID_CONSENT,
    Reason.INVALID_ACTION,
    Reason.MISSING_TIMESTAMP,
    Reason.INVALID_TIMESTAMP,
    Reason.TIMESTAMP_TOO_OLD,
    Reason.TIMESTAMP_IN_FUTURE,
    Reason.LIMITED_DATA_USE,
}


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}\.[a-z]{2,6}", fullmatch=True)


@st.composite
def valid_emails(draw: st.DrawFn) -> tuple[str, str]:
    """``(as written, normalized)``: an address in any case, maybe padded or +tagged."""
    local, domain = draw(LOCAL), draw(DOMAIN)
    tag = draw(st.sampled_from(["", "+news", "+a.b"]))
    written = draw(st.sampled_from([str.lower, str.upper, str.title]))(f"{local}{tag}@{domain}")
    pad = draw(st.sampled_from(["", " ", "  "]))
    return pad + written + pad, f"{local}{tag.replace('+', '')}@{domain}"


PII_COLUMNS = (
    *WEAK_COLUMNS,
    *("phone", "address", "email_2", "phone_2", "maid", "ramp_id", "customer_id"),
)


@settings(max_examples=300, deadline=None)
@given(email=valid_emails(), values=source_values(), rows=st.booleans())
def test_any_record_with_a_valid_email_is_sent(
    email: tuple[str, str], values: dict[str, str], rows: bool
) -> None:
    written, normalized = email
    # Whatever identifiers come with it (junk included); no column that may reject the record
    # for another reason (country, consent, action) — and an id Excel did not mangle.
    record = {name: value for name, value in values.items() if name in PII_COLUMNS}
    if clean_id(record.get("customer_id", "")) is None:
        del record["customer_id"]  # in scientific notation: mangled_by_spreadsheet
    record["email"] = written
    destination = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
    processor = RecordProcessor(destination, build_plan(None), ConsentPolicy(country="US"))
    if rows:
        stream = open_records(io.BytesIO(_csv([record])), rows=True)
    else:
        stream = iter([SourceRecord(2, record)])
    (batch,) = list(processor.batches(stream))
    assert batch.lines == [2]
    (member,) = orjson.loads(batch.body)["members"]
    assert member["userIdentity"]["hashedPiis"][0]["em"] == hash_pii("email", normalized, "US")


_FIELD_OF_KEY = {key: field for field, key in ADM_PII_KEYS.items()}
_FIELD_OF_TYPE = {key_type: field for field, key_type in MATCH_KEY_TYPES.items()}


def _sent_digests(node: Any) -> Iterator[tuple[str, str]]:
    """(field, digest) of every hashed identifier in a request body (members' and deletions'
    hashedPiis, conversion events' matchKeys)."""
    if isinstance(node, dict):
        for pii in node.get("hashedPiis", ()):
            yield from ((_FIELD_OF_KEY[key], digest) for key, digest in pii.items())
        for key in node.get("matchKeys", ()):
            if key["type"] in _FIELD_OF_TYPE:
                yield _FIELD_OF_TYPE[key["type"]], key["values"][0]
        for value in node.values():
            yield from _sent_digests(value)
    elif isinstance(node, list):
        for value in node:
            yield from _sent_digests(value)


@settings(max_examples=300, deadline=None)
@given(records=st.lists(source_values(), max_size=6), destination=DESTINATIONS, policy=POLICIES)
def test_no_known_empty_digest_is_ever_sent(
    records: list[dict[str, str]], destination: Destination, policy: ConsentPolicy
) -> None:
    processor = RecordProcessor(destination, build_plan(None), policy)
    stream = (SourceRecord(line, values) for line, values in enumerate(records, 2))
    for batch in processor.batches(stream):
        for field, digest in _sent_digests(orjson.loads(batch.body)):
            assert digest not in KNOWN_EMPTY_DIGESTS[field], field
