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
region?, managerAccountId, advertiserAccountId, profileId?, secretId?, aepSecretId?}``
(``region`` defaults to the top-level one, ``secretId`` to the deployment's ADM credentials
secret); the top-level account is the one named ``default``. An audience, conversion definition
or sharing rule may say ``"account": "<name>"`` (a sharing rule's account is its dataset's).
``aepSecretId`` is the Secrets Manager secret with that advertiser's AEP OAuth Server-to-Server
credentials (its own org, sandbox and tenant); an ``aepDatasets`` item naming the account is
ensured, and its files delivered, with it. An account may be AEP-only — ``{name,
aepSecretId}``, no ADM key — and then no ADM item may name it; an ``aepDatasets`` item may name
only an account with ``aepSecretId``. Items without ``account`` belong to the default account
(ADM: the deployment's ``ADM_SECRET_ID``; AEP: its ``AEP_SECRET_ID``), so a single-account
config is exactly what it was.

``aepDatasets`` (optional) are Adobe Experience Platform datasets, ensured by name against
the schema given by ``$id`` (or ``meta:altId``) or by title; files under ``aep/<name>/`` go
to them. A config with ``aepDatasets`` and no ADM item may leave out the ADM account keys
(an AEP-only config: the workflow then skips the ADM steps and needs no ADM secret); its
``accounts`` may then only be AEP-only ones.

:func:`load_config` validates everything before any API call and raises :class:`ConfigError`
naming the offending field (``audiences[1].name``) — never echoing a value that could be
personal data. The config itself holds account ids and names, no PII.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from adm_ingest.adm.accounts import AccountRef
from adm_ingest.countries import ADM_COUNTRY_CODES
from adm_ingest.destinations import DESTINATIONS
from adm_ingest.mapping import MappingConfig, MappingError
from adm_ingest.pipeline.routing import INPUT_PREFIXES, RoutingError, route

_T = TypeVar("_T")

REGIONS = ("NA", "EU", "FE")
ADM_ACCOUNT_KEYS = ("region", "managerAccountId", "advertiserAccountId")
ADM_ACCOUNT_ITEM_KEYS = (
    "region",
    "managerAccountId",
    "advertiserAccountId",
    "profileId",
    "secretId",
)
"""An ``accounts`` item's ADM keys: an item with none of them (and an ``aepSecretId``) is an
AEP-only account."""
DEFAULT_ACCOUNT = "default"
"""The name of the top-level account (the deployment's credentials secret's)."""
ACCOUNT_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def account_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as an ``accounts[].name`` (``None``: nothing) — the one
    rule, also for the names ``adm-ingest sandbox --account`` gives its extra accounts."""
    if not ACCOUNT_NAME_PATTERN.fullmatch(name):
        return "must be 1–64 letters, digits, '_' or '-', starting with a letter or digit"
    if name == DEFAULT_ACCOUNT:
        return "default is the top-level account's name"
    return None


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


FILE_FIELD = "<file>"
"""The field of a problem with the config file itself (unreadable, not JSON)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid field: its path (``audiences[0].name``) and the rule it breaks."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class ConfigError(ValueError):
    """The setup config is invalid: every problem found, in document order.

    ``problems`` lists them all (one validation pass finds every mistake, so a user fixes a
    config in one round trip); ``field`` / ``problem`` are the first one's. The message has one
    ``field: problem`` line per problem and names rules, never the offending value.
    """

    def __init__(self, field: str, problem: str, *more: Problem) -> None:
        self.problems: tuple[Problem, ...] = (Problem(field, problem), *more)
        super().__init__("\n".join(str(found) for found in self.problems))
        self.field = field
        self.problem = problem

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigError:
        """One error listing ``problems`` (at least one)."""
        first, *rest = problems
        return cls(first.field, first.problem, *rest)


class _Problems:
    """Collects the problems of one validation pass instead of stopping at the first.

    :meth:`take` runs one field's reader: its value, or ``None`` with the problem recorded.
    """

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def take(self, read: Callable[..., _T], *args: Any) -> _T | None:
        try:
            return read(*args)
        except ConfigError as error:
            self.found.extend(error.problems)
            return None

    def add(self, field: str, problem: str) -> None:
        self.found.append(Problem(field, problem))

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError.of(self.found)


def _strict(parse: Callable[[Any, str, _Problems], _T | None], raw: Any, path: str) -> _T:
    """Run a collecting item parser for a single item: its value, or all its problems raised."""
    problems = _Problems()
    value = parse(raw, path, problems)
    problems.raise_any()
    assert value is not None  # no problem recorded means the item was built
    return value


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """An advertiser other than the default one: its ADM ids and, optionally, its own ADM
    secret; and/or the secret of its AEP credentials. An AEP-only account has no ADM ids
    (``region``, ``manager_account_id`` and ``advertiser_account_id`` all ``None``)."""

    name: str
    region: str | None = None
    manager_account_id: str | None = None
    advertiser_account_id: str | None = None
    profile_id: str | None = None
    secret_id: str | None = None
    """The Secrets Manager secret with this account's LwA credentials (``None``: the
    deployment's ``ADM_SECRET_ID``, acting for this account's ids)."""
    aep_secret_id: str | None = None
    """The Secrets Manager secret with this advertiser's AEP credentials (``None``: the account
    has no AEP datasets of its own)."""

    @property
    def has_adm(self) -> bool:
        """Whether the account is an ADM account (an AEP-only one is not)."""
        return self.manager_account_id is not None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name}
        for key, value in (
            ("region", self.region),
            ("managerAccountId", self.manager_account_id),
            ("advertiserAccountId", self.advertiser_account_id),
            ("profileId", self.profile_id),
            ("secretId", self.secret_id),
            ("aepSecretId", self.aep_secret_id),
        ):
            if value is not None:
                body[key] = value
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
    account: AccountSpec | None = None
    """``None``: the default account (the deployment's ``AEP_SECRET_ID``); else an account with
    an ``aep_secret_id``."""

    @property
    def aep_secret_id(self) -> str | None:
        """The AEP credentials secret of the dataset's account (``None``: the deployment's)."""
        return self.account.aep_secret_id if self.account is not None else None

    def to_json(self) -> dict[str, Any]:
        body = {
            "name": self.name,
            "schema": self.schema,
            "profileEnabled": self.profile_enabled,
            "identityEnabled": self.identity_enabled,
            "partialIngestionPercent": self.partial_ingestion_percent,
        }
        return _with_account(body, self.account)


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
            raise ConfigError(FILE_FIELD, f"cannot read it ({error.strerror})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                FILE_FIELD, f"not valid JSON (line {error.lineno}, column {error.colno})"
            ) from None
    return parse_config(raw)


def parse_config(raw: Any) -> SetupConfig:
    """Validate an already decoded config document (see :func:`load_config`).

    Raises:
        ConfigError: listing every invalid field found, in document order.
    """
    problems = _Problems()
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
        problems,
    )

    def items(key: str) -> list[tuple[Any, str]]:
        raw_list = problems.take(lambda: _list(doc.get(key, []), key)) or []
        return [(item, f"{key}[{i}]") for i, item in enumerate(raw_list)]

    region_hint: str | None = doc.get("region") if doc.get("region") in REGIONS else None
    if region_hint is None and "region" in doc:
        region_hint = _TOP_REGION_INVALID  # reported once, at `region`
    account_items = [
        _account(item, path, region_hint, problems) for item, path in items("accounts")
    ]
    _unique([a.name if a else None for a in account_items], "accounts", "name", problems)
    accounts = tuple(a for a in account_items if a is not None)
    # An item naming an account whose own entry is invalid is not reported again.
    declared = _Declared({a.name: a for a in accounts}, _names(items("accounts")))
    audience_items = [
        _audience(item, path, problems, declared) for item, path in items("audiences")
    ]
    _unique([a.name if a else None for a in audience_items], "audiences", "name", problems)
    definition_items = [
        _definition(item, path, problems, declared) for item, path in items("conversionDefinitions")
    ]
    _unique(
        [d.name if d else None for d in definition_items],
        "conversionDefinitions",
        "name",
        problems,
    )
    audiences = tuple(a for a in audience_items if a is not None)
    definitions = tuple(d for d in definition_items if d is not None)
    # A rule may only name items of this config; an invalid item's name still counts (its own
    # problem is reported), so one mistake is not reported twice.
    sources = _RuleSources(
        _names(items("audiences")),
        _names(items("conversionDefinitions")),
        {a.name: a for a in audiences},
        {d.name: d for d in definitions},
    )
    rule_items = [
        _sharing_rule(item, path, problems, sources, declared)
        for item, path in items("sharingRules")
    ]
    _unique([r.name if r else None for r in rule_items], "sharingRules", "name", problems)
    dataset_items = [
        _aep_dataset(item, path, problems, declared) for item, path in items("aepDatasets")
    ]
    _unique([d.name if d else None for d in dataset_items], "aepDatasets", "name", problems)
    rules = tuple(r for r in rule_items if r is not None)
    aep_datasets = tuple(d for d in dataset_items if d is not None)
    # The ADM account is required unless the config is AEP-only: datasets for AEP, no ADM item,
    # no account key (one given means ADM is meant: then all three are checked) and no ADM
    # account among ``accounts`` (AEP-only ones only).
    aep_only = (
        bool(dataset_items)
        and not (audience_items or definition_items or rule_items)
        and not any(key in doc for key in ADM_ACCOUNT_KEYS)
        and not any(_is_adm_item(item) for item, _ in items("accounts"))
    )
    region = manager = advertiser = None
    if not aep_only:
        region = problems.take(lambda: _choice(doc, "region", "region", REGIONS))
        manager = problems.take(lambda: _text(doc, "managerAccountId", "managerAccountId"))
        advertiser = problems.take(lambda: _text(doc, "advertiserAccountId", "advertiserAccountId"))
    mappings = _mappings(doc.get("mappings", {}), "mappings", problems)
    problems.raise_any()
    return SetupConfig(
        region=region,
        manager_account_id=manager,
        advertiser_account_id=advertiser,
        audiences=audiences,
        conversion_definitions=definitions,
        sharing_rules=rules,
        mappings=mappings,
        aep_datasets=aep_datasets,
        accounts=accounts,
    )


def _is_adm_item(raw: Any) -> bool:
    """Whether a raw ``accounts`` item is meant as an ADM account (has any ADM key)."""
    return not isinstance(raw, Mapping) or any(key in raw for key in ADM_ACCOUNT_ITEM_KEYS)


def _names(items: list[tuple[Any, str]]) -> set[str]:
    """The ``name`` strings of raw items (valid or not)."""
    return {
        name
        for item, _ in items
        if isinstance(item, Mapping) and isinstance(name := item.get("name"), str)
    }


@dataclass(frozen=True, slots=True)
class _Declared:
    """The config's accounts: the valid ones by name, and every name given (valid or not)."""

    accounts: Mapping[str, AccountSpec]
    names: set[str]


@dataclass(frozen=True, slots=True)
class _RuleSources:
    """What a sharing rule may name: every audience / definition name given, and the valid
    ones (whose account the rule must share)."""

    audience_names: set[str]
    definition_names: set[str]
    audiences: Mapping[str, AudienceSpec]
    definitions: Mapping[str, ConversionDefinitionSpec]


def parse_audience(raw: Any, path: str = "audience") -> AudienceSpec:
    """Validate one audience item (a step's input: the normalized config's ``audiences[i]``)."""
    return _strict(lambda item, at, problems: _audience(item, at, problems, None), raw, path)


def parse_conversion_definitions(
    raw: Any, path: str = "conversionDefinitions"
) -> tuple[ConversionDefinitionSpec, ...]:
    """Validate a list of conversion definition items."""
    problems = _Problems()
    specs = [
        _definition(item, f"{path}[{i}]", problems, None) for i, item in enumerate(_list(raw, path))
    ]
    problems.raise_any()
    return tuple(spec for spec in specs if spec is not None)


def parse_sharing_rule(raw: Any, path: str = "sharingRule") -> SharingRuleSpec:
    """Validate one sharing rule item; the names it references are resolved by the step."""
    return _strict(
        lambda item, at, problems: _sharing_rule(item, at, problems, None, None), raw, path
    )


def parse_aep_dataset(raw: Any, path: str = "aepDataset") -> AepDatasetSpec:
    """Validate one AEP dataset item (a step's input: the normalized ``aepDatasets[i]``)."""
    return _strict(lambda item, at, problems: _aep_dataset(item, at, problems, None), raw, path)


def _aep_dataset(
    raw: Any, path: str, problems: _Problems, declared: _Declared | None
) -> AepDatasetSpec | None:
    item = problems.take(lambda: _object(raw, path))
    if item is None:
        return None
    _only(
        item,
        path,
        {
            "name",
            "schema",
            "profileEnabled",
            "identityEnabled",
            "partialIngestionPercent",
            "account",
        },
        problems,
    )
    name = problems.take(lambda: _text(item, "name", f"{path}.name"))
    if name is not None and not AEP_DATASET_NAME_PATTERN.fullmatch(name):
        problems.add(
            f"{path}.name",
            "must be 1–100 letters, digits, ' ', '_', '.' or '-', starting and ending with a "
            "letter or digit",
        )
        name = None
    percent = item.get("partialIngestionPercent", 0)
    low, high = PARTIAL_INGESTION_RANGE
    if (
        isinstance(percent, bool)
        or not isinstance(percent, int | float)
        or not math.isfinite(percent)
        or not low <= percent <= high
    ):
        problems.add(f"{path}.partialIngestionPercent", f"must be a number from {low} to {high}")
        percent = None
    schema = problems.take(lambda: _text(item, "schema", f"{path}.schema").strip())
    profile = problems.take(
        lambda: _bool(item.get("profileEnabled", False), f"{path}.profileEnabled")
    )
    identity = problems.take(
        lambda: _bool(item.get("identityEnabled", False), f"{path}.identityEnabled")
    )
    account = _item_account(item, path, declared, problems, platform=_AEP)
    if (
        name is None
        or schema is None
        or percent is None
        or profile is None
        or identity is None
        or account is _INVALID
    ):
        return None
    assert account is None or isinstance(account, AccountSpec)
    return AepDatasetSpec(
        name=name,
        schema=schema,
        profile_enabled=profile,
        identity_enabled=identity,
        partial_ingestion_percent=percent,
        account=account,
    )


def parse_account(raw: Any, path: str = "account") -> AccountSpec:
    """Validate one normalized account (a step's input: the config's ``accounts[i]``)."""
    return _strict(lambda item, at, problems: _account(item, at, None, problems), raw, path)


_TOP_REGION_INVALID = "<invalid top-level region>"
"""The region an account without its own inherits when the top-level one is invalid."""


def _account(
    raw: Any, path: str, default_region: str | None, problems: _Problems
) -> AccountSpec | None:
    item = problems.take(lambda: _object(raw, path))
    if item is None:
        return None
    before = len(problems.found)
    _only(item, path, {"name", *ADM_ACCOUNT_ITEM_KEYS, "aepSecretId"}, problems)
    name = problems.take(lambda: _text(item, "name", f"{path}.name"))
    problem = None if name is None else account_name_problem(name)
    if problem is not None:
        problems.add(f"{path}.name", problem)
    aep_secret = (
        problems.take(lambda: _text(item, "aepSecretId", f"{path}.aepSecretId"))
        if "aepSecretId" in item
        else None
    )
    if "aepSecretId" in item and not _is_adm_item(item):
        # AEP-only: no ADM ids (no ADM item may name it), only its AEP credentials secret.
        if len(problems.found) > before or name is None or aep_secret is None:
            return None
        return AccountSpec(name=name, aep_secret_id=aep_secret)
    if "region" not in item and default_region == _TOP_REGION_INVALID:
        region = None  # it inherits the top-level region, whose problem is reported there
    elif "region" in item or default_region is None:
        region = problems.take(lambda: _choice(item, "region", f"{path}.region", REGIONS))
    else:
        region = default_region
    manager = problems.take(lambda: _text(item, "managerAccountId", f"{path}.managerAccountId"))
    advertiser = problems.take(
        lambda: _text(item, "advertiserAccountId", f"{path}.advertiserAccountId")
    )
    optional = {
        key: problems.take(lambda key=key: _text(item, key, f"{path}.{key}"))
        if key in item
        else None
        for key in ("profileId", "secretId")
    }
    if (
        len(problems.found) > before
        or name is None
        or region is None
        or manager is None
        or advertiser is None
    ):
        return None
    return AccountSpec(
        name=name,
        region=region,
        manager_account_id=manager,
        advertiser_account_id=advertiser,
        profile_id=optional["profileId"],
        secret_id=optional["secretId"],
        aep_secret_id=aep_secret,
    )


_INVALID = object()
"""An item's account that could not be read (its problem is recorded)."""
_ADM, _AEP = "adm", "aep"
"""Which platform an item is for: the account it names must have that platform's keys."""


def _item_account(
    item: Mapping[str, Any],
    path: str,
    declared: _Declared | None,
    problems: _Problems,
    *,
    platform: str = _ADM,
) -> AccountSpec | object | None:
    """An item's ``account``: a declared account's name in a config; the account itself in a
    normalized item (a step's input, ``declared`` None); absent or ``default``: None;
    :data:`_INVALID` when it can't be resolved (the problem recorded, unless it is an account
    of the config that is itself invalid: reported there) or is not an account of the item's
    ``platform`` (an ADM item naming an AEP-only account, a dataset naming an account without
    ``aepSecretId``)."""
    if "account" not in item:
        return None
    raw = item["account"]
    if isinstance(raw, Mapping):  # normalized: the account itself
        account = _account(raw, f"{path}.account", None, problems)
        if account is None:
            return _INVALID
        if declared is not None and declared.accounts.get(account.name) != account:
            problems.add(f"{path}.account", "must be an account of this config")
            return _INVALID
        return _for_platform(account, path, platform, problems)
    name = problems.take(lambda: _text(item, "account", f"{path}.account"))
    if name is None:
        return _INVALID
    if name == DEFAULT_ACCOUNT:
        return None
    if declared is not None and name in declared.accounts:
        return _for_platform(declared.accounts[name], path, platform, problems)
    if declared is None or name not in declared.names:
        problems.add(f"{path}.account", "must name an account of this config (or default)")
    return _INVALID


def _for_platform(
    account: AccountSpec, path: str, platform: str, problems: _Problems
) -> AccountSpec | object:
    """``account`` if it serves ``platform``, else :data:`_INVALID` with the problem."""
    if platform == _ADM and not account.has_adm:
        problems.add(
            f"{path}.account",
            "names an AEP-only account (no managerAccountId / advertiserAccountId): only "
            "aepDatasets may name it",
        )
        return _INVALID
    if platform == _AEP and account.aep_secret_id is None:
        problems.add(
            f"{path}.account",
            "names an account without aepSecretId (the secret of its AEP credentials)",
        )
        return _INVALID
    return account


def _audience(
    raw: Any, path: str, problems: _Problems, declared: _Declared | None
) -> AudienceSpec | None:
    item = problems.take(lambda: _object(raw, path))
    if item is None:
        return None
    _only(item, path, {"name", "countryCode", "description", "idRetention", "account"}, problems)
    name = problems.take(lambda: _text(item, "name", f"{path}.name", length=DATASET_NAME_LENGTH))
    if name is not None and not DATASET_NAME_PATTERN.fullmatch(name):
        problems.add(
            f"{path}.name",
            "must start with a letter and contain only letters, digits, '_' and '-'",
        )
        name = None
    country = problems.take(lambda: _text(item, "countryCode", f"{path}.countryCode"))
    if country is not None and country not in COUNTRY_CODES:
        problems.add(f"{path}.countryCode", "must be an ISO 3166-1 alpha-2 code, e.g. US")
        country = None
    valid = name is not None and country is not None
    description = None
    if "description" in item:
        description = problems.take(
            lambda: _text(item, "description", f"{path}.description", length=DESCRIPTION_LENGTH)
        )
        valid = valid and description is not None
    id_retention = None
    if "idRetention" in item:
        id_retention = problems.take(lambda: _bool(item["idRetention"], f"{path}.idRetention"))
        valid = valid and id_retention is not None
    account = _item_account(item, path, declared, problems)
    if not valid or name is None or country is None or account is _INVALID:
        return None
    assert account is None or isinstance(account, AccountSpec)
    return AudienceSpec(name, country, description, id_retention, account)


def _definition(
    raw: Any, path: str, problems: _Problems, declared: _Declared | None
) -> ConversionDefinitionSpec | None:
    item = problems.take(lambda: _object(raw, path))
    if item is None:
        return None
    _only(
        item,
        path,
        {"name", "conversionType", "countingMethod", "source", "sourceType", "value", "account"},
        problems,
    )
    name = problems.take(lambda: _text(item, "name", f"{path}.name", length=DEFINITION_NAME_LENGTH))
    conversion_type = problems.take(
        lambda: _choice(item, "conversionType", f"{path}.conversionType", CONVERSION_TYPES)
    )
    counting = problems.take(
        lambda: _choice(item, "countingMethod", f"{path}.countingMethod", COUNTING_METHODS)
    )
    source = problems.take(lambda: _choice(item, "source", f"{path}.source", SOURCES))
    source_type = problems.take(
        lambda: _choice(item, "sourceType", f"{path}.sourceType", SOURCE_TYPES)
    )
    if (
        source is not None
        and source_type is not None
        and source_type not in SOURCE_TYPES_BY_SOURCE[source]
    ):
        problems.add(
            f"{path}.sourceType",
            f"must be one of {', '.join(SOURCE_TYPES_BY_SOURCE[source])} with source {source}",
        )
        source_type = None
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(f"{path}.value", "is required and must be a number")
        return None
    account = _item_account(item, path, declared, problems)
    if (
        name is None
        or conversion_type is None
        or counting is None
        or source is None
        or source_type is None
        or account is _INVALID
    ):
        return None
    assert account is None or isinstance(account, AccountSpec)
    return ConversionDefinitionSpec(
        name=name,
        conversion_type=conversion_type,
        counting_method=counting,
        source=source,
        source_type=source_type,
        value=value,
        account=account,
    )


def _sharing_rule(
    raw: Any,
    path: str,
    problems: _Problems,
    sources: _RuleSources | None,
    declared: _Declared | None,
) -> SharingRuleSpec | None:
    """One sharing rule; ``sources`` (when given) must hold its source, in the rule's account
    (its dataset's, when the rule names none)."""
    item = problems.take(lambda: _object(raw, path))
    if item is None:
        return None
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
        problems,
    )
    before = len(problems.found)
    account = _item_account(item, path, declared, problems)
    dataset = problems.take(lambda: _text(item, "dataset", f"{path}.dataset"))
    if dataset is not None and sources is not None:
        if dataset not in sources.audience_names:
            problems.add(f"{path}.dataset", "must name an audience of this config")
        elif (audience := sources.audiences.get(dataset)) is not None and account is not _INVALID:
            if "account" not in item:
                account = audience.account  # a dataset is shared from its own account's room
            elif account != audience.account:
                problems.add(f"{path}.account", "must be the account of its dataset")
    definition = None
    if "conversionDefinition" in item:
        definition = problems.take(
            lambda: _text(item, "conversionDefinition", f"{path}.conversionDefinition")
        )
        if definition is not None and sources is not None:
            if definition not in sources.definition_names:
                problems.add(
                    f"{path}.conversionDefinition",
                    "must name a conversion definition of this config",
                )
            elif (
                (found := sources.definitions.get(definition)) is not None
                and account is not _INVALID
                and found.account != account
            ):
                problems.add(
                    f"{path}.conversionDefinition", "must be in the account of the rule's dataset"
                )
        if "metadata" in item:
            problems.add(
                f"{path}.metadata", "must be omitted with conversionDefinition (it is derived)"
            )
    application = problems.take(
        lambda: _choice(item, "application", f"{path}.application", APPLICATIONS)
    )
    destination = problems.take(
        lambda: _text(item, "destinationAccountId", f"{path}.destinationAccountId")
    )
    metadata = None
    if "metadata" in item:
        if definition is None:
            metadata = problems.take(lambda: _metadata(item["metadata"], f"{path}.metadata"))
    elif "conversionDefinition" not in item:
        problems.add(f"{path}.metadata", "is required (or conversionDefinition)")
    default_name = ":".join(
        value for value in (dataset, definition, application, destination) if value
    )
    name = (
        problems.take(lambda: _text(item, "name", f"{path}.name"))
        if "name" in item
        else default_name
    )
    marketplace = problems.take(lambda: _text(item, "marketplaceId", f"{path}.marketplaceId"))
    account_entity = (
        problems.take(lambda: _text(item, "accountEntityId", f"{path}.accountEntityId"))
        if "accountEntityId" in item
        else None
    )
    revoke = problems.take(lambda: _bool(item.get("revoke", False), f"{path}.revoke"))
    if (
        len(problems.found) > before
        or account is _INVALID
        or dataset is None
        or application is None
        or destination is None
        or name is None
        or marketplace is None
        or revoke is None
    ):
        return None
    assert account is None or isinstance(account, AccountSpec)
    return SharingRuleSpec(
        name=name,
        dataset=dataset,
        application=application,
        destination_account_id=destination,
        marketplace_id=marketplace,
        conversion_definition=definition,
        metadata=metadata,
        account_entity_id=account_entity,
        revoke=revoke,
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
    problems = _Problems()
    if kind == "audienceMetadata":
        _only(
            inner, f"{path}.{kind}", {"audienceName", "description", "externalAudienceId"}, problems
        )
        problems.take(
            lambda: _text(
                inner, "audienceName", f"{path}.{kind}.audienceName", length=AUDIENCE_NAME_LENGTH
            )
        )
        for optional in ("description", "externalAudienceId"):
            if optional in inner:
                problems.take(_text, inner, optional, f"{path}.{kind}.{optional}")
    else:
        _only(inner, f"{path}.{kind}", {"amcInstanceId", "amcInstanceName"}, problems)
        problems.take(lambda: _text(inner, "amcInstanceId", f"{path}.{kind}.amcInstanceId"))
        if "amcInstanceName" in inner:
            problems.take(lambda: _text(inner, "amcInstanceName", f"{path}.{kind}.amcInstanceName"))
    problems.raise_any()
    return {kind: dict(inner)}


def _mappings(raw: Any, path: str, problems: _Problems) -> dict[str, dict[str, Any]]:
    """Per-prefix column mappings: ``{"audiences/<name>": <mapping config>}``.

    The key is a routing prefix (``audiences/<name>``, ``audiences/<name>/delete``,
    ``conversions/<name>``, ``deletions``; a trailing ``/`` is dropped); the value is the
    mapping config the worker applies to files under it (``{"columns": {"<source column>":
    "<canonical field>"}, "ignore": [...], "defaults": {...}}``, see ``events/mappings/``; for
    an AEP dataset ``{"xdm": {…}, "on_chunk_failure": …}``, its ``xdm`` section checked against
    the dataset when a file arrives).
    """
    result: dict[str, dict[str, Any]] = {}
    entries = problems.take(lambda: _object(raw, path)) or {}
    for prefix, document in entries.items():
        entry_path = f"{path}[{prefix!r}]"
        key = problems.take(_mapping_key, str(prefix), entry_path)
        mapping = problems.take(_mapping, document, entry_path)
        if key is not None and mapping is not None:
            result[key] = mapping
    return result


def _mapping(document: Any, entry_path: str) -> dict[str, Any]:
    """One prefix's mapping config, validated as the pipeline will read it."""
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
    return dict(mapping)


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


def _only(item: Mapping[str, Any], path: str, allowed: set[str], problems: _Problems) -> None:
    # Key names are ours (not data), so naming them is safe and catches typos early.
    for unknown in sorted(set(item) - allowed):
        problems.add(f"{path}.{unknown}", "is not a known field")


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


def _unique(names: list[str | None], path: str, key: str, problems: _Problems) -> None:
    """Flag each repeated name (``None``: an invalid item, already reported)."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            problems.add(f"{path}[{i}].{key}", "duplicates an earlier entry")
        seen.add(name)
