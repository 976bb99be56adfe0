"""Audience member bodies (issue 2, items 5 and 6): ``POST /adm/audiences/{dataSetId}/members``.

Records go through the real preparer (normalize + SHA-256), so the hashes below are what ADM
would receive.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import AudienceMembers, AudienceRemovals, DeliveryTarget
from adm_ingest.destinations.members import MEMBERS_PER_REQUEST, derive_external_user_id
from adm_ingest.prepare import Preparer
from adm_ingest.records import MappedRecord, PreparedRecord, Reason, Rejection

MEMBERS = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
DELETIONS = AudienceRemovals(DeliveryTarget("audience_removals", "vip", "DS-1"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepared(
    attributes: dict[str, str] | None = None,
    *pii_sets: dict[str, str],
    line: int = 2,
    policy: ConsentPolicy | None = None,
) -> PreparedRecord:
    result = Preparer(policy or ConsentPolicy(country="US")).prepare(
        MappedRecord(line=line, attributes=dict(attributes or {}), pii_sets=list(pii_sets))
    )
    assert isinstance(result, PreparedRecord), result
    return result


def member(attributes: dict[str, str] | None = None, *pii_sets: dict[str, str]) -> dict[str, Any]:
    item = MEMBERS.build(prepared(attributes, *pii_sets))
    assert isinstance(item, dict), item
    return item


# -- CREATE ----------------------------------------------------------------------------------


def test_create_member_body_golden() -> None:
    item = member(
        {"external_id": "crm-0001", "ip": "203.0.113.7", "gpp": "DBABMA~CP"},
        {"email": " Jane.Doe@Example.com ", "phone": "(571) 412-0599", "first_name": "Jane"},
    )
    assert item == {
        "action": "CREATE",
        "externalUserId": "crm-0001",
        "userConsent": {
            "geo": {"countryCode": "US", "ipAddress": "203.0.113.7"},
            "consent": {"gpp": "DBABMA~CP"},
        },
        "userIdentity": {
            "hashedPiis": [
                {
                    "em": sha256("jane.doe@example.com"),
                    "ph": sha256("15714120599"),
                    "fn": sha256("jane"),
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CREATE", "CREATE"),
        ("create", "CREATE"),
        (" Add ", "CREATE"),
        ("insert", "CREATE"),
        ("UPSERT", "CREATE"),
        ("DELETE", "DELETE"),
        ("remove", "DELETE"),
    ],
)
def test_action_column_synonyms(raw: str, expected: str) -> None:
    assert member({"action": raw}, {"email": "a@example.com"})["action"] == expected


def test_missing_action_means_create() -> None:
    assert member({}, {"email": "a@example.com"})["action"] == "CREATE"


@pytest.mark.parametrize("raw", ["purge", "UPDATE", "yes"])
def test_unknown_action_is_rejected_with_the_line(raw: str) -> None:
    result = MEMBERS.build(prepared({"action": raw}, {"email": "a@example.com"}, line=9))
    assert isinstance(result, Rejection)
    assert (result.line, result.reason) == (9, Reason.INVALID_ACTION)
    assert raw not in result.detail


def test_create_without_any_identifier_is_no_identifier() -> None:
    # An external id alone names a member but gives Amazon nothing to match an addition on;
    # an invalid email is omitted by normalization and so is not an identifier either.
    for record in (
        prepared({"external_id": "crm-9"}),
        prepared({"external_id": "crm-9"}, {"email": "not-an-email"}),
    ):
        result = MEMBERS.build(record)
        assert isinstance(result, Rejection)
        assert result.reason == Reason.NO_IDENTIFIER


def test_consent_signals_are_sent_for_create() -> None:
    item = member(
        {"tcf": "TCF", "amzn_ad_storage": "denied", "amzn_user_data": "yes"},
        {"email": "a@example.com"},
    )
    assert item["userConsent"]["consent"] == {
        "amzn": {"amznAdStorage": "DENIED", "amznUserData": "GRANTED"},
        "tcf": "TCF",
    }


# -- DELETE ----------------------------------------------------------------------------------


def test_delete_always_carries_amazon_consent_granted_and_keeps_other_signals() -> None:
    item = member(
        {"action": "delete", "gpp": "GPP", "amzn_ad_storage": "denied", "amzn_user_data": "no"},
        {"email": "a@example.com"},
    )
    assert item["userConsent"]["consent"] == {
        "amzn": {"amznAdStorage": "GRANTED", "amznUserData": "GRANTED"},
        "gpp": "GPP",
    }


def test_delete_by_external_user_id_alone_is_accepted() -> None:
    item = DELETIONS.build(prepared({"external_id": "crm-0004"}))
    assert item == {
        "action": "DELETE",
        "externalUserId": "crm-0004",
        "userConsent": {
            "geo": {"countryCode": "US"},
            "consent": {"amzn": {"amznAdStorage": "GRANTED", "amznUserData": "GRANTED"}},
        },
        "userIdentity": {},
    }


def test_deletion_files_delete_whatever_an_action_column_says() -> None:
    item = DELETIONS.build(prepared({"action": "CREATE"}, {"email": "a@example.com"}))
    assert isinstance(item, dict)
    assert item["action"] == "DELETE"


def test_delete_without_id_or_identifier_is_no_identifier() -> None:
    result = DELETIONS.build(prepared({}))
    assert isinstance(result, Rejection)
    assert result.reason == Reason.NO_IDENTIFIER


# -- externalUserId --------------------------------------------------------------------------


def test_external_user_id_comes_from_the_id_column_when_mapped() -> None:
    assert member({"external_id": "crm-42"}, {"email": "a@example.com"})["externalUserId"] == (
        "crm-42"
    )


def test_derived_external_user_id_is_the_same_for_the_same_person_across_files() -> None:
    # Two exports of one customer: different spelling, different extra columns.
    january = member({}, {"email": "Jane.Doe@Example.com", "first_name": "Jane"})
    march = member(
        {"ip": "198.51.100.1"},
        {"email": " jane.doe@example.com", "phone": "571 412 0599", "address": "8 Bluestem Ter"},
    )
    assert january["externalUserId"] == march["externalUserId"]
    other = member({}, {"email": "john@example.com"})
    assert other["externalUserId"] != january["externalUserId"]


def test_derived_external_user_id_falls_back_to_phone_then_to_all_hashed_fields() -> None:
    by_phone = [
        member({}, {"phone": "+1 571 412 0599", "first_name": "Jane"}),
        member({}, {"phone": "(571) 412-0599", "postal": "22150"}),
    ]
    assert by_phone[0]["externalUserId"] == by_phone[1]["externalUserId"]

    # No email or phone: the id comes from every hashed field of the (matchable) set.
    names = {"first_name": "Jane", "address": "8 Bluestem Terrace", "postal": "22150"}
    assert member({}, names)["externalUserId"] == member({}, dict(names))["externalUserId"]
    assert (
        member({}, names)["externalUserId"]
        != member({}, {**names, "postal": "22151"})["externalUserId"]
    )


def test_derived_external_user_id_is_built_from_hashes_only() -> None:
    raw_email = "jane.doe@example.com"
    derived = derive_external_user_id(prepared({}, {"email": raw_email}))
    assert derived is not None
    assert "jane" not in derived and "example" not in derived
    assert sha256(raw_email)[:40] in derived


def test_derived_external_user_id_from_a_device_id_alone() -> None:
    one = member({"maid": "6D92078A-8246-4BA4-AE5B-76104861E7DC"})
    two = member({"maid": "6D92078A-8246-4BA4-AE5B-76104861E7DC"})
    assert one["externalUserId"] == two["externalUserId"]
    assert "6D92078A" not in one["externalUserId"]


# -- identities ------------------------------------------------------------------------------


def test_each_pii_set_becomes_one_hashed_piis_entry() -> None:
    item = member({}, {"email": "a@example.com"}, {"email": "b@example.com", "phone": "2065550142"})
    assert item["userIdentity"]["hashedPiis"] == [
        {"em": sha256("a@example.com")},
        {"em": sha256("b@example.com"), "ph": sha256("12065550142")},
    ]


def test_at_most_ten_hashed_piis_entries_are_sent() -> None:
    sets = [{"email": f"person{n}@example.com"} for n in range(12)]
    entries = member({}, *sets)["userIdentity"]["hashedPiis"]
    assert entries == [{"em": sha256(f"person{n}@example.com")} for n in range(10)]


def test_device_and_ramp_ids_become_external_identities_as_given() -> None:
    item = member({"maid": "6D92078A-8246", "ramp_id": "XY1005wXyWPB"}, {"email": "a@example.com"})
    assert item["userIdentity"]["externalIdentities"] == [
        {"liveRampId": "XY1005wXyWPB"},
        {"maId": "6D92078A-8246"},
    ]


def test_a_ramp_id_alone_is_enough_to_create() -> None:
    item = member({"ramp_id": "XY1005wXyWPB"})
    assert item["userIdentity"] == {"externalIdentities": [{"liveRampId": "XY1005wXyWPB"}]}


# -- envelope --------------------------------------------------------------------------------


def test_members_envelope_and_limits() -> None:
    batcher = MEMBERS.batcher()
    assert (batcher.prefix, batcher.suffix) == (b'{"members":[', b"]}")
    assert batcher.max_items == MEMBERS_PER_REQUEST == 5000
    assert batcher.max_bytes == 10 * 1024 * 1024
