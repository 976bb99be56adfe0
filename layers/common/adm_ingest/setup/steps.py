"""The idempotent ``ensure_*`` steps of the setup workflow.

Every step lists (or GETs) first and creates only what is missing, so the workflow can be
re-run at any time: a second run with the same config creates nothing and reports every item
``unchanged``. Creates are never replayed blindly: the ADM client raises
:class:`~adm_ingest.adm.errors.RetryableError` on a throttled or failed create without retrying
it; the state machine retries the *step*, and the step lists again before creating — so a
create that was applied although its response was lost is found, not duplicated.

Each step returns :class:`ItemResult` values (plain JSON through :meth:`ItemResult.to_json`),
which is what the Lambda handlers hand back to Step Functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from adm_ingest.adm import AdmClient, DuplicateDatasetName, SharingRule
from adm_ingest.registry import AUDIENCE, CONVERSION_DEFINITION, MAPPING, SHARING_RULE, Registry
from adm_ingest.setup.config import (
    CONVERSION_DEFINITIONS_PER_REQUEST,
    AudienceSpec,
    ConversionDefinitionSpec,
    SetupConfig,
    SharingRuleSpec,
)

logger = Logger(child=True)

# Rule statuses that mean "this share exists" (SharingRuleStatus in the OpenAPI); revoked and
# shadow rules do not count, so a revoked share is created again when still configured.
LIVE_RULE_STATUSES = ("ACTIVE", "PENDING")
# The conversions API's per-item code for a name that is taken.
DUPLICATE_DEFINITION_NAME = "DUPLICATE_NAME"


class Outcome(StrEnum):
    """What a step did to one item."""

    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    """Registry only: the entry existed with a different id or attributes."""
    REVOKED = "revoked"
    """Sharing rules configured with ``revoke: true``."""


class ItemKind(StrEnum):
    """The kinds of items the setup manages (the first column of the report)."""

    TERMS = "terms"
    DATA_ROOM = "data_room"
    AUDIENCE = "audience"
    CONVERSION_DEFINITION = "conversion_definition"
    SHARING_RULE = "sharing_rule"
    AEP_DATASET = "aep_dataset"
    REGISTRY = "registry"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's outcome: ``id`` is its ADM id (empty when it has none, e.g. the terms)."""

    kind: ItemKind
    name: str
    id: str
    outcome: Outcome
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "id": self.id,
            "outcome": self.outcome.value,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ItemResult:
        return cls(
            kind=ItemKind(raw["kind"]),
            name=str(raw["name"]),
            id=str(raw["id"]),
            outcome=Outcome(raw["outcome"]),
            attributes=dict(raw.get("attributes") or {}),
        )


class TermsNotAcceptable(Exception):
    """The terms are not accepted and the API offered no agreement token to accept them with."""


class ConversionDefinitionsRejected(Exception):
    """The conversions API rejected some definitions (207 errors); names and codes only."""


class UnknownName(Exception):
    """A sharing rule names an audience or definition the earlier steps did not resolve."""


class AudienceCountryMismatch(Exception):
    """An audience of that name exists with another country; datasets cannot be re-homed."""


def ensure_terms(client: AdmClient) -> ItemResult:
    """Accept the ADM terms (``PATCH /adm/terms``) only when ``GET`` says they are not accepted."""
    terms = client.get_terms()
    if terms.has_accepted:
        return ItemResult(ItemKind.TERMS, "terms", "", Outcome.UNCHANGED)
    if not terms.agreement_token:
        raise TermsNotAcceptable("GET /adm/terms returned no agreementToken to accept")
    client.accept_terms(terms.agreement_token)
    logger.info("ADM terms accepted")
    return ItemResult(ItemKind.TERMS, "terms", "", Outcome.CREATED)


def ensure_data_room(client: AdmClient, advertiser_account_id: str = "") -> ItemResult:
    """Create the manager account's data room only when ``GET /adm/datarooms`` is a 404."""
    room = client.get_data_room()
    if room is not None:
        return ItemResult(ItemKind.DATA_ROOM, "data_room", room.account_id, Outcome.UNCHANGED)
    room = client.create_data_room()
    logger.info("data room created", extra={"advertiser_account_id": advertiser_account_id})
    return ItemResult(ItemKind.DATA_ROOM, "data_room", room.account_id, Outcome.CREATED)


def ensure_account(
    client: AdmClient, name: str, advertiser_account_id: str
) -> tuple[ItemResult, ItemResult]:
    """Another account's terms and data room (``client`` acts for it), as for the default
    account; the results are named ``<account>:terms`` / ``<account>:data_room``."""
    terms = ensure_terms(client)
    room = ensure_data_room(client, advertiser_account_id)
    return (
        replace(terms, name=f"{name}:{terms.name}"),
        replace(room, name=f"{name}:{room.name}"),
    )


def ensure_audience(client: AdmClient, spec: AudienceSpec) -> ItemResult:
    """The audience dataset named ``spec.name``: found by listing, else created.

    A ``DuplicateDatasetName`` answer (someone created it between our list and our create)
    carries the existing id, which is reused.

    Raises:
        AudienceCountryMismatch: a dataset of that name exists with another country code.
    """
    existing = next((d for d in client.list_audiences() if d.name == spec.name), None)
    if existing is not None:
        existing_country = getattr(existing, "country_code", None)
        if existing_country and existing_country != spec.country_code:
            raise AudienceCountryMismatch(
                f"audience {spec.name} exists with countryCode {existing_country}, "
                f"config says {spec.country_code}"
            )
        return _audience_result(spec, existing.data_set_id, Outcome.UNCHANGED)
    try:
        created = client.create_audience(
            spec.name, spec.country_code, spec.description, spec.id_retention
        )
    except DuplicateDatasetName as duplicate:
        if not duplicate.dataset_id:
            raise
        return _audience_result(spec, duplicate.dataset_id, Outcome.UNCHANGED)
    logger.info(
        "audience created", extra={"audience": spec.name, "data_set_id": created.data_set_id}
    )
    return _audience_result(spec, created.data_set_id, Outcome.CREATED)


def _audience_result(spec: AudienceSpec, data_set_id: str, outcome: Outcome) -> ItemResult:
    return ItemResult(
        ItemKind.AUDIENCE, spec.name, data_set_id, outcome, {"countryCode": spec.country_code}
    )


def _definition_ids(client: AdmClient) -> dict[str, str]:
    return {d.name: d.conversion_definition_id for d in client.list_conversion_definitions()}


def ensure_conversion_definitions(
    client: AdmClient, specs: Sequence[ConversionDefinitionSpec]
) -> list[ItemResult]:
    """Every configured definition, in config order: existing ones by name, the rest created.

    Missing definitions are created ≤ 10 per request; the 207's per-item success and error
    entries are mapped back to the request's items by (0-based) index. A ``DUPLICATE_NAME``
    item error means the definition appeared since the list: it is looked up, not refused.

    Raises:
        ConversionDefinitionsRejected: after all requests, when any definition was refused.
    """
    existing = _definition_ids(client)
    ids: dict[str, str] = {}
    created: set[str] = set()
    refused: list[str] = []
    raced = False
    missing = [spec for spec in specs if spec.name not in existing]
    for start in range(0, len(missing), CONVERSION_DEFINITIONS_PER_REQUEST):
        chunk = missing[start : start + CONVERSION_DEFINITIONS_PER_REQUEST]
        batch = client.create_conversion_definitions([spec.request_item() for spec in chunk])
        for index, definition_id in batch.success:
            ids[chunk[index].name] = definition_id
            created.add(chunk[index].name)
        for error in batch.errors:
            if error.code == DUPLICATE_DEFINITION_NAME:
                raced = True  # created since our list (e.g. by an earlier, lost attempt)
            else:
                refused.append(f"{chunk[error.index].name} ({error.code})")
    if refused:
        raise ConversionDefinitionsRejected(
            "conversion definitions rejected: " + ", ".join(refused)
        )
    if raced:
        existing = _definition_ids(client)
    if created:
        logger.info("conversion definitions created", extra={"names": sorted(created)})
    return [
        ItemResult(
            ItemKind.CONVERSION_DEFINITION,
            spec.name,
            ids[spec.name] if spec.name in created else existing[spec.name],
            Outcome.CREATED if spec.name in created else Outcome.UNCHANGED,
        )
        for spec in specs
    ]


@dataclass(frozen=True, slots=True)
class SharedIds:
    """The ADM ids a sharing rule refers to: its dataset and, optionally, a definition."""

    data_set_id: str
    conversion_definition_id: str | None = None


def resolve_shared_ids(
    spec: SharingRuleSpec,
    audiences: Iterable[Mapping[str, Any] | ItemResult],
    definitions: Iterable[Mapping[str, Any] | ItemResult],
) -> SharedIds:
    """The ids of what ``spec`` names, from the earlier steps' results.

    Raises:
        UnknownName: the earlier steps produced no id for one of the names.
    """
    data_set_id = _id_of(spec.dataset, audiences, spec)
    definition_id = None
    if spec.conversion_definition is not None:
        definition_id = _id_of(spec.conversion_definition, definitions, spec)
    return SharedIds(data_set_id, definition_id)


def _id_of(
    name: str, results: Iterable[Mapping[str, Any] | ItemResult], spec: SharingRuleSpec
) -> str:
    for item in results:
        result = item if isinstance(item, ItemResult) else ItemResult.from_json(item)
        if result.name == name:
            return result.id
    raise UnknownName(f"sharing rule {spec.name}: no id resolved for {name}")


def ensure_sharing_rule(client: AdmClient, spec: SharingRuleSpec, ids: SharedIds) -> ItemResult:
    """The sharing rule ``spec``: created only when no live rule matches.

    A rule matches when it shares the same dataset with the same application, destination
    account and marketplace (and, for a conversion definition, the same definition) and is
    ACTIVE or PENDING. With ``spec.revoke`` the matching live rules are revoked instead and
    nothing is created.
    """
    matching = [
        rule
        for rule in client.list_sharing_rules(
            application=spec.application,
            dataset_ids=[ids.data_set_id],
            destination_account_id=spec.destination_account_id,
            statuses=list(LIVE_RULE_STATUSES),
        )
        if _matches(rule, spec, ids)
    ]
    attributes = {
        "application": spec.application,
        "dataset": spec.dataset,
        "dataSetId": ids.data_set_id,
        "destinationAccountId": spec.destination_account_id,
        "revoke": spec.revoke,
    }
    if spec.revoke:
        for rule in matching:
            client.revoke_sharing_rule(rule.sharing_rule_id)
            logger.info("sharing rule revoked", extra={"sharing_rule_id": rule.sharing_rule_id})
        ids_text = ",".join(rule.sharing_rule_id for rule in matching)
        outcome = Outcome.REVOKED if matching else Outcome.UNCHANGED
        return ItemResult(ItemKind.SHARING_RULE, spec.name, ids_text, outcome, attributes)
    if matching:
        rule_id = matching[0].sharing_rule_id
        return ItemResult(ItemKind.SHARING_RULE, spec.name, rule_id, Outcome.UNCHANGED, attributes)
    if ids.conversion_definition_id is not None:
        metadata: dict[str, Any] = {"conversionDefinitionId": ids.conversion_definition_id}
    else:
        metadata = dict(spec.metadata or {})
    rule = client.create_sharing_rule(
        application=spec.application,
        data_set_id=ids.data_set_id,
        destination_account_id=spec.destination_account_id,
        marketplace_id=spec.marketplace_id,
        metadata=metadata,
        account_entity_id=spec.account_entity_id,
    )
    logger.info("sharing rule created", extra={"sharing_rule_id": rule.sharing_rule_id})
    return ItemResult(
        ItemKind.SHARING_RULE, spec.name, rule.sharing_rule_id, Outcome.CREATED, attributes
    )


def _matches(rule: SharingRule, spec: SharingRuleSpec, ids: SharedIds) -> bool:
    """Re-check the list filters (a lenient server may ignore some) plus marketplace/definition."""

    def same(value: str, wanted: str) -> bool:
        return value in ("", wanted)  # a field the server left out does not disqualify

    if ids.conversion_definition_id is not None:
        shown = rule.raw.get("metadata", {}).get("conversionDefinitionMetadata", {})
        if shown.get("conversionDefinitionId") not in (None, ids.conversion_definition_id):
            return False
    return (
        rule.status in LIVE_RULE_STATUSES
        and same(rule.data_set_id, ids.data_set_id)
        and same(rule.application, spec.application)
        and same(rule.destination_account_id, spec.destination_account_id)
        and same(rule.marketplace_id, spec.marketplace_id)
    )


def save_registry(
    registry: Registry, config: SetupConfig, results: Iterable[ItemResult]
) -> list[ItemResult]:
    """Write the name → id entries the pipeline routes by; untouched when already equal.

    Audiences (country as attribute), conversion definitions, sharing rules (status ACTIVE, or
    REVOKED once a ``revoke: true`` rule revoked something) and the per-prefix
    mapping configs (attribute ``config``: canonical JSON, as the worker reads it). An audience
    or definition of a non-default account also carries the account
    (:data:`~adm_ingest.adm.accounts.ACCOUNT_ATTRIBUTES`), which routes its files there; the
    default account's entries carry none, as before. Returns one registry result per entry
    (created / updated / unchanged).
    """
    accounts = {
        ItemKind.AUDIENCE: {spec.name: spec.account for spec in config.audiences},
        ItemKind.CONVERSION_DEFINITION: {
            spec.name: spec.account for spec in config.conversion_definitions
        },
    }

    def account_of(result: ItemResult) -> dict[str, Any]:
        account = accounts[result.kind].get(result.name)
        return account.ref().to_attributes() if account is not None else {}

    entries: list[tuple[str, str, str, dict[str, Any]]] = []
    for result in results:
        if result.kind is ItemKind.AUDIENCE:
            country = str(result.attributes.get("countryCode", ""))
            attributes = {"country": country} | account_of(result)
            entries.append((AUDIENCE, result.name, result.id, attributes))
        elif result.kind is ItemKind.CONVERSION_DEFINITION:
            entries.append((CONVERSION_DEFINITION, result.name, result.id, account_of(result)))
        elif result.kind is ItemKind.SHARING_RULE:
            revoked = bool(result.attributes.get("revoke"))
            if revoked and result.outcome is not Outcome.REVOKED:
                continue  # revoked on an earlier run: its entry already says so
            attributes = {
                "application": str(result.attributes.get("application", "")),
                "dataset": str(result.attributes.get("dataset", "")),
                "status": "REVOKED" if revoked else "ACTIVE",
            }
            entries.append((SHARING_RULE, result.name, result.id, attributes))
    for prefix, mapping in config.mappings.items():
        document = json.dumps(dict(mapping), sort_keys=True, separators=(",", ":"))
        entries.append((MAPPING, prefix, mapping_id(document), {"config": document}))
    return [put_if_changed(registry, *entry) for entry in entries]


def mapping_id(document: str) -> str:
    """A stable id for a mapping config (hash of its canonical JSON): equal configs, equal ids."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]


def put_if_changed(
    registry: Registry, namespace: str, name: str, id: str, attributes: dict[str, Any]
) -> ItemResult:
    """Write the entry only when the stored one differs; its created / updated / unchanged."""
    current = registry.get(namespace, name)
    if current is not None and current.id == id and dict(current.attributes) == attributes:
        outcome = Outcome.UNCHANGED
    else:
        registry.put(namespace, name, id, **attributes)
        outcome = Outcome.CREATED if current is None else Outcome.UPDATED
    return ItemResult(ItemKind.REGISTRY, f"{namespace}#{name}", id, outcome)
