"""Column mapping: source columns → canonical fields (:class:`~adm_ingest.model.MappedRecord`).

Public API
----------
``build_plan(header, config=None) -> MappingPlan``
    Resolve every column once; ``plan.apply(record)`` then maps records with dictionary look-ups
    only. ``header`` may be ``None`` (JSON files, whose keys are only known per record): columns
    are then resolved the first time they are seen.
``MappingPlan.describe()``
    Dry-run summary: which column feeds which field, which are ignored / unknown / missing.
    Column names only, never values.
``MappingConfig.from_dict(raw)`` / ``MappingConfig.from_json(text)``
    Validate a mapping config; every problem raises :class:`MappingError` naming the bad key.
``detect_column(name) -> Target | None``
    Header auto-detection of one column name.

Config schema (every key optional)::

    {
      "columns":     {"E-Mail": "email", "Cell": "phone", "Alt Email": "email_2"},
      "hashed":      ["E-Mail"],        # columns whose values are already SHA-256 hex
      "ignore":      ["notes"],         # never read, even if auto-detection knows them
      "defaults":    {"country": "US"}, # attribute value when a record has none
      "auto_detect": true               # also map unlisted columns with well-known names
    }

A target is a canonical field, or a PII field with a set number: ``email_2`` is the email of
the record's second PII set (``email`` = ``email_1`` = the first). A record's PII sets are
numbered by their columns, then empty sets are dropped, so ``MappedRecord.pii_sets`` holds only
sets with a value. Values are stripped; empty values are dropped. Columns that are neither
configured nor auto-detected are never mapped, so never sent.

Auto-detection compares names case-, space- and punctuation-insensitively (``"E-Mail
Address"`` = ``email_address``); a trailing number selects the PII set (``"Email 2"``,
``phone_3``), except for addresses, where ``address1`` / ``address line 1`` is the street line
and other numbered address lines are not mapped; a ``sha256`` / ``hashed`` / ``hash`` prefix or
suffix (``sha256_email``, ``email_hash``) declares the column hashed. When two columns detect
to the same PII field and set, the later one moves to the next free set; a second column for an
attribute is left unmapped (reported as a duplicate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from adm_ingest.model import PII_FIELDS, MappedRecord, SourceRecord

ATTRIBUTE_FIELDS: tuple[str, ...] = (
    "external_id",
    "country",
    "ip",
    "gpp",
    "tcf",
    "amzn_ad_storage",
    "amzn_user_data",
    "action",
    "timestamp",
    "value",
    "currency",
    "units",
    "dedupe_id",
    "maid",
    "ramp_id",
    "event_name",
    "data_processing",
)
"""Canonical non-PII fields (the keys of ``MappedRecord.attributes``)."""
MAX_PII_SETS = 10
"""ADM accepts up to 10 ``hashedPiis`` sets per member."""
CONFIG_KEYS: tuple[str, ...] = ("columns", "hashed", "ignore", "defaults", "auto_detect")

_PII = frozenset(PII_FIELDS)
_ATTRIBUTES = frozenset(ATTRIBUTE_FIELDS)
_NUMBERED_TARGET = re.compile(r"([a-z_]+?)_(\d+)")
_NUMBERED_NAME = re.compile(r"(.*?\D)(\d{1,2})")
_NOT_ALNUM = re.compile(r"[\W_]+")
_HASH_MARKERS = ("sha256", "hashed", "hash")

# Squashed (lower-case, alphanumerics only) header names per canonical field.
_KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "emailaddr", "mail", "emailid"),
    "phone": (
        "phone", "phonenumber", "phoneno", "mobile", "mobilephone", "mobilenumber", "cell",
        "cellphone", "cellnumber", "telephone", "tel", "telephonenumber",
    ),
    "first_name": ("firstname", "givenname", "fname", "forename"),
    "last_name": ("lastname", "surname", "familyname", "lname"),
    "address": (
        "address", "address1", "addressline1", "street", "streetaddress", "streetaddress1",
        "addr", "addr1",
    ),
    "city": ("city", "town", "locality"),
    "state": ("state", "province", "region", "stateprovince", "stateorprovince", "statecode"),
    "postal": ("postal", "postalcode", "postcode", "zip", "zipcode", "zippostalcode"),
    "external_id": (
        "externalid", "customerid", "userid", "crmid", "customernumber", "memberid", "contactid",
    ),
    "country": ("country", "countrycode", "countryiso", "countryisocode"),
    "ip": ("ip", "ipaddress", "ipaddr", "clientip"),
    "gpp": ("gpp", "gppstring", "gppconsent"),
    "tcf": ("tcf", "tcfstring", "tcstring", "tcfconsent"),
    "amzn_ad_storage": ("amznadstorage", "amazonadstorage"),
    "amzn_user_data": ("amznuserdata", "amazonuserdata"),
    "action": ("action", "operation"),
    "timestamp": (
        "timestamp", "eventtime", "eventtimestamp", "eventdate", "conversiontime", "ordertime",
        "orderdate", "transactiontime", "transactiondate", "datetime",
    ),
    "value": ("value", "revenue", "amount", "ordervalue", "conversionvalue", "ordertotal"),
    "currency": ("currency", "currencycode"),
    "units": ("units", "quantity", "qty"),
    "dedupe_id": ("dedupeid", "orderid", "transactionid", "eventid", "conversionid"),
    "maid": ("maid", "idfa", "gaid", "adid", "aaid", "mobileadid", "advertisingid"),
    "ramp_id": ("rampid", "liverampid", "liveramp"),
    "event_name": ("eventname", "conversionname"),
    "data_processing": ("dataprocessing", "dataprocessingoptions", "limiteddatause"),
}
_FIELD_BY_NAME: dict[str, str] = {
    name: field for field, names in _KNOWN_NAMES.items() for name in names
}


class MappingError(ValueError):
    """A mapping config is invalid; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a column's value goes: an attribute, or a field of one PII set."""

    field: str
    pii_set: int | None = None
    """0-based PII set, ``None`` for attributes."""
    hashed: bool = False
    """The column holds SHA-256 hex digests already (PII only)."""

    def describe(self) -> str:
        if self.pii_set is None:
            return self.field
        hashed = ", hashed" if self.hashed else ""
        return f"{self.field} (PII set {self.pii_set + 1}{hashed})"


def parse_target(name: str) -> Target:
    """Parse a config target: a canonical field, or ``<pii field>_<n>`` for PII set ``n``.

    Raises:
        MappingError: unknown field, numbered attribute, or set number out of range.
    """
    if name in _ATTRIBUTES:
        return Target(name)
    if name in _PII:
        return Target(name, 0)
    match = _NUMBERED_TARGET.fullmatch(name)
    if match is None or match[1] not in _PII:
        raise MappingError(f"unknown target field {name!r}")
    number = int(match[2])
    if not 1 <= number <= MAX_PII_SETS:
        raise MappingError(f"target {name!r}: PII sets are numbered 1..{MAX_PII_SETS}")
    return Target(match[1], number - 1)


def detect_column(name: str) -> Target | None:
    """Auto-detect a column from its name (see the module docstring); ``None`` if unknown."""
    key = _NOT_ALNUM.sub("", name.casefold())
    hashed = False
    for marker in _HASH_MARKERS:
        if len(key) > len(marker) and (key.startswith(marker) or key.endswith(marker)):
            key = key[len(marker) :] if key.startswith(marker) else key[: -len(marker)]
            hashed = True
            break
    field = _FIELD_BY_NAME.get(key)
    pii_set = 0
    if field is None:
        match = _NUMBERED_NAME.fullmatch(key)
        if match is None:
            return None
        field, pii_set = _FIELD_BY_NAME.get(match[1]), int(match[2]) - 1
        # "address2" / "address line 2" is a second street line, not a second person's address.
        if field not in _PII or field == "address" or not 0 <= pii_set < MAX_PII_SETS:
            return None
    if field in _ATTRIBUTES:
        return None if hashed else Target(field)
    return Target(field, pii_set, hashed)


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """A validated mapping config (see the module docstring for the JSON form)."""

    columns: Mapping[str, Target]
    hashed: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    defaults: Mapping[str, str] | None = None
    auto_detect: bool = True

    @classmethod
    def from_json(cls, text: str | bytes) -> MappingConfig:
        """Parse and validate a JSON mapping config (e.g. a file's contents)."""
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise MappingError("the mapping config is not valid JSON") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> MappingConfig:
        """Validate a JSON-able config dict.

        Raises:
            MappingError: naming the first bad key (unknown keys, wrong types, unknown targets,
                two columns for one target, a column both ignored and used, a hashed column
                that is not PII, a default for a PII or unknown field).
        """
        if not isinstance(raw, Mapping):
            raise MappingError("the mapping config must be a JSON object")
        for key in raw:
            if key not in CONFIG_KEYS:
                raise MappingError(
                    f"unknown mapping config key {key!r}; expected {', '.join(CONFIG_KEYS)}"
                )
        columns = _string_dict(raw.get("columns", {}), "columns")
        hashed = _string_set(raw.get("hashed", []), "hashed")
        ignore = _string_set(raw.get("ignore", []), "ignore")
        defaults = _string_dict(raw.get("defaults", {}), "defaults")
        auto_detect = raw.get("auto_detect", True)
        if not isinstance(auto_detect, bool):
            raise MappingError("'auto_detect' must be true or false")

        targets: dict[str, Target] = {}
        owner: dict[tuple[str, int | None], str] = {}
        for column, name in columns.items():
            try:
                target = parse_target(name)
            except MappingError as error:
                raise MappingError(f"columns[{column!r}]: {error}") from None
            if column in ignore:
                raise MappingError(f"columns[{column!r}]: the column is also in 'ignore'")
            slot = (target.field, target.pii_set)
            if slot in owner:
                raise MappingError(
                    f"columns[{column!r}]: {name!r} is already mapped from {owner[slot]!r}"
                )
            owner[slot] = column
            if column in hashed:
                if target.pii_set is None:
                    raise MappingError(f"hashed: {column!r} is mapped to a non-PII field")
                target = Target(target.field, target.pii_set, True)
            targets[column] = target
        for column in hashed & ignore:
            raise MappingError(f"hashed: {column!r} is also in 'ignore'")
        for field, value in defaults.items():
            if field not in _ATTRIBUTES:
                raise MappingError(f"defaults[{field!r}]: only non-PII fields can have defaults")
            if not value.strip():
                raise MappingError(f"defaults[{field!r}]: the default is empty")
        return cls(
            targets,
            hashed,
            ignore,
            {field: value.strip() for field, value in defaults.items()},
            auto_detect,
        )


def _string_dict(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MappingError(f"{key!r} must be an object of strings")
    return value


def _string_set(value: Any, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MappingError(f"{key!r} must be a list of column names")
    return frozenset(value)


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity
class RowLayout:
    """A plan resolved against one CSV header, by column position: what
    :meth:`MappingPlan.apply` does to a record of that header, for its list of fields."""

    defaults: dict[str, str]
    """Attribute values every record starts from (the config's ``defaults``)."""
    attributes: tuple[tuple[int, str], ...]
    """``(column index, attribute field)`` in column order."""
    pii_sets: tuple[tuple[tuple[int, str, bool], ...], ...]
    """Per PII set in set order, ``(column index, field, declared hashed)`` in column order."""


_Route = tuple[str, int, bool]
"""(field, PII set or -1 for an attribute, declared hashed): a resolved column, kept as a
tuple because ``apply`` unpacks one per value."""


class MappingPlan:
    """A config resolved against a file's columns; maps :class:`SourceRecord` s fast."""

    def __init__(self, config: MappingConfig, header: Sequence[str] | None = None) -> None:
        self._config = config
        self._defaults = dict(config.defaults or {})
        self._routes: dict[str, _Route | None] = {}
        self._taken: set[tuple[str, int]] = {
            (t.field, -1 if t.pii_set is None else t.pii_set) for t in config.columns.values()
        }
        self.mapped: dict[str, Target] = {}
        """Column → target, in the order columns were resolved."""
        self.ignored: list[str] = []
        """Columns configured to be ignored."""
        self.duplicates: list[str] = []
        """Columns detected as an attribute that another column already provides."""
        self.unknown: list[str] = []
        """Columns neither configured nor recognised: never sent."""
        self.missing: list[str] = []
        """Configured columns that the header lacks (only known when a header is given)."""
        if header is not None:
            for column in header:
                self._resolve(column)
            configured = dict.fromkeys((*config.columns, *sorted(config.hashed)))
            self.missing = [column for column in configured if column not in self._routes]
            for column in config.hashed:
                target = self.mapped.get(column)
                if target is not None and target.pii_set is None:
                    raise MappingError(f"hashed: {column!r} is detected as non-PII field")

    def _resolve(self, column: str) -> _Route | None:
        """Route one column and record how; called once per distinct column name."""
        config = self._config
        route: _Route | None = None
        target = config.columns.get(column)
        if column in config.ignore:
            self.ignored.append(column)
        elif target is not None:
            route = self._route(column, target)
        elif config.auto_detect and (target := detect_column(column)) is not None:
            if column in config.hashed and target.pii_set is not None:
                target = Target(target.field, target.pii_set, True)
            target = self._free_slot(target)
            if target is None:
                self.duplicates.append(column)
            else:
                route = self._route(column, target)
        else:
            self.unknown.append(column)
        self._routes[column] = route
        return route

    def _route(self, column: str, target: Target) -> _Route:
        self.mapped[column] = target
        pii_set = -1 if target.pii_set is None else target.pii_set
        self._taken.add((target.field, pii_set))
        return target.field, pii_set, target.hashed

    def _free_slot(self, target: Target) -> Target | None:
        """The detected target, moved to the next free PII set if its own is taken."""
        if target.pii_set is None:
            return None if (target.field, -1) in self._taken else target
        for pii_set in range(target.pii_set, MAX_PII_SETS):
            if (target.field, pii_set) not in self._taken:
                return Target(target.field, pii_set, target.hashed)
        return None

    def apply(self, record: SourceRecord) -> MappedRecord:
        """Map one record: strip values, drop empty ones, group PII into non-empty sets."""
        routes = self._routes
        attributes = self._defaults.copy()
        sets: dict[int, dict[str, str]] = {}
        # PII set 0 gets its own dict: nearly every PII value goes there, and a direct store
        # skips the per-value lookup of its set.
        first: dict[str, str] = {}
        hashed: list[tuple[int, str]] | None = None
        for column, raw in record.values.items():
            # try/except rather than "in" + subscript: one lookup, and a try costs nothing on
            # 3.11 until a new column raises (once per column name).
            try:
                route = routes[column]
            except KeyError:
                route = self._resolve(column)
            if route is None:
                continue
            value = raw.strip()
            if not value:
                continue
            field, pii_set, is_hashed = route
            if pii_set < 0:
                attributes[field] = value
                continue
            if pii_set == 0:
                first[field] = value
            # "in" + subscript: cheaper than a .get() method call on this per-value path.
            elif pii_set in sets:
                sets[pii_set][field] = value
            else:
                sets[pii_set] = {field: value}
            if is_hashed:
                if hashed is None:
                    hashed = []
                hashed.append((pii_set, field))
        if first:
            sets[0] = first
        if not sets:
            return MappedRecord(record.line, attributes, [])
        if len(sets) == 1:  # nearly every record: no sort, no comprehension frame
            if hashed is None:
                return MappedRecord(record.line, attributes, list(sets.values()))
            order = list(sets)
            pii_sets = list(sets.values())
        else:
            order = sorted(sets)
            pii_sets = [sets[i] for i in order]
        if hashed is None:
            return MappedRecord(record.line, attributes, pii_sets)
        position = {pii_set: i for i, pii_set in enumerate(order)}
        return MappedRecord(
            record.line,
            attributes,
            pii_sets,
            frozenset((position[pii_set], field) for pii_set, field in hashed),
        )

    def row_layout(self, header: Sequence[str]) -> RowLayout:
        """This plan by column position, for records with ``header``'s columns."""
        attributes: list[tuple[int, str]] = []
        sets: dict[int, list[tuple[int, str, bool]]] = {}
        fed: list[tuple[str, int]] = []
        for index, column in enumerate(header):
            route = self._routes[column] if column in self._routes else self._resolve(column)
            if route is None:
                continue
            field, pii_set, is_hashed = route
            fed.append((field, pii_set))
            if pii_set < 0:
                attributes.append((index, field))
            else:
                sets.setdefault(pii_set, []).append((index, field, is_hashed))
        # Routing gives each (field, set) at most one column (the config is validated, and a
        # detected column takes a free slot or none), so there is nothing for apply's "last
        # non-empty value wins" to decide.
        assert len(set(fed)) == len(fed), "two columns feed one field"
        return RowLayout(
            dict(self._defaults),
            tuple(attributes),
            tuple(tuple(sets[pii_set]) for pii_set in sorted(sets)),
        )

    def describe(self) -> str:
        """Human-readable dry-run summary (column names and field names only)."""
        lines = ["columns used:"]
        width = max((len(column) for column in self.mapped), default=0)
        lines += [f"  {c:<{width}} -> {t.describe()}" for c, t in self.mapped.items()] or [
            "  (none)"
        ]
        if self._defaults:
            lines.append("defaults: " + ", ".join(sorted(self._defaults)))
        for title, columns in (
            ("ignored (configured)", self.ignored),
            ("not sent (duplicate field)", self.duplicates),
            ("not sent (unknown)", self.unknown),
            ("configured but missing from the file", self.missing),
        ):
            if columns:
                lines.append(f"{title}: {', '.join(columns)}")
        return "\n".join(lines)


def build_plan(
    header: Sequence[str] | None,
    config: Mapping[str, Any] | MappingConfig | None = None,
) -> MappingPlan:
    """Resolve ``config`` (a dict, a :class:`MappingConfig`, or ``None`` for auto-detection
    only) against ``header`` (``None`` when columns are only known per record).

    Raises:
        MappingError: the config is invalid.
    """
    if config is None:
        config = MappingConfig({})
    elif not isinstance(config, MappingConfig):
        config = MappingConfig.from_dict(config)
    return MappingPlan(config, header)
