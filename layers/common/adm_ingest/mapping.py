"""Column mapping: source columns → canonical fields.

Public API
----------
``build_plan(header, config=None) -> MappingPlan``
    Resolve every column once; ``plan.layout_for(header)`` then says, by column position, which
    field each column of a block of records feeds (:class:`RecordLayout`, made once per
    header). ``header`` may be ``None`` (JSON files, whose keys are only known per record):
    the first block's columns are then resolved as if they were the header, and a column first
    seen in a later block is resolved when it first appears.
``MappingPlan.summary() -> dict`` / ``MappingPlan.describe() -> str``
    What the plan does, JSON-able for reports / as dry-run text: which column feeds which field
    (config or detected), ignored, unknown (with "did you mean"), not sent and why, missing
    configured columns, defaults, warnings. Column and field names only, never values.
``MappingConfig.from_dict(raw)`` / ``MappingConfig.from_json(text)``
    Validate a mapping config; every problem raises :class:`MappingError` naming the bad key.
``detect_column(name) -> FieldTarget | None``
    Header auto-detection of one column name (the vocabulary and how names are read:
    :mod:`adm_ingest.column_names`).

Config schema (every key optional)::

    {
      "columns":     {"E-Mail": "email", "Cell": "phone", "Alt Email": "email_2"},
      "hashed":      ["E-Mail"],        # columns whose values are already SHA-256 hex
      "ignore":      ["notes"],         # never read, even if auto-detection knows them
      "defaults":    {"country": "US"}, # attribute value when a record has none
      "auto_detect": true,              # also map unlisted columns with well-known names
      "decimal":     ",",               # "," or ".": the decimal mark of money values
      "timezone":    "Europe/Berlin",   # IANA zone of timestamps without an offset
      "date_order":  "DMY",             # "DMY" | "MDY" | "YMD" for dates like 03/04/2026
      "strict_country": false           # (read by the country / consent code)
    }

A target is a canonical field, or a PII field with a set number: ``email_2`` is the email of
the record's second PII set (``email`` = ``email_1`` = the first). A record's PII sets are
numbered by their columns, then empty sets are dropped: a record has only sets with a value.
Values are stripped; empty values are dropped. Columns that are neither
configured nor auto-detected are never mapped, so never sent.

Precedence (decided once per header, in ``MappingPlan.__init__``)
-----------------------------------------------------------------
* Configured columns win. A configured column that the header lacks is reported
  (``missing`` + a warning) and does not hold its field: auto-detection may fill it.
* Address (street, city, state, postal) of PII set 1: the header's best address *tier*
  feeds it — tier 0 ``Mailing`` / ``Home`` / ``Default Address`` / Dynamics ``Address 1:`` /
  unqualified, tier 1 ``Billing``, tier 2 ``Shipping``, tier 3 ``Other`` / ``Work`` /
  ``Address 2:``. Columns of lower tiers are not sent ("lower-precedence address group"): two
  places' parts never mix into one address. Inside the tier, one column per field (group
  order above, then the name's rank, e.g. ``Address1`` before ``Street``); others are
  duplicates. Shipping-group PII (``Shipping Phone``: maybe a gift recipient) is sent only
  when shipping is the best tier.
* Country: from the best tier that has a country column — normally the address's tier; when
  that tier has none, a lower tier's country is used rather than none (the country decides
  consent, so a German billing country must not become the US default), with a warning.
* Phones: ``Mobile`` / ``Cell`` before ``Phone`` before qualified phones (``Work Phone``,
  ``Billing Phone``…): the first feeds set 1, the next set 2, and so on. Emails likewise:
  unqualified / ``Customer`` / ``Personal`` first, qualified (``Work Email``) later.
  A numbered name (``Email 2``) asks for its set and moves on to the next free one.
* Attributes (``external_id``, ``dedupe_id``, ``timestamp``, ``value``…): one winner per
  field by the names' rank in :data:`~adm_ingest.column_names.COLUMN_NAMES` (for ids:
  ``external_id`` > ``Customer ID`` / ``Contact ID`` / ``Lead ID`` / ``uid`` / ``Loyalty #``
  > ``Record ID`` / ``(Do Not Modify) Contact`` > ``Klaviyo ID`` / ``braze_id`` / ``EUID`` /
  ``Id``; for order ids: ``dedupe_id`` / ``event_id`` > ``Order ID`` / ``Order #`` /
  ``Transaction ID`` > ``Receipt #``), ties by column order; the others are duplicates.

Without a header (JSON), the first record's columns are ranked together; a column appearing
later takes its field only if it is still free (records already mapped are not revisited), and
a configured column missing from the first record is reported missing and frees its field, as
with a header; if it shows up later, it feeds its field if nothing else took it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from adm_ingest.column_names import (
    ADDRESS_FIELDS,
    MAX_PII_SETS,
    Detection,
    classify_column,
    group_order,
    orders_shaped,
    suggest,
)
from adm_ingest.mapping_config import (
    ATTRIBUTE_FIELDS,
    CONFIG_KEYS,
    FieldTarget,
    MappingConfig,
    MappingError,
    parse_target,
)
from adm_ingest.records import PII_FIELDS

IDENTIFIER_FIELDS = frozenset({*PII_FIELDS, "external_id", "maid", "ramp_id"})
"""Fields a record can be matched or addressed on (without one, every record is rejected)."""

# Why a column present in the file is not sent (``MappingPlan.not_sent``).
DUPLICATE = "duplicate field"
LOWER_GROUP = "lower-precedence address group"
CONFIGURED_FIELD_TAKEN = "its configured field is already fed by an earlier column"

_PII = frozenset(PII_FIELDS)
_ATTRIBUTES = frozenset(ATTRIBUTE_FIELDS)
_SHIPPING_TIER = 2

__all__ = [
    "ATTRIBUTE_FIELDS",
    "CONFIG_KEYS",
    "MAX_PII_SETS",
    "FieldTarget",
    "MappingConfig",
    "MappingError",
    "MappingPlan",
    "RecordLayout",
    "build_plan",
    "detect_column",
    "parse_target",
]


def _target_of(detection: Detection) -> FieldTarget | None:
    if detection.field is None:
        return None
    if detection.field in _ATTRIBUTES:
        return FieldTarget(detection.field)
    return FieldTarget(detection.field, detection.pii_set, detection.hashed)


def detect_column(name: str) -> FieldTarget | None:
    """Auto-detect a column from its name alone (see :mod:`adm_ingest.column_names`);
    ``None`` if nothing is mapped from it. Precedence between columns is the plan's."""
    return _target_of(classify_column(name))


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity
class RecordLayout:
    """A plan resolved against one header, by column position: where a record of that header
    (a list of fields) has each canonical field. Values are read stripped; an empty one is no
    value. PII sets are numbered by their columns; a set with no value is no set."""

    defaults: dict[str, str]
    """Attribute values every record starts from (the config's ``defaults``)."""
    attributes: tuple[tuple[int, str], ...]
    """``(column index, attribute field)`` in column order."""
    pii_sets: tuple[tuple[tuple[int, str, bool], ...], ...]
    """Per PII set in set order, ``(column index, field, declared hashed)`` in column order."""


_Route = tuple[str, int, bool]
"""(field, PII set or -1 for an attribute, declared hashed): a resolved column."""
_MAX_LAYOUTS = 256
"""Bound on the layouts a plan keeps (one per distinct header)."""
_Slot = tuple[str, int]


def _slot(target: FieldTarget) -> _Slot:
    return target.field, -1 if target.pii_set is None else target.pii_set


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A column auto-detection maps, before precedence has placed it."""

    index: int
    column: str
    detection: Detection
    hashed: bool


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What resolution decided for one column (turned into the plan's lists in column order)."""

    kind: Literal["mapped", "ignored", "not_sent", "unknown"]
    target: FieldTarget | None = None
    source: Literal["config", "detected"] = "detected"
    group: str | None = None
    why: str = ""
    suggestions: tuple[str, ...] = ()


class MappingPlan:
    """A config resolved against a file's columns; :meth:`layout_for` a header says where each
    field is in that header's records."""

    def __init__(self, config: MappingConfig, header: Sequence[str] | None = None) -> None:
        self._config = config
        self._defaults = dict(config.defaults or {})
        self._routes: dict[str, _Route | None] = {}
        self._layouts: dict[tuple[str, ...], RecordLayout] = {}
        self._taken: dict[_Slot, str] = {}
        """(field, set or -1) → the column feeding it."""
        self._seen_columns = False
        self._orders = False
        self._address_tier: int | None = None
        self._country_tier: int | None = None
        self._notes: list[dict[str, str]] = []
        self.mapped: dict[str, FieldTarget] = {}
        """Column → target, in column order."""
        self.sources: dict[str, Literal["config", "detected"]] = {}
        """Column → whether the config or auto-detection mapped it."""
        self.groups: dict[str, str] = {}
        """Mapped column → its qualifier's group (``mailing``, ``billing``…), when it has one."""
        self.ignored: list[str] = []
        """Columns configured to be ignored."""
        self.not_sent: list[tuple[str, str]] = []
        """``(column, why)`` for recognised columns that are deliberately not sent: duplicates,
        lower-precedence address groups, second street lines, known non-identifiers."""
        self.duplicates: list[str] = []
        """The columns of :attr:`not_sent` whose field another column already feeds."""
        self.unknown: list[str] = []
        """Columns neither configured nor recognised: never sent."""
        self.suggestions: dict[str, list[str]] = {}
        """Unknown column → close canonical fields ("did you mean")."""
        self.hints: dict[str, str] = {}
        """Unknown column → why it is not detected (``Full Name``: not split…)."""
        self.missing: list[str] = []
        """Configured columns (``columns`` / ``hashed``) the file lacks: the header's, or, with
        no header, the first record's (a later record showing one removes it)."""
        if header is not None:
            errors = self._resolve_columns(header)
            if errors:
                raise MappingError(errors[0])

    # -- resolution: once per header (or per new column of a header-less file) ----------------

    def _resolve_columns(self, columns: Iterable[str]) -> list[str]:
        """Route every not yet resolved column of ``columns`` together (so precedence sees the
        whole header). Returns config errors only a header can reveal."""
        new = [column for column in dict.fromkeys(columns) if column not in self._routes]
        if not new:
            return []
        config = self._config
        if not self._seen_columns:
            self._seen_columns = True
            present = set(new)
            configured = dict.fromkeys((*config.columns, *sorted(config.hashed)))
            self.missing = [column for column in configured if column not in present]
            for column in new:  # present configured columns hold their fields first
                if column in config.columns:
                    self._taken[_slot(config.columns[column])] = column
            self._orders = orders_shaped(new)
        outcomes: dict[str, _Outcome] = {}
        candidates: list[_Candidate] = []
        errors: list[str] = []
        for index, column in enumerate(new):
            target = config.columns.get(column)
            if column in config.ignore:
                outcomes[column] = _Outcome("ignored")
            elif target is not None:
                outcomes[column] = self._configured(column, target)
            else:
                detection = classify_column(column, orders=self._orders)
                if not config.auto_detect:
                    known = () if detection.field is None else (detection.field,)
                    outcomes[column] = _Outcome("unknown", suggestions=known or _close(column))
                elif detection.field is None:
                    outcomes[column] = _unrecognised(column, detection)
                else:
                    hashed = detection.hashed
                    if column in config.hashed:
                        if detection.field in _ATTRIBUTES:
                            errors.append(f"hashed: {column!r} is detected as non-PII field")
                        else:
                            hashed = True
                    candidates.append(_Candidate(index, column, detection, hashed))
        outcomes.update(self._place(candidates))
        for column in new:
            self._record(column, outcomes[column])
        return errors

    def _configured(self, column: str, target: FieldTarget) -> _Outcome:
        if column in self.missing:  # a header-less file's late column
            self.missing.remove(column)
        owner = self._taken.setdefault(_slot(target), column)
        if owner != column:  # only a header-less file's late column can meet this
            return _Outcome("not_sent", why=CONFIGURED_FIELD_TAKEN)
        return _Outcome("mapped", target, "config")

    def _place(self, candidates: list[_Candidate]) -> dict[str, _Outcome]:
        """Apply the precedence rules (module docstring) to detected columns."""
        outcomes: dict[str, _Outcome] = {}
        street = [c for c in candidates if _is_address(c.detection)]
        if self._address_tier is None and street:
            self._address_tier = min(c.detection.tier for c in street)
        countries = [c for c in candidates if c.detection.field == "country"]
        if self._country_tier is None and countries:
            tiers = {c.detection.tier for c in countries}
            if self._address_tier in tiers:
                self._country_tier = self._address_tier
            else:
                self._country_tier = min(tiers)
                if self._address_tier is not None:
                    used = next(c.column for c in countries if c.detection.tier == min(tiers))
                    self._notes.append(
                        {
                            "code": "country_from_lower_address_group",
                            "message": "the address's group has no country column; the"
                            f" country comes from {used!r}",
                        }
                    )
        eligible: list[_Candidate] = []
        for candidate in candidates:
            limit = self._tier_limit(candidate.detection)
            if limit is not None and candidate.detection.tier > limit:
                outcomes[candidate.column] = _Outcome("not_sent", why=LOWER_GROUP)
            else:
                eligible.append(candidate)
        for candidate in sorted(eligible, key=_rank):
            detection = candidate.detection
            field = detection.field
            assert field is not None
            target: FieldTarget | None = None
            if field in _ATTRIBUTES:
                sets: Iterable[int] = (-1,)
            elif field in ADDRESS_FIELDS:
                sets = (detection.pii_set,)  # an address part never moves to another set
            else:
                sets = range(detection.pii_set, MAX_PII_SETS)
            for pii_set in sets:
                if (field, pii_set) not in self._taken:
                    self._taken[(field, pii_set)] = candidate.column
                    target = FieldTarget(field, None if pii_set < 0 else pii_set, candidate.hashed)
                    break
            outcomes[candidate.column] = (
                _Outcome("not_sent", why=DUPLICATE)
                if target is None
                else _Outcome("mapped", target, "detected", detection.group)
            )
        return outcomes

    def _tier_limit(self, detection: Detection) -> int | None:
        """The worst tier a column of this kind may have to be sent (None: no limit)."""
        if _is_address(detection):
            return self._address_tier
        if detection.field == "country":
            return self._country_tier
        if detection.group == "shipping" and detection.field in _PII:
            # Maybe a gift recipient's: sent only along with a shipping address.
            return _SHIPPING_TIER if self._address_tier == _SHIPPING_TIER else _SHIPPING_TIER - 1
        return None

    def _record(self, column: str, outcome: _Outcome) -> None:
        route: _Route | None = None
        if outcome.kind == "mapped":
            target = outcome.target
            assert target is not None
            self.mapped[column] = target
            self.sources[column] = outcome.source
            if outcome.group is not None:
                self.groups[column] = outcome.group
            route = (*_slot(target), target.hashed)
        elif outcome.kind == "ignored":
            self.ignored.append(column)
        elif outcome.kind == "not_sent":
            self.not_sent.append((column, outcome.why))
            if outcome.why == DUPLICATE:
                self.duplicates.append(column)
        else:
            self.unknown.append(column)
            self.suggestions[column] = list(outcome.suggestions)
            if outcome.why:
                self.hints[column] = outcome.why
        self._routes[column] = route

    # -- the per-record path -------------------------------------------------------------------

    def layout_for(self, header: tuple[str, ...]) -> RecordLayout:
        """This plan by column position, for the records with ``header``'s columns (a CSV
        file's header; a JSON block's keys). Made once per header: later calls with an equal
        header return the same layout. A column not seen before is resolved now, together with
        the header's other new columns (a header-less file's late columns)."""
        layout = self._layouts.get(header)
        if layout is None:
            if len(self._layouts) >= _MAX_LAYOUTS:
                self._layouts.clear()  # bounded: JSON records may bring many key sets
            layout = self._layouts[header] = self._layout(header)
        return layout

    def _layout(self, header: Sequence[str]) -> RecordLayout:
        routes = self._routes
        if any(column not in routes for column in header):
            self._resolve_columns(header)
        attributes: list[tuple[int, str]] = []
        sets: dict[int, list[tuple[int, str, bool]]] = {}
        fed: list[tuple[str, int]] = []
        for index, column in enumerate(header):
            route = routes[column]
            if route is None:
                continue
            field, pii_set, is_hashed = route
            fed.append((field, pii_set))
            if pii_set < 0:
                attributes.append((index, field))
            else:
                sets.setdefault(pii_set, []).append((index, field, is_hashed))
        # Routing gives each (field, set) at most one column (the config is validated, and a
        # detected column takes a free slot or none), so no two values compete for a field.
        assert len(set(fed)) == len(fed), "two columns feed one field"
        return RecordLayout(
            dict(self._defaults),
            tuple(attributes),
            tuple(tuple(sets[pii_set]) for pii_set in sorted(sets)),
        )

    # -- what the plan does (reports, dry-run) ---------------------------------------------------

    @property
    def warnings(self) -> list[dict[str, str]]:
        """``{"code", "message"}`` per problem the mapping can see (names only, no values)."""
        warnings: list[dict[str, str]] = []
        feeders = {(target.field, target.pii_set): column for column, target in self.mapped.items()}
        for column in self.missing:
            target = self._config.columns.get(column)
            if target is None:
                message = f"column {column!r} listed in 'hashed' is not in the file"
            else:
                name = _target_name(target)
                message = f"configured column {column!r} ({name}) is not in the file"
                instead = feeders.get((target.field, target.pii_set))
                message += (
                    f"; {target.field} is auto-detected from {instead!r}"
                    if instead is not None
                    else f"; nothing feeds {_target_name(target)}"
                )
            warnings.append({"code": "configured_column_missing", "message": message})
        warnings += self._notes
        for column in self.unknown:
            if self.suggestions.get(column) or column in self.hints:
                message = f"column {column!r} is not sent"
                if column in self.hints:
                    message += f": {self.hints[column]}"
                if self.suggestions.get(column):
                    message += f" (did you mean {' / '.join(self.suggestions[column])}?)"
                warnings.append({"code": "unknown_column", "message": message})
        if self._seen_columns and not any(
            target.field in IDENTIFIER_FIELDS for target in self.mapped.values()
        ):
            warnings.append(
                {
                    "code": "no_identifier_column",
                    "message": "no column feeds an identifier (email, phone, name, address,"
                    " external_id, maid, ramp_id): records will be rejected",
                }
            )
        return warnings

    def summary(self) -> dict[str, Any]:
        """The plan as JSON-able data for reports: column and field names only, never values.

        ``{"columns": [{"column", "field", "pii_set" (1-based, None for attributes), "hashed",
        "source": "config" | "detected", "group"?}], "ignored": [column], "unknown":
        [{"column", "did_you_mean": [field], "hint"?}], "not_sent": [{"column", "why"}],
        "missing": [column], "defaults": [field], "warnings": [{"code", "message"}]}``
        """
        columns = []
        for column, target in self.mapped.items():
            entry: dict[str, Any] = {
                "column": column,
                "field": target.field,
                "pii_set": None if target.pii_set is None else target.pii_set + 1,
                "hashed": target.hashed,
                "source": self.sources[column],
            }
            if column in self.groups:
                entry["group"] = self.groups[column]
            columns.append(entry)
        unknown = []
        for column in self.unknown:
            item: dict[str, Any] = {"column": column, "did_you_mean": self.suggestions[column]}
            if column in self.hints:
                item["hint"] = self.hints[column]
            unknown.append(item)
        return {
            "columns": columns,
            "ignored": list(self.ignored),
            "unknown": unknown,
            "not_sent": [{"column": column, "why": why} for column, why in self.not_sent],
            "missing": list(self.missing),
            "defaults": sorted(self._defaults),
            "warnings": self.warnings,
        }

    def describe(self) -> str:
        """Human-readable dry-run summary (the text form of :meth:`summary`)."""
        lines = ["columns used:"]
        width = max((len(column) for column in self.mapped), default=0)
        for column, target in self.mapped.items():
            group = f"  [{self.groups[column]}]" if column in self.groups else ""
            lines.append(f"  {column:<{width}} -> {target.describe()}{group}")
        if not self.mapped:
            lines.append("  (none)")
        if self._defaults:
            lines.append("defaults: " + ", ".join(sorted(self._defaults)))
        if self.ignored:
            lines.append(f"ignored (configured): {', '.join(self.ignored)}")
        by_why: dict[str, list[str]] = {}
        for column, why in self.not_sent:
            by_why.setdefault(why, []).append(column)
        lines += [f"not sent ({why}): {', '.join(columns)}" for why, columns in by_why.items()]
        if self.unknown:
            lines.append(
                "not sent (unknown): "
                + ", ".join(
                    column
                    + (
                        f" (did you mean {' / '.join(self.suggestions[column])}?)"
                        if self.suggestions[column]
                        else ""
                    )
                    for column in self.unknown
                )
            )
        if self.missing:
            lines.append(f"configured but missing from the file: {', '.join(self.missing)}")
        lines += [f"warning ({w['code']}): {w['message']}" for w in self.warnings]
        return "\n".join(lines)


def _is_address(detection: Detection) -> bool:
    """A street / city / state / postal column of the person's (first) address."""
    return detection.field in ADDRESS_FIELDS and detection.pii_set == 0


def _rank(candidate: _Candidate) -> tuple[Any, ...]:
    """Order in which detected columns claim their fields (the first wins)."""
    detection = candidate.detection
    placed_by_group = detection.field in ADDRESS_FIELDS or detection.field == "country"
    # Rank before set number: "Email" and "Email 2" keep sets 1 and 2, "Work Email" comes after.
    return (
        detection.field,
        group_order(detection.group) if placed_by_group else 0,
        detection.priority,
        detection.pii_set,
        candidate.index,
    )


def _close(column: str) -> tuple[str, ...]:
    return tuple(suggest(column))


def _unrecognised(column: str, detection: Detection) -> _Outcome:
    if detection.why_not is not None:
        return _Outcome("not_sent", why=detection.why_not)
    return _Outcome(
        "unknown", why=detection.hint or "", suggestions=detection.suggestions or _close(column)
    )


def _target_name(target: FieldTarget) -> str:
    if target.pii_set is None or target.pii_set == 0:
        return target.field
    return f"{target.field}_{target.pii_set + 1}"


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
