"""Audience members: ``POST /adm/audiences/{dataSetId}/members`` (CREATE or DELETE)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

import orjson

from adm_ingest import registry
from adm_ingest.adm import AdmClient
from adm_ingest.batching import Body, WireFormat, json_items
from adm_ingest.consent import consent_body
from adm_ingest.destinations.adm import AdmDestination, error_reason
from adm_ingest.destinations.adm_metrics import metrics_commit, metrics_poll
from adm_ingest.destinations.base import (
    BatchPosition,
    Commit,
    Delivery,
    DeliveryTarget,
    FileContext,
    FileSession,
    RemoteState,
)
from adm_ingest.destinations.routes import RoutePattern
from adm_ingest.identifiers import EXTERNAL_IDENTITIES, clean_id
from adm_ingest.records import ADM_PII_KEYS, ConsentSignals, PreparedRecord, Reason, Rejection
from adm_ingest.settings import Settings
from adm_ingest.values import ParseOptions

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


_PER_RECORD_ATTRIBUTES = frozenset({"action", "ip", "ramp_id", "maid"})
"""Attributes that make a member's item differ from its file's template."""
_Template = tuple[tuple[str, ...], str]
"""A member item cut around its externalUserId and digests: (parts, the same as a %-format)."""
_MAX_TEMPLATES = 256
"""Bound on the templates of one context (a layout of 8 PII fields has at most 256 shapes)."""
_MAX_CONTEXTS = 64
"""Bound on the (consent signals, country) contexts whose templates are kept."""


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
        external = [
            {key: value}
            for attribute, key in EXTERNAL_IDENTITIES.items()
            if (value := attributes.get(attribute))
        ]
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


def _granted(consent: ConsentSignals) -> ConsentSignals:
    """``consent`` with Amazon's own signal GRANTED: ADM ignores a DELETE that does not carry
    it, and the removal request itself is what the signal authorizes."""
    return ConsentSignals(
        gpp=consent.gpp, tcf=consent.tcf, amzn_ad_storage="GRANTED", amzn_user_data="GRANTED"
    )


class AudienceMembers(AdmDestination):
    """Members CREATE into an audience dataset; a per-record ``action`` column may say DELETE."""

    name: ClassVar[str] = "audience_members"
    route: ClassVar[RoutePattern] = RoutePattern("audiences/{name}/")
    namespace: ClassVar[str | None] = registry.AUDIENCE
    target_label: ClassVar[str] = "audience"
    wire: ClassVar[WireFormat] = json_items("members", max_items=MEMBERS_PER_REQUEST)
    default_action: ClassVar[str] = "CREATE"

    def __init__(
        self,
        target: DeliveryTarget,
        options: ParseOptions | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(target, options, clock=clock)
        # Item templates by PII field names, per (consent signals, country); the records of a
        # file nearly all share one such context, whose templates are at hand without a lookup.
        self._templates_by_context: dict[
            tuple[ConsentSignals, str], dict[tuple[str, ...], _Template]
        ] = {}
        self._templates: dict[tuple[str, ...], _Template] = {}
        self._consent: ConsentSignals | None = None
        self._country = ""

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        resolved = self._resolve(record)
        if type(resolved) is Rejection:
            return resolved
        action, external_user_id, consent = resolved
        ip = record.attributes.get("ip")
        return {
            "action": action,
            "externalUserId": external_user_id,
            "userConsent": _user_consent(record.country, consent, ip),
            "userIdentity": identity_body(record),
        }

    def encode(self, record: PreparedRecord) -> bytes | Rejection:
        attributes = record.attributes
        hashed_sets = record.hashed_sets
        # The usual member — one PII set, no per-record action, IP or external identities —
        # is filled into a template of its item (see _template). Any other record, or an id
        # that JSON would escape, is serialized from build().
        if len(hashed_sets) == 1 and _PER_RECORD_ATTRIBUTES.isdisjoint(attributes):
            external_id = attributes.get("external_id") or derive_external_user_id(record)
            if (
                external_id is not None
                and external_id.isprintable()
                and '"' not in external_id  # also: an ="…" spreadsheet guard (see _resolve)
                and "\\" not in external_id
                and "'" not in external_id  # a '… spreadsheet guard
                and "+" not in external_id  # scientific notation: 7.01234E+12
            ):
                hashed = hashed_sets[0]
                names = tuple(hashed)
                if record.consent is self._consent and record.country == self._country:
                    templates = self._templates  # the usual case: the file's default context
                else:
                    templates = self._templates_of(record.consent, record.country)
                parts, form = templates.get(names) or self._template(record, names, templates)
                if len(parts) == 3:  # one identifier (email-only files): no format call
                    head, middle, tail = parts
                    (digest,) = hashed.values()
                    return f"{head}{external_id}{middle}{digest}{tail}".encode()
                return (form % (external_id, *hashed.values())).encode()
        return super().encode(record)

    def _templates_of(
        self, consent: ConsentSignals, country: str
    ) -> dict[tuple[str, ...], _Template]:
        """The templates of the records with these consent signals and country, kept by value
        so that a file alternating between a few contexts makes each template once."""
        key = (consent, country)
        templates = self._templates_by_context.get(key)
        if templates is None:
            if len(self._templates_by_context) >= _MAX_CONTEXTS:
                self._templates_by_context.clear()  # bounded, like the templates of a context
            templates = self._templates_by_context[key] = {}
        self._consent, self._country, self._templates = consent, country, templates
        return templates

    def _template(
        self,
        record: PreparedRecord,
        names: tuple[str, ...],
        templates: dict[tuple[str, ...], _Template],
    ) -> _Template:
        """``orjson.dumps(build(record))`` cut where the externalUserId and the digests go —
        as the parts around them, and as a %-format of those parts — for the records of
        ``record``'s consent signals and country with one PII set of ``names``: everything
        else in such an item is the same for all of them, and hex digests and an id that needs
        no escaping go into JSON verbatim. Kept in ``templates``."""
        if len(templates) >= _MAX_TEMPLATES:
            templates.clear()  # bounded: a file has a handful of field sets
        consent, country = self._file_consent(record.consent), record.country
        user_consent = orjson.dumps(_user_consent(country, consent, None)).decode()
        openers = [f'"{ADM_PII_KEYS[name]}":"' for name in names]
        parts = [
            f'{{"action":"{self.default_action}","externalUserId":"',
            f'","userConsent":{user_consent},"userIdentity":{{"hashedPiis":[{{' + openers[0],
        ]
        parts += [f'",{opener}' for opener in openers[1:]]
        parts.append('"}]}}')
        form = "%s".join(part.replace("%", "%%") for part in parts)
        template = templates[names] = (tuple(parts), form)
        return template

    def _resolve(
        self, record: PreparedRecord
    ) -> tuple[str, str | None, ConsentSignals] | Rejection:
        """What ``build`` and ``encode`` share: the action, the externalUserId and the consent
        signals the item carries — or why the record can't be sent."""
        attributes = record.attributes
        action = self._action_of(attributes)
        if action is None:
            return Rejection(record.line, Reason.INVALID_ACTION, "action must be CREATE or DELETE")
        given_id = attributes.get("external_id")
        if given_id:
            given_id = clean_id(given_id)
            if given_id is None:
                return Rejection(
                    record.line, Reason.MANGLED_BY_SPREADSHEET, "id is in scientific notation"
                )
        has_identity = bool(record.hashed_sets) or bool(
            attributes.get("ramp_id") or attributes.get("maid")
        )
        # A removal may name the member by its externalUserId alone; an addition must carry
        # something Amazon can match on (the preparer kept only PII sets that can match).
        if not has_identity and not (action == "DELETE" and given_id):
            return Rejection(record.line, record.no_identity_reason, "no usable identifier")
        consent = record.consent
        if action == "DELETE":
            consent = _granted(consent)
        return action, given_id or derive_external_user_id(record), consent

    def _file_consent(self, consent: ConsentSignals) -> ConsentSignals:
        """The consent signals an item of the file's own action carries."""
        return consent

    def _action_of(self, attributes: dict[str, str]) -> str | None:
        """CREATE or DELETE from the record's ``action`` column (default when absent); None
        when the column holds something else."""
        raw_action = attributes.get("action")
        return _ACTIONS.get(raw_action.strip().upper()) if raw_action else self.default_action

    def _send(
        self, client: AdmClient, body: Body, session: FileSession, position: BatchPosition
    ) -> Delivery:
        assert isinstance(body, bytes), "ADM bodies are built in memory"
        result = client.ingest_members(self.target.id, body)
        return Delivery(
            status=200,
            rejected={error.index: error_reason(error.code) for error in result.errors},
            ingress_id=result.ingress_id,
        )

    # -- the match rate: the dataset's metrics, read by the poller (destinations/adm_metrics.py)

    @cached_property
    def _settings(self) -> Settings:
        return Settings.from_env()

    def _commit(self, client: AdmClient, file: FileContext, session: FileSession) -> Commit:
        """Pending while the dataset's match rate is to be read (``MATCH_RATE_DELAY_SECONDS``
        > 0); no client call: the members are in ADM already."""
        return metrics_commit(
            self.target.id,
            session,
            now=self.clock(),
            delay_seconds=self._settings.match_rate_delay_seconds,
        )

    def _poll(self, client: AdmClient, file: FileContext, session: FileSession) -> RemoteState:
        settings = self._settings
        return metrics_poll(
            client,
            session,
            now=self.clock(),
            poll_max_seconds=settings.poll_max_seconds,
            poll_interval_seconds=settings.poll_interval_seconds,
            classify=self.classify,
        )


class AudienceRemovals(AudienceMembers):
    """Members DELETE from an audience dataset (files under ``audiences/<name>/delete/``),
    with the audience's column mapping when they have none of their own."""

    name: ClassVar[str] = "audience_removals"
    former_names: ClassVar[tuple[str, ...]] = ("audience_deletions",)
    route: ClassVar[RoutePattern] = RoutePattern(
        "audiences/{name}/delete/", borrows_mapping_from=("audiences/{name}/",)
    )
    default_action: ClassVar[str] = "DELETE"

    def _file_consent(self, consent: ConsentSignals) -> ConsentSignals:
        return _granted(consent)

    def _action_of(self, attributes: dict[str, str]) -> str | None:
        # Everything in a deletion file is a deletion, whatever an action column says.
        return "DELETE"
