"""Records → XDM rows: a block's field lists become nested XDM objects, one JSON Lines item each.

:class:`XdmMapping` (a dataset's mapping, validated once with errors naming the field) says
which source column feeds which XDM path, which columns are identities of ``identityMap``, and
the dataset's class. :class:`XdmRowBuilder` resolves it against each header once
(:meth:`XdmRowBuilder.layout_for`) and then builds rows (:meth:`XdmRowBuilder.build`).

Decisions, each written down:

* **Auto-detection** reuses :func:`adm_ingest.column_names.classify_column`: a column with no
  configured path that detects as email / phone / first or last name / street / city / state /
  postal code / country goes to the standard Individual Profile field
  (:data:`DETECTED_PATHS`); for ExperienceEvent datasets also timestamp → ``timestamp`` and
  an event / order id → ``_id``. One column per path: the best address group, then the name's
  rank, then column order; the others are reported under ``not_sent``. Anything else is
  reported under ``unknown`` (with "did you mean"), never mapped silently.
* **No null or empty values** (AEP-NOTES §7: "the key for that field should be excluded"):
  values are stripped and an empty one leaves its key out; objects are created only when a
  value goes into them.
* **Coercion** follows the validator form's type at the path: integers and numbers through
  :func:`adm_ingest.values.numbers.read_number` (``1,234`` without a ``decimal`` option is
  ``ambiguous_value``, never guessed), booleans from ``true/false/yes/no/y/n/1/0``, ``date`` and
  ``date-time`` through :func:`adm_ingest.values.parse_timestamp` (``03/04/2026`` without a
  ``date_order`` is ``ambiguous_timestamp``), written ``YYYY-MM-DD`` / RFC 3339 in UTC
  (``2026-11-30T09:15:00Z``). Without a form, values stay strings (``timestamp`` is always a
  date-time). Phone paths are written E.164 (``+14155550123``); ``countryCode`` paths ISO alpha-2.
  A phone written without ``+`` is read in the row's ``homeAddress.countryCode``, else the
  mapping's ``default_country``; one libphonenumber cannot read is rejected, never guessed.
* **Identities** follow Adobe's namespace rules (AEP-NOTES §10, Experience League
  *identity-service/features/namespaces.md*), not Amazon's:
  ``Email``: the address, trimmed (Adobe states no other rule for the raw namespace).
  ``Email_LC_SHA256``: "converted to lowercase before hashing with SHA256. Leading and trailing
  spaces need to be trimmed", lowercase hex, no salt.
  ``Phone_E.164``: "a plus sign (+), an international country calling code, a local area code,
  and a phone number". ``Phone_SHA256``: "remove symbols, letters, and any leading zeroes…
  add the country calling code as a prefix", then SHA-256 (digits only, no ``+``).
  ``Phone_SHA256_E.164``: SHA-256 of the E.164 form. Any other namespace (``CRMID``…): the
  value trimmed. A column declared ``hashed`` must hold a SHA-256 hex digest (written lowercase).
* **ExperienceEvent**: ``_id`` from the id column, else the SHA-256 of the row's content (keys
  sorted), so a re-upload is the same event; ``timestamp`` required and not after the injected
  clock's now.
* **Rejections never hold values**: a path and a rule or a value-free explanation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

import orjson

from adm_ingest.aep.xdm_validation import ValidatorForm, validate
from adm_ingest.column_names import Detection, classify_column, suggest
from adm_ingest.countries import known_country
from adm_ingest.normalize.hashing import is_sha256_hex, sha256_hex
from adm_ingest.normalize.phone import e164_digits, phone_region
from adm_ingest.records import Reason, Rejection
from adm_ingest.values import ParseOptions, ValueProblem, parse_timestamp
from adm_ingest.values.numbers import read_number

__all__ = [
    "DETECTED_PATHS",
    "DatasetClass",
    "IdentitySpec",
    "XdmLayout",
    "XdmMapping",
    "XdmMappingError",
    "XdmRowBuilder",
]


class XdmMappingError(ValueError):
    """An XDM mapping config is invalid; the message names the offending key."""


class DatasetClass(StrEnum):
    PROFILE = "profile"
    EXPERIENCE_EVENT = "experience_event"


DETECTED_PATHS: Final[Mapping[str, str]] = {
    "email": "personalEmail.address",
    "phone": "mobilePhone.number",
    "first_name": "person.name.firstName",
    "last_name": "person.name.lastName",
    "address": "homeAddress.street1",
    "city": "homeAddress.city",
    "state": "homeAddress.stateProvince",
    "postal": "homeAddress.postalCode",
    "country": "homeAddress.countryCode",
}
"""Canonical field (column detection) → standard Individual Profile path."""
_EVENT_DETECTED_PATHS: Final[Mapping[str, str]] = {"timestamp": "timestamp", "dedupe_id": "_id"}
_PHONE_PATHS: Final = frozenset({"mobilePhone.number", "homePhone.number", "workPhone.number"})
_COUNTRY_SUFFIX: Final = "countryCode"
_HOME_COUNTRY: Final = ("homeAddress", "countryCode")
_NOT_DETECTED: Final = (
    "recognised, but no standard XDM field is detected for it: map it in 'columns'"
)
_NAMESPACES_EMAIL: Final = frozenset({"Email", "Email_LC_SHA256"})
_NAMESPACES_PHONE: Final = frozenset({"Phone_E.164", "Phone_SHA256", "Phone_SHA256_E.164"})
_HASHED_NAMESPACES: Final = frozenset({"Email_LC_SHA256", "Phone_SHA256", "Phone_SHA256_E.164"})
_CONFIG_KEYS: Final = (
    "class",
    "tenant",
    "columns",
    "identities",
    "ignore",
    "auto_detect",
    "id_column",
    "default_country",
    "decimal",
    "timezone",
    "date_order",
)
_PATH_PART: Final = re.compile(r"_?[A-Za-z][A-Za-z0-9_]{0,63}")
_NAMESPACE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
_TENANT: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TRUE: Final = frozenset({"true", "yes", "y", "1", "t"})
_PLAIN_DIGITS: Final = 15
"""Longest digit string read_number takes as written (its ``_PLAIN`` pattern)."""
_COUNTRY_MEMO: Final = 4096
"""Distinct country texts remembered (a file has a handful; the bound keeps memory flat)."""
_FALSE: Final = frozenset({"false", "no", "n", "0", "f"})


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """One ``identityMap`` entry per row, from ``column``'s value in ``namespace``."""

    column: str
    namespace: str
    primary: bool = False
    hashed: bool = False
    """The column already holds SHA-256 hex digests (hashed namespaces only)."""


@dataclass(frozen=True, slots=True)
class XdmMapping:
    """A dataset's mapping from source columns to XDM (see :meth:`from_config`)."""

    dataset_class: DatasetClass
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Column → XDM path (``_{tenant}`` already replaced by the tenant's container)."""
    identities: tuple[IdentitySpec, ...] = ()
    ignore: frozenset[str] = frozenset()
    auto_detect: bool = True
    id_column: str | None = None
    default_country: str = "US"
    """Region of phone numbers written without ``+`` (alpha-2)."""
    options: ParseOptions = field(default_factory=ParseOptions)

    @classmethod
    def from_config(cls, config: Any) -> XdmMapping:
        """Validate a JSON-able config::

            {"class": "profile" | "experience_event",   # required
             "tenant": "acmecorp",                       # for paths starting "_{tenant}"
             "columns": {"Points": "_{tenant}.loyalty.points", "Mail": "personalEmail.address"},
             "identities": [{"column": "Mail", "namespace": "Email_LC_SHA256", "primary": true,
                             "hashed": false}],
             "ignore": ["Notes"], "auto_detect": true, "id_column": "Event ID",
             "default_country": "US", "decimal": ".", "timezone": "UTC", "date_order": "DMY"}

        Raises:
            XdmMappingError: naming the first bad key.
        """
        if not isinstance(config, Mapping):
            raise XdmMappingError("the XDM mapping config must be a JSON object")
        for key in config:
            if key not in _CONFIG_KEYS:
                raise XdmMappingError(
                    f"unknown XDM mapping key {key!r}; expected {', '.join(_CONFIG_KEYS)}"
                )
        try:
            dataset_class = DatasetClass(str(config.get("class")))
        except ValueError:
            raise XdmMappingError("'class' must be 'profile' or 'experience_event'") from None
        tenant = config.get("tenant")
        if tenant is not None and (not isinstance(tenant, str) or not _TENANT.fullmatch(tenant)):
            raise XdmMappingError("'tenant' must be a tenant id like 'acmecorp'")
        raw_columns = config.get("columns", {})
        if not isinstance(raw_columns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_columns.items()
        ):
            raise XdmMappingError("'columns' must be an object of column → XDM path")
        columns: dict[str, tuple[str, ...]] = {}
        owners: dict[tuple[str, ...], str] = {}
        for column, path in raw_columns.items():
            parts = _parse_path(path, tenant, f"columns[{column!r}]")
            for owned, owner in owners.items():
                if owned == parts or _nested(owned, parts):
                    raise XdmMappingError(
                        f"columns[{column!r}]: {path!r} clashes with the path of {owner!r}"
                    )
            owners[parts] = column
            columns[column] = parts
        identities = tuple(
            _identity(raw, index) for index, raw in enumerate(_list(config, "identities"))
        )
        if sum(spec.primary for spec in identities) > 1:
            raise XdmMappingError("identities: at most one identity can be primary")
        ignore = frozenset(_names(config, "ignore"))
        for column in ignore & set(columns):
            raise XdmMappingError(f"ignore: {column!r} is also in 'columns'")
        auto_detect = config.get("auto_detect", True)
        if not isinstance(auto_detect, bool):
            raise XdmMappingError("'auto_detect' must be true or false")
        id_column = config.get("id_column")
        if id_column is not None:
            if not isinstance(id_column, str) or not id_column:
                raise XdmMappingError("'id_column' must be a column name")
            if dataset_class is not DatasetClass.EXPERIENCE_EVENT:
                raise XdmMappingError("'id_column' is for experience_event datasets only")
        country = config.get("default_country", "US")
        code = known_country(country) if isinstance(country, str) else None
        if code is None or phone_region(code) is None:
            raise XdmMappingError("'default_country' must be a country like 'US'")
        try:
            options = ParseOptions.from_config(
                {key: config.get(key) for key in ("decimal", "timezone", "date_order")}
            )
        except ValueError as error:
            raise XdmMappingError(str(error)) from None
        return cls(
            dataset_class, columns, identities, ignore, auto_detect, id_column, code, options
        )


def _nested(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """One path is a prefix of the other: a value and an object at one place."""
    shorter, longer = sorted((first, second), key=len)
    return longer[: len(shorter)] == shorter


def _parse_path(path: str, tenant: str | None, where: str) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if parts and parts[0] == "_{tenant}":
        if tenant is None:
            raise XdmMappingError(f"{where}: '_{{tenant}}' needs the 'tenant' key")
        parts = (f"_{tenant}", *parts[1:])
    for index, part in enumerate(parts):
        if not _PATH_PART.fullmatch(part) or (part.startswith("_") and index > 0):
            raise XdmMappingError(f"{where}: {path!r} is not an XDM path like 'person.name'")
    if parts[0] == "identityMap":
        raise XdmMappingError(f"{where}: identityMap is built from 'identities'")
    return parts


def _list(config: Mapping[str, Any], key: str) -> list[Any]:
    value = config.get(key, [])
    if not isinstance(value, list):
        raise XdmMappingError(f"{key!r} must be a list")
    return value


def _names(config: Mapping[str, Any], key: str) -> list[str]:
    values = _list(config, key)
    if not all(isinstance(value, str) for value in values):
        raise XdmMappingError(f"{key!r} must be a list of column names")
    return values


def _identity(raw: Any, index: int) -> IdentitySpec:
    where = f"identities[{index}]"
    if not isinstance(raw, Mapping):
        raise XdmMappingError(f"{where} must be an object")
    for key in raw:
        if key not in ("column", "namespace", "primary", "hashed"):
            raise XdmMappingError(f"{where}: unknown key {key!r}")
    column, namespace = raw.get("column"), raw.get("namespace")
    if not isinstance(column, str) or not column:
        raise XdmMappingError(f"{where}.column must be a column name")
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise XdmMappingError(f"{where}.namespace must be an identity namespace symbol")
    primary, hashed = raw.get("primary", False), raw.get("hashed", False)
    if not isinstance(primary, bool):
        raise XdmMappingError(f"{where}.primary must be true or false")
    if not isinstance(hashed, bool):
        raise XdmMappingError(f"{where}.hashed must be true or false")
    if hashed and namespace not in _HASHED_NAMESPACES:
        raise XdmMappingError(f"{where}.hashed: {namespace!r} is not a hashed namespace")
    return IdentitySpec(column, namespace, primary, hashed)


# -- values ------------------------------------------------------------------------------------

_Value = str | int | float | bool
Convert = Callable[[str, str], "_Value | ValueProblem"]
"""(stripped non-empty text, the row's country) → the value, or why not."""


def _problem(path: str, reason: str, why: str) -> ValueProblem:
    return ValueProblem(reason, f"{path}: {why}")


def _converter(path: str, node: Mapping[str, Any] | None, mapping: XdmMapping) -> Convert:
    """How the text of a column becomes the value at ``path`` (``node``: its form node)."""
    options = mapping.options
    kind = node.get("t") if node else None
    fmt = node.get("fmt") if node else None
    if path == "timestamp" and mapping.dataset_class is DatasetClass.EXPERIENCE_EVENT:
        fmt = "date-time"
    if kind == "i" or kind == "n":
        return _number_converter(path, options, integer=kind == "i")
    if kind == "b":
        not_boolean = _problem(path, Reason.INVALID_VALUE, "not a boolean")

        def boolean(text: str, _country: str) -> bool | ValueProblem:
            folded = text.casefold()
            return True if folded in _TRUE else False if folded in _FALSE else not_boolean

        return boolean
    if fmt == "date-time":
        return _time_converter(path, options, date_only=False)
    if fmt == "date":
        return _time_converter(path, options, date_only=True)
    if path in _PHONE_PATHS:
        return _phone_converter(path)
    if path.endswith(_COUNTRY_SUFFIX):
        not_country = _problem(path, Reason.INVALID_COUNTRY, "not a known country")
        return lambda text, _country: _known_country(text) or not_country
    return _as_text


def _as_text(text: str, _country: str) -> str:
    """A plain string path: the stripped text itself (build skips the call for it)."""
    return text


# The row's country is read twice per row (the region of its phones, its countryCode leaf)
# from a column with a handful of distinct values; known_country folds and looks up each time.
_known_country: Final = lru_cache(maxsize=_COUNTRY_MEMO)(known_country)


def _number_converter(path: str, options: ParseOptions, *, integer: bool) -> Convert:
    not_integer = _problem(path, Reason.INVALID_VALUE, "not an integer")

    def number(text: str, _country: str) -> int | float | ValueProblem:
        sign = 1
        if text[0] in "+-":
            sign, text = (-1 if text[0] == "-" else 1), text[1:].lstrip()
        if len(text) <= _PLAIN_DIGITS and text.isdigit() and text.isascii():
            # read_number's common case, without the Decimal: plain digits are that integer.
            whole = int(text)
            return sign * whole if integer else float(sign * whole) if whole else 0.0
        value = read_number(text, decimal=options.decimal) if text else None
        if value is None:
            return _problem(path, Reason.INVALID_VALUE, "not a number")
        if isinstance(value, ValueProblem):
            return _problem(path, value.reason, value.detail)
        if integer:
            return sign * int(value) if value == value.to_integral_value() else not_integer
        return float(sign * value) if value != Decimal(0) else 0.0

    return number


def _time_converter(path: str, options: ParseOptions, *, date_only: bool) -> Convert:
    not_a_date = _problem(path, Reason.INVALID_TIMESTAMP, "a date-time where a date belongs")

    def moment(text: str, _country: str) -> str | ValueProblem:
        parsed = parse_timestamp(
            text,
            timezone=None if date_only else options.timezone,
            date_order=options.date_order,
        )
        if isinstance(parsed, ValueProblem):
            return _problem(path, parsed.reason, parsed.detail)
        instant = parsed.moment
        if date_only:
            if instant.time() != datetime.min.time():
                return not_a_date
            return instant.date().isoformat()
        return _rfc3339(instant)

    return moment


def _rfc3339(instant: datetime) -> str:
    # isoformat, not strftime: a four-digit year always ("0999", which strftime writes "999").
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return (text.rstrip("0") if utc.microsecond else text) + "Z"


def _e164_digits(text: str, country: str) -> str | None:
    """E.164 digits without ``+`` (libphonenumber: parse, possible-number check), or None."""
    value = text.strip()
    if not value:
        return None
    return e164_digits(value, phone_region(country))


def _phone_converter(path: str) -> Convert:
    not_phone = _problem(path, Reason.INVALID_VALUE, "not a phone number")

    def phone(text: str, country: str) -> str | ValueProblem:
        digits = e164_digits(text, phone_region(country))  # text: stripped, not empty
        return not_phone if digits is None else "+" + digits

    return phone


IdentityNormalizer = Callable[[str, str], str | None]
"""(stripped non-empty text, the row's country) → the identity ``id``, or None."""


def identity_normalizer(spec: IdentitySpec) -> IdentityNormalizer:
    """The identity ``id`` for a value per Adobe's namespace rules (module docstring), or None
    when the value can't be one. Phones written without ``+`` are read in the row's country."""
    namespace = spec.namespace
    if spec.hashed:
        return lambda text, _country: text.lower() if is_sha256_hex(text) else None
    if namespace == "Email":
        return lambda text, _country: text if "@" in text else None
    if namespace == "Email_LC_SHA256":
        # "converted to lowercase before hashing with SHA256. Leading and trailing spaces need
        # to be trimmed" (Experience League, identity namespaces; AEP-NOTES §10).
        return lambda text, _country: sha256_hex(text.lower()) if "@" in text else None
    if namespace in _NAMESPACES_PHONE:

        def phone(text: str, country: str) -> str | None:
            digits = _e164_digits(text, country)
            if digits is None:
                return None
            if namespace == "Phone_E.164":
                return "+" + digits
            if namespace == "Phone_SHA256":
                # "remove symbols, letters, and any leading zeroes… add the country calling
                # code as a prefix": the E.164 digits without "+".
                return sha256_hex(digits)
            return sha256_hex("+" + digits)  # Phone_SHA256_E.164

        return phone
    return lambda text, _country: text


# -- layouts and rows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leaf:
    index: int
    path: str
    parts: tuple[str, ...]
    convert: Convert


@dataclass(frozen=True, slots=True)
class _Identity:
    index: int
    namespace: str
    primary: bool
    normalize: IdentityNormalizer


_Step = tuple[int, Convert | None, int, str]
"""A leaf as :meth:`XdmRowBuilder.build` walks it: (column index, converter — None for a plain
string —, slot of the object its value goes into, its key there)."""
_Link = tuple[int, int, str]
"""(slot of an object, slot of its parent, its key in the parent); slot 0 is the row."""


@dataclass(frozen=True, slots=True, eq=False)
class XdmLayout:
    """A mapping resolved against one header, by column position."""

    leaves: tuple[_Leaf, ...]
    identities: tuple[_Identity, ...]
    country_index: int | None
    """The column of ``homeAddress.countryCode``: the region of the row's phone numbers
    written without ``+`` (else the mapping's ``default_country``)."""
    steps: tuple[_Step, ...] = ()
    """The leaves in order, flattened for the per-row loop (:func:`_steps`)."""
    chains: tuple[tuple[_Link, ...], ...] = ((),)
    """Per object slot, the links from the row down to it: the objects to create, top first,
    when a value first goes into it."""


def _steps(leaves: Sequence[_Leaf]) -> tuple[tuple[_Step, ...], tuple[tuple[_Link, ...], ...]]:
    """Number every object the leaves' paths go through (the row is 0, parents before their
    children) so build indexes a list instead of walking ``setdefault`` from the row for every
    value. Objects are still created when the first value goes into them, in leaf order, so
    rows — and their key order — are what nested ``setdefault`` calls make."""
    slots: dict[tuple[str, ...], int] = {(): 0}
    chains: list[tuple[_Link, ...]] = [()]
    steps: list[_Step] = []
    for leaf in leaves:
        parents = leaf.parts[:-1]
        for depth in range(1, len(parents) + 1):
            prefix = parents[:depth]
            if prefix not in slots:
                slots[prefix] = len(chains)
                link = (slots[prefix], slots[prefix[:-1]], prefix[-1])
                chains.append((*chains[slots[prefix[:-1]]], link))
        convert = None if leaf.convert is _as_text else leaf.convert
        steps.append((leaf.index, convert, slots[parents], leaf.parts[-1]))
    return tuple(steps), tuple(chains)


@dataclass(slots=True)
class _Report:
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    not_sent: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)


def _form_node(form: ValidatorForm | None, parts: tuple[str, ...]) -> Mapping[str, Any] | None:
    if form is None:
        return None
    node: Mapping[str, Any] = form.root
    for part in parts:
        child = node.get("props", {}).get(part)
        if child is None:
            return None
        node = child
    return node


_SCALARS: Final = frozenset({"s", "i", "n", "b"})


class XdmRowBuilder:
    """Builds XDM rows from a block's records: :meth:`layout_for` each header once, then
    :meth:`build` each of its records."""

    def __init__(
        self,
        mapping: XdmMapping,
        form: ValidatorForm | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mapping = mapping
        self.form = form
        self._clock = clock
        self._layouts: dict[tuple[str, ...], XdmLayout] = {}
        self._current: XdmLayout | None = None
        self._report = _Report()
        if form is not None:
            for column, parts in mapping.columns.items():
                node = _form_node(form, parts)
                if node is None or node.get("t") not in _SCALARS:
                    raise XdmMappingError(
                        f"columns[{column!r}]: {'.'.join(parts)!r} is not a field of the schema"
                    )

    def layout_for(self, header: Sequence[str]) -> XdmLayout:
        """The layout of ``header`` (made once per distinct header); :meth:`build` uses it."""
        key = tuple(header)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = self._resolve(key)
        self._current = layout
        return layout

    def _resolve(self, header: tuple[str, ...]) -> XdmLayout:
        mapping, report = self.mapping, self._report
        paths: dict[tuple[str, ...], tuple[int, str, str]] = {}
        candidates: list[tuple[tuple[Any, ...], int, str, tuple[str, ...]]] = []
        identity_columns = {spec.column for spec in mapping.identities}
        for index, column in enumerate(header):
            if column in mapping.ignore:
                if column not in report.ignored:
                    report.ignored.append(column)
            elif column in mapping.columns:
                paths[mapping.columns[column]] = (index, column, "config")
            elif column == mapping.id_column:
                paths[("_id",)] = (index, column, "config")
            elif mapping.auto_detect:
                detection = classify_column(column)
                found = self._detected_path(detection)
                if found is not None:
                    rank = (detection.tier, detection.priority, index)
                    candidates.append((rank, index, column, found))
                elif column not in identity_columns:
                    self._unmapped(column, detection)
            elif column not in identity_columns:
                report.unknown.setdefault(column, suggest(column))
        taken = {parts for parts in paths} | set(mapping.columns.values())
        for _, index, column, detected in sorted(candidates):
            if detected in taken or any(_nested(detected, other) for other in taken):
                report.not_sent.setdefault(column, "duplicate field")
            elif _form_node(self.form, detected) is None and self.form is not None:
                report.not_sent.setdefault(column, "not a field of the dataset's schema")
            else:
                taken.add(detected)
                paths[detected] = (index, column, "detected")
        leaves = []
        for parts, (index, column, source) in sorted(paths.items(), key=lambda item: item[1][0]):
            path = ".".join(parts)
            report.columns.setdefault(column, {"column": column, "path": path, "source": source})
            convert = _converter(path, _form_node(self.form, parts), mapping)
            leaves.append(_Leaf(index, path, parts, convert))
        positions = {column: index for index, column in enumerate(header)}
        identities = []
        for spec in mapping.identities:
            if spec.column not in positions:
                report.missing.add(spec.column)
                continue
            normalize = identity_normalizer(spec)
            identities.append(
                _Identity(positions[spec.column], spec.namespace, spec.primary, normalize)
            )
        for column in mapping.columns:
            if column not in positions:
                report.missing.add(column)
        country = paths.get(_HOME_COUNTRY)
        steps, chains = _steps(leaves)
        return XdmLayout(
            tuple(leaves),
            tuple(identities),
            None if country is None else country[0],
            steps,
            chains,
        )

    def _detected_path(self, detection: Detection) -> tuple[str, ...] | None:
        if detection.field is None or detection.hashed or detection.pii_set:
            return None
        path = DETECTED_PATHS.get(detection.field)
        if path is None and self.mapping.dataset_class is DatasetClass.EXPERIENCE_EVENT:
            path = _EVENT_DETECTED_PATHS.get(detection.field)
        return None if path is None else tuple(path.split("."))

    def _unmapped(self, column: str, detection: Detection) -> None:
        if detection.field is not None:
            why = "hashed column: configure it as an identity" if detection.hashed else None
            why = why or _NOT_DETECTED
            self._report.not_sent.setdefault(column, why)
        elif detection.why_not is not None:
            # column_names' reasons speak of ADM; for XDM the point is that nothing is detected.
            self._report.not_sent.setdefault(column, _NOT_DETECTED)
        else:
            self._report.unknown.setdefault(column, list(detection.suggestions) or suggest(column))

    def summary(self) -> dict[str, Any]:
        """What the mapping did with every header seen so far: column and path names only.

        ``{"class", "columns": [{"column", "path", "source": "config" | "detected"}],
        "identities": [{"column", "namespace", "primary"}], "ignored": [column], "unknown":
        [{"column", "did_you_mean"}], "not_sent": [{"column", "why"}], "missing": [column]}``
        """
        report = self._report
        return {
            "class": str(self.mapping.dataset_class),
            "columns": list(report.columns.values()),
            "identities": [
                {"column": spec.column, "namespace": spec.namespace, "primary": spec.primary}
                for spec in self.mapping.identities
            ],
            "ignored": list(report.ignored),
            "unknown": [
                {"column": column, "did_you_mean": hints}
                for column, hints in report.unknown.items()
            ],
            "not_sent": [{"column": column, "why": why} for column, why in report.not_sent.items()],
            "missing": sorted(report.missing),
        }

    def build(self, line: int, fields: Sequence[str]) -> dict[str, Any] | Rejection:
        """The XDM row of the record at ``line`` (its fields in the order of the header last
        given to :meth:`layout_for`), or why it is rejected."""
        layout = self._current
        if layout is None:
            raise RuntimeError("layout_for(header) must be called before build()")
        country = self.mapping.default_country
        width = len(fields)
        if layout.country_index is not None and layout.country_index < width:
            # An unknown country is rejected by its own leaf below; phones then need no region.
            country = _known_country(fields[layout.country_index]) or country
        row: dict[str, Any] = {}
        chains = layout.chains
        nodes: list[Any] = [None] * len(chains)  # slot → its object in this row, once made
        nodes[0] = row
        for index, convert, slot, name in layout.steps:
            text = fields[index].strip() if index < width else ""
            if not text:
                continue  # no null or empty values: the key is left out (AEP-NOTES §7)
            value: Any = text
            if convert is not None:
                value = convert(text, country)
                if type(value) is ValueProblem:
                    return Rejection(line, value.reason, value.detail)
            node = nodes[slot]
            if node is None:
                for child, parent, key in chains[slot]:
                    if nodes[child] is None:
                        nodes[child] = nodes[parent][key] = {}
                node = nodes[slot]
            node[name] = value
        identity_map: dict[str, list[dict[str, Any]]] = {}
        for identity in layout.identities:
            text = fields[identity.index].strip() if identity.index < len(fields) else ""
            if not text:
                continue
            identity_id = identity.normalize(text, country)
            if identity_id is None:
                return Rejection(
                    line, Reason.INVALID_VALUE, f"identityMap.{identity.namespace}: not an identity"
                )
            items = identity_map.setdefault(identity.namespace, [])
            item = {"id": identity_id, "primary": identity.primary}
            if item not in items:
                items.append(item)
        if identity_map:
            row["identityMap"] = identity_map
        elif layout.identities and self.mapping.dataset_class is DatasetClass.PROFILE:
            return Rejection(line, Reason.NO_IDENTIFIER, "identityMap: no configured identity")
        if self.mapping.dataset_class is DatasetClass.EXPERIENCE_EVENT:
            problem = self._event_fields(line, row)
            if problem is not None:
                return problem
        if self.form is not None:
            problems = validate(self.form, row)
            if problems:
                first = problems[0]
                return Rejection(line, Reason.INVALID_XDM, f"{first.path} {first.rule}")
        return row

    def _event_fields(self, line: int, row: dict[str, Any]) -> Rejection | None:
        timestamp = row.get("timestamp")
        if not isinstance(timestamp, str):
            return Rejection(line, Reason.MISSING_TIMESTAMP, "timestamp: required")
        if datetime.fromisoformat(timestamp) > self._clock():
            return Rejection(line, Reason.TIMESTAMP_IN_FUTURE, "timestamp: in the future")
        if "_id" not in row:
            # Same content → same _id, so a re-uploaded row is the same event (XDM: "hash a
            # concatenation" when no id exists; AEP-NOTES §7).
            row["_id"] = sha256_hex(orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode())
        return None

    @staticmethod
    def encode(row: dict[str, Any] | Rejection) -> bytes | Rejection:
        """One JSON Lines item (without its newline): ``orjson.dumps(row)``, or the rejection."""
        return row if type(row) is Rejection else orjson.dumps(row)
