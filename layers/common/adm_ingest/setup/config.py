"""The setup config: one declarative description of an advertiser's ADM account.

The config is the execution input of the setup state machine and the argument of
``adm-ingest setup``. It is JSON with the API's own camelCase field names, so a value can be
checked against Amazon's OpenAPI by eye::

    {
      "region": "NA",
      "managerAccountId": "amzn1.ads1ma1.…",
      "advertiserAccountId": "ADV-…",
      "audiences": [{"name": "crm_customers_us", "countryCode": "US",
                     "description": "…", "idRetention": true}],
      "conversionDefinitions": [{"name": "offline_purchases",
                                 "conversionType": "OFF_AMAZON_PURCHASES",
                                 "countingMethod": "EVERY", "source": "SERVER_TO_SERVER",
                                 "sourceType": "OFFLINE", "value": 1}],
      "sharingRules": [{"dataset": "crm_customers_us", "application": "DSP_AUDIENCES",
                        "destinationAccountId": "…", "marketplaceId": "ATVPDKIKX0DER",
                        "metadata": {"audienceMetadata": {"audienceName": "CRM customers US"}}}],
      "mappings": {"audiences/crm_customers_us": {"columns": {"E-Mail": "email"}}},
      "aepDatasets": [{"name": "loyalty_profiles", "schema": "Loyalty Profiles",
                       "profileEnabled": true, "identityEnabled": true,
                       "partialIngestionPercent": 5}]
    }

``accounts`` (optional) lets one deployment serve several advertisers: each is ``{name,
region?, managerAccountId, advertiserAccountId, profileId?, secretId?}`` (``region`` defaults to
the top-level one, ``secretId`` to the deployment's credentials secret); the top-level account
is the one named ``default``. An audience, conversion definition or sharing rule may say
``"account": "<name>"`` (a sharing rule's account is its dataset's). Items without it belong to
the default account, so a single-account config is exactly what it was.

``aepDatasets`` (optional) are Adobe Experience Platform datasets, ensured by name against
the schema given by ``$id`` (or ``meta:altId``) or by title; files under ``aep/<name>/`` go
to them. A config with ``aepDatasets`` and no ADM item may leave out the ADM account keys
(an AEP-only config: the workflow then skips the ADM steps and needs no ADM secret).

:func:`load_config` validates everything before any API call and raises :class:`ConfigError`
naming the offending field (``audiences[1].name``) — never echoing a value that could be
personal data. The config itself holds account ids and names, no PII.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adm_ingest.adm.accounts import AccountRef
from adm_ingest.countries import ADM_COUNTRY_CODES
from adm_ingest.destinations import DESTINATIONS
from adm_ingest.mapping import MappingConfig, MappingError
from adm_ingest.pipeline.routing import INPUT_PREFIXES, RoutingError, route

REGIONS = ("NA", "EU", "FE")
ADM_ACCOUNT_KEYS = ("region", "managerAccountId", "advertiserAccountId")
DEFAULT_ACCOUNT = "default"
"""The name of the top-level account (the deployment's credentials secret's)."""
ACCOUNT_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

# Patterns and lengths from the Ads Data Manager OpenAPI (CreateAudienceRequestContent,
# AudienceMetadata) and the DSP Conversions OpenAPI (ConversionDefinitionInputV1).
DATASET_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
DATASET_NAME_LENGTH = (5, 100)
DESCRIPTION_LENGTH = (1, 1000)
AUDIENCE_NAME_LENGTH = (10, 127)
DEFINITION_NAME_LENGTH = (1, 256)
CONVERSION_DEFINITIONS_PER_REQUEST = 10

APPLICATIONS = ("DSP_AUDIENCES", "EVENTS_MANAGER", "AMAZON_MARKETING_CLOUD", "GEO_LOCATIONS")
CONVERSION_TYPES = (
    "ADD_TO_SHOPPING_CART",
    "APPLICATION",
    "CHECKOUT",
    "CONTACT",
    "LEAD",
    "OFF_AMAZON_PURCHASES",
    "OTHER",
    "PAGE_VIEW",
    "SEARCH",
    "SIGN_UP",
    "SUBSCRIBE",
)
COUNTING_METHODS = ("EVERY", "FIRST")
SOURCES = ("AMAZON_AD_TAG", "SERVER_TO_SERVER")
SOURCE_TYPES = ("ANDROID", "FIRE_TABLET", "FIRE_TV", "IOS", "OFFLINE", "WEBSITE")
# ConversionDefinitionSourceTypeV1: an ad tag only measures websites.
SOURCE_TYPES_BY_SOURCE: Mapping[str, tuple[str, ...]] = {
    "AMAZON_AD_TAG": ("WEBSITE",),
    "SERVER_TO_SERVER": SOURCE_TYPES,
}
METADATA_KINDS = ("audienceMetadata", "amcMetadata", "conversionDefinitionId")

# An AEP dataset's config name is also the S3 prefix segment ``aep/<name>/`` and the registry
# key, so it is one path segment of plain characters (AEP itself allows more).
AEP_DATASET_NAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,98}[A-Za-z0-9_.-])?")
PARTIAL_INGESTION_RANGE = (0, 100)

COUNTRY_CODES = ADM_COUNTRY_CODES | {"UNKNOWN"}
"""An audience's ``countryCode``: exactly the API's enum (an ISO code or ``UNKNOWN``) — the
config is an API body, so ``USA`` or ``Germany`` is an error here, not a spelling to read."""


class ConfigError(ValueError):
    """The setup config is invalid. ``field`` is the path of the bad field (``audiences[0].name``).

    The message names the field and the rule it breaks, never the offending value.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """An ADM account other than the default one: its ids and, optionally, its own secret."""

    name: str
    region: str
    manager_account_id: str
    advertiser_account_id: str
    profile_id: str | None = None
    secret_id: str | None = None
    """The Secrets Manager secret with this account's LwA credentials (``None``: the
    deployment's ``ADM_SECRET_ID``, acting for this account's ids)."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "region": self.region,
            "managerAccountId": self.manager_account_id,
            "advertiserAccountId": self.advertiser_account_id,
        }
        if self.profile_id is not None:
            body["profileId"] = self.profile_id
        if self.secret_id is not None:
            body["secretId"] = self.secret_id
        return body

    def ref(self) -> AccountRef:
        """The account as the registry and the ADM client name it."""
        return AccountRef(
            manager_account_id=self.manager_account_id,
            advertiser_account_id=self.advertiser_account_id,
            profile_id=self.profile_id,
            secret_id=self.secret_id,
            region=self.region,
        )


def _with_account(body: dict[str, Any], account: AccountSpec | None) -> dict[str, Any]:
    """A normalized item carries its (non-default) account whole: each step gets the item
    alone and needs the account's ids and secret."""
    if account is not None:
        body["account"] = account.to_json()
    return body


@dataclass(frozen=True, slots=True)
class AudienceSpec:
    """An audience dataset (``POST /adm/audiences``)."""

    name: str
    country_code: str
    description: str | None = None
    id_retention: bool | None = None
    account: AccountSpec | None = None
    """``None``: the default account."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "countryCode": self.country_code}
        if self.description is not None:
            body["description"] = self.description
        if self.id_retention is not None:
            body["idRetention"] = self.id_retention
        return _with_account(body, self.account)


@dataclass(frozen=True, slots=True)
class ConversionDefinitionSpec:
    """A DSP conversion definition; :meth:`to_json` is exactly the create request item."""

    name: str
    conversion_type: str
    counting_method: str
    source: str
    source_type: str
    value: float
    account: AccountSpec | None = None

    def to_json(self) -> dict[str, Any]:
        """The normalized item; :meth:`request_item` is the create request's."""
        return _with_account(self.request_item(), self.account)

    def request_item(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "conversionType": self.conversion_type,
            "countingMethod": self.counting_method,
            "source": self.source,
            "sourceType": self.source_type,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class SharingRuleSpec:
    """A sharing rule: share the configured audience dataset ``dataset`` with a destination.

    ``conversion_definition`` (Events Manager) names a configured conversion definition; the
    step resolves it and sends ``metadata = {"conversionDefinitionId": <id>}``. Otherwise
    ``metadata`` is sent as configured (``audienceMetadata`` for DSP audiences, ``amcMetadata``
    for AMC). ``revoke`` makes the rule a declarative removal: matching ACTIVE/PENDING rules are
    revoked and none is created.
    """

    name: str
    dataset: str
    application: str
    destination_account_id: str
    marketplace_id: str
    conversion_definition: str | None = None
    metadata: Mapping[str, Any] | None = None
    account_entity_id: str | None = None
    revoke: bool = False
    account: AccountSpec | None = None
    """Always its dataset's account."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "dataset": self.dataset,
            "application": self.application,
            "destinationAccountId": self.destination_account_id,
            "marketplaceId": self.marketplace_id,
            "revoke": self.revoke,
        }
        if self.conversion_definition is not None:
            body["conversionDefinition"] = self.conversion_definition
        if self.metadata is not None:
            body["metadata"] = dict(self.metadata)
        if self.account_entity_id is not None:
            body["accountEntityId"] = self.account_entity_id
        return _with_account(body, self.account)


@dataclass(frozen=True, slots=True)
class AepDatasetSpec:
    """An AEP dataset: ensured by ``name`` for the schema ``schema`` (``$id``, altId or title).

    ``profile_enabled`` / ``identity_enabled`` tag it for Real-Time Customer Profile / Identity
    Service; ``partial_ingestion_percent`` is the share of rows (0–100) a batch may lose and
    still succeed (0: one bad row fails the batch).
    """

    name: str
    schema: str
    profile_enabled: bool = False
    identity_enabled: bool = False
    partial_ingestion_percent: float = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.schema,
            "profileEnabled": self.profile_enabled,
            "identityEnabled": self.identity_enabled,
            "partialIngestionPercent": self.partial_ingestion_percent,
        }


@dataclass(frozen=True, slots=True)
class SetupConfig:
    """The whole validated config. :meth:`to_json` is the normalized execution input.

    The ADM account (``region``, ``manager_account_id``, ``advertiser_account_id``) is ``None``
    only in an AEP-only config (no ``managerAccountId``): ``aepDatasets`` and no ADM item.
    """

    region: str | None
    manager_account_id: str | None
    advertiser_account_id: str | None
    audiences: tuple[AudienceSpec, ...] = ()
    conversion_definitions: tuple[ConversionDefinitionSpec, ...] = ()
    sharing_rules: tuple[SharingRuleSpec, ...] = ()
    mappings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    aep_datasets: tuple[AepDatasetSpec, ...] = ()
    accounts: tuple[AccountSpec, ...] = ()
    """The accounts besides the default one (empty: a single-account config)."""

    def to_json(self) -> dict[str, Any]:
        # An AEP-only config has no account keys at all: the state machine's first Choice
        # routes on their presence, around the ADM steps (and the ADM secret).
        account = {
            "region": self.region,
            "managerAccountId": self.manager_account_id,
            "advertiserAccountId": self.advertiser_account_id,
        }
        # Only a multi-account config has ``accounts``: a single-account one stays as it was.
        accounts = {"accounts": [a.to_json() for a in self.accounts]} if self.accounts else {}
        return (
            {key: value for key, value in account.items() if value is not None}
            | accounts
            | {
                "audiences": [a.to_json() for a in self.audiences],
                "conversionDefinitions": [d.to_json() for d in self.conversion_definitions],
                "sharingRules": [r.to_json() for r in self.sharing_rules],
                "mappings": {prefix: dict(mapping) for prefix, mapping in self.mappings.items()},
                "aepDatasets": [d.to_json() for d in self.aep_datasets],
            }
        )


def load_config(source: str | Path | Mapping[str, Any]) -> SetupConfig:
    """Read (a path to a JSON file, or an already parsed mapping) and validate a setup config.

    Raises:
        ConfigError: the first invalid field, by path.
    """
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        path = Path(source)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError("<file>", f"cannot read {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                "<file>", f"not valid JSON (line {error.lineno}, column {error.colno})"
            ) from None
    return parse_config(raw)


def parse_config(raw: Any) -> SetupConfig:
    """Validate an already decoded config document (see :func:`load_config`)."""
    doc = _object(raw, "<config>")
    _only(
        doc,
        "<config>",
        {
            "region",
            "managerAccountId",
            "advertiserAccountId",
            "audiences",
            "conversionDefinitions",
            "sharingRules",
            "mappings",
            "aepDatasets",
            "accounts",
        },
    )
    region = doc.get("region") if doc.get("region") in REGIONS else None
    accounts = tuple(
        _account(item, f"accounts[{i}]", region)
        for i, item in enumerate(_list(doc.get("accounts", []), "accounts"))
    )
    _unique([a.name for a in accounts], "accounts", "name")
    declared = {a.name: a for a in accounts}
    audiences = tuple(
        _audience(item, f"audiences[{i}]", declared)
        for i, item in enumerate(_list(doc.get("audiences", []), "audiences"))
    )
    _unique([a.name for a in audiences], "audiences", "name")
    definitions = tuple(
        _definition(item, f"conversionDefinitions[{i}]", declared)
        for i, item in enumerate(
            _list(doc.get("conversionDefinitions", []), "conversionDefinitions")
        )
    )
    _unique([d.name for d in definitions], "conversionDefinitions", "name")
    rules = tuple(
        _sharing_rule(item, f"sharingRules[{i}]", audiences, definitions, declared)
        for i, item in enumerate(_list(doc.get("sharingRules", []), "sharingRules"))
    )
    _unique([r.name for r in rules], "sharingRules", "name")
    aep_datasets = tuple(
        _aep_dataset(item, f"aepDatasets[{i}]")
        for i, item in enumerate(_list(doc.get("aepDatasets", []), "aepDatasets"))
    )
    _unique([d.name for d in aep_datasets], "aepDatasets", "name")
    # The ADM account is required unless the config is AEP-only: datasets for AEP, no ADM item
    # and no account key (one given means ADM is meant: then all three are checked).
    aep_only = (
        bool(aep_datasets)
        and not (audiences or definitions or rules or accounts)
        and not any(key in doc for key in ADM_ACCOUNT_KEYS)
    )
    return SetupConfig(
        region=None if aep_only else _choice(doc, "region", "region", REGIONS),
        manager_account_id=(
            None if aep_only else _text(doc, "managerAccountId", "managerAccountId")
        ),
        advertiser_account_id=(
            None if aep_only else _text(doc, "advertiserAccountId", "advertiserAccountId")
        ),
        audiences=audiences,
        conversion_definitions=definitions,
        sharing_rules=rules,
        mappings=_mappings(doc.get("mappings", {}), "mappings"),
        aep_datasets=aep_datasets,
        accounts=accounts,
    )


def parse_audience(raw: Any, path: str = "audience") -> AudienceSpec:
    """Validate one audience item (a step's input: the normalized config's ``audiences[i]``)."""
    return _audience(raw, path, None)


def parse_conversion_definitions(
    raw: Any, path: str = "conversionDefinitions"
) -> tuple[ConversionDefinitionSpec, ...]:
    """Validate a list of conversion definition items."""
    return tuple(_definition(item, f"{path}[{i}]", None) for i, item in enumerate(_list(raw, path)))


def parse_sharing_rule(raw: Any, path: str = "sharingRule") -> SharingRuleSpec:
    """Validate one sharing rule item; the names it references are resolved by the step."""
    return _sharing_rule(raw, path, None, None, None)


def parse_account(raw: Any, path: str = "account") -> AccountSpec:
    """Validate one normalized account (a step's input: the config's ``accounts[i]``)."""
    return _account(raw, path, None)


def _account(raw: Any, path: str, default_region: str | None) -> AccountSpec:
    item = _object(raw, path)
    _only(
        item,
        path,
        {"name", "region", "managerAccountId", "advertiserAccountId", "profileId", "secretId"},
    )
    name = _text(item, "name", f"{path}.name")
    if not ACCOUNT_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{path}.name",
            "must be 1–64 letters, digits, '_' or '-', starting with a letter or digit",
        )
    if name == DEFAULT_ACCOUNT:
        raise ConfigError(f"{path}.name", "default is the top-level account's name")
    if "region" in item or default_region is None:
        region = _choice(item, "region", f"{path}.region", REGIONS)
    else:
        region = default_region
    optional = {
        key: _text(item, key, f"{path}.{key}") if key in item else None
        for key in ("profileId", "secretId")
    }
    return AccountSpec(
        name=name,
        region=region,
        manager_account_id=_text(item, "managerAccountId", f"{path}.managerAccountId"),
        advertiser_account_id=_text(item, "advertiserAccountId", f"{path}.advertiserAccountId"),
        profile_id=optional["profileId"],
        secret_id=optional["secretId"],
    )


def _item_account(
    item: Mapping[str, Any], path: str, accounts: Mapping[str, AccountSpec] | None
) -> AccountSpec | None:
    """An item's ``account``: a declared account's name in a config; the account itself in a
    normalized item (a step's input, ``accounts`` None); absent or ``default``: None."""
    if "account" not in item:
        return None
    raw = item["account"]
    if isinstance(raw, Mapping):  # normalized: the account itself
        account = _account(raw, f"{path}.account", None)
        if accounts is not None and accounts.get(account.name) != account:
            raise ConfigError(f"{path}.account", "must be an account of this config")
        return account
    name = _text(item, "account", f"{path}.account")
    if name == DEFAULT_ACCOUNT:
        return None
    if accounts is None or name not in accounts:
        raise ConfigError(f"{path}.account", "must name an account of this config (or default)")
    return accounts[name]


def parse_aep_dataset(raw: Any, path: str = "aepDataset") -> AepDatasetSpec:
    """Validate one AEP dataset item (a step's input: the normalized ``aepDatasets[i]``)."""
    return _aep_dataset(raw, path)


def _aep_dataset(raw: Any, path: str) -> AepDatasetSpec:
    item = _object(raw, path)
    _only(
        item,
        path,
        {"name", "schema", "profileEnabled", "identityEnabled", "partialIngestionPercent"},
    )
    name = _text(item, "name", f"{path}.name")
    if not AEP_DATASET_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{path}.name",
            "must be 1–100 letters, digits, ' ', '_', '.' or '-', starting and ending with a "
            "letter or digit",
        )
    percent = item.get("partialIngestionPercent", 0)
    low, high = PARTIAL_INGESTION_RANGE
    if (
        isinstance(percent, bool)
        or not isinstance(percent, int | float)
        or not math.isfinite(percent)
        or not low <= percent <= high
    ):
        raise ConfigError(
            f"{path}.partialIngestionPercent", f"must be a number from {low} to {high}"
        )
    return AepDatasetSpec(
        name=name,
        schema=_text(item, "schema", f"{path}.schema").strip(),
        profile_enabled=_bool(item.get("profileEnabled", False), f"{path}.profileEnabled"),
        identity_enabled=_bool(item.get("identityEnabled", False), f"{path}.identityEnabled"),
        partial_ingestion_percent=percent,
    )


def _audience(raw: Any, path: str, accounts: Mapping[str, AccountSpec] | None) -> AudienceSpec:
    item = _object(raw, path)
    _only(item, path, {"name", "countryCode", "description", "idRetention", "account"})
    name = _text(item, "name", f"{path}.name", length=DATASET_NAME_LENGTH)
    if not DATASET_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{path}.name",
            "must start with a letter and contain only letters, digits, '_' and '-'",
        )
    country = _text(item, "countryCode", f"{path}.countryCode")
    if country not in COUNTRY_CODES:
        raise ConfigError(f"{path}.countryCode", "must be an ISO 3166-1 alpha-2 code, e.g. US")
    description = None
    if "description" in item:
        description = _text(item, "description", f"{path}.description", length=DESCRIPTION_LENGTH)
    id_retention = None
    if "idRetention" in item:
        id_retention = _bool(item["idRetention"], f"{path}.idRetention")
    return AudienceSpec(
        name, country, description, id_retention, _item_account(item, path, accounts)
    )


def _definition(
    raw: Any, path: str, accounts: Mapping[str, AccountSpec] | None
) -> ConversionDefinitionSpec:
    item = _object(raw, path)
    _only(
        item,
        path,
        {"name", "conversionType", "countingMethod", "source", "sourceType", "value", "account"},
    )
    source = _choice(item, "source", f"{path}.source", SOURCES)
    source_type = _choice(item, "sourceType", f"{path}.sourceType", SOURCE_TYPES)
    if source_type not in SOURCE_TYPES_BY_SOURCE[source]:
        raise ConfigError(
            f"{path}.sourceType",
            f"must be one of {', '.join(SOURCE_TYPES_BY_SOURCE[source])} with source {source}",
        )
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}.value", "is required and must be a number")
    return ConversionDefinitionSpec(
        name=_text(item, "name", f"{path}.name", length=DEFINITION_NAME_LENGTH),
        conversion_type=_choice(item, "conversionType", f"{path}.conversionType", CONVERSION_TYPES),
        counting_method=_choice(item, "countingMethod", f"{path}.countingMethod", COUNTING_METHODS),
        source=source,
        source_type=source_type,
        value=value,
        account=_item_account(item, path, accounts),
    )


def _sharing_rule(
    raw: Any,
    path: str,
    audiences: tuple[AudienceSpec, ...] | None,
    definitions: tuple[ConversionDefinitionSpec, ...] | None,
    accounts: Mapping[str, AccountSpec] | None,
) -> SharingRuleSpec:
    """One sharing rule; ``audiences``/``definitions`` (when given) must contain its source,
    in the rule's account (its dataset's, when the rule names none)."""
    item = _object(raw, path)
    _only(
        item,
        path,
        {
            "name",
            "dataset",
            "conversionDefinition",
            "application",
            "destinationAccountId",
            "marketplaceId",
            "metadata",
            "accountEntityId",
            "revoke",
            "account",
        },
    )
    account = _item_account(item, path, accounts)
    dataset = _text(item, "dataset", f"{path}.dataset")
    if audiences is not None:
        audience = next((a for a in audiences if a.name == dataset), None)
        if audience is None:
            raise ConfigError(f"{path}.dataset", "must name an audience of this config")
        if "account" not in item:
            account = audience.account  # a dataset is shared from its own account's data room
        elif account != audience.account:
            raise ConfigError(f"{path}.account", "must be the account of its dataset")
    definition = None
    if "conversionDefinition" in item:
        definition = _text(item, "conversionDefinition", f"{path}.conversionDefinition")
        if definitions is not None:
            found = next((d for d in definitions if d.name == definition), None)
            if found is None:
                raise ConfigError(
                    f"{path}.conversionDefinition",
                    "must name a conversion definition of this config",
                )
            if found.account != account:
                raise ConfigError(
                    f"{path}.conversionDefinition", "must be in the account of the rule's dataset"
                )
        if "metadata" in item:
            raise ConfigError(
                f"{path}.metadata", "must be omitted with conversionDefinition (it is derived)"
            )
    application = _choice(item, "application", f"{path}.application", APPLICATIONS)
    destination = _text(item, "destinationAccountId", f"{path}.destinationAccountId")
    metadata = None
    if "metadata" in item:
        metadata = _metadata(item["metadata"], f"{path}.metadata")
    elif definition is None:
        raise ConfigError(f"{path}.metadata", "is required (or conversionDefinition)")
    default_name = ":".join(filter(None, (dataset, definition, application, destination)))
    return SharingRuleSpec(
        name=_text(item, "name", f"{path}.name") if "name" in item else default_name,
        dataset=dataset,
        application=application,
        destination_account_id=destination,
        marketplace_id=_text(item, "marketplaceId", f"{path}.marketplaceId"),
        conversion_definition=definition,
        metadata=metadata,
        account_entity_id=(
            _text(item, "accountEntityId", f"{path}.accountEntityId")
            if "accountEntityId" in item
            else None
        ),
        revoke=_bool(item.get("revoke", False), f"{path}.revoke"),
        account=account,
    )


def _metadata(raw: Any, path: str) -> dict[str, Any]:
    """One member of the OpenAPI's SharingRuleMetadata union, checked structurally."""
    metadata = _object(raw, path)
    if len(metadata) != 1 or next(iter(metadata)) not in METADATA_KINDS:
        raise ConfigError(path, f"must have exactly one of {', '.join(METADATA_KINDS)}")
    kind = next(iter(metadata))
    if kind == "conversionDefinitionId":
        _text(metadata, kind, f"{path}.{kind}")
        return dict(metadata)
    inner = _object(metadata[kind], f"{path}.{kind}")
    if kind == "audienceMetadata":
        _only(inner, f"{path}.{kind}", {"audienceName", "description", "externalAudienceId"})
        _text(inner, "audienceName", f"{path}.{kind}.audienceName", length=AUDIENCE_NAME_LENGTH)
        for optional in ("description", "externalAudienceId"):
            if optional in inner:
                _text(inner, optional, f"{path}.{kind}.{optional}")
    else:
        _only(inner, f"{path}.{kind}", {"amcInstanceId", "amcInstanceName"})
        _text(inner, "amcInstanceId", f"{path}.{kind}.amcInstanceId")
        if "amcInstanceName" in inner:
            _text(inner, "amcInstanceName", f"{path}.{kind}.amcInstanceName")
    return {kind: dict(inner)}


def _mappings(raw: Any, path: str) -> dict[str, dict[str, Any]]:
    """Per-prefix column mappings: ``{"audiences/<name>": <mapping config>}``.

    The key is a routing prefix (``audiences/<name>``, ``audiences/<name>/delete``,
    ``conversions/<name>``, ``deletions``; a trailing ``/`` is dropped); the value is the
    mapping config the worker applies to files under it (``{"columns": {"<source column>":
    "<canonical field>"}, "ignore": [...], "defaults": {...}}``, see ``events/mappings/``; for
    an AEP dataset ``{"xdm": {…}, "on_chunk_failure": …}``, its ``xdm`` section checked against
    the dataset when a file arrives).
    """
    result: dict[str, dict[str, Any]] = {}
    for prefix, document in _object(raw, path).items():
        entry_path = f"{path}[{prefix!r}]"
        key = _mapping_key(str(prefix), entry_path)
        mapping = _object(document, entry_path)
        if "xdm" in mapping:  # an AEP dataset's: columns → XDM paths (or auto-detected)
            _object(mapping["xdm"], f"{entry_path}.xdm")
            columns = _object(mapping.get("columns", {}), f"{entry_path}.columns")
        else:
            columns = _object(mapping.get("columns"), f"{entry_path}.columns")
            if not columns:
                raise ConfigError(f"{entry_path}.columns", "must map at least one column")
        for column in columns:
            _text(columns, column, f"{entry_path}.columns[{column!r}]")
        try:  # the same validation the pipeline applies, so setup refuses what it would refuse
            MappingConfig.from_dict(dict(mapping))
        except MappingError as error:
            raise ConfigError(entry_path, str(error)) from error
        result[key] = dict(mapping)
    return result


def _mapping_key(prefix: str, path: str) -> str:
    """``prefix`` without its trailing ``/``, when it is exactly the routing prefix the routing
    table gives files under it (so some file uses the mapping): under one of the declared
    input prefixes, and no deeper or shallower than a destination's route."""
    key = prefix.rstrip("/")
    if not f"{key}/".startswith(INPUT_PREFIXES):
        raise ConfigError(path, f"prefix must start with {' or '.join(INPUT_PREFIXES)}")
    try:
        routed = route(f"{key}/file").prefix
    except RoutingError:
        routed = None
    if routed != key:
        patterns = ", ".join(cls.route.describe() for cls in DESTINATIONS)
        raise ConfigError(path, f"prefix must be a routing prefix: one of {patterns}")
    return key


# -- small typed readers: each names the field path in its error ---------------------------


def _object(raw: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(path, "must be a JSON object")
    return raw


def _list(raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, list):
        raise ConfigError(path, "must be a JSON array")
    return raw


def _only(item: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        # Key names are ours (not data), so naming them is safe and catches typos early.
        raise ConfigError(f"{path}.{unknown[0]}", "is not a known field")


def _text(
    item: Mapping[str, Any], key: str, path: str, *, length: tuple[int, int] | None = None
) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, "is required and must be a non-empty string")
    if length is not None and not length[0] <= len(value) <= length[1]:
        raise ConfigError(path, f"must be {length[0]}–{length[1]} characters long")
    return value


def _choice(item: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> str:
    value = item.get(key)
    if value not in allowed:
        raise ConfigError(path, f"must be one of {', '.join(allowed)}")
    return str(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, "must be true or false")
    return value


def _unique(names: list[str], path: str, key: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(f"{path}[{i}].{key}", "duplicates an earlier entry")
        seen.add(name)
