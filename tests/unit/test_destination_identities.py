"""GDPR identity deletions: ``POST /adm/identities/delete``."""

from __future__ import annotations

import hashlib

import orjson

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import DeliveryTarget, IdentityDeletions
from adm_ingest.destinations.identities import IDENTITIES_PER_REQUEST
from adm_ingest.mapping import build_plan
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.records import MappedRecord, PreparedRecord, Reason, Rejection, SourceRecord

DELETIONS = IdentityDeletions(DeliveryTarget("identity_deletions"))


def prepared(attributes: dict[str, str], *pii_sets: dict[str, str]) -> PreparedRecord:
    preparer = Preparer(ConsentPolicy(country="DE"), requires_consent=False)
    result = preparer.prepare(MappedRecord(line=4, attributes=attributes, pii_sets=list(pii_sets)))
    assert isinstance(result, PreparedRecord), result
    return result


def test_deletion_by_external_user_id() -> None:
    assert DELETIONS.build(prepared({"external_id": "crm-0001"}, {"email": "a@example.com"})) == {
        "externalUserId": "crm-0001"
    }


def test_deletion_by_hashed_identity_when_there_is_no_external_id() -> None:
    assert DELETIONS.build(prepared({"maid": "M-1"}, {"email": "Forget.Me@Example.com"})) == {
        "identity": {
            "hashedPiis": [{"em": hashlib.sha256(b"forget.me@example.com").hexdigest()}],
            "externalIdentities": [{"maId": "M-1"}],
        }
    }


def test_deletion_without_anything_to_identify_is_no_identifier() -> None:
    result = DELETIONS.build(prepared({}, {"email": "   "}))
    assert isinstance(result, Rejection)
    assert (result.line, result.reason) == (4, Reason.NO_IDENTIFIER)


def test_a_person_s_own_deletion_request_needs_no_consent_signal() -> None:
    # A German record with no consent columns at all: still deleted.
    processor = RecordProcessor(DELETIONS, build_plan(None), ConsentPolicy(country="DE"))
    batches = list(processor.batches([SourceRecord(2, {"email": "a@example.de"})]))
    assert [batch.lines for batch in batches] == [[2]]
    assert processor.tally.rejected_total == 0


def test_at_most_1000_identities_per_request() -> None:
    records = [SourceRecord(n + 2, {"customer_id": f"crm-{n}"}) for n in range(2500)]
    processor = RecordProcessor(DELETIONS, build_plan(None), ConsentPolicy())
    batches = list(processor.batches(records))
    assert [len(batch) for batch in batches] == [IDENTITIES_PER_REQUEST, 1000, 500]
    bodies = [orjson.loads(batch.body) for batch in batches]
    assert [len(body["targetIdentities"]) for body in bodies] == [1000, 1000, 500]
    ids = [item["externalUserId"] for body in bodies for item in body["targetIdentities"]]
    assert ids == [f"crm-{n}" for n in range(2500)]
