"""Specification of RecordRules: a destination's fields, hashing and consent, applied by the
preparer (nothing on the record path fixes them itself)."""

from __future__ import annotations

from adm_ingest.consent import ConsentPolicy
from adm_ingest.countries import AMAZON_CONSENT_REQUIRED, CONSENT_REQUIRED
from adm_ingest.destinations import (
    AudienceMembers,
    AudienceRemovals,
    ConversionEvents,
    IdentityDeletions,
)
from adm_ingest.normalize import hash_pii
from adm_ingest.prepare import Preparer
from adm_ingest.record_rules import AMAZON_RULES, AMAZON_RULES_WITHOUT_CONSENT, RecordRules
from adm_ingest.records import PreparedRecord, Reason, Rejection
from tests.record_support import mapped

EMAIL = "Jane.Doe@Example.com"


def test_amazon_destinations_declare_amazon_rules_and_a_deletion_needs_no_consent() -> None:
    for destination in (AudienceMembers, AudienceRemovals, ConversionEvents):
        assert destination.rules is AMAZON_RULES
    assert IdentityDeletions.rules is AMAZON_RULES_WITHOUT_CONSENT
    assert AMAZON_RULES.requires_consent and not AMAZON_RULES_WITHOUT_CONSENT.requires_consent
    assert AMAZON_RULES.fields is None  # every field


def test_amazon_rules_hash_as_amazon_does() -> None:
    prepared = Preparer(ConsentPolicy(country="US")).prepare(*mapped(2, {}, [{"email": EMAIL}]))
    assert isinstance(prepared, PreparedRecord)
    assert prepared.hashed_sets == [{"email": hash_pii("email", EMAIL, "US")}]


def test_a_destination_without_consent_sends_eea_records_without_a_signal() -> None:
    record = mapped(2, {"country": "DE"}, [{"email": EMAIL}])
    assert Preparer(ConsentPolicy(), AMAZON_RULES).prepare(*record) == Rejection(
        2, Reason.MISSING_CONSENT, "DE record has no consent signal"
    )
    prepared = Preparer(ConsentPolicy(), AMAZON_RULES_WITHOUT_CONSENT).prepare(*record)
    assert isinstance(prepared, PreparedRecord) and not prepared.consent.any


def test_a_destination_declares_where_consent_is_required() -> None:
    # A platform whose rule is Amazon's own (UK and EEA): a Swiss record goes without a
    # signal, a German one still needs one.
    amazon_only = RecordRules(consent_countries=AMAZON_CONSENT_REQUIRED)
    swiss = mapped(2, {"country": "CH"}, [{"email": EMAIL}])
    german = mapped(3, {"country": "DE"}, [{"email": EMAIL}])
    assert isinstance(Preparer(ConsentPolicy(), amazon_only).prepare(*swiss), PreparedRecord)
    assert Preparer(ConsentPolicy(), AMAZON_RULES).prepare(*swiss) == Rejection(
        2, Reason.MISSING_CONSENT, "CH record has no consent signal"
    )
    assert Preparer(ConsentPolicy(), amazon_only).prepare(*german) == Rejection(
        3, Reason.MISSING_CONSENT, "DE record has no consent signal"
    )
    assert AMAZON_RULES.consent_countries == CONSENT_REQUIRED


def test_fields_the_destination_does_not_take_are_not_read() -> None:
    rules = RecordRules(fields=frozenset({"email", "external_id"}))
    record = mapped(
        2, {"external_id": "c-1", "ip": "192.0.2.1"}, [{"email": EMAIL, "phone": "+1 206 555 0100"}]
    )
    prepared = Preparer(ConsentPolicy(country="US"), rules).prepare(*record)
    assert isinstance(prepared, PreparedRecord)
    assert list(prepared.hashed_sets[0]) == ["email"]  # no phone
    assert prepared.attributes == {"external_id": "c-1"}  # no ip


def test_a_country_column_the_destination_does_not_take_leaves_the_country_to_the_defaults() -> (
    None
):
    rules = RecordRules(fields=frozenset({"email"}))
    prepared = Preparer(ConsentPolicy(country="US"), rules).prepare(
        *mapped(2, {"country": "DE"}, [{"email": EMAIL}])
    )
    assert isinstance(prepared, PreparedRecord) and prepared.country == "US"


def test_a_destination_may_bring_its_own_hashers() -> None:
    def upper(value: str, country: str) -> str | None:
        return value.upper() or None

    rules = RecordRules(hashers={"email": upper}, declared_hashers={"email": lambda v, c: v})
    preparer = Preparer(ConsentPolicy(country="US"), rules)
    prepared = preparer.prepare(*mapped(2, {}, [{"email": EMAIL}]))
    declared = preparer.prepare(*mapped(3, {}, [{"email": EMAIL}], hashed=[(0, "email")]))
    assert isinstance(prepared, PreparedRecord) and isinstance(declared, PreparedRecord)
    assert prepared.hashed_sets == [{"email": EMAIL.upper()}]
    assert declared.hashed_sets == [{"email": EMAIL}]
