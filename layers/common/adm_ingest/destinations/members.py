"""Audience members: ``POST /adm/audiences/{dataSetId}/members`` (CREATE or DELETE)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, ClassVar

from adm_ingest.consent import consent_body
from adm_ingest.destinations.base import AdmApi, Delivery, Destination, Target, error_reason
from adm_ingest.model import ADM_PII_KEYS, ConsentSignals, Kind, PreparedRecord, Reason, Rejection

#: Recommended members per request (the schema allows 10,000; Amazon recommends 5,000).
MEMBERS_PER_REQUEST = 5000
MAX_PII_SETS = 10

_ACTIONS = {
    "CREATE": "CREATE",
    "ADD": "CREATE",
    "INSERT": "CREATE",
    "UPSERT": "CREATE",
    "DELETE": "DELETE",
    "REMOVE": "DELETE",
}
# Order of preference for a derived externalUserId: the most stable identifier first, so a
# re-upload of the same person (even with more columns) maps to the same user.
_STABLE_ID_FIELDS = ("email", "phone")


def derive_external_user_id(record: PreparedRecord) -> str | None:
    """A deterministic id from the record's hashed identifiers (never from raw values)."""
    if not record.hashed_sets:
        ramp = record.attributes.get("ramp_id") or record.attributes.get("maid")
        return "x-" + hashlib.sha256(ramp.encode()).hexdigest()[:40] if ramp else None
    first = record.hashed_sets[0]
    for name in _STABLE_ID_FIELDS:
        if name in first:
            return f"{ADM_PII_KEYS[name]}-{first[name][:40]}"
    material = "|".join(f"{k}={first[k]}" for k in sorted(first))
    return "pii-" + hashlib.sha256(material.encode()).hexdigest()[:40]


def identity_body(record: PreparedRecord) -> dict[str, Any]:
    """The ADM ``Identity`` object: hashed PII sets (ADM keys) and external identities."""
    identity: dict[str, Any] = {}
    if hashed_sets := record.hashed_sets:
        if len(hashed_sets) > MAX_PII_SETS:  # rare: slicing always would copy every record's
            hashed_sets = hashed_sets[:MAX_PII_SETS]
        # Plain loops rather than nested comprehensions: each comprehension is a frame, and
        # this runs once per record.
        sets = []
        for hashed in hashed_sets:
            adm: dict[str, str] = {}
            for name, digest in hashed.items():
                adm[ADM_PII_KEYS[name]] = digest
            sets.append(adm)
        identity["hashedPiis"] = sets
    attributes = record.attributes
    if "ramp_id" in attributes or "maid" in attributes:  # rare: most files carry neither
        external = []
        if ramp := attributes.get("ramp_id"):
            external.append({"liveRampId": ramp})
        if maid := attributes.get("maid"):
            external.append({"maId": maid})
        if external:
            identity["externalIdentities"] = external
    return identity


def _user_consent(country: str, consent: ConsentSignals, ip: str | None) -> dict[str, Any]:
    """The ADM ``userConsent`` object: geo (country, optional IP) and the consent signals."""
    geo: dict[str, str] = {"countryCode": country}
    if ip:
        geo["ipAddress"] = ip
    user_consent: dict[str, Any] = {"geo": geo}
    if consent_fields := consent_body(consent):
        user_consent["consent"] = consent_fields
    return user_consent


class AudienceMembers(Destination):
    """Members CREATE into an audience dataset; a per-record ``action`` column may say DELETE."""

    kind: ClassVar[Kind] = Kind.AUDIENCE_MEMBERS
    content_type: ClassVar[str] = "application/vnd.admAudiences.v1+json"
    max_items: ClassVar[int] = MEMBERS_PER_REQUEST
    default_action: ClassVar[str] = "CREATE"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        # Records without an IP nearly all share one country and the policy's default consent
        # object, so their ``userConsent`` is built once and shared by reference (items are
        # serialized right away and never mutated): (signals, country, userConsent).
        self._shared_consent: tuple[ConsentSignals, str, dict[str, Any]] | None = None

    def envelope(self) -> tuple[bytes, bytes]:
        return b'{"members":[', b"]}"

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        raw_action = record.attributes.get("action")
        action = _ACTIONS.get(raw_action.strip().upper()) if raw_action else self.default_action
        if action is None:
            return Rejection(record.line, Reason.INVALID_ACTION, "action must be CREATE or DELETE")
        identity = identity_body(record)
        given_id = record.attributes.get("external_id")
        # A removal may name the member by its externalUserId alone; an addition must carry
        # something Amazon can match on.
        if not identity and not (action == "DELETE" and given_id):
            return Rejection(record.line, Reason.NO_IDENTIFIER, "no usable identifier")
        external_user_id = given_id or derive_external_user_id(record)
        consent = record.consent
        if action == "DELETE":
            # ADM ignores a DELETE that does not carry Amazon's consent signal as GRANTED; the
            # removal request itself is what the signal authorizes.
            consent = type(consent)(
                gpp=consent.gpp,
                tcf=consent.tcf,
                amzn_ad_storage="GRANTED",
                amzn_user_data="GRANTED",
            )
        ip = record.attributes.get("ip")
        shared = self._shared_consent
        if ip or shared is None or shared[0] is not consent or shared[1] != record.country:
            user_consent = _user_consent(record.country, consent, ip)
            if not ip:
                self._shared_consent = (consent, record.country, user_consent)
        else:
            user_consent = shared[2]
        return {
            "action": action,
            "externalUserId": external_user_id,
            "userConsent": user_consent,
            "userIdentity": identity,
        }

    def send(self, client: AdmApi, body: bytes) -> Delivery:
        result = client.ingest_members(self.target.id, body)
        return Delivery(
            status=200,
            rejected={error.index: error_reason(error.code) for error in result.errors},
            request_id=getattr(result, "request_id", None),
            ingress_id=result.ingress_id,
        )


class AudienceDeletions(AudienceMembers):
    """Members DELETE from an audience dataset (files under ``audiences/<name>/delete/``)."""

    kind: ClassVar[Kind] = Kind.AUDIENCE_DELETIONS
    default_action: ClassVar[str] = "DELETE"

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        # Everything in a deletion file is a deletion, whatever an action column says.
        return super().build(replace(record, attributes={**record.attributes, "action": "DELETE"}))
