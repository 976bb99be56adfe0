"""GDPR identity deletion: ``POST /adm/identities/delete`` (de-identifies within 30 days)."""

from __future__ import annotations

from typing import Any, ClassVar

from adm_ingest.adm import AdmClient
from adm_ingest.batching import Body, WireFormat, json_items
from adm_ingest.destinations.adm import AdmDestination
from adm_ingest.destinations.base import BatchPosition, Delivery, FileSession
from adm_ingest.destinations.members import identity_body
from adm_ingest.destinations.routes import RoutePattern
from adm_ingest.identifiers import clean_id
from adm_ingest.record_rules import AMAZON_RULES_WITHOUT_CONSENT, RecordRules
from adm_ingest.records import PreparedRecord, Reason, Rejection

IDENTITIES_PER_REQUEST = 1000


class IdentityDeletions(AdmDestination):
    """One target identity per record: by ``externalUserId`` when the file has one, else by the
    hashed identity."""

    name: ClassVar[str] = "identity_deletions"
    route: ClassVar[RoutePattern] = RoutePattern("deletions/")
    rules: ClassVar[RecordRules] = AMAZON_RULES_WITHOUT_CONSENT
    """A GDPR deletion is the person's own request: it needs no consent signal."""
    wire: ClassVar[WireFormat] = json_items("targetIdentities", max_items=IDENTITIES_PER_REQUEST)

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

    def _send(
        self, client: AdmClient, body: Body, session: FileSession, position: BatchPosition
    ) -> Delivery:
        assert isinstance(body, bytes), "ADM bodies are built in memory"
        client.delete_identities(body)
        return Delivery(status=200)
