"""What a column name means: the vocabulary of real CRM / e-commerce / ad-platform exports.

``classify_column(name) -> Detection`` reads one header name. It is called once per distinct
column name (per header), never per record; :mod:`adm_ingest.mapping` turns detections into
routes and decides between columns that compete for one field (the precedence rules).

How a name is read
------------------
1. Tokens: the name is split into lower-case word tokens at camelCase humps, letter/digit
   boundaries, spaces and ``_ - . / # ( ) :`` (``#`` reads as "number": ``Order #`` = order
   number). Matching compares the tokens run together, so case, spacing and punctuation never
   matter (``Mailing City`` = ``mailing_city`` = ``MAILINGCITY`` = ``mailingCity``).
2. ``/`` separates alternatives (``State/Province``, ``Zip/Postal Code``, ``Country/Region``):
   the first alternative that is a known name wins; a qualifier before the first alternative
   (``Mailing Zip/Postal Code``) qualifies them all.
3. A ``sha256`` / ``hashed`` / ``hash`` prefix or suffix declares the column hashed
   (``sha256_email``, ``Email SHA256``); a hashed id or attribute is never sent.
4. The name is looked up in :data:`COLUMN_NAMES`; if it is not there, a trailing number picks
   the PII set (``Email 2``, ``phone_3``; 1..10), except street lines: ``Address Line 1`` /
   ``Address1`` / ``Street 1`` are the street, ``Address 2`` / ``Address Line 2`` /
   ``Street 2`` are the *second street line* of the same address — not a second person, and
   not sent (ADM's address is one line).
5. Otherwise a leading qualifier (:data:`QUALIFIERS`: ``Mailing``, ``Billing``, ``Shipping``,
   ``Home``, ``Work``, ``Other``, ``Default Address``, ``Customer``, ``Contact``, ``Primary``…,
   and Dynamics 365's ``Address 1:`` / ``Address 2:``) is stripped and remembered as the
   column's *group*, and the rest is read again.

Decisions on ambiguous names (documented in the README's "Columns" section too):

* ``Name`` alone is not mapped (a person's full name, a company or an order name?), except in
  a Shopify orders export (a header with ``Financial Status`` / ``Fulfillment Status`` /
  ``Lineitem …`` columns), where it is the order number (``#1001``) → ``dedupe_id`` and the
  order's ``Id`` is a lower-ranked order id. Elsewhere a bare ``Id`` is a record id.
* ``Full Name`` / ``Billing Name``… are not split into first and last name: reported as
  unknown with a hint.
* ``Region`` alone is not mapped (a state, or a sales region like "EMEA"?); ``State/Region``
  is a state, ``Country/Region`` a country.
* ``CC`` (Mailchimp's geolocated country code) is a country, ranked below any ``Country``.
* Marketing opt-ins (``Accepts Email Marketing``…) are not ads consent signals: not sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches

from adm_ingest.records import PII_FIELDS

MAX_PII_SETS = 10
"""ADM accepts up to 10 ``hashedPiis`` sets per member."""

# --- the vocabulary ---------------------------------------------------------------------------

COLUMN_NAMES: tuple[tuple[str, int, str], ...] = (
    # (field, priority, names). When several columns of one header detect to the same field,
    # the lowest priority wins (ties: the first column); PII losers move to later PII sets,
    # attribute losers are not sent ("duplicate field"). Names are compared as their tokens
    # run together, so "first name" here also matches "FirstName", "first_name", "FIRST-NAME".
    ("email", 0, "email, email address, mail, email id, em"),
    (
        "phone",
        0,
        "mobile, mobile phone, mobile number, mobile phone number, cell, cell phone,"
        " cell number, cellular, mobile no",
    ),
    ("phone", 1, "phone, phone number, phone no, telephone, telephone number, tel, ph"),
    ("first_name", 0, "first name, given name, fname, fn, forename"),
    ("last_name", 0, "last name, surname, family name, lname, ln"),
    ("address", 0, "address 1, address line 1, addr 1, street 1, street address 1, address line"),
    ("address", 1, "street, street address, address, addr, ad"),
    ("city", 0, "city, town, locality, ct, cty, city name"),
    ("state", 0, "state, province, state code, province code, state or province, st"),
    ("state", 1, "state name, province name"),
    ("postal", 0, "zip, zip code, postal, postal code, postcode"),
    ("country", 0, "country, country code, country iso, country iso code, country name"),
    ("country", 5, "cc"),
    ("external_id", 0, "external id, external user id, ext id"),
    (
        "external_id",
        1,
        "customer id, customer number, customer no, crm id, user id, member id,"
        " contact id, lead id, person id, subscriber id, uid, loyalty number,"
        " loyalty id, loyalty card number, client id",
    ),
    ("external_id", 2, "record id, do not modify contact, do not modify lead"),
    ("external_id", 3, "klaviyo id, braze id, euid, unique email id, leid, id"),
    ("ip", 0, "ip, ip address, ip addr, client ip"),
    ("gpp", 0, "gpp, gpp string, gpp consent"),
    ("tcf", 0, "tcf, tcf string, tc string, tcf consent"),
    ("amzn_ad_storage", 0, "amzn ad storage, amazon ad storage"),
    ("amzn_user_data", 0, "amzn user data, amazon user data"),
    ("action", 0, "action, operation"),
    (
        "timestamp",
        0,
        "timestamp, event time, event timestamp, event date, conversion time,"
        " conversion date, date time",
    ),
    (
        "timestamp",
        1,
        "order time, order date, transaction time, transaction date, sale date,"
        " sale time, purchase date, purchase time, processed at",
    ),
    ("timestamp", 2, "created at"),
    ("timestamp", 3, "paid at"),
    ("value", 0, "value, revenue, conversion value, order value, sales amount"),
    ("value", 1, "grand total, order total, total price"),
    ("value", 2, "total"),
    ("value", 3, "amount"),
    ("value", 4, "subtotal"),
    ("currency", 0, "currency, currency code"),
    ("units", 0, "units, quantity, qty, units sold"),
    ("dedupe_id", 0, "dedupe id, client dedupe id, event id, conversion id"),
    (
        "dedupe_id",
        1,
        "order id, order number, order no, transaction id, transaction number,"
        " sale id, purchase id",
    ),
    ("dedupe_id", 2, "receipt number, receipt id, receipt no, invoice number, invoice id"),
    ("maid", 0, "maid, madid, idfa, gaid, adid, aaid, mobile ad id, advertising id"),
    ("ramp_id", 0, "ramp id, liveramp id, liveramp"),
    ("event_name", 0, "event name, conversion name"),
    ("data_processing", 0, "data processing, data processing options, limited data use"),
)
"""Known column names per canonical field."""

NOT_SENT_NAMES: tuple[tuple[str, str], ...] = (
    # (why, names): columns real exports carry that are recognised and deliberately not sent.
    (
        "second street line",
        "address 2, address line 2, addr 2, street 2, street address 2,"
        " address 3, address line 3, street 3",
    ),
    (
        "company, not a person",
        "company, company name, account name, account id, organization, organisation",
    ),
    (
        "marketing opt-in, not an ads consent signal: set a consent column or defaults",
        "accepts email marketing, accepts sms marketing, accepts marketing, email opt in,"
        " email subscribe, push subscribe, marketing contact status, unsubscribed, email opt out",
    ),
    (
        "not an identifier ADM matches on",
        "dob, doby, dobm, dobd, date of birth, birthday, birthdate, gen, gender, age, title,"
        " job title, salutation, language, timezone, time zone, gmtoff, dstoff, latitude,"
        " longitude, member rating, optin time, optin ip, confirm time, confirm ip, last changed,"
        " notes, note, tags, tax exempt, total spent, total orders, lead source, lead status,"
        " lead score, lifecycle stage, create date, created date, created on, modified on,"
        " last modified date, last activity date, contact owner, owner, store id, store,"
        " location, financial status, fulfillment status, fulfilled at, cancelled at,"
        " payment method, shipping method, source",
    ),
    (
        "order detail, not a conversion field",
        "shipping, taxes, discount code, discount amount, lineitem name, lineitem quantity,"
        " lineitem price, lineitem sku, refunded amount, outstanding balance",
    ),
)
"""Recognised columns that are reported under ``not_sent`` with the reason, never unknown."""

AMBIGUOUS_NAMES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # (names, suggested targets, hint): never mapped by detection; reported as unknown.
    (
        "full name, name, contact name, customer name, person name, display name",
        ("first_name", "last_name"),
        "a full name is not split into first and last name: map first_name / last_name columns",
    ),
    (
        "region",
        ("state",),
        "ambiguous (a state or a sales region): map it to 'state' if it holds states",
    ),
)

QUALIFIERS: tuple[tuple[str, str | None], ...] = (
    # (qualifier, group). A qualifier before a known name is stripped and its group remembered
    # (None: it says whose the column is, not which address: "Customer Email" is the email).
    # Longest first where one is a prefix of another.
    ("default address", "default address"),
    ("mailing", "mailing"),
    ("home", "home"),
    ("billing", "billing"),
    ("bill to", "billing"),
    ("shipping", "shipping"),
    ("ship to", "shipping"),
    ("delivery", "shipping"),
    ("other", "other"),
    ("alternate", "other"),
    ("alt", "other"),
    ("secondary", "other"),
    ("work", "work"),
    ("business", "work"),
    ("office", "work"),
    ("customer", None),
    ("contact", None),
    ("primary", None),
    ("personal", None),
    ("main", None),
    ("lead", None),
    ("subject", None),  # GDPR: the data subject ("Subject Email" in erasure requests)
    ("data subject", None),
    ("address", None),
    ("default", "default address"),
)

ADDRESS_GROUPS: dict[str | None, int] = {
    # group → tier (lower wins). The header's best tier feeds the address fields of PII set 1;
    # inside a tier, this order breaks ties (None = unqualified).
    "mailing": 0,
    "home": 0,
    "default address": 0,
    "address 1": 0,
    None: 0,
    "billing": 1,
    "shipping": 2,
    "other": 3,
    "work": 3,
}
"""Address groups and their precedence tier; Dynamics' ``Address 2:`` / ``Address 3:`` rank
with ``other``."""
ADDRESS_FIELDS = frozenset({"address", "city", "state", "postal"})
LOWEST_TIER = 3

ORDERS_MARKERS = frozenset(
    {"financialstatus", "fulfillmentstatus", "lineitemname", "lineitemquantity", "lineitemprice"}
)
"""Squashed names that only a Shopify orders export has (see ``Name``, module docstring)."""
ORDERS_NAMES: dict[str, tuple[str, int]] = {"name": ("dedupe_id", 1), "id": ("dedupe_id", 3)}

# --- reading a name -----------------------------------------------------------------------------

_HUMP = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"
)
_SEPARATORS = re.compile(r"[^0-9A-Za-z\u00C0-\uFFFF]+")
_NUMBERED = re.compile(r"(.*?\D)(\d{1,2})")
_ADDRESS_NUMBER = re.compile(r"(?:address|addr)(\d)(\D.*)")
_HASH_MARKERS = ("sha256", "hashed", "hash")


def column_tokens(name: str) -> list[str]:
    """Lower-case word tokens of a column name (``"MailingZip/PostalCode"`` →
    ``["mailing", "zip", "postal", "code"]``; ``#`` becomes ``"number"``)."""
    text = _HUMP.sub(" ", name.replace("#", " number "))
    return [token for token in _SEPARATORS.split(text.casefold()) if token]


def squash(name: str) -> str:
    """The tokens run together: the form every comparison uses."""
    return "".join(column_tokens(name))


def _squash_all(names: str) -> list[str]:
    return [squash(name) for name in names.split(",")]


_KNOWN: dict[str, tuple[str, int]] = {}
for _field, _priority, _names in COLUMN_NAMES:
    for _key in _squash_all(_names):
        assert _key not in _KNOWN, f"{_key!r} is listed twice"
        _KNOWN[_key] = (_field, _priority)
_NOT_SENT: dict[str, str] = {
    key: why for why, names in NOT_SENT_NAMES for key in _squash_all(names)
}
_AMBIGUOUS: dict[str, tuple[tuple[str, ...], str]] = {
    key: (fields, hint) for names, fields, hint in AMBIGUOUS_NAMES for key in _squash_all(names)
}
_QUALIFIERS: tuple[tuple[str, str | None], ...] = tuple(
    (squash(qualifier), group) for qualifier, group in QUALIFIERS
)
_PII = frozenset(PII_FIELDS)
_SUGGESTABLE: dict[str, str] = {
    **{key: field for key, (field, _) in _KNOWN.items()},
    **{squash(field): field for field in (*PII_FIELDS, *{f for f, _, _ in COLUMN_NAMES})},
}


@dataclass(frozen=True, slots=True)
class Detection:
    """What a column name says. ``field`` is None when nothing is mapped from it; then
    ``why_not`` (recognised, deliberately not sent) or ``hint`` (unknown) may say why."""

    field: str | None = None
    pii_set: int = 0
    """0-based PII set the name asks for (``Email 2`` → 1); 0 for attributes."""
    hashed: bool = False
    group: str | None = None
    """The qualifier's group: ``mailing``, ``billing``, ``shipping``, ``work``… (None:
    unqualified)."""
    priority: int = 0
    """Rank among columns for the same field (lower wins; see :data:`COLUMN_NAMES`)."""
    why_not: str | None = None
    hint: str | None = None
    suggestions: tuple[str, ...] = ()

    @property
    def tier(self) -> int:
        """The address-precedence tier of the column's group (see :data:`ADDRESS_GROUPS`)."""
        return ADDRESS_GROUPS.get(self.group, LOWEST_TIER)


_UNKNOWN = Detection()


def orders_shaped(columns: list[str] | tuple[str, ...]) -> bool:
    """Whether a header is a Shopify orders export (see the module docstring)."""
    return any(squash(column) in ORDERS_MARKERS for column in columns)


def classify_column(name: str, *, orders: bool = False) -> Detection:
    """Read one column name (see the module docstring). ``orders``: the header is a Shopify
    orders export (:func:`orders_shaped`)."""
    alternatives = name.split("/")
    first = _classify(squash(alternatives[0]), orders)
    if first.field is not None or len(alternatives) == 1:
        return first
    # "Mailing Zip/Postal Code": the qualifier of the first alternative qualifies the others.
    group = first.group
    for alternative in alternatives[1:]:
        found = _classify(squash(alternative), orders)
        if found.field is not None:
            if found.group is None and group is not None:
                found = Detection(
                    found.field, found.pii_set, found.hashed, group, _qualified(found, group)
                )
            return found
    return first


def _qualified(found: Detection, group: str | None) -> int:
    """Priority of a PII column once qualified: ``Work Email`` ranks after ``Email``."""
    if group is None or found.field not in _PII or found.field in ADDRESS_FIELDS:
        return found.priority
    return found.priority + 2


def _classify(key: str, orders: bool) -> Detection:
    if not key:
        return _UNKNOWN
    hashed = False
    for marker in _HASH_MARKERS:
        if len(key) > len(marker) and (key.startswith(marker) or key.endswith(marker)):
            key = key[len(marker) :] if key.startswith(marker) else key[: -len(marker)]
            hashed = True
            break
    found = _read(key, orders, group=None, qualified=False)
    if hashed and found.field is not None:
        if found.field not in _PII:
            return Detection(hint="a hashed id or attribute is not sent (ADM hashes PII only)")
        return Detection(found.field, found.pii_set, True, found.group, found.priority)
    return found


def _read(key: str, orders: bool, group: str | None, qualified: bool) -> Detection:
    """``key`` (squashed, hash marker removed), once qualifiers before it were stripped."""
    if orders and not qualified and key in ORDERS_NAMES:
        field, priority = ORDERS_NAMES[key]
        return Detection(field, group=group, priority=priority)
    if key in _KNOWN:
        field, priority = _KNOWN[key]
        found = Detection(field, group=group, priority=priority)
        return Detection(field, 0, False, group, _qualified(found, group)) if qualified else found
    if key in _NOT_SENT:
        return Detection(group=group, why_not=_NOT_SENT[key])
    if key in _AMBIGUOUS:
        fields, hint = _AMBIGUOUS[key]
        return Detection(group=group, hint=hint, suggestions=fields)
    if key.startswith("donotmodify"):  # Dynamics 365 system columns other than the record id
        return Detection(group=group, why_not="not an identifier ADM matches on")
    numbered = _NUMBERED.fullmatch(key)
    if numbered is not None and numbered[1] in _KNOWN:
        field, priority = _KNOWN[numbered[1]]
        number = int(numbered[2])
        if field == "address":
            return Detection(group=group, why_not="second street line")
        if field in _PII and 1 <= number <= MAX_PII_SETS:
            found = Detection(field, number - 1, False, group, priority)
            return Detection(field, number - 1, False, group, _qualified(found, group))
        return _UNKNOWN
    dynamics = _ADDRESS_NUMBER.fullmatch(key)
    if dynamics is not None and group is None:  # "Address 1: City", "Address 2: Street 1"
        inner = _read(dynamics[2], orders, f"address {dynamics[1]}", True)
        if inner.field is not None or inner.why_not is not None:
            return inner
    for qualifier, qualifier_group in _QUALIFIERS:
        if key.startswith(qualifier) and len(key) > len(qualifier):
            inner = _read(key[len(qualifier) :], orders, group or qualifier_group, True)
            if inner.field is not None or inner.why_not is not None or inner.hint is not None:
                return inner
    return _UNKNOWN


def group_order(group: str | None) -> int:
    """Tie-break inside a tier: the order of :data:`ADDRESS_GROUPS`."""
    order = list(ADDRESS_GROUPS)
    return order.index(group) if group in ADDRESS_GROUPS else len(order)


def suggest(name: str) -> list[str]:
    """Canonical fields whose known names are close to ``name`` (difflib), best first."""
    key = squash(name)
    if not key:
        return []
    fields: list[str] = []
    for match in get_close_matches(key, list(_SUGGESTABLE), n=6, cutoff=0.75):
        field = _SUGGESTABLE[match]
        if field not in fields:
            fields.append(field)
    return fields[:3]
