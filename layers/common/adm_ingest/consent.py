"""Country resolution and consent signals.

A consent signal (GPP, TCF or Amazon's own ``amzn`` signal) is required for records from the
countries in ``adm_ingest.countries.CONSENT_REQUIRED``: Amazon's UK and EEA, and Switzerland
(``CONSENT_REQUIRED_BEYOND_AMAZON`` says why); elsewhere consent is optional. Values come from
the record's consent columns, falling back to file/config-level defaults. Records from those
countries with no signal at all are rejected (``missing_consent``) — they are never sent.
The report counts where each record's country and its consent came from
(:class:`CountrySource`, :class:`ConsentSource`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from adm_ingest.countries import (
    CONSENT_REQUIRED,
    known_country,
    normalize_country,
)
from adm_ingest.records import ConsentSignals, Reason


class CountrySource(StrEnum):
    """Where a record's country came from (the report's ``country_sources`` keys)."""

    RECORD = "record"
    """The record's own country column."""
    MAPPING_DEFAULT = "mapping_default"
    """The mapping config's ``defaults.country``."""
    DATASET = "dataset"
    """The audience's registered ``countryCode``."""
    DEPLOYMENT_DEFAULT = "deployment_default"
    """The ``DEFAULT_COUNTRY`` setting of the deployment."""


class ConsentSource(StrEnum):
    """Where a record's consent signals came from (the report's ``consent_sources`` keys).

    Only records whose consent was resolved are counted — for a destination that takes
    consent at all. A record rejected for its consent (``missing_consent``,
    ``invalid_consent``) or before it (its country) is not: it is among the rejects.

    The test is the resolved signals against the mapping's default signals
    (:meth:`ConsentPolicy.consent_source_of`), not the presence of a consent column: every
    record starts from the mapping's defaults, so a record whose own values equal them is
    indistinguishable from one that took them, and counts as ``mapping_default`` (exactly as a
    record naming the default country counts as defaulted in :class:`CountrySource`).
    """

    RECORD = "record"
    """At least one of the record's own consent values differs from the mapping defaults (the
    rest, if any, filled in from them)."""
    MAPPING_DEFAULT = "mapping_default"
    """The signals are the mapping config's ``defaults`` gpp / tcf / amzn_* (taken, or
    repeated by the record)."""
    NONE = "none"
    """No signal at all: allowed, because the record's country requires none."""


_CONSENT_VALUES: dict[str, str] = {
    "GRANTED": "GRANTED",
    "GRANT": "GRANTED",
    "TRUE": "GRANTED",
    "YES": "GRANTED",
    "Y": "GRANTED",
    "1": "GRANTED",
    "DENIED": "DENIED",
    "DENY": "DENIED",
    "FALSE": "DENIED",
    "NO": "DENIED",
    "N": "DENIED",
    "0": "DENIED",
    "NOT_APPLICABLE": "NOT_APPLICABLE",
    "N/A": "NOT_APPLICABLE",
    "NA": "NOT_APPLICABLE",
    "UNKNOWN": "UNKNOWN",
}


class ConsentError(ValueError):
    """A consent or country value that cannot be understood; ``reason`` is a ``Reason`` code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def normalize_consent_value(value: str) -> str | None:
    """One of GRANTED / DENIED / NOT_APPLICABLE / UNKNOWN, or None when unrecognized."""
    return _CONSENT_VALUES.get(value.strip().upper().replace(" ", "_"))


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """Defaults for country and consent, applied when a record has no value of its own.

    ``country`` is the dataset / config default country and ``country_source`` says which of
    the defaults it is (a :class:`CountrySource` other than ``record``). ``gpp``, ``tcf``,
    ``amzn_ad_storage`` and ``amzn_user_data`` are file-level consent defaults (e.g. every row
    of an opted-in CRM export has the same signal).
    """

    country: str = "US"
    country_source: str = CountrySource.DEPLOYMENT_DEFAULT
    gpp: str | None = None
    tcf: str | None = None
    amzn_ad_storage: str | None = None
    amzn_user_data: str | None = None
    _defaults: ConsentSignals = field(init=False, repr=False, compare=False)
    """The default signals, built once: most records share this object (see signals_of)."""
    _known: dict[tuple[str | None, ...], ConsentSignals] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    """Records' own consent values → their signals: a file repeats a handful of combinations,
    and records with the same values then share one signals object (see _own_signals)."""

    def __post_init__(self) -> None:
        defaults = ConsentSignals(self.gpp, self.tcf, self.amzn_ad_storage, self.amzn_user_data)
        object.__setattr__(self, "_defaults", defaults)  # frozen: the dataclass idiom

    @classmethod
    def from_defaults(
        cls,
        defaults: Mapping[str, str],
        country: str = "US",
        country_source: str = CountrySource.DEPLOYMENT_DEFAULT,
    ) -> ConsentPolicy:
        """Build from a mapping config's ``defaults`` section; validates every value.

        ``country`` is the fallback when the mapping has no ``defaults.country`` and
        ``country_source`` where that fallback came from (the dataset or the deployment)."""
        if defaults.get("country"):
            country_source = CountrySource.MAPPING_DEFAULT
        raw_country = defaults.get("country", country) or country
        resolved_country = normalize_country(raw_country)
        if resolved_country is None:
            raise _country_error(raw_country, "default country")
        amzn = {}
        for key in ("amzn_ad_storage", "amzn_user_data"):
            raw = defaults.get(key)
            if raw:
                normalized = normalize_consent_value(raw)
                if normalized is None:
                    raise ConsentError(
                        Reason.INVALID_CONSENT,
                        f"default {key} must be GRANTED, DENIED, NOT_APPLICABLE or UNKNOWN",
                    )
                amzn[key] = normalized
        return cls(
            country=resolved_country,
            country_source=str(country_source),
            gpp=defaults.get("gpp") or None,
            tcf=defaults.get("tcf") or None,
            **amzn,
        )

    def country_of(self, attributes: Mapping[str, str]) -> str:
        """The record's country (its own column, else the default). Raises ConsentError."""
        raw = attributes.get("country")
        if not raw:
            return self.country
        # A file spells its countries a handful of ways ("US", "us", "USA"): remember each.
        country = _COUNTRY_MEMO[raw] if raw in _COUNTRY_MEMO else _remember_country(raw)
        if country is None:
            raise _country_error(raw, "country")
        return country

    def signals_of(
        self,
        attributes: Mapping[str, str],
        country: str,
        required_in: frozenset[str] = CONSENT_REQUIRED,
    ) -> ConsentSignals:
        """The record's consent signals, with defaults filled in. Raises ConsentError when a
        value is unrecognized, or when a record from a country in ``required_in`` (the
        destination's rule; by default the UK, the EEA and CH) carries no signal at all."""
        # isdisjoint rather than any(<genexpr>): no generator frame per record.
        if attributes.keys().isdisjoint(CONSENT_FIELDS):
            # Most files carry no consent column: every record shares the defaults object.
            signals = self._defaults
        else:
            signals = self._own_signals(attributes)
        if country in required_in and not signals.any:
            raise ConsentError(Reason.MISSING_CONSENT, f"{country} record has no consent signal")
        return signals

    def consent_source_of(self, signals: ConsentSignals) -> ConsentSource:
        """Where ``signals`` (as :meth:`signals_of` resolved them) came from: ``none`` without
        any signal, ``mapping_default`` when they equal the defaults, else ``record``."""
        if not signals.any:
            return ConsentSource.NONE
        if signals == self._defaults:
            return ConsentSource.MAPPING_DEFAULT
        return ConsentSource.RECORD

    def _own_signals(self, attributes: Mapping[str, str]) -> ConsentSignals:
        values = (
            attributes.get("gpp"),
            attributes.get("tcf"),
            attributes.get("amzn_ad_storage"),
            attributes.get("amzn_user_data"),
        )
        known = self._known
        # One lookup, not `in` and a subscript: the 4-tuple is hashed afresh each time.
        signals = known.get(values)
        if signals is not None:
            return signals
        signals = ConsentSignals(
            gpp=values[0] or self.gpp,
            tcf=values[1] or self.tcf,
            amzn_ad_storage=_amzn(attributes, "amzn_ad_storage") or self.amzn_ad_storage,
            amzn_user_data=_amzn(attributes, "amzn_user_data") or self.amzn_user_data,
        )
        if len(known) >= _KNOWN_SIGNALS:
            known.clear()  # bounded: per-person GPP strings must not grow it without end
        known[values] = signals
        return signals


CONSENT_FIELDS: tuple[str, ...] = ("gpp", "tcf", "amzn_ad_storage", "amzn_user_data")
"""The canonical attributes that carry a record's own consent signals."""
_KNOWN_SIGNALS = 1024
"""Bound on the consent value combinations a policy remembers."""


_COUNTRY_MEMO: dict[str, str | None] = {}
_COUNTRY_MEMO_ENTRIES = 1024
"""Bound on the raw country spellings remembered (a file has a handful; junk cannot grow it)."""


def _remember_country(raw: str) -> str | None:
    """``normalize_country(raw)``, remembered for the next record with the same spelling."""
    if len(_COUNTRY_MEMO) >= _COUNTRY_MEMO_ENTRIES:
        _COUNTRY_MEMO.clear()
    country = _COUNTRY_MEMO[raw] = normalize_country(raw)
    return country


def _country_error(raw: str, what: str) -> ConsentError:
    """Why ``raw`` is no country to send: a country ADM does not take, or no country at all.
    (The message never quotes ``raw``: it is a record's value.)"""
    if known_country(raw) is not None:
        return ConsentError(Reason.UNSUPPORTED_COUNTRY, f"{what} is not one ADM's API accepts")
    return ConsentError(Reason.INVALID_COUNTRY, f"{what} is not a country code or name")


def _amzn(attributes: Mapping[str, str], key: str) -> str | None:
    raw = attributes.get(key)
    if not raw:
        return None
    value = normalize_consent_value(raw)
    if value is None:
        raise ConsentError(Reason.INVALID_CONSENT, f"{key} is not a recognized consent value")
    return value


def consent_body(signals: ConsentSignals) -> dict[str, object]:
    """The ADM ``userConsent.consent`` object for ``signals`` (absent signals left out)."""
    body: dict[str, object] = {}
    amzn = {}
    if signals.amzn_ad_storage:
        amzn["amznAdStorage"] = signals.amzn_ad_storage
    if signals.amzn_user_data:
        amzn["amznUserData"] = signals.amzn_user_data
    if amzn:
        body["amzn"] = amzn
    if signals.gpp:
        body["gpp"] = signals.gpp
    if signals.tcf:
        body["tcf"] = signals.tcf
    return body
