"""Deterministic, realistic US CRM exports for the benchmarks.

The rows look like what advertisers actually drop: a customer id, an email in mixed case with
the odd stray space or ``+tag``, phones written five different ways, names with accents and
apostrophes, street addresses with abbreviations and unit numbers, states spelled out or
abbreviated, ZIP or ZIP+4, and some fields left empty. Every row has a unique email, so every
row is a distinct, acceptable member — the end-to-end benchmark can check the sandbox count
exactly.

Value cardinality is realistic too, so a cache or memo in the record path is not flattered:
names are Zipf-distributed over 5,000 given names and 50,000 surnames (common ones first, then
invented ones), which puts ≈ 55 % of rows on the 100 most common given names and ≈ 20 % on the
100 most common surnames, about as in US data; cities are Zipf-distributed over 500 (40 real,
the rest invented towns); streets and house numbers make nearly every address distinct; ZIPs
spread over ≈ 4,000 five-digit codes, a fifth of them with a +4 extension.

The generator is seeded, so a given ``(shape, rows, seed)`` always produces the same bytes; files
are cached under ``bench/data/`` by those parameters and regenerated only when missing. Nothing
here is real personal data: the names are common or invented given names and surnames, the
domains are reserved or generic, and the phone numbers are random subscriber numbers on real
area codes.
"""

from __future__ import annotations

import itertools
import os
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
GENERATOR_VERSION = 2
"""Bump when the output changes, so cached files are regenerated."""

FULL = "full"
"""email + phone + first/last name + address + city + state + zip (plus id and country)."""
EMAIL_ONLY = "email"
"""A customer id and an email: the smallest useful audience file."""
EU_CONSENT = "eu-consent"
"""A customer id, an email, a country (UK/EEA) and Amazon's two consent signals per row."""
AEP_PROFILE = "aep-profile"
"""The full-field row without the customer id, plus a tenant loyalty points integer: the ten
fields of an AEP Individual Profile row (issue 12)."""

_FULL_HEADER = (
    "Customer ID,Email Address,Mobile,First Name,Last Name,Street Address,City,State,Zip Code,"
    "Country\n"
)
_AEP_PROFILE_HEADER = (
    "Email Address,Mobile,First Name,Last Name,Street Address,City,State,Zip Code,Country,"
    "Loyalty Points\n"
)
_EMAIL_HEADER = "Customer ID,Email Address\n"
_EU_CONSENT_HEADER = "Customer ID,Email Address,Country,amzn_ad_storage,amzn_user_data\n"
_EU_COUNTRIES = (
    ("DE", "FR", "GB", "ES", "IT", "NL", "PL", "SE"),
    (30, 50, 70, 80, 88, 94, 98, 100),
)
"""Countries of the EU export and their cumulative weights (percent)."""

_FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy "
    "Jacob Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Brenda Stephen Emma Larry "
    "Anna Justin Pamela Scott Nicole Brandon Samantha Benjamin Katherine Samuel Christine "
    "José María Zoë Renée André Chloé Sofía Nguyễn Mei Aisha Mohammed Priya Hiroshi Olga "
    "Siobhán Björn Łukasz Ana-Lucía Jean-Luc Mary-Kate"
).split()
_LAST = (
    (
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
        "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
        "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
        "O'Brien O'Neil McDonald MacArthur Van_der_Berg De_la_Cruz Smith-Jones Müller Søren "
        "Peña Nuñez Çelik Żak D'Angelo St._John"
    )
    .replace("_", " ")
    .split()
)
# Syllables for the invented tail of the name pools (the long tail real CRM files have).
_GIVEN_STARTS = (
    "Al Bri Ca Da El Fe Ga Ha Is Ja Ka Le Ma Na Ol Pa Ra Sa Ta Va Wi Za Jo Mi Lu Ro De Ti Ke "
    "Ar Be Cor Dor Em Fa Gi Hel Ir Jun Kai La Mor Ni Or Pri Qui Ren Sol Ty Ul Ve Xa Yo Zo"
).split()
_GIVEN_ENDS = (
    "na ra la son ton lyn ette ie o an en iel ah ey ia da mon rick vin sha ri nor leen ric beth "
    "ander ias ius elle ine ara ora is us"
).split()
_SURNAME_PREFIXES = ("", "", "", "", "", "", "Mc", "O'", "Van ", "De ", "Del ", "St. ", "Di ")
_SURNAME_ROOTS = (
    "Ash Black Brad Brook Bur Cald Carl Cran Dal Dun Eg Fair Fen Gar Glen Grant Hal Hart Hol "
    "Kes Kin Lang Lind Mar Mer Nor Oak Pem Ral Red Ros Sal Sher Stan Stock Thorn Tru Wal Wes "
    "Whit Win Yar Zel Ber Kow Nov Pet Ivan Sor Lar Mol Rin Tan Hay Mor Bell Cor Vic"
).split()
_SURNAME_ENDS = (
    "son man berg ley ford wood field ski ez ini ova sen stein er s ton well ham by croft worth "
    "ridge ov enko elli etti ard ing ers ins ock"
).split()
_STREETS = (
    "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park View Sunset Lincoln Jackson "
    "Highland Forest Church River Spring Ridge Meadow Valley Madison Franklin Jefferson Bluestem "
    "Willow Chestnut Walnut Cherry Dogwood Magnolia Laurel Sycamore Hickory Juniper Aspen"
).split()
_STREET_TYPES = (
    "Street St St. Avenue Ave Ave. Road Rd Drive Dr Boulevard Blvd Lane Ln Court Ct Place Pl "
    "Terrace Way Parkway Pkwy Circle"
).split()
_DIRECTIONS = ("", "", "", "", "North ", "N ", "S ", "South ", "E ", "West ", "NW ")
_UNITS = ("", "", "", "", "", " Apt 4", " Apt. 12B", " Unit 3", " Suite 200", " #7", " Ste 110")
# (city, state abbreviation, state name, ZIP prefix): real cities with plausible ZIP prefixes.
_PLACES = (
    ("New York", "NY", "New York", "100"),
    ("Brooklyn", "NY", "New York", "112"),
    ("Los Angeles", "CA", "California", "900"),
    ("San Francisco", "CA", "California", "941"),
    ("San Diego", "CA", "California", "921"),
    ("Chicago", "IL", "Illinois", "606"),
    ("Houston", "TX", "Texas", "770"),
    ("Austin", "TX", "Texas", "787"),
    ("Dallas", "TX", "Texas", "752"),
    ("Phoenix", "AZ", "Arizona", "850"),
    ("Philadelphia", "PA", "Pennsylvania", "191"),
    ("Pittsburgh", "PA", "Pennsylvania", "152"),
    ("Seattle", "WA", "Washington", "981"),
    ("Spokane", "WA", "Washington", "992"),
    ("Denver", "CO", "Colorado", "802"),
    ("Boston", "MA", "Massachusetts", "021"),
    ("Miami", "FL", "Florida", "331"),
    ("Orlando", "FL", "Florida", "328"),
    ("Atlanta", "GA", "Georgia", "303"),
    ("Charlotte", "NC", "North Carolina", "282"),
    ("Nashville", "TN", "Tennessee", "372"),
    ("Detroit", "MI", "Michigan", "482"),
    ("Minneapolis", "MN", "Minnesota", "554"),
    ("Portland", "OR", "Oregon", "972"),
    ("Las Vegas", "NV", "Nevada", "891"),
    ("Salt Lake City", "UT", "Utah", "841"),
    ("Kansas City", "MO", "Missouri", "641"),
    ("St. Louis", "MO", "Missouri", "631"),
    ("New Orleans", "LA", "Louisiana", "701"),
    ("Springfield", "VA", "Virginia", "221"),
    ("Arlington", "VA", "Virginia", "222"),
    ("Baltimore", "MD", "Maryland", "212"),
    ("Washington", "DC", "District of Columbia", "200"),
    ("Columbus", "OH", "Ohio", "432"),
    ("Cleveland", "OH", "Ohio", "441"),
    ("Indianapolis", "IN", "Indiana", "462"),
    ("Milwaukee", "WI", "Wisconsin", "532"),
    ("Albuquerque", "NM", "New Mexico", "871"),
    ("Honolulu", "HI", "Hawaii", "968"),
    ("Anchorage", "AK", "Alaska", "995"),
)
_AREA_CODES = (
    "212 213 206 214 215 217 301 303 305 310 312 313 323 347 404 407 408 410 412 415 425 469 "
    "503 510 512 571 602 614 617 619 646 650 702 703 713 718 720 734 773 786 801 808 813 832 "
    "858 907 917 919 949 972 312 505 615 704 816 901 504 414 216 317"
).split()
_DOMAINS = (
    "gmail.com Gmail.com yahoo.com hotmail.com outlook.com icloud.com aol.com comcast.net "
    "example.com example.org example.net mail.example.com"
).split()


@dataclass(frozen=True, slots=True)
class Dataset:
    """A generated file and what it holds."""

    path: Path
    rows: int
    size: int


def _zipf_pool(
    common: Sequence[str], size: int, invent: Callable[[random.Random], str], exponent: float
) -> tuple[list[str], list[float]]:
    """``size`` distinct names — ``common`` first, then invented ones — and the cumulative
    weights of a Zipf law (rank ** -exponent) over them, for :meth:`random.Random.choices`."""
    rng = random.Random(f"names-{size}")  # fixed: the pool never depends on the rows' seed
    names = list(dict.fromkeys(common))
    seen = set(names)
    while len(names) < size:
        name = invent(rng)
        if name not in seen:
            seen.add(name)
            names.append(name)
    weights = itertools.accumulate(rank**-exponent for rank in range(1, size + 1))
    return names, list(weights)


def _invent_given(rng: random.Random) -> str:
    name = rng.choice(_GIVEN_STARTS) + rng.choice(_GIVEN_ENDS)
    return name + rng.choice(_GIVEN_ENDS) if rng.random() < 0.3 else name


def _invent_surname(rng: random.Random) -> str:
    return (
        rng.choice(_SURNAME_PREFIXES)
        + rng.choice(_SURNAME_ROOTS)
        + rng.choice(_SURNAME_ENDS)
        + (rng.choice(_SURNAME_ENDS) if rng.random() < 0.2 else "")
    )


_TOWN_STARTS = "Spring Green Fair Oak Maple River Lake Ash Elm Pine Rock Clear Glen Red".split()
_TOWN_ENDS = "field ville ton wood dale port view burg ford haven mont side crest".split()


def _place_pool(size: int) -> tuple[list[tuple[str, str, str, str]], list[float]]:
    """The real cities of :data:`_PLACES` first, then invented towns in their states (same ZIP
    prefix as the city they borrow a state from), Zipf-weighted like the names."""
    rng = random.Random(f"places-{size}")
    places = list(_PLACES)
    seen = {place[0] for place in places}
    while len(places) < size:
        town = rng.choice(_TOWN_STARTS) + rng.choice(_TOWN_ENDS)
        town = town if rng.random() < 0.7 else f"{rng.choice(('North', 'East', 'Lake'))} {town}"
        _, abbr, name, prefix = rng.choice(_PLACES)
        if town not in seen:
            seen.add(town)
            places.append((town, abbr, name, prefix))
    weights = itertools.accumulate(rank**-1.0 for rank in range(1, size + 1))
    return places, list(weights)


_GIVEN_POOL = _zipf_pool(_FIRST, 5_000, _invent_given, exponent=1.0)
_SURNAME_POOL = _zipf_pool(_LAST, 50_000, _invent_surname, exponent=0.8)
_PLACE_POOL = _place_pool(500)


def dataset(shape: str, rows: int, *, seed: int = 2026) -> Dataset:
    """The cached CSV of ``rows`` rows of ``shape`` (:data:`FULL`, :data:`EMAIL_ONLY` or
    :data:`EU_CONSENT`), generating it first when missing."""
    path = DATA_DIR / f"crm-{shape}-{rows}-s{seed}-v{GENERATOR_VERSION}.csv"
    if not path.exists():
        _write(path, _rows(shape, rows, seed), _header(shape))
    return Dataset(path, rows, path.stat().st_size)


def sized_dataset(shape: str, target_bytes: int, *, seed: int = 2026) -> Dataset:
    """The cached CSV of the fewest whole rows of ``shape`` reaching ``target_bytes``."""
    label = f"{target_bytes // 1_000_000}MB"
    path = DATA_DIR / f"crm-{shape}-{label}-s{seed}-v{GENERATOR_VERSION}.csv"
    rows_path = path.with_suffix(".rows")
    if not (path.exists() and rows_path.exists()):
        rows = _write(path, _rows(shape, None, seed), _header(shape), stop_at=target_bytes)
        rows_path.write_text(str(rows))
    return Dataset(path, int(rows_path.read_text()), path.stat().st_size)


def _header(shape: str) -> str:
    if shape == FULL:
        return _FULL_HEADER
    if shape == EMAIL_ONLY:
        return _EMAIL_HEADER
    if shape == EU_CONSENT:
        return _EU_CONSENT_HEADER
    if shape == AEP_PROFILE:
        return _AEP_PROFILE_HEADER
    raise ValueError(f"unknown shape {shape!r}")


def _write(path: Path, rows: Iterator[str], header: str, *, stop_at: int | None = None) -> int:
    """Write ``header`` then ``rows`` (stopping once ``stop_at`` bytes are written) through a
    temporary file, so an interrupted run never leaves a truncated cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    written = len(header.encode())
    count = 0
    with partial.open("w", encoding="utf-8", newline="") as out:
        out.write(header)
        block: list[str] = []
        for row in rows:
            block.append(row)
            count += 1
            if len(block) == 10_000:
                text = "".join(block)
                out.write(text)
                written += len(text.encode())
                block.clear()
                if stop_at is not None and written >= stop_at:
                    break
        out.write("".join(block))
    os.replace(partial, path)
    return count


def _rows(shape: str, rows: int | None, seed: int) -> Iterator[str]:
    """``rows`` CSV lines (endless when ``None``); row ``n`` depends only on ``seed`` and the
    rows before it."""
    rng = random.Random(seed)
    full = shape in (FULL, AEP_PROFILE)
    index = 0
    while rows is None or index < rows:
        index += 1
        first = rng.choices(_GIVEN_POOL[0], cum_weights=_GIVEN_POOL[1])[0]
        last = rng.choices(_SURNAME_POOL[0], cum_weights=_SURNAME_POOL[1])[0]
        email = _email(rng, first, last, index)
        customer = f"crm-{index:08d}"
        if shape == EU_CONSENT:
            country = rng.choices(_EU_COUNTRIES[0], cum_weights=_EU_COUNTRIES[1])[0]
            ad_storage = "GRANTED" if rng.random() < 0.9 else "DENIED"
            yield f"{customer},{email},{country},{ad_storage},GRANTED\n"
            continue
        if not full:
            yield f"{customer},{email}\n"
            continue
        city, state_abbr, state_name, zip_prefix = rng.choices(
            _PLACE_POOL[0], cum_weights=_PLACE_POOL[1]
        )[0]
        roll = rng.random()
        phone = "" if roll < 0.08 else _phone(rng, roll)
        street = (
            ""
            if roll > 0.95
            else (
                f"{rng.randint(1, 9999)} {rng.choice(_DIRECTIONS)}{rng.choice(_STREETS)} "
                f"{rng.choice(_STREET_TYPES)}{rng.choice(_UNITS)}"
            )
        )
        state = state_name if rng.random() < 0.3 else state_abbr
        postal = f"{zip_prefix}{rng.randint(0, 99):02d}"
        if rng.random() < 0.2:
            postal += f"-{rng.randint(0, 9999):04d}"
        fields = (
            customer,
            email,
            phone,
            first if rng.random() < 0.9 else first.upper(),
            last,
            street,
            city,
            state,
            postal,
            "US" if rng.random() < 0.7 else "",
        )
        if shape == AEP_PROFILE:
            # Points as loyalty systems export them: plain integers, one member in ten without.
            points = "" if rng.random() < 0.1 else str(int(rng.paretovariate(1.2) * 100) - 100)
            fields = (*fields[1:], points)
        yield ",".join(_quoted(value) for value in fields) + "\n"


def _email(rng: random.Random, first: str, last: str, index: int) -> str:
    local = _ascii(f"{first}.{last}")
    if rng.random() < 0.1:
        local += "+news"
    # The index makes every address unique; its position varies like real addresses do.
    address = f"{local}{index}@{rng.choice(_DOMAINS)}"
    roll = rng.random()
    if roll < 0.03:
        return f" {address} "
    return address if roll < 0.5 else address.lower()


def _ascii(text: str) -> str:
    """Email local parts as people type them: accents folded, spaces and apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.replace(" ", "").replace("'", "")


def _phone(rng: random.Random, roll: float) -> str:
    area = rng.choice(_AREA_CODES)
    exchange = rng.randint(201, 998)
    if exchange % 100 == 11 or exchange == 555:  # N11 codes and 555 are not subscriber numbers
        exchange += 1
    line = rng.randint(0, 9999)
    style = int(roll * 100) % 5
    if style == 0:
        return f"({area}) {exchange}-{line:04d}"
    if style == 1:
        return f"{area}-{exchange}-{line:04d}"
    if style == 2:
        return f"+1 {area} {exchange} {line:04d}"
    if style == 3:
        return f"{area}{exchange}{line:04d}"
    return f"1-{area}-{exchange}-{line:04d}"


def _quoted(value: str) -> str:
    if "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value
