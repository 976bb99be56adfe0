"""GDPR identity deletion: ``POST /adm/identities/delete`` (de-identifies within 30 days)."""

from __future__ import annotations

from typing import Any, ClassVar

from adm_ingest.destinations.base import AdmApi, Delivery, Destination
from adm_ingest.destinations.members import identity_body
from adm_ingest.identifiers import clean_id
from adm_ingest.record_rules import AMAZON_RULES_WITHOUT_CONSENT, RecordRules
from adm_ingest.records import Kind, PreparedRecord, Reason, Rejection

IDENTITIES_PER_REQUEST = 1000


class IdentityDeletions(Destination):
    """One target identity per record: by ``externalUserId`` when the file has one, else by the
    hashed identity."""

    kind: ClassVar[Kind] = Kind.IDENTITY_DELETIONS
    content_type: ClassVar[str] = "application/vnd.admDataDeletion.v1+json"
    max_items: ClassVar[int] = IDENTITIES_PER_REQUEST
    rules: ClassVar[RecordRules] = AMAZON_RULES_WITHOUT_CONSENT
    """A deletion is the person's own request: no consent applies."""

    def envelope(self) -> tuple[bytes, bytes]:
        return b'{"targetIdentities":[', b"]}"

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        if given_id := record.attributes.get("external_id"):
            external_user_id = clean_id(given_id)
            if external_user_id is None:  # deleting "7.01234E+12" would remove nobody, or others
                return Rejection(
                    record.line, Reason.MANGLED_BY_SPREADSHEET, "id is in scientific notation"
                )
            if external_user_id:
                return {"externalUserId": external_user_id}
        # Only PII sets that can match reach here: a deletion by name alone is refused
        # (insufficient_identifier) — it would find nobody, or somebody else.
        identity = identity_body(record)
        if not identity:
            return Rejection(record.line, record.no_identity_reason, "no usable identifier")
        return {"identity": identity}

    def send(self, client: AdmApi, body: bytes) -> Delivery:
        client.delete_identities(body)
        return Delivery(status=200)
