"""Generate ``adm_ingest/_country_table.py``, the facts behind ``adm_ingest.countries``.

Sources, so the Lambda layer ships a small table instead of a dependency:

* ``pycountry`` (a dev dependency, pinned): every ISO 3166-1 country's alpha-2, alpha-3, short
  name, official name and common name, and — from its gettext catalogues — the names of a
  country in its own languages (``Deutschland``, ``Sverige``, ``日本``) for the countries listed
  in :data:`LOCAL_LANGUAGES`, and the names CRMs in other languages use for the big markets
  (:data:`WIDELY_NAMED` × :data:`CRM_LANGUAGES`: ``Estados Unidos``, ``Royaume-Uni``).
* the ``countryCode`` enum of ADM's API (``local/adm_local/sandbox/api-schema.json``, itself
  generated from Amazon's OpenAPI files by ``gen_api_schema.py``): what ADM accepts.
* :data:`ALIASES` below: hand-curated spellings pycountry does not have (``UK``, ``Holland``,
  ``Ivory Coast``, ``EE.UU.``).

Every spelling is stored as its :func:`~adm_ingest._country_key.country_key`. When two countries
claim one key, the stronger kind of spelling wins (code > English name > alias > translation);
two countries claiming it with the same kind is an error for a human to settle, except among
translations, where the key is dropped as ambiguous.

Usage::

    python scripts/gen_countries.py [--output FILE] [--check]

The output is deterministic, so it is committed and a test compares it byte for byte.
"""

from __future__ import annotations

import argparse
import gettext
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from enum import IntEnum
from pathlib import Path

import pycountry

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "layers" / "common"))

from adm_ingest._country_key import country_key  # noqa: E402  (needs the path above)

DEFAULT_OUTPUT = REPO_ROOT / "layers" / "common" / "adm_ingest" / "_country_table.py"
API_SCHEMA = REPO_ROOT / "local" / "adm_local" / "sandbox" / "api-schema.json"
MEMBERS_OPERATION = "POST /adm/audiences/{dataSetId}/members"
MEMBERS_CONTENT = "application/vnd.admAudiences.v1+json"
NOT_A_COUNTRY = "UNKNOWN"
"""The enum's value for "no country": not something a country column may say."""

LOCAL_LANGUAGES: dict[str, tuple[str, ...]] = {
    # EU 27
    "AT": ("de",),
    "BE": ("nl", "fr", "de"),
    "BG": ("bg",),
    "HR": ("hr",),
    "CY": ("el", "tr"),
    "CZ": ("cs",),
    "DK": ("da",),
    "EE": ("et",),
    "FI": ("fi", "sv"),
    "FR": ("fr",),
    "DE": ("de",),
    "GR": ("el",),
    "HU": ("hu",),
    "IE": ("ga",),
    "IT": ("it",),
    "LV": ("lv",),
    "LT": ("lt",),
    "LU": ("fr", "de"),
    "MT": ("mt",),
    "NL": ("nl", "fy"),
    "PL": ("pl",),
    "PT": ("pt",),
    "RO": ("ro",),
    "SK": ("sk",),
    "SI": ("sl",),
    "ES": ("es", "ca", "eu", "gl"),
    "SE": ("sv",),
    # the rest of the EEA, the UK, Switzerland
    "IS": ("is",),
    "LI": ("de",),
    "NO": ("nb_NO", "nn"),
    "GB": ("cy", "gv"),
    "CH": ("de", "fr", "it"),
    # big markets and neighbours
    "AD": ("ca",),
    "MC": ("fr",),
    "SM": ("it",),
    "VA": ("it",),
    "AL": ("sq",),
    "BA": ("bs", "hr", "sr"),
    "ME": ("sr", "sr@latin"),
    "MK": ("mk",),
    "RS": ("sr", "sr@latin"),
    "UA": ("uk",),
    "MD": ("ro_MD",),
    "BY": ("be",),
    "RU": ("ru",),
    "TR": ("tr",),
    "GE": ("ka",),
    "AM": ("hy",),
    "AZ": ("az",),
    "KZ": ("kk",),
    "IL": ("he",),
    "SA": ("ar",),
    "AE": ("ar",),
    "QA": ("ar",),
    "KW": ("ar",),
    "BH": ("ar",),
    "OM": ("ar",),
    "JO": ("ar",),
    "LB": ("ar",),
    "EG": ("ar",),
    "MA": ("ar", "fr"),
    "DZ": ("ar", "fr"),
    "TN": ("ar", "fr"),
    "IR": ("fa",),
    "PK": ("ur",),
    "IN": ("hi",),
    "BD": ("bn",),
    "LK": ("si", "ta"),
    "NP": ("ne",),
    "CN": ("zh_CN",),
    "HK": ("zh_HK",),
    "MO": ("zh_HK",),
    "TW": ("zh_TW",),
    "JP": ("ja",),
    "KR": ("ko",),
    "MN": ("mn",),
    "VN": ("vi",),
    "TH": ("th",),
    "KH": ("km",),
    "LA": ("lo",),
    "MM": ("my",),
    "MY": ("ms",),
    "SG": ("ms", "zh_CN", "ta"),
    "ID": ("id",),
    "PH": ("fil", "tl"),
    "CA": ("fr",),
    "MX": ("es",),
    "GT": ("es",),
    "HN": ("es",),
    "SV": ("es",),
    "NI": ("es",),
    "CR": ("es",),
    "PA": ("es",),
    "CU": ("es",),
    "DO": ("es",),
    "PR": ("es",),
    "CO": ("es",),
    "VE": ("es",),
    "EC": ("es",),
    "PE": ("es",),
    "BO": ("es",),
    "CL": ("es",),
    "AR": ("es",),
    "UY": ("es",),
    "PY": ("es", "gn"),
    "BR": ("pt_BR",),
    "AO": ("pt",),
    "MZ": ("pt",),
    "ZA": ("af", "zu", "xh"),
    "NA": ("af",),
    "KE": ("sw",),
    "TZ": ("sw",),
    "ET": ("am",),
    "NG": ("ha", "yo"),
    "SN": ("fr",),
    "CI": ("fr",),
    "CM": ("fr",),
}
"""Country → the pycountry locales of its own languages, for the names people write at home."""

WIDELY_NAMED: tuple[str, ...] = (
    "US", "GB", "CA", "MX", "BR", "AR", "DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "SE",
    "NO", "DK", "FI", "IE", "PT", "PL", "CZ", "GR", "TR", "RU", "JP", "CN", "KR", "IN", "AU",
    "NZ", "ZA",
)  # fmt: skip
"""Markets a CRM writing in another language names often: translated into CRM_LANGUAGES."""

CRM_LANGUAGES: tuple[str, ...] = (
    "de", "fr", "es", "it", "nl", "pt", "pt_BR", "sv", "da", "nb_NO", "fi", "pl",
)  # fmt: skip
"""The languages of the CRM exports we see most, besides English."""

ALIASES: dict[str, tuple[str, ...]] = {
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "AT": ("Oesterreich",),
    "AX": ("Åland", "Aland"),
    "BA": ("Bosnia",),
    "BN": ("Brunei",),
    "CD": ("DRC", "DR Congo", "Congo DR", "Congo-Kinshasa", "Democratic Republic of Congo"),
    "CG": ("Congo-Brazzaville", "Republic of Congo"),
    "CI": ("Ivory Coast",),
    "CN": ("PRC", "Mainland China", "中华人民共和国"),
    "CH": ("Helvetia",),
    "CV": ("Cape Verde",),
    "CY": ("Kıbrıs",),
    "CZ": ("Czech",),
    "FK": ("Falklands",),
    "HK": ("Hong Kong SAR",),
    "FM": ("Micronesia",),
    "GB": (
        "UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales",
        "Northern Ireland", "Cymru", "United Kingdom of Great Britain",
        "Great Britain and Northern Ireland",
    ),
    "GR": ("EL", "Hellas", "Ellada", "Ελλάς"),
    "IE": ("Eire", "Republic of Ireland"),
    "IN": ("Bharat",),
    "JP": ("Nippon", "Nihon"),
    "KP": ("DPRK",),
    "KR": ("Korea", "Korea South", "Korea (South)", "Republic of Korea"),
    "LU": ("Lëtzebuerg",),
    "MK": ("Macedonia",),
    "MM": ("Burma",),
    "MO": ("Macau",),
    "NL": ("Holland",),
    "NZ": ("Aotearoa",),
    "PS": ("Palestine",),
    "RU": ("Russia", "Россия"),
    "SA": ("KSA",),
    "ST": ("Sao Tome",),
    "SZ": ("Swaziland",),
    "TL": ("East Timor",),
    "TR": ("Turkey", "Turkiye"),
    "US": ("USA", "U.S.A.", "U.S.", "United States of America", "EE.UU.", "EEUU"),
    "VA": ("Vatican", "Vatican City"),
    "VG": ("BVI",),
    "VI": ("US Virgin Islands", "USVI"),
    "XK": ("XKX", "Republic of Kosovo", "Kosova", "Kosovë", "Косово"),
}  # fmt: skip
"""Hand-curated spellings: former names, abbreviations, the UK's nations, local short forms."""

BEYOND_ISO: dict[str, str] = {"XK": "Kosovo"}
"""Codes ADM's enum accepts that ISO 3166-1 does not assign (``XK`` is user-assigned, the code
the EU and many registries use for Kosovo), with their English names (a spelling each).
Withdrawn ISO codes the enum still carries (``AN``, the Netherlands Antilles) come from
pycountry's historic list."""


class Kind(IntEnum):
    """How authoritative a spelling is; the lower value wins a key two countries claim."""

    CODE = 0
    NAME = 1
    ALIAS = 2
    TRANSLATION = 3


def adm_country_codes(schema_path: Path = API_SCHEMA) -> list[str]:
    """The ``countryCode`` values ADM's members API accepts, without ``UNKNOWN``."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    body = schema["operations"][MEMBERS_OPERATION]["requestBody"]["content"][MEMBERS_CONTENT]
    member = body["properties"]["members"]["items"]["properties"]
    enum = member["userConsent"]["properties"]["geo"]["properties"]["countryCode"]["enum"]
    return sorted(code for code in enum if code != NOT_A_COUNTRY)


def _english_variants(name: str) -> Iterator[str]:
    """``name`` and the ways people shorten ISO's phrasing of it."""
    yield name
    if "(" in name:  # "Holy See (Vatican City State)", "Saint Martin (French part)"
        yield re.sub(r"\s*\(.*?\)", "", name)
    if ", " in name:  # "Korea, Republic of" → "Republic of Korea"
        head, _, tail = name.partition(", ")
        yield f"{tail} {head}"
    if name.startswith("Saint "):
        yield "St " + name.removeprefix("Saint ")
    if " and " in name:  # "Trinidad & Tobago": the "&" is punctuation, gone in the key
        yield name.replace(" and ", " ")


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _local_variants(name: str) -> Iterator[str]:
    """A local name, and its German-style transliteration (``Österreich`` → ``Oesterreich``)."""
    yield name
    if any(char in name for char in "äöüÄÖÜ"):
        yield name.translate(_UMLAUTS)


def _catalogue(locale: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])


def _english_names(country: object) -> list[str]:
    names = [getattr(country, attribute, None) for attribute in ("name", "official_name")]
    names.append(getattr(country, "common_name", None))
    return [name for name in names if name]


def _translations(names: Iterable[str], locales: Iterable[str]) -> Iterator[str]:
    for locale in locales:
        catalogue = _catalogue(locale)
        for name in names:
            translated = catalogue.gettext(name)
            if translated != name:  # untranslated entries come back as the English text
                yield from _local_variants(translated)


def spellings_by_country(adm_codes: Iterable[str]) -> list[tuple[Kind, str, str]]:
    """Every (kind, spelling, code) the table is built from."""
    covered: set[str] = set()
    spellings: list[tuple[Kind, str, str]] = []
    countries = list(pycountry.countries)
    known = {country.alpha_2 for country in countries}
    for code in adm_codes:
        if code in known:
            continue
        if code in BEYOND_ISO:
            covered.add(code)
            spellings += [(Kind.CODE, code, code), (Kind.NAME, BEYOND_ISO[code], code)]
            continue
        historic = pycountry.historic_countries.get(alpha_2=code)
        if historic is None:
            raise SystemExit(f"ADM accepts {code}, which neither pycountry nor BEYOND_ISO name")
        countries.append(historic)
    for country in countries:
        code = country.alpha_2
        names = _english_names(country)
        covered.add(code)
        spellings += [(Kind.CODE, code, code), (Kind.CODE, country.alpha_3, code)]
        spellings += [(Kind.NAME, v, code) for name in names for v in _english_variants(name)]
        locales = [*LOCAL_LANGUAGES.get(code, ()), *(CRM_LANGUAGES if code in WIDELY_NAMED else ())]
        spellings += [(Kind.TRANSLATION, t, code) for t in _translations(names, locales)]
    for code, aliases in ALIASES.items():
        if code not in covered:
            raise SystemExit(f"ALIASES names {code}, which is not a country here")
        spellings += [(Kind.ALIAS, alias, code) for alias in aliases]
    return spellings


def keys_by_country(spellings: Iterable[tuple[Kind, str, str]]) -> dict[str, list[str]]:
    """Each country's matching keys, every key owned by exactly one country (see module doc)."""
    claims: dict[str, dict[str, Kind]] = defaultdict(dict)
    for kind, spelling, code in spellings:
        key = country_key(spelling)
        if key and kind < claims[key].get(code, Kind.TRANSLATION + 1):
            claims[key][code] = kind
    owned: dict[str, list[str]] = defaultdict(list)
    for key, claimants in sorted(claims.items()):
        strongest = min(claimants.values())
        winners = [code for code, kind in claimants.items() if kind == strongest]
        if len(winners) == 1:
            owned[winners[0]].append(key)
        elif strongest < Kind.TRANSLATION:
            raise SystemExit(f"{key!r} is claimed by {sorted(winners)}: settle it in ALIASES")
        else:
            print(f"dropped ambiguous translation {key!r} ({sorted(winners)})", file=sys.stderr)
    return owned


def _width(text: str) -> int:
    """Columns ``text`` takes (wide CJK characters take two, as ruff counts them)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _wrapped(items: list[str], indent: str, limit: int = 99) -> list[str]:
    lines: list[str] = []
    line = indent
    for item in items:
        if line != indent and _width(line) + 1 + _width(item) > limit:
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    lines.append(line.rstrip())
    return lines


def render(adm_codes: list[str], keys: dict[str, list[str]]) -> str:
    out = [
        '"""Country facts behind :mod:`adm_ingest.countries`. GENERATED by',
        "``scripts/gen_countries.py`` (``make countries``) from pycountry "
        f"{pycountry_version()}, the countryCode",
        "enum of ADM's API schema and the script's hand-curated aliases. Do not edit: regenerate.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "ADM_COUNTRY_CODES: frozenset[str] = frozenset(",
        '    """',
        *_wrapped(adm_codes, "    "),
        '    """.split()',
        ")",
        '"""What ADM\'s ``countryCode`` enum accepts (without its ``UNKNOWN``)."""',
        "",
        "KEYS: dict[str, str] = {",
    ]
    for code in sorted(keys):
        out += [f'    "{code}": """', *_wrapped(keys[code], "        "), '    """,']
    out += [
        "}",
        '"""Each country\'s matching keys (``country_key`` of every spelling), space-separated."""',
        "",
    ]
    return "\n".join(out)


def pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


def generate() -> str:
    """The table's source text, from the installed pycountry and the committed API schema."""
    adm_codes = adm_country_codes()
    keys = keys_by_country(spellings_by_country(adm_codes))
    return render(adm_codes, keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file would change")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run make countries", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
