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

FAST_PATH_REGIONS: Final = ("US", "CA", "GB", "FR", "DE", "ES", "IT", "JP", "IN")
"""Regions whose numbers (national or ``+cc``) the fast path may decide."""


class _Verdict(Enum):
    DEFER = "defer"
    """The fast path does not model this input: ask libphonenumber."""


_DEFER: Final = _Verdict.DEFER
_FastResult = str | None | Literal[_Verdict.DEFER]

_PUNCTUATION = str.maketrans("", "", " ()-.")
_SUPPORTED_REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MIN_FAST_DIGITS: Final = 7
_MAX_FAST_DIGITS: Final = 17


@dataclass(frozen=True, slots=True)
class _Plan:
    """The slice of one region's libphonenumber metadata the fast path consults."""

    country_code: int
    calling_code: str
    national_pattern: re.Pattern[str]
    """``general_desc.national_number_pattern``: what a national number may look like."""
    national_prefix: re.Pattern[str] | None
    """``national_prefix_for_parsing`` (e.g. the trunk ``0``), if the region has one."""
    national_prefix_is_plain_zero: bool
    """The prefix is a bare ``0`` with no transform rule: stripping it is the whole rule."""
    international_prefix: re.Pattern[str] | None
    """The IDD (``00``, ``011``…); numbers dialled with it are left to libphonenumber."""
    lengths: frozenset[int]
    """National number lengths libphonenumber calls possible (including local-only)."""
    full_lengths: frozenset[int]
    """Lengths that are possible and not local-only (``IS_POSSIBLE``)."""


def _plan_for(region: str) -> _Plan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc
    prefix = metadata.national_prefix_for_parsing or None
    idd = metadata.international_prefix
    local = frozenset(general.possible_length_local_only)
    return _Plan(
        country_code=metadata.country_code,
        calling_code=str(metadata.country_code),
        national_pattern=re.compile(general.national_number_pattern),
        national_prefix=re.compile(prefix) if prefix else None,
        national_prefix_is_plain_zero=(
            prefix is not None
            and re.compile(prefix).match("0") is not None
            and not metadata.national_prefix_transform_rule
        ),
        international_prefix=re.compile(idd) if idd else None,
        lengths=frozenset(general.possible_length) | local,
        full_lengths=frozenset(general.possible_length) - local,
    )


_PLANS: Final = {region: _plan_for(region) for region in FAST_PATH_REGIONS}
# is_possible_number judges a number by its calling code's *main* region (+1 → US even for a
# Canadian number), so the +cc path and the final length check use these plans.
_MAIN_PLANS: Final = {
    plan.country_code: _PLANS[phonenumbers.region_code_for_country_code(plan.country_code)]
    for plan in _PLANS.values()
}


def _possible(country_code: int, national: str) -> str | None:
    plan = _MAIN_PLANS[country_code]
    return f"{country_code}{national}" if len(national) in plan.lengths else None


def _fast_international(digits: str) -> _FastResult:
    """Decide ``+<digits>``, or return :data:`_DEFER`."""
    if digits[0] == "0":
        return _DEFER
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return _DEFER
    plan = _MAIN_PLANS.get(country_code)
    if plan is None:
        return _DEFER
    national = digits[size:]
    if plan.national_prefix is not None and plan.national_prefix.match(national):
        return _DEFER  # a trunk prefix written after the country code ("+44 (0)20 …")
    return _possible(country_code, national)


def _fast_national(digits: str, plan: _Plan) -> _FastResult:
    """Decide a number written without ``+`` in ``plan``'s region, or return :data:`_DEFER`."""
    if plan.international_prefix is not None and plan.international_prefix.match(digits):
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
        ):
            prefixes = (plan.national_prefix, _MAIN_PLANS[1].national_prefix)
            if not any(prefix is not None and prefix.match(national) for prefix in prefixes):
                return _possible(1, national)
        return _DEFER
    if plan.national_prefix is not None and plan.national_prefix.match(digits):
        # A trunk "0" is stripped when what follows is a well-formed, fully possible number.
        national = digits[1:]
        if (
            plan.national_prefix_is_plain_zero
            and digits[0] == "0"
            and plan.national_pattern.fullmatch(national)
            and len(national) in plan.full_lengths
        ):
            return _possible(plan.country_code, national)
        return _DEFER
    return _possible(plan.country_code, digits)


def _fast_path_digits(value: str, region: str | None) -> _FastResult:
    """Return the normalized number, ``None`` if it is not possible, or :data:`_DEFER`."""
    international = value.startswith("+")
    digits = (value[1:] if international else value).translate(_PUNCTUATION)
    if not (
        digits.isascii()
        and digits.isdigit()
        and _MIN_FAST_DIGITS <= len(digits) <= _MAX_FAST_DIGITS
    ):
        return _DEFER
    if international:
        return _fast_international(digits)
    plan = _PLANS.get(region) if region is not None else None
    return _DEFER if plan is None else _fast_national(digits, plan)


E164_MAX_DIGITS = 15


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


_REGIONS: CountryRules[str] = CountryRules({region: region for region in _SUPPORTED_REGIONS}, "")


def phone_region(country: str) -> str | None:
    """Return the libphonenumber default region for ``country``, ``None`` if it has none."""
    return _REGIONS.for_country(country) or None


def _fast_path(value: str, region: str | None) -> _FastResult:
    """The fast path's verdict, held to the same 15-digit E.164 cap as the reference rule."""
    verdict = _fast_path_digits(value, region)
    if isinstance(verdict, str) and len(verdict) > E164_MAX_DIGITS:
        return None
    return verdict


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
    region = phone_region(country)
    if region is None and not value.startswith("+"):
        value = "+" + value  # no default region: read it as international, like the uploader
    verdict = _fast_path(value, region)
    if verdict is _DEFER:
        return parse_with_phonenumbers(value, region)
    return verdict
