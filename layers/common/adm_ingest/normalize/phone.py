"""Phone normalization (ADM key ``ph``, matchKey ``PHONE``): E.164 digits without ``+``.

The rule is libphonenumber's: parse, require :func:`phonenumbers.is_possible_number`,
format E.164, drop the ``+``. Unlike Amazon's uploader (which prepends ``+`` to everything
and so reads ``571-412-0599`` as a Colombian number), a number written without ``+`` is
parsed with the record's country as the default region; only when the country is unknown
to libphonenumber do we fall back to the uploader's ``+`` prefix.

``phonenumbers.parse`` costs ~15 µs, which would dominate the pipeline, so common shapes go
through :func:`_fast_path`: a few table lookups that reproduce libphonenumber's decision
for inputs made of ASCII digits and `` ()-.`` punctuation, using libphonenumber's own
metadata (patterns, prefixes, possible lengths). Whenever an input needs any rule the fast
path does not model — IDD prefixes, national prefixes other than a plain ``0``, carrier
codes, letters, extensions — it defers to :func:`parse_with_phonenumbers`. A hypothesis
property test checks that both paths agree.

Spreadsheet damage (:mod:`~adm_ingest.normalize.spreadsheet`): a text guard (``'0123…``,
``="+44…"``) is removed first — one first-character test for every other value —, and a
number in scientific notation (``4.4207E+11``, Excel's rendering of a long number) is not a
phone: its digits are lost. Only the deferred path can see the latter, so it costs the fast
path nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException, PhoneNumberFormat

from adm_ingest.normalize._text import prepare
from adm_ingest.normalize.countries import CountryRules
from adm_ingest.normalize.spreadsheet import (
    GUARD_STARTS,
    is_scientific_notation,
    strip_spreadsheet_guard,
)

FAST_PATH_REGIONS: Final = ("US", "CA", "GB", "FR", "DE", "ES", "IT", "JP", "IN")
"""Regions whose numbers (national or ``+cc``) the fast path may decide."""


class _Verdict(Enum):
    DEFER = "defer"
    """The fast path does not model this input: ask libphonenumber."""


_DEFER: Final = _Verdict.DEFER
_FastResult = str | None | Literal[_Verdict.DEFER]

_PUNCTUATION: Final = b" ()-."
"""Deleted before the digits are judged; a bytes deletion is ~3x cheaper than str.translate."""
_SUPPORTED_REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MIN_FAST_DIGITS: Final = 7
_MAX_FAST_DIGITS: Final = 17
E164_MAX_DIGITS: Final = 15


@dataclass(frozen=True, slots=True)
class _Plan:
    """The slice of one region's libphonenumber metadata the fast path consults, with the
    E.164 digit cap already folded into ``possible_lengths`` (so no separate check is needed)."""

    country_code: int
    calling_code: str
    national_pattern: re.Pattern[str]
    """``general_desc.national_number_pattern``: what a national number may look like."""
    national_prefix: re.Pattern[str]
    """``national_prefix_for_parsing`` (e.g. the trunk ``0``); never matches if there is none."""
    national_prefix_starts: frozenset[str]
    """The digits a ``national_prefix`` match can start with, so the common case skips the
    regex: exact for a plain alternation of digit strings (``0|180020``), otherwise all ten."""
    national_prefix_is_plain_zero: bool
    """The prefix is a bare ``0`` with no transform rule: stripping it is the whole rule."""
    international_prefix: str
    """The IDD (``00``, ``011``…), a plain digit string; numbers dialled with it are left to
    libphonenumber."""
    full_lengths: frozenset[int]
    """Lengths that are possible and not local-only (``IS_POSSIBLE``)."""
    possible_lengths: frozenset[int]
    """National number lengths ``is_possible_number`` accepts for this calling code (judged
    by its *main* region: +1 → US even for a Canadian number, including local-only lengths)
    that also fit E.164's 15 digits once the calling code is prepended."""


_NEVER: Final = re.compile(r"(?!)")
_ALL_DIGITS: Final = frozenset("0123456789")


def _possible_starts(prefix: str | None) -> frozenset[str]:
    """The first digits an all-digit string needs for ``prefix`` to match at its start."""
    if not prefix:
        return frozenset()
    alternatives = prefix.split("|")
    if all(alternative.isdigit() for alternative in alternatives):
        return frozenset(alternative[0] for alternative in alternatives)
    return _ALL_DIGITS  # a real regex: no shortcut, always ask it


def _plan_for(region: str) -> _Plan | None:
    """Return ``region``'s plan, or ``None`` if its metadata needs rules the fast path lacks."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None:
        return None  # not a region libphonenumber knows: the slow path says so
    idd = metadata.international_prefix
    if not (idd and idd.isdigit()):
        return None  # IDDs are matched with str.startswith, so only literal ones are modelled
    general = metadata.general_desc
    if general is None or general.national_number_pattern is None:
        return None
    prefix = metadata.national_prefix_for_parsing or None
    calling_code = str(metadata.country_code)
    main_region = phonenumbers.region_code_for_country_code(metadata.country_code)
    main_metadata = phonenumbers.PhoneMetadata.metadata_for_region(main_region)
    main = main_metadata.general_desc if main_metadata is not None else None
    if main is None:
        return None
    local = frozenset(general.possible_length_local_only)
    return _Plan(
        country_code=metadata.country_code,
        calling_code=calling_code,
        national_pattern=re.compile(general.national_number_pattern),
        national_prefix=re.compile(prefix) if prefix else _NEVER,
        national_prefix_starts=_possible_starts(prefix),
        national_prefix_is_plain_zero=(
            prefix is not None
            and re.compile(prefix).match("0") is not None
            and not metadata.national_prefix_transform_rule
        ),
        international_prefix=idd,
        full_lengths=frozenset(general.possible_length) - local,
        possible_lengths=frozenset(
            length
            for length in (*main.possible_length, *main.possible_length_local_only)
            if len(calling_code) + length <= E164_MAX_DIGITS
        ),
    )


# Keyed by ``str | None`` so that the hot path's ``_PLANS.get(region)`` needs no ``None``
# check: a missing region is simply absent.
_PLANS: Final[dict[str | None, _Plan]] = {
    region: plan for region in FAST_PATH_REGIONS if (plan := _plan_for(region)) is not None
}


def _calling_code_table() -> dict[str, tuple[int, _Plan]]:
    """Map every three-digit start of a ``+`` number to ``(calling code length, main plan)``.

    Calling codes are prefix-free (no code begins another), so the first three digits decide
    the code libphonenumber extracts; one dict probe replaces trying 1-, 2- and 3-digit
    prefixes in turn. Starts whose code has no fast-path plan are absent (→ defer).
    """
    main_plans = {
        plan.calling_code: plan
        for region, plan in _PLANS.items()
        if phonenumbers.region_code_for_country_code(plan.country_code) == region
    }
    table: dict[str, tuple[int, _Plan]] = {}
    for start in range(100, 1000):  # a leading 0 is never a calling code (+0… defers)
        digits = str(start)
        for size in (1, 2, 3):
            if int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
                plan = main_plans.get(digits[:size])
                if plan is not None:
                    table[digits] = (size, plan)
                break
    return table


_BY_CALLING_CODE_START: Final = _calling_code_table()
# NANP's "1 + ten digits" check also consults the main (US) plan's trunk prefix.
_NANP_MAIN: Final = _PLANS.get("US")


def _fast_path(value: str, region: str | None) -> _FastResult:
    """Return the normalized number, ``None`` if it is not possible, or :data:`_DEFER`.

    One flat function on purpose: it runs for nearly every phone value, and each Python call
    it saves is a measurable share of the per-record budget.
    """
    if not value.isascii():
        return _DEFER
    international = value.startswith("+")
    raw = (value[1:] if international else value).encode("ascii")
    digits = raw.translate(None, _PUNCTUATION).decode("ascii")
    if not (digits.isdigit() and _MIN_FAST_DIGITS <= len(digits) <= _MAX_FAST_DIGITS):
        return _DEFER

    plan: _Plan | None  # the calling code's main plan, or the record country's
    if international:
        entry = _BY_CALLING_CODE_START.get(digits[:3])
        if entry is None:
            return _DEFER
        size, plan = entry
        national = digits[size:]
        if national[0] in plan.national_prefix_starts and plan.national_prefix.match(national):
            return _DEFER  # a trunk prefix written after the country code ("+44 (0)20 …")
        # The calling code is exactly digits[:size], so the E.164 digits are ``digits``.
        return digits if len(national) in plan.possible_lengths else None

    plan = _PLANS.get(region)
    if plan is None or digits.startswith(plan.international_prefix):
        return _DEFER
    if digits.startswith(plan.calling_code):
        # Only NANP's "1 + ten digits" is modelled: libphonenumber takes the leading 1 as
        # the calling code when the rest, and not the whole, looks like a national number.
        national = digits[1:]
        if (
            plan.country_code == 1
            and len(digits) == 11
            and plan.national_pattern.fullmatch(national)
            and not plan.national_pattern.fullmatch(digits)
            and not (
                national[0] in plan.national_prefix_starts and plan.national_prefix.match(national)
            )
            and not (
                _NANP_MAIN is not None
                and national[0] in _NANP_MAIN.national_prefix_starts
                and _NANP_MAIN.national_prefix.match(national)
            )
        ):
            return "1" + national if len(national) in plan.possible_lengths else None
        return _DEFER
    if digits[0] in plan.national_prefix_starts and plan.national_prefix.match(digits):
        # A trunk "0" is stripped when what follows is a well-formed, fully possible number.
        national = digits[1:]
        if (
            plan.national_prefix_is_plain_zero
            and digits[0] == "0"
            and plan.national_pattern.fullmatch(national)
            and len(national) in plan.full_lengths
        ):
            return plan.calling_code + national if len(national) in plan.possible_lengths else None
        return _DEFER
    return plan.calling_code + digits if len(digits) in plan.possible_lengths else None


def parse_with_phonenumbers(value: str, region: str | None) -> str | None:
    """The reference rule: libphonenumber parse + possible check + E.164 without ``+``
    (at most E.164's 15 digits: libphonenumber deems some longer strings "possible").

    ``value`` must already be prepared (trimmed, NFC); ``region`` is the default region for
    numbers written without ``+`` (``None``: such numbers cannot be parsed).
    """
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    return digits if len(digits) <= E164_MAX_DIGITS else None


def e164_digits(value: str, region: str | None) -> str | None:
    """:func:`parse_with_phonenumbers`, deciding the common shapes with the fast path first
    (same answer, ≈ 20× cheaper: the fast path defers whatever it does not model).

    Unlike :func:`normalize_phone` it applies no ADM-specific reading — no spreadsheet-guard
    stripping, no ``+`` prefix when ``region`` is ``None`` — so it is exactly the reference rule.
    """
    verdict = _fast_path(value, region)
    return parse_with_phonenumbers(value, region) if verdict is _DEFER else verdict


_REGIONS: CountryRules[str] = CountryRules({region: region for region in _SUPPORTED_REGIONS}, "")


def phone_region(country: str) -> str | None:
    """Return the libphonenumber default region for ``country``, ``None`` if it has none."""
    return _REGIONS.for_country(country) or None


def normalize_phone(value: str, country: str = "US") -> str | None:
    """Return the phone number as E.164 digits without ``+``, or ``None`` if not possible.

    ``(571) 412-0599`` (US) → ``15714120599``; ``+44 20 7031 3000`` → ``442070313000``.
    """
    return normalize_phone_prepared(prepare(value), country)


def normalize_phone_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_phone` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    if not value:
        return None
    if value[0] in GUARD_STARTS:  # '0123… or ="+44…": a spreadsheet's text guard
        value = strip_spreadsheet_guard(value)
        if not value:
            return None
    region = _REGIONS.for_country(country) or None  # phone_region, inlined: hot path
    if region is None and not value.startswith("+"):
        value = "+" + value  # no default region: read it as international, like the uploader
    verdict = _fast_path(value, region)
    if verdict is _DEFER:
        if is_scientific_notation(value):  # 4.4207E+11: the digits are lost, not a number
            return None
        return parse_with_phonenumbers(value, region)
    return verdict
