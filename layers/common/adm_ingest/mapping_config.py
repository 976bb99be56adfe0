"""Mapping configs: validated once, completely, and pinned per file.

``MappingConfig.from_dict(raw)`` / ``MappingConfig.from_json(text)`` validate a config — its
keys, its column targets *and its values*: default countries and consent signals, the decimal
mark, the time zone, the date order. Every problem raises :class:`MappingError` naming the bad
key, so a broken mapping is one file-level error at split time, never a chunk retried to the
dead-letter queue. (The JSON form is in :mod:`adm_ingest.mapping`'s docstring.)

A validated config has one canonical JSON form (:meth:`MappingConfig.canonical_json`: sorted
keys, normalized values) and a content hash of it. The splitter pins the mapping a file uses —
:class:`PinnedMapping`, stored on the ledger's file item — and every chunk pointer carries its
hash, so all chunks of one file use exactly that version, whatever a setup re-run registers
meanwhile.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import orjson

from adm_ingest import consent
from adm_ingest.column_names import MAX_PII_SETS
from adm_ingest.countries import normalize_country
from adm_ingest.records import PII_FIELDS
from adm_ingest.values import ParseOptions

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
CONFIG_KEYS: tuple[str, ...] = (
    "columns",
    "hashed",
    "ignore",
    "defaults",
    "auto_detect",
    "decimal",
    "timezone",
    "date_order",
    "strict_country",
    "xdm",
    "on_chunk_failure",
)
ChunkFailurePolicy = Literal["abort", "complete"]
CHUNK_FAILURE_POLICIES: tuple[ChunkFailurePolicy, ...] = ("abort", "complete")
DecimalMark = Literal[",", "."]
DateOrder = Literal["DMY", "MDY", "YMD"]
DECIMAL_MARKS: tuple[DecimalMark, ...] = (",", ".")
DATE_ORDERS: tuple[DateOrder, ...] = ("DMY", "MDY", "YMD")
_Choice = TypeVar("_Choice", bound=str)
_CONSENT_DEFAULTS = ("amzn_ad_storage", "amzn_user_data")
_PII = frozenset(PII_FIELDS)
_ATTRIBUTES = frozenset(ATTRIBUTE_FIELDS)
_NUMBERED_TARGET = re.compile(r"([a-z_]+?)_(\d+)")


class MappingError(ValueError):
    """A mapping config is invalid; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class FieldTarget:
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


def parse_target(name: str) -> FieldTarget:
    """Parse a config target: a canonical field, or ``<pii field>_<n>`` for PII set ``n``.

    Raises:
        MappingError: unknown field, numbered attribute, or set number out of range.
    """
    if name in _ATTRIBUTES:
        return FieldTarget(name)
    if name in _PII:
        return FieldTarget(name, 0)
    match = _NUMBERED_TARGET.fullmatch(name)
    if match is None or match[1] not in _PII:
        raise MappingError(f"unknown target field {name!r}")
    number = int(match[2])
    if not 1 <= number <= MAX_PII_SETS:
        raise MappingError(f"target {name!r}: PII sets are numbered 1..{MAX_PII_SETS}")
    return FieldTarget(match[1], number - 1)


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """A validated mapping config (see the module docstring for the JSON form)."""

    columns: Mapping[str, FieldTarget]
    hashed: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    defaults: Mapping[str, str] | None = None
    auto_detect: bool = True
    decimal: DecimalMark | None = None
    """The decimal mark of money values; None: read unambiguous values only."""
    timezone: str | None = None
    """IANA zone (validated with :mod:`zoneinfo`) for timestamps without an offset."""
    date_order: DateOrder | None = None
    """How to read all-numeric dates like ``03/04/2026``; None: only unambiguous ones."""
    strict_country: bool = False
    """Reject records whose country cannot be read instead of falling back."""
    xdm: Mapping[str, Any] | None = None
    """The XDM mapping of an AEP dataset's files (columns → XDM paths, identities), as given:
    the destination validates it (:meth:`~adm_ingest.destinations.Destination.row_encoder`)."""
    on_chunk_failure: ChunkFailurePolicy = "abort"
    """For a destination that commits a remote batch: what to do with it when some chunk failed
    for good — ``abort`` it, or ``complete`` what was delivered."""

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
                that is not PII, a default for a PII or unknown field, a default value that
                can't be right — country, Amazon consent —, a bad decimal mark, time zone or
                date order).
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
        auto_detect = _boolean(raw, "auto_detect", True)
        strict_country = _boolean(raw, "strict_country", False)
        xdm = raw.get("xdm")
        if xdm is not None and not isinstance(xdm, Mapping):
            raise MappingError("xdm: must be a JSON object")

        targets: dict[str, FieldTarget] = {}
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
                target = FieldTarget(target.field, target.pii_set, True)
            targets[column] = target
        for column in hashed & ignore:
            raise MappingError(f"hashed: {column!r} is also in 'ignore'")
        for field, value in defaults.items():
            _check_default(field, value)
        return cls(
            targets,
            hashed,
            ignore,
            {field: value.strip() for field, value in defaults.items()},
            auto_detect,
            _choice(raw, "decimal", DECIMAL_MARKS),
            _timezone(raw),
            _choice(raw, "date_order", DATE_ORDERS),
            strict_country,
            None if xdm is None else dict(xdm),
            _choice(raw, "on_chunk_failure", CHUNK_FAILURE_POLICIES) or "abort",
        )

    @property
    def parse_options(self) -> ParseOptions:
        """How the file's numbers and dates are read (validated with the config)."""
        return ParseOptions(self.decimal, self.timezone, self.date_order)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able data that :meth:`from_dict` reads back to an equal config:
        every key, normalized (defaults stripped, lists sorted)."""
        return {
            "columns": {column: _target_name(t) for column, t in self.columns.items()},
            "hashed": sorted(self.hashed),
            "ignore": sorted(self.ignore),
            "defaults": dict(self.defaults or {}),
            "auto_detect": self.auto_detect,
            "decimal": self.decimal,
            "timezone": self.timezone,
            "date_order": self.date_order,
            "strict_country": self.strict_country,
            # Only when set, so the canonical form (and content hash) of every other mapping
            # is what it was before these keys existed.
            **({"xdm": dict(self.xdm)} if self.xdm is not None else {}),
            **(
                {"on_chunk_failure": self.on_chunk_failure}
                if self.on_chunk_failure != "abort"
                else {}
            ),
        }

    def canonical_json(self) -> str:
        """One text per config, whatever order or spelling it was registered in."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS).decode()


def _target_name(target: FieldTarget) -> str:
    """The config spelling of ``target`` (``email``, ``email_2``, ``country``)."""
    if target.pii_set is None or target.pii_set == 0:
        return target.field
    return f"{target.field}_{target.pii_set + 1}"


def content_hash(canonical: str) -> str:
    """SHA-256 (hex) of a canonical config text: the version a chunk pointer names."""
    return hashlib.sha256(canonical.encode()).hexdigest()


class MappingMismatch(RuntimeError):
    """A stored mapping does not hash to the version a chunk names (a corrupted or foreign
    ledger item): no retry changes that, and guessing another mapping would send records under
    columns the file was not split with."""


@dataclass(frozen=True, slots=True)
class PinnedMapping:
    """The mapping one file uses, fixed when its split began: every chunk of the file maps its
    records with exactly this version (``content_hash``), whatever the registry says later."""

    prefix: str
    """The registry prefix it came from (``""``: none registered — auto-detection)."""
    config: MappingConfig
    canonical: str
    """:meth:`MappingConfig.canonical_json` of ``config``: what the ledger stores."""
    content_hash: str

    @classmethod
    def of(cls, prefix: str, config: MappingConfig | None) -> PinnedMapping:
        """Pin ``config`` (``None``: no mapping registered, pinned as the empty config) — as
        its canonical form reads back, so a pinned mapping equals itself read from the ledger."""
        canonical = (config or MappingConfig({})).canonical_json()
        return cls(prefix, MappingConfig.from_json(canonical), canonical, content_hash(canonical))

    @classmethod
    def from_stored(cls, prefix: str, canonical: str, expected_hash: str) -> PinnedMapping:
        """Read a pinned mapping back from its stored text.

        Raises:
            MappingMismatch: the text does not hash to ``expected_hash``.
        """
        digest = content_hash(canonical)
        if expected_hash and digest != expected_hash:
            raise MappingMismatch("the stored mapping does not match its content hash")
        return cls(prefix, MappingConfig.from_json(canonical), canonical, digest)


def _check_default(field: str, value: str) -> None:
    if field not in _ATTRIBUTES:
        raise MappingError(f"defaults[{field!r}]: only non-PII fields can have defaults")
    if not value.strip():
        raise MappingError(f"defaults[{field!r}]: the default is empty")
    if field == "country" and normalize_country(value) is None:
        raise MappingError(f"defaults['country']: {value.strip()!r} is not a known country")
    if field in _CONSENT_DEFAULTS and consent.normalize_consent_value(value) is None:
        raise MappingError(
            f"defaults[{field!r}]: must be GRANTED, DENIED, NOT_APPLICABLE or UNKNOWN"
        )


def _boolean(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise MappingError(f"{key!r} must be true or false")
    return value


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[_Choice, ...]) -> _Choice | None:
    value = raw.get(key)
    if value is None:
        return None
    for choice in choices:
        if value == choice:
            return choice
    expected = " or ".join(repr(choice) for choice in choices)
    raise MappingError(f"{key!r} must be {expected}")


def _timezone(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("timezone")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError("'timezone' must be an IANA time zone name like 'Europe/Berlin'")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"'timezone': {value!r} is not an IANA time zone name") from None
    return value


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
