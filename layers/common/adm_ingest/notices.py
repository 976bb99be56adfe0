"""The warnings a report carries — what the user should check or fix — built in one place.

A warning is ``{"code", "message", "count"?}``. Sources: the mapping (configured columns
missing from the file, columns nobody recognised), the destinations' observations
(``Tally.notes``), rejection reasons that deserve a hint, file facts (an encoding fallback,
skipped report footers), and the country (no country column, data that looks foreign).

Messages carry column names, field names, codes and counts — never a value from a file. Column
names and codes do come from the file (or the API), and reports are opened in spreadsheets:
every message, and every name inside one, is neutralised against formula injection
(:func:`adm_ingest.spreadsheet.neutralise`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from adm_ingest.consent import CountrySource
from adm_ingest.spreadsheet import neutralise

if TYPE_CHECKING:
    from adm_ingest.ledger_records import FileRecord

Notice = dict[str, Any]
"""One warning: ``{"code", "message", "count"?}``."""

NOTE_MESSAGES: dict[str, str] = {
    "phone_mangled_by_spreadsheet": (
        "{count} phone numbers were in spreadsheet scientific notation (like 1.2E+11) and "
        "were left out; those records were sent on their other identifiers. Re-export the "
        "phone column as text"
    ),
    "insufficient_pii_set": (
        "{count} extra PII sets held only names, city, state or postal code and were left "
        "out: they can't match anyone on their own"
    ),
    "known_empty_hash": (
        "{count} pre-hashed values were the SHA-256 of an empty string or of a placeholder "
        'such as "null": they match nobody and were left out; check how the column was hashed'
    ),
    "date_order_mixed": (
        "{count} dates were read in the other day/month order than the file's first "
        "unambiguous date; set `date_order` in the mapping"
    ),
    "currency_symbol_ambiguous": (
        "{count} amounts carried a currency symbol shared by several currencies ($, ¥, kr) "
        "and no currency column: they were sent without a currency code, so ADM uses the "
        "conversion definition's currency"
    ),
    "naive_timestamp_as_utc": (
        "{count} timestamps had no time zone and were read as UTC; set `timezone` in the mapping"
    ),
}
"""Destination observations (``Tally.notes`` codes) → message. Other codes get a generic one."""

REJECTION_HINTS: dict[str, str] = {
    "insufficient_identifier": (
        "{count} records had only names, city, state or a postal code: Amazon cannot match a "
        "person on those alone; add an email, a phone, or a street address with its postal "
        "code (or a MAID / RampID)"
    ),
    "mangled_by_spreadsheet": (
        "{count} ids or phone numbers look like spreadsheet scientific notation (like "
        "1.2E+12): their digits are lost; re-export those columns as text"
    ),
    "missing_consent": (
        "{count} records from countries that need a consent signal (UK, EEA, CH) had none and "
        "were not sent; add a consent column or consent defaults to the mapping"
    ),
    "ambiguous_timestamp": (
        "{count} dates could be read day-first or month-first; set `date_order` in the mapping"
    ),
    "ambiguous_value": (
        "{count} amounts could not be read unambiguously; set `decimal` in the mapping"
    ),
    "currency_mismatch": (
        "{count} amounts carry a currency symbol that contradicts their currency column"
    ),
    "invalid_country": (
        "{count} records name a country that is not an ISO 3166 country; fix the country "
        "column (or map it correctly)"
    ),
}
"""Rejection reasons whose count deserves a hint of what to do."""

SKIPPED_MESSAGES: dict[str, str] = {
    "report_footer": "{count} report footer lines were skipped (they are not records)",
}

COUNTRY_SOURCE_PHRASES: dict[str, str] = {
    CountrySource.MAPPING_DEFAULT: "the mapping's default",
    CountrySource.DATASET: "the audience's country",
    CountrySource.DEPLOYMENT_DEFAULT: "the deployment's DEFAULT_COUNTRY",
}
HINT_PHRASES: dict[str, str] = {
    "phone_calling_code": "phone calling code",
    "email_country_domain": "email country domain",
    "postcode_shape": "postcode shape",
}
_LISTED_COLUMNS = 10
"""Columns named in one message; the rest are counted."""


def file_warnings(file: FileRecord) -> list[Notice]:
    """The warnings for a file, from its ledger record (the dry-run builds one: ``mapping``,
    ``notes``, ``rejected``, ``skipped``, ``encoding``, ``country_column``,
    ``default_country_source``, ``country_sources``, ``countries``, ``country_profile``,
    ``accepted``)."""
    warnings: list[Notice] = []
    warnings += mapping_warnings(file.mapping)
    for code, count in sorted(file.notes.items()):
        if count:
            template = NOTE_MESSAGES.get(code, "{count} records: " + code)
            warnings.append(_warning(code, template, count))
    for code, count in sorted(file.rejected.items()):
        if count and code in REJECTION_HINTS:
            warnings.append(_warning(code, REJECTION_HINTS[code], count))
    encoding = file.encoding
    if encoding and str(encoding).lower().replace("_", "-") not in ("utf-8", "utf-8-sig"):
        warnings.append(
            {
                "code": "encoding_fallback",
                "message": (
                    f"the file is not valid UTF-8; it was decoded as {encoding} — check "
                    "accented names, or export the file as UTF-8"
                ),
            }
        )
    for reason, count in sorted(file.skipped.items()):
        if count:
            template = SKIPPED_MESSAGES.get(reason, "{count} lines were skipped: " + reason)
            warnings.append(_warning("lines_skipped", template, count))
    warnings += country_warnings(file)
    return [_neutralised(warning) for warning in warnings]


def match_rate_warnings(
    match_rate: Mapping[str, Any] | None, unavailable: str | None
) -> list[Notice]:
    """What the file's match rate (the report's ``match_rate`` section) asks of the user: an
    audience too small to activate yet, or a match rate that could not be read (``unavailable``:
    the reason code)."""
    warnings: list[Notice] = []
    if match_rate is not None and match_rate.get("below_minimum"):
        matched, minimum = int(match_rate["matched"]), int(match_rate["minimum_audience_size"])
        warnings.append(
            {
                "code": "below_minimum_audience_size",
                "message": (
                    f"only {matched:,} records of the audience matched, fewer than the "
                    f"{minimum:,} an audience needs before it can be used for targeting "
                    "(MIN_AUDIENCE_SIZE): add more people, or more identifiers per person"
                ),
                "count": matched,
            }
        )
    if unavailable:
        warnings.append(
            {
                "code": "match_rate_unavailable",
                "message": (
                    f"the match rate could not be read ({unavailable}); the records were "
                    "delivered all the same"
                ),
            }
        )
    return [_neutralised(warning) for warning in warnings]


def mapping_warnings(summary: Mapping[str, Any] | None) -> list[Notice]:
    """The mapping's own warnings (a configured column missing from the file, a column with a
    did-you-mean, no identifier column…), then every column nobody recognised (never sent)."""
    if not summary:
        return []
    warnings: list[Notice] = [dict(warning) for warning in summary.get("warnings") or []]
    unknown = [_unknown(entry) for entry in summary.get("unknown") or []]
    if unknown:
        warnings.append(
            {
                "code": "unknown_columns",
                "message": (
                    f"{_count(len(unknown), 'column')} not recognised, so not sent: "
                    f"{_names(unknown)}; map them in the mapping's `columns` (or `ignore` "
                    "them) if they hold data Amazon can use"
                ),
                "count": len(unknown),
            }
        )
    return warnings


def country_warnings(file: FileRecord) -> list[Notice]:
    """No country column (every record took a default); data that looks foreign."""
    warnings: list[Notice] = []
    sources = file.country_sources
    source = file.default_country_source
    profile = file.country_profile or {}
    country = (
        file.default_country or profile.get("default_country") or _only_country(file.countries)
    )
    defaulted = sources.get(source, 0) if source else 0
    if file.country_column is False and defaulted and country:
        accepted = file.accepted
        phrase = COUNTRY_SOURCE_PHRASES.get(str(source), str(source))
        if accepted:
            message = (
                f"no country column was found; all {accepted} records were sent as "
                f"{country} ({phrase})"
            )
        else:
            message = f"no country column was found; all records took {country} ({phrase})"
        warnings.append(
            {"code": "country_defaulted", "message": message, "count": accepted or defaulted}
        )
    if profile.get("looks_foreign"):
        warnings.append(
            {
                "code": "country_looks_foreign",
                "message": foreign_data_message(profile),
                "count": int(profile.get("disagreeing", 0)),
            }
        )
    return warnings


def foreign_data_message(profile: Mapping[str, Any], *, strict: bool = False) -> str:
    """Why the data looks like another country's (also a ``strict_country`` file error)."""
    hints = ", ".join(
        f"{HINT_PHRASES.get(kind, kind)}: {count}"
        for kind, count in (profile.get("hints") or {}).items()
    )
    pointed = ", ".join(
        f"{code} ({count})" for code, count in (profile.get("hinted_countries") or {}).items()
    )
    country = profile.get("default_country")
    text = (
        f"{profile.get('disagreeing', 0)} of the {profile.get('defaulted', 0)} sampled records "
        f"that take the default country {country} look like another country's ({hints}"
    )
    text += f"; pointing to {pointed})" if pointed else ")"
    if strict:
        return text + "; nothing was sent (`strict_country` is set in the mapping)"
    return (
        text + "; add a country column, or drop the file under the right audience "
        '(`"strict_country": true` in the mapping refuses such files)'
    )


def _neutralised(warning: Notice) -> Notice:
    """``warning`` with its code and message safe to open in a spreadsheet."""
    return {
        key: neutralise(value) if key in ("code", "message") and isinstance(value, str) else value
        for key, value in warning.items()
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _warning(code: str, template: str, count: int) -> Notice:
    return {"code": code, "message": template.format(count=count), "count": int(count)}


def _names(columns: Iterable[str]) -> str:
    listed = [neutralise(column) for column in columns]
    shown = ", ".join(listed[:_LISTED_COLUMNS])
    more = len(listed) - _LISTED_COLUMNS
    return f"{shown} and {more} more" if more > 0 else shown


def _unknown(entry: Any) -> str:
    """``"column"``, or ``"column (did you mean email?)"`` from a summary's unknown entry."""
    if isinstance(entry, Mapping):
        column = str(entry.get("column"))
        suggestion = entry.get("did_you_mean")
        if isinstance(suggestion, list | tuple):
            suggestion = " or ".join(str(s) for s in suggestion)
        return f"{column} (did you mean {suggestion}?)" if suggestion else column
    return str(entry)


def _only_country(countries: Mapping[str, Any]) -> str | None:
    return next(iter(countries)) if len(countries) == 1 else None
