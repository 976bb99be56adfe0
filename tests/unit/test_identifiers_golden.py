"""Identifiers (issue 9, part 7): what is never sent, what is not enough, what spreadsheets broke.

* Known-empty digests — the SHA-256 of ``""`` or of a placeholder (``null``, ``N/A``…) — are
  never forwarded, and placeholders are never hashed (normalize/placeholders.py).
* A record needs a matchable identifier: an email, a phone, a street address with its postal
  code, a MAID or a RampID (or, to remove a member, its externalUserId). Names, city, state or
  a postal code alone are ``insufficient_identifier``.
* Spreadsheet guards (``'0123``, ``="0123"``) are stripped; ids in scientific notation
  (``7.01234E+12``) are ``mangled_by_spreadsheet``.

Records go through the real preparer and destinations, so the bodies are what ADM receives.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from itertools import combinations
from typing import Any

import orjson
import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import (
    AudienceMembers,
    AudienceRemovals,
    ConversionEvents,
    DeliveryTarget,
    Destination,
    IdentityDeletions,
)
from adm_ingest.identifiers import MATCHABLE_SETS, clean_id, is_matchable
from adm_ingest.mapping import build_plan
from adm_ingest.normalize import NORMALIZERS, hash_pii, placeholders
from adm_ingest.normalize.placeholders import (
    EMPTY_FORMS,
    KNOWN_EMPTY_DIGESTS,
    PLACEHOLDERS,
    RAW_PLACEHOLDERS,
)
from adm_ingest.normalize.spreadsheet import is_scientific_notation, strip_spreadsheet_guard
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records
from adm_ingest.records import PII_FIELDS, MappedRecord, PreparedRecord, Reason, Rejection
from tests.property.core_strategies import NOW

MEMBERS = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
DELETIONS = AudienceRemovals(DeliveryTarget("audience_removals", "vip", "DS-1"))
EVENTS = ConversionEvents(DeliveryTarget("conversions", "Purchase", "CD-1"), clock=lambda: NOW)
GDPR = IdentityDeletions(DeliveryTarget("identity_deletions"))
EVENT_TIME = {"timestamp": "2026-11-26T10:00:00Z"}

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
NULL = "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"  # sha256("null")
UPPER_NULL = "fb329000228cc5a24c264c57139de8bf854fc86fc18bf1c04ab61a2b5cb4b921"  # "NULL"
SPACE = "36a9e7f1c95b82ffb99743e0c5c4ce95d83c9a430aac59f84ef3cbfab6145068"  # " "
NA = "3d9fc4bde7ceef058d65b00186e79c1f14b42687b491644c303065135b644e18"  # "na"
UNKNOWN = "b23a6a8439c0dde5515893e7c90c1e3233b8616e634470f20dc4928bcf3609bc"  # "unknown"
ZIP_00000 = "e7042ac7d09c7bc41c8cfa5749e41858f6980643bc0db1a83cc793d3e24d3f77"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(
    attributes: dict[str, str] | None = None,
    *pii_sets: dict[str, str],
    hashed: Iterable[tuple[int, str]] = (),
    preparer: Preparer | None = None,
) -> PreparedRecord:
    preparer = preparer or Preparer(ConsentPolicy(country="US"))
    record = MappedRecord(3, dict(attributes or {}), list(pii_sets), frozenset(hashed))
    result = preparer.prepare(record)
    assert isinstance(result, PreparedRecord), result
    return result


def item(
    destination: Destination, attributes: dict[str, str] | None, *pii_sets: dict[str, str]
) -> dict[str, Any] | Rejection:
    return destination.build(prepare(attributes, *pii_sets))


def reason_of(destination: Destination, attributes: dict[str, str] | None, *pii_sets: Any) -> str:
    result = item(destination, attributes, *pii_sets)
    assert isinstance(result, Rejection), result
    return result.reason


# -- known-empty digests -----------------------------------------------------------------------


def test_the_empty_string_digest_is_known_empty_in_every_field() -> None:
    assert sha256("") == EMPTY
    assert all(EMPTY in KNOWN_EMPTY_DIGESTS[field] for field in PII_FIELDS)
    assert all(SPACE in KNOWN_EMPTY_DIGESTS[field] for field in PII_FIELDS)


@pytest.mark.parametrize(
    ("field", "digest", "known_empty"),
    [
        ("email", NULL, True),
        ("email", UPPER_NULL, True),
        ("email", NA, True),  # no email normalizes to "na"
        ("phone", sha256("0"), True),
        ("phone", sha256("N/A"), True),
        ("first_name", NULL, True),  # a normalized "null" is a placeholder, not a name
        ("first_name", UPPER_NULL, True),
        ("first_name", UNKNOWN, True),
        ("first_name", sha256("N/A"), True),  # never what a normalizer makes: a raw hash
        ("last_name", NA, False),  # the surname Na (and N/A normalizes to it: raw check only)
        ("last_name", sha256("none"), False),  # the surname None
        ("first_name", sha256("nan"), False),  # the given name Nan
        ("city", sha256("none"), False),  # None, Piedmont
        ("city", sha256("nan"), False),  # Nan, Thailand
        ("city", UNKNOWN, True),
        ("state", sha256("nu"), False),  # Nunavut: "null" normalizes to it, so does NU
        ("state", NULL, True),  # but no state normalizes to "null"
        ("postal", ZIP_00000, True),
        ("postal", sha256("0"), True),
        ("address", sha256("none"), True),  # a street address is never one word like this
        ("address", NA, True),
    ],
)
def test_known_empty_digests_golden(field: str, digest: str, known_empty: bool) -> None:
    assert (digest in KNOWN_EMPTY_DIGESTS[field]) is known_empty


def test_placeholder_tables_golden() -> None:
    """The derived tables, pinned: a change to the word lists or a normalizer shows up here."""
    assert dict(EMPTY_FORMS) == {
        "email": frozenset(),
        "phone": frozenset(),
        "first_name": frozenset({"null", "unknown", "undefined", "0"}),
        "last_name": frozenset({"null", "unknown", "undefined", "0"}),
        "address": frozenset(
            {"null", "none", "nil", "nan", "na", "n/a", "numbern/a", "unknown", "undefined"}
            | {"-", "0"}
        ),
        "city": frozenset({"null", "unknown", "undefined", "0"}),
        "state": frozenset(),
        "postal": frozenset({"00000"}),
    }
    assert dict(RAW_PLACEHOLDERS) == {
        "email": frozenset(),
        "phone": frozenset(),
        "first_name": frozenset({"n/a", "#n/a"}),
        "last_name": frozenset({"n/a", "#n/a"}),
        "address": frozenset(),
        "city": frozenset({"n/a", "#n/a"}),
        "state": frozenset({"null", "none", "nil", "nan", "n/a", "#n/a", "unknown", "undefined"}),
        "postal": frozenset(),
    }
    # The digests dropped from a pre-hashed name column, by what was hashed: blanks, raw
    # spellings of the placeholders (what a system hashing without normalizing makes) and
    # their normalized forms — never the hash of a real name.
    name_spellings = ["", " ", "-", "0", "#N/A", "#n/a", "N/A", "N/a", "n/a"]
    for word in ("null", "unknown", "undefined"):
        name_spellings += [word, word.upper(), word.capitalize()]
    assert {sha256(s) for s in name_spellings} == KNOWN_EMPTY_DIGESTS["first_name"]
    assert KNOWN_EMPTY_DIGESTS["first_name"] == KNOWN_EMPTY_DIGESTS["last_name"]
    assert KNOWN_EMPTY_DIGESTS["first_name"] == KNOWN_EMPTY_DIGESTS["city"]
    state_spellings = [*name_spellings, "NaN"]
    for word in ("none", "nil", "nan"):
        state_spellings += [word, word.upper(), word.capitalize()]
    assert {sha256(s) for s in state_spellings} == KNOWN_EMPTY_DIGESTS["state"]
    # Email and phone: every spelling of every placeholder; postal adds 00000; address adds
    # the address forms (#N/A → "numbern/a").
    assert KNOWN_EMPTY_DIGESTS["email"] == KNOWN_EMPTY_DIGESTS["phone"]
    assert {sha256("na"), sha256("NA"), sha256("Na")} <= KNOWN_EMPTY_DIGESTS["email"]
    assert len(KNOWN_EMPTY_DIGESTS["email"]) == len(state_spellings) + 3  # + na, NA, Na
    assert KNOWN_EMPTY_DIGESTS["postal"] == KNOWN_EMPTY_DIGESTS["email"] | {ZIP_00000}
    assert KNOWN_EMPTY_DIGESTS["address"] == KNOWN_EMPTY_DIGESTS["email"] | {sha256("numbern/a")}


def test_placeholders_are_judged_by_the_normalizers_that_hash() -> None:
    assert placeholders.NORMALIZERS is NORMALIZERS  # one table (normalize/normalizers.py)
    assert tuple(PLACEHOLDERS) == PII_FIELDS
    assert all(word == word.lower() for words in PLACEHOLDERS.values() for word in words)


@pytest.mark.parametrize("field", PII_FIELDS)
@pytest.mark.parametrize("declared", [False, True])
def test_a_known_empty_digest_is_omitted_and_counted_invalid(field: str, declared: bool) -> None:
    preparer = Preparer(ConsentPolicy(country="US"))
    record = prepare(
        {},
        {"email": "jane@example.com", field: EMPTY.upper()} if field != "email" else {field: NULL},
        hashed=[(0, field)] if declared else [],
        preparer=preparer,
    )
    assert record.invalid_fields == (field,)
    assert all(field not in pii for pii in record.hashed_sets)
    assert preparer.notes["known_empty_hash"] == 1


@pytest.mark.parametrize(
    ("field", "raw", "country"),
    [
        ("first_name", "N/A", "US"),
        ("first_name", "#N/A", "US"),  # Excel's "not available"
        ("last_name", "NULL", "US"),
        ("last_name", "unknown", "US"),
        ("last_name", "-", "US"),
        ("city", "Undefined", "US"),
        ("state", "None", "IT"),  # would be "no": Novara
        ("state", "null", "CA"),  # would be "nu": Nunavut
        ("postal", "00000", "US"),
        ("address", "N/A", "US"),
        ("address", "none", "GB"),
        ("email", "n/a", "US"),
        ("phone", "0", "US"),
    ],
)
def test_placeholders_are_omitted_not_hashed(field: str, raw: str, country: str) -> None:
    assert hash_pii(field, raw, country) is None


@pytest.mark.parametrize("field", PII_FIELDS)
def test_every_placeholder_of_a_field_is_omitted_in_every_spelling_and_country(field: str) -> None:
    for word in PLACEHOLDERS[field]:
        for spelling in (word, word.upper(), word.capitalize(), f" {word} "):
            for country in ("US", "CA", "GB", "FR", "DE", "ES", "IT", "JP", "IN", "BR", "ZZ", ""):
                assert hash_pii(field, spelling, country) is None, (spelling, country)


@pytest.mark.parametrize(
    ("field", "raw", "country", "normalized"),
    [
        ("last_name", "Na", "US", "na"),
        ("last_name", "None", "US", "none"),
        ("first_name", "Nan", "US", "nan"),
        ("first_name", "Nil", "US", "nil"),
        ("city", "Nan", "US", "nan"),
        ("state", "NA", "IT", "na"),  # Napoli
        ("state", "NU", "CA", "nu"),  # Nunavut
    ],
)
def test_real_values_that_look_like_placeholders_are_kept(
    field: str, raw: str, country: str, normalized: str
) -> None:
    assert hash_pii(field, raw, country) == sha256(normalized)


# -- matchable identifiers ---------------------------------------------------------------------


def test_is_matchable_is_exactly_the_documented_combinations() -> None:
    for size in range(len(PII_FIELDS) + 1):
        for names in combinations(PII_FIELDS, size):
            expected = any(required <= set(names) for required in MATCHABLE_SETS)
            assert is_matchable(names) is expected, names
            assert is_matchable(dict.fromkeys(names, "digest")) is expected


NAMES_ONLY = {"first_name": "Jane", "last_name": "Doe", "city": "Springfield", "state": "VA"}


@pytest.mark.parametrize(
    "pii",
    [
        NAMES_ONLY,
        {"first_name": "Jane"},
        {"postal": "22150"},  # a ZIP code is thousands of people
        {"city": "Springfield", "state": "Virginia"},
        {"first_name": "Jane", "last_name": "Doe", "postal": "22150"},
        {"address": "8 Bluestem Terrace", "city": "Springfield"},  # a street, but no postal code
    ],
)
def test_a_record_with_only_weak_identifiers_is_insufficient_everywhere(
    pii: dict[str, str],
) -> None:
    assert reason_of(MEMBERS, {}, pii) == Reason.INSUFFICIENT_IDENTIFIER
    assert reason_of(EVENTS, EVENT_TIME, pii) == Reason.INSUFFICIENT_IDENTIFIER
    # A GDPR deletion by name alone would find nobody (or somebody else): refused.
    gdpr = Preparer(ConsentPolicy(country="DE"), requires_consent=False)
    rejected = GDPR.build(prepare({}, pii, preparer=gdpr))
    assert isinstance(rejected, Rejection)
    assert rejected.reason == Reason.INSUFFICIENT_IDENTIFIER


def test_a_record_with_nothing_usable_stays_no_identifier() -> None:
    assert reason_of(MEMBERS, {}) == Reason.NO_IDENTIFIER
    assert reason_of(MEMBERS, {}, {"email": "not-an-email"}) == Reason.NO_IDENTIFIER
    assert reason_of(EVENTS, EVENT_TIME, {"first_name": "-"}) == Reason.NO_IDENTIFIER


@pytest.mark.parametrize(
    "pii",
    [
        {"email": "jane@example.com"},
        {"phone": "(571) 412-0599"},
        {"address": "8 Bluestem Terrace", "postal": "22150-1234"},
    ],
)
def test_email_phone_or_street_address_with_postal_code_is_enough(pii: dict[str, str]) -> None:
    built = item(MEMBERS, {}, {**pii, "first_name": "Jane"})
    assert isinstance(built, dict), built
    assert built["userIdentity"]["hashedPiis"][0]["fn"] == sha256("jane")


def test_an_external_identity_is_enough_and_weak_sets_are_not_sent_beside_it() -> None:
    built = item(MEMBERS, {"maid": "6D92078A-8246"}, NAMES_ONLY)
    assert isinstance(built, dict), built
    assert built["userIdentity"] == {"externalIdentities": [{"maId": "6D92078A-8246"}]}
    event = item(EVENTS, {**EVENT_TIME, "ramp_id": "XY1005"}, NAMES_ONLY)
    assert isinstance(event, dict), event
    assert event["matchKeys"] == [{"type": "RAMP_ID", "values": ["XY1005"]}]


def test_a_removal_by_external_user_id_needs_nothing_else() -> None:
    built = item(DELETIONS, {"external_id": "crm-9"}, NAMES_ONLY)
    assert isinstance(built, dict), built
    assert built["externalUserId"] == "crm-9"
    assert built["userIdentity"] == {}  # the names could not match: not sent
    assert reason_of(MEMBERS, {"external_id": "crm-9"}, NAMES_ONLY) == (
        Reason.INSUFFICIENT_IDENTIFIER  # but an addition must be matchable
    )


def test_a_weak_set_beside_a_matchable_one_is_dropped_and_noted() -> None:
    preparer = Preparer(ConsentPolicy(country="US"))
    record = prepare(
        {}, {"first_name": "Jane"}, {"email": "jane@example.com"}, NAMES_ONLY, preparer=preparer
    )
    assert record.hashed_sets == [{"email": sha256("jane@example.com")}]
    assert record.invalid_fields == ()  # the names were fine; the sets just can't match alone
    assert preparer.notes == {"insufficient_pii_set": 2}
    built = MEMBERS.build(record)
    assert isinstance(built, dict)
    assert built["userIdentity"]["hashedPiis"] == [{"em": sha256("jane@example.com")}]


# -- spreadsheet guards ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stripped"),
    [
        ("'0123", "0123"),
        ('="0123"', "0123"),
        ('="+442070313000"', "+442070313000"),
        ('= "+44 20 7031 3000"', "+44 20 7031 3000"),
        ("'", ""),
        ("0123", "0123"),
        ("=A1+B1", "=A1+B1"),  # another formula is not a guard
        ("O'Neil", "O'Neil"),  # only a leading apostrophe is one
        ("", ""),
    ],
)
def test_spreadsheet_guards_golden(raw: str, stripped: str) -> None:
    assert strip_spreadsheet_guard(raw) == stripped


def test_guarded_postcode_phone_and_id_are_sent_as_the_value_inside_the_guard() -> None:
    built = item(
        MEMBERS,
        {"external_id": "'1001"},
        {"phone": '="+442070313000"', "address": "1 Main St", "postal": "'02134"},
    )
    assert isinstance(built, dict), built
    assert built["externalUserId"] == "1001"
    assert built["userIdentity"]["hashedPiis"] == [
        {"ph": sha256("442070313000"), "ad": sha256("1mainst"), "zip": sha256("02134")}
    ]
    assert hash_pii("phone", "'07911 123456", "GB") == sha256("447911123456")
    assert hash_pii("postal", '="SW1A 1AA"', "GB") == sha256("SW1A1AA")
    assert GDPR.build(prepare({"external_id": '="1001"'})) == {"externalUserId": "1001"}
    event = item(EVENTS, {**EVENT_TIME, "dedupe_id": "'ord-0042"}, {"email": "a@example.com"})
    assert isinstance(event, dict) and event["clientDedupeId"] == "ord-0042"


def test_the_member_template_and_the_record_path_agree_on_guarded_ids() -> None:
    for external_id in ("'1001", '="1001"', "1001", "7.01234E+12", "a+b"):
        record = prepare({"external_id": external_id}, {"email": "a@example.com"})
        built = MEMBERS.build(record)
        encoded = MEMBERS.encode(record)
        assert encoded == (built if isinstance(built, Rejection) else orjson.dumps(built))


# -- scientific notation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "scientific"),
    [
        ("7.01234E+12", True),
        ("1.57141E+10", True),
        ("4.4207E+11", True),
        ("4,4207E+11", True),  # a decimal-comma locale
        ("1E+15", True),
        ("7.01234e+12", True),
        ("12e45", False),  # could be a hex id: no "+", no evidence
        ("+15714120599", False),
        ("ABE+12", False),
        ("crm-1", False),
    ],
)
def test_scientific_notation_golden(value: str, scientific: bool) -> None:
    assert is_scientific_notation(value) is scientific


def test_ids_in_scientific_notation_are_mangled_by_spreadsheet() -> None:
    email = {"email": "a@example.com"}
    assert clean_id("7.01234E+12") is None
    assert reason_of(MEMBERS, {"external_id": "7.01234E+12"}, email) == (
        Reason.MANGLED_BY_SPREADSHEET
    )
    assert reason_of(DELETIONS, {"external_id": "1.57141E+10"}) == Reason.MANGLED_BY_SPREADSHEET
    rejected = GDPR.build(prepare({"external_id": "4.4207E+11"}, email))
    assert isinstance(rejected, Rejection) and rejected.reason == Reason.MANGLED_BY_SPREADSHEET
    assert reason_of(EVENTS, {**EVENT_TIME, "dedupe_id": "7.01234E+12"}, email) == (
        Reason.MANGLED_BY_SPREADSHEET
    )


def test_a_phone_in_scientific_notation_is_omitted_and_rejects_only_when_it_was_all() -> None:
    assert hash_pii("phone", "4.4207E+11", "GB") is None
    assert reason_of(MEMBERS, {}, {"phone": "4.4207E+11"}) == Reason.MANGLED_BY_SPREADSHEET
    assert reason_of(MEMBERS, {}, {"phone": "4.4207E+11", "first_name": "Jane"}) == (
        Reason.MANGLED_BY_SPREADSHEET  # the phone would have made the set matchable
    )
    preparer = Preparer(ConsentPolicy(country="US"))
    record = prepare({}, {"phone": "4.4207E+11", "email": "a@example.com"}, preparer=preparer)
    assert record.invalid_fields == ("phone",)
    assert record.hashed_sets == [{"email": sha256("a@example.com")}]
    assert preparer.notes == {"phone_mangled_by_spreadsheet": 1}


def test_a_spreadsheet_damaged_csv_is_accounted_for_by_reason() -> None:
    data = (
        "customer_id,email,phone,first_name,last_name,zip\n"
        "'1001,a@example.com,,,,\n"  # guarded id: fine
        "7.01234E+12,b@example.com,,,,\n"  # mangled id
        "1003,,4.4207E+11,,,\n"  # only a mangled phone
        "1004,,,Jane,Doe,22150\n"  # names and a ZIP code only
        "1005,,,,,\n"  # nothing
        f"1006,{EMPTY},,,,\n"  # a hash of nothing
    ).encode()
    processor = RecordProcessor(MEMBERS, build_plan(None), ConsentPolicy(country="US"))
    bodies = [batch.body for batch in processor.batches(open_records(io.BytesIO(data), rows=True))]
    summary = processor.tally.summary()
    assert summary["accepted"] == 0 and summary["records_read"] == 6  # not sent yet: counted
    assert summary["rejected_by_reason"] == {
        "insufficient_identifier": 1,
        "mangled_by_spreadsheet": 2,
        "no_identifier": 2,
    }
    assert len(bodies) == 1 and bodies[0].count(b'"externalUserId"') == 1
    assert b'"externalUserId":"1001"' in bodies[0]
    assert processor.tally.notes == {"known_empty_hash": 1}  # the preparer's notes, collected
