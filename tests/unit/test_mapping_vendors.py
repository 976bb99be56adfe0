"""Golden headers of real exports → what each column feeds, and the precedence rules.

Each header is a vendor's standard contact / customer / order export (or an ad platform's
upload template); the expected targets are written as config targets (``phone_2`` = the
phone of PII set 2). A column not listed under a vendor's expected targets is not sent, and
every such column is either "not sent" with a reason or "unknown" — never silently dropped.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.column_names import classify_column
from adm_ingest.mapping import FieldTarget, build_plan

SALESFORCE_CONTACTS = [
    "Contact ID", "Salutation", "First Name", "Last Name", "Title", "Account Name", "Email",
    "Phone", "Mobile", "Mailing Street", "Mailing City", "Mailing State/Province",
    "Mailing Zip/Postal Code", "Mailing Country", "Other Street", "Other City", "Other Country",
    "Contact Owner",
]  # fmt: skip
SALESFORCE_LEADS = [
    "Lead ID", "First Name", "Last Name", "Company", "Email", "Phone", "Mobile", "Street", "City",
    "State/Province", "Zip/Postal Code", "Country", "Lead Source", "Lead Status",
]  # fmt: skip
HUBSPOT = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
    "Street Address", "City", "State/Region", "Postal Code", "Country/Region", "Create Date",
    "Lifecycle Stage", "Contact owner",
]  # fmt: skip
SHOPIFY_CUSTOMERS = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address Address2",
    "Default Address City", "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags",
]  # fmt: skip
SHOPIFY_ORDERS = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency", "Subtotal",
    "Shipping", "Taxes", "Total", "Created at", "Lineitem quantity", "Lineitem name",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2", "Billing Company",
    "Billing City", "Billing Zip", "Billing Province", "Billing Country", "Billing Phone",
    "Shipping Name", "Shipping Street", "Shipping Address1", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Id", "Phone", "Receipt Number",
]  # fmt: skip
KLAVIYO = [
    "Email", "First Name", "Last Name", "Phone Number", "Address", "Address 2", "City",
    "State / Region", "Country", "Zip Code", "Klaviyo ID", "External ID", "Organization", "Title",
]  # fmt: skip
MAILCHIMP = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING",
    "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF",
    "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
MARKETO = [
    "Id", "First Name", "Last Name", "Email Address", "Phone Number", "Mobile Phone Number",
    "Address", "City", "State", "Postal Code", "Country", "Company Name", "Lead Score",
]  # fmt: skip
DYNAMICS_365 = [
    "(Do Not Modify) Contact", "(Do Not Modify) Row Checksum", "(Do Not Modify) Modified On",
    "Full Name", "First Name", "Last Name", "Email", "Business Phone", "Mobile Phone",
    "Address 1: Street 1", "Address 1: Street 2", "Address 1: City", "Address 1: State/Province",
    "Address 1: ZIP/Postal Code", "Address 1: Country/Region", "Address 2: City", "Company Name",
]  # fmt: skip
BRAZE = [
    "external_id", "braze_id", "email", "phone", "first_name", "last_name", "country",
    "home_city", "gender", "dob", "language", "email_subscribe",
]  # fmt: skip
GOOGLE_CUSTOMER_MATCH = ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
META_CUSTOM_AUDIENCES = [
    "email", "phone", "fn", "ln", "zip", "ct", "st", "country", "dob", "doby", "gen", "age",
    "uid", "madid",
]  # fmt: skip
# The ADM members API's own spellings (the reference docs name no console CSV template).
ADM_API_NAMES = [
    "externalUserId", "em", "ph", "fn", "ln", "ad", "cty", "st", "zip", "countryCode",
    "ipAddress", "gpp", "tcf", "amznAdStorage", "amznUserData", "liveRampId",
]  # fmt: skip
POS_TRANSACTIONS = [
    "Transaction ID", "Receipt #", "Order #", "Order Date", "Transaction Date", "Sale Date",
    "Total", "Amount", "Grand Total", "Currency", "Customer Email", "Customer Phone",
    "Loyalty #", "Store ID",
]  # fmt: skip

PERSON = {"First Name": "first_name", "Last Name": "last_name"}
GOLDEN: dict[str, tuple[list[str], dict[str, str]]] = {
    "salesforce contacts": (
        SALESFORCE_CONTACTS,
        {
            "Contact ID": "external_id", **PERSON, "Email": "email", "Phone": "phone_2",
            "Mobile": "phone", "Mailing Street": "address", "Mailing City": "city",
            "Mailing State/Province": "state", "Mailing Zip/Postal Code": "postal",
            "Mailing Country": "country",
        },
    ),
    "salesforce leads": (
        SALESFORCE_LEADS,
        {
            "Lead ID": "external_id", **PERSON, "Email": "email", "Phone": "phone_2",
            "Mobile": "phone", "Street": "address", "City": "city", "State/Province": "state",
            "Zip/Postal Code": "postal", "Country": "country",
        },
    ),
    "hubspot contacts": (
        HUBSPOT,
        {
            "Record ID": "external_id", **PERSON, "Email": "email", "Phone Number": "phone_2",
            "Mobile Phone Number": "phone", "Street Address": "address", "City": "city",
            "State/Region": "state", "Postal Code": "postal", "Country/Region": "country",
        },
    ),
    "shopify customers": (
        SHOPIFY_CUSTOMERS,
        {
            "Customer ID": "external_id", **PERSON, "Email": "email",
            "Default Address Address1": "address", "Default Address City": "city",
            "Default Address Province Code": "state", "Default Address Country Code": "country",
            "Default Address Zip": "postal", "Default Address Phone": "phone_2", "Phone": "phone",
        },
    ),
    "shopify orders": (
        SHOPIFY_ORDERS,
        {
            "Name": "dedupe_id", "Email": "email", "Currency": "currency", "Total": "value",
            "Created at": "timestamp", "Billing Address1": "address", "Billing City": "city",
            "Billing Zip": "postal", "Billing Province": "state", "Billing Country": "country",
            "Billing Phone": "phone_2", "Phone": "phone",
        },
    ),
    "klaviyo profiles": (
        KLAVIYO,
        {
            "Email": "email", **PERSON, "Phone Number": "phone", "Address": "address",
            "City": "city", "State / Region": "state", "Country": "country",
            "Zip Code": "postal", "External ID": "external_id",
        },
    ),
    "mailchimp audience": (
        MAILCHIMP,
        {
            "Email Address": "email", **PERSON, "Address": "address", "Phone Number": "phone",
            "CC": "country", "LEID": "external_id",
        },
    ),
    "marketo leads": (
        MARKETO,
        {
            "Id": "external_id", **PERSON, "Email Address": "email", "Phone Number": "phone_2",
            "Mobile Phone Number": "phone", "Address": "address", "City": "city",
            "State": "state", "Postal Code": "postal", "Country": "country",
        },
    ),
    "dynamics 365 contacts": (
        DYNAMICS_365,
        {
            "(Do Not Modify) Contact": "external_id", **PERSON, "Email": "email",
            "Business Phone": "phone_2", "Mobile Phone": "phone", "Address 1: Street 1": "address",
            "Address 1: City": "city", "Address 1: State/Province": "state",
            "Address 1: ZIP/Postal Code": "postal", "Address 1: Country/Region": "country",
        },
    ),
    "braze users": (
        BRAZE,
        {
            "external_id": "external_id", "email": "email", "phone": "phone",
            "first_name": "first_name", "last_name": "last_name", "country": "country",
            "home_city": "city",
        },
    ),
    "google ads customer match": (
        GOOGLE_CUSTOMER_MATCH,
        {
            "Email": "email", "Phone": "phone", **PERSON, "Country": "country", "Zip": "postal",
        },
    ),
    "meta custom audiences": (
        META_CUSTOM_AUDIENCES,
        {
            "email": "email", "phone": "phone", "fn": "first_name", "ln": "last_name",
            "zip": "postal", "ct": "city", "st": "state", "country": "country",
            "uid": "external_id", "madid": "maid",
        },
    ),
    "adm api spellings": (
        ADM_API_NAMES,
        {
            "externalUserId": "external_id", "em": "email", "ph": "phone", "fn": "first_name",
            "ln": "last_name", "ad": "address", "cty": "city", "st": "state", "zip": "postal",
            "countryCode": "country", "ipAddress": "ip", "gpp": "gpp", "tcf": "tcf",
            "amznAdStorage": "amzn_ad_storage", "amznUserData": "amzn_user_data",
            "liveRampId": "ramp_id",
        },
    ),
    "pos transactions": (
        POS_TRANSACTIONS,
        {
            "Transaction ID": "dedupe_id", "Order Date": "timestamp", "Grand Total": "value",
            "Currency": "currency", "Customer Email": "email", "Customer Phone": "phone",
            "Loyalty #": "external_id",
        },
    ),
}  # fmt: skip


def _name(target: FieldTarget) -> str:
    return target.field if not target.pii_set else f"{target.field}_{target.pii_set + 1}"


@pytest.mark.parametrize(("header", "expected"), GOLDEN.values(), ids=list(GOLDEN))
def test_a_vendor_export_maps_as_specified(header: list[str], expected: dict[str, str]) -> None:
    plan = build_plan(header)
    assert {column: _name(target) for column, target in plan.mapped.items()} == expected
    # Every other column is accounted for: not sent with a reason, or unknown.
    accounted = {column for column, _ in plan.not_sent} | set(plan.unknown)
    assert accounted == set(header) - set(expected)
    assert all(plan.sources[column] == "detected" for column in plan.mapped)


WHY_NOT_SENT = {
    "salesforce contacts": {
        "Other Street": "lower-precedence address group",
        "Other City": "lower-precedence address group",
        "Other Country": "lower-precedence address group",
        "Account Name": "company, not a person",
    },
    "shopify customers": {
        "Default Address Address2": "second street line",
        "Accepts Email Marketing": (
            "marketing opt-in, not an ads consent signal: set a consent column or defaults"
        ),
    },
    "shopify orders": {
        "Shipping City": "lower-precedence address group",
        "Shipping Phone": "lower-precedence address group",  # maybe a gift recipient's
        "Billing Street": "duplicate field",  # Billing Address1 ranks first
        "Billing Address2": "second street line",
        "Id": "duplicate field",  # the order's internal id: Name (#1001) ranks first
        "Paid at": "duplicate field",
    },
    "klaviyo profiles": {"Address 2": "second street line", "Klaviyo ID": "duplicate field"},
    "dynamics 365 contacts": {
        "Address 1: Street 2": "second street line",
        "Address 2: City": "lower-precedence address group",
    },
    "pos transactions": {"Receipt #": "duplicate field", "Amount": "duplicate field"},
}


@pytest.mark.parametrize(("vendor", "whys"), WHY_NOT_SENT.items())
def test_columns_not_sent_say_why(vendor: str, whys: dict[str, str]) -> None:
    plan = build_plan(GOLDEN[vendor][0])
    assert {column: why for column, why in plan.not_sent if column in whys} == whys


def test_a_full_name_is_unknown_with_a_hint_never_split() -> None:
    plan = build_plan(["Full Name", "Email", "Name"])
    assert plan.unknown == ["Full Name", "Name"]
    assert plan.suggestions["Full Name"] == ["first_name", "last_name"]
    assert "not split" in plan.hints["Full Name"]


def test_name_and_id_are_order_ids_only_in_a_shopify_orders_export() -> None:
    orders = build_plan(["Name", "Id", "Financial Status", "Email"])
    assert orders.mapped["Name"] == FieldTarget("dedupe_id")
    assert ("Id", "duplicate field") in orders.not_sent
    contacts = build_plan(["Name", "Id", "Email"])
    assert contacts.mapped["Id"] == FieldTarget("external_id")
    assert "Name" in contacts.unknown


# --- precedence -----------------------------------------------------------------------------------


def test_the_best_address_group_feeds_set_one_and_the_country() -> None:
    header = ["Shipping City", "Billing City", "Billing Country", "Shipping Country", "Email"]
    plan = build_plan(header)
    assert plan.mapped["Billing City"] == FieldTarget("city", 0)
    assert plan.mapped["Billing Country"] == FieldTarget("country")
    assert plan.groups["Billing City"] == "billing"
    assert dict(plan.not_sent) == {
        "Shipping City": "lower-precedence address group",
        "Shipping Country": "lower-precedence address group",
    }


def test_unqualified_and_mailing_columns_rank_above_billing() -> None:
    plan = build_plan(["Billing Street", "Street", "Mailing City", "Billing City", "Country"])
    assert set(plan.mapped) == {"Street", "Mailing City", "Country"}


def test_address_parts_of_two_places_never_mix() -> None:
    # The mailing group has no street: the billing street is not borrowed.
    plan = build_plan(["Mailing City", "Billing Street", "Mailing Country"])
    assert "Billing Street" not in plan.mapped


def test_a_country_comes_from_a_lower_group_rather_than_none() -> None:
    # The country decides consent: a billing country beats the deployment's default.
    plan = build_plan(["Mailing City", "Billing Country", "Email"])
    assert plan.mapped["Billing Country"] == FieldTarget("country")
    assert [w["code"] for w in plan.warnings] == ["country_from_lower_address_group"]


def test_mobile_feeds_set_one_and_other_phones_the_next_sets() -> None:
    plan = build_plan(["Work Phone", "Phone", "Home Phone", "Mobile"])
    assert {c: t.pii_set for c, t in plan.mapped.items()} == {
        "Mobile": 0,
        "Phone": 1,
        "Work Phone": 2,
        "Home Phone": 3,
    }


def test_the_unqualified_email_feeds_set_one() -> None:
    plan = build_plan(["Work Email", "Email", "Email 2"])
    assert {c: t.pii_set for c, t in plan.mapped.items()} == {
        "Work Email": 2,
        "Email": 0,
        "Email 2": 1,
    }


@pytest.mark.parametrize(
    ("header", "winner"),
    [
        (["Id", "Record ID", "Customer ID", "external_id"], "external_id"),
        (["Id", "Klaviyo ID", "Record ID", "Contact ID"], "Contact ID"),
        (["Klaviyo ID", "Record ID"], "Record ID"),
        (["Id", "braze_id"], "Id"),  # same rank: the first column
    ],
)
def test_one_external_id_wins_by_rank(header: list[str], winner: str) -> None:
    plan = build_plan(header)
    assert [c for c, t in plan.mapped.items() if t.field == "external_id"] == [winner]
    assert sorted(plan.duplicates) == sorted(set(header) - {winner})


def test_one_order_id_wins_by_rank() -> None:
    plan = build_plan(["Receipt #", "Order #", "dedupe_id"])
    assert plan.mapped == {"dedupe_id": FieldTarget("dedupe_id")}


def test_a_configured_column_wins_over_detection() -> None:
    plan = build_plan(["Billing City", "City"], {"columns": {"Billing City": "city"}})
    assert plan.mapped == {"Billing City": FieldTarget("city", 0)}
    assert plan.sources["Billing City"] == "config"
    assert plan.duplicates == ["City"]


# --- properties -----------------------------------------------------------------------------------

EVERY_NAME = sorted({name for header, _ in GOLDEN.values() for name in header})
SEPARATORS = st.sampled_from([" ", "_", "-", ".", "", "  ", " - "])


@st.composite
def respelled(draw: st.DrawFn, name: str) -> str:
    """``name`` as another export might spell it: other case, other separators."""
    words = [word for word in re.split(r"[ _\-.]+", name) if word]
    cased = [
        draw(st.sampled_from([word.lower(), word.upper(), word.title(), word])) for word in words
    ]
    return draw(SEPARATORS).join(cased)


@given(st.sampled_from(EVERY_NAME).flatmap(lambda name: st.tuples(st.just(name), respelled(name))))
def test_detection_is_invariant_to_case_spacing_and_punctuation(pair: tuple[str, str]) -> None:
    name, spelling = pair
    assert classify_column(spelling) == classify_column(name)
    assert classify_column(spelling, orders=True) == classify_column(name, orders=True)


HEADER_NAMES = st.one_of(
    st.sampled_from(EVERY_NAME),
    st.sampled_from(EVERY_NAME).flatmap(respelled),
    st.sampled_from(["Email 2", "phone_3", "sha256_email", "Email SHA256", "Work Email", "cell"]),
    st.text(max_size=8),
)
MAPPINGS = st.sampled_from(
    [
        None,
        {"columns": {"Email": "email", "Billing City": "city"}},
        {"columns": {"Mobile": "phone_2", "Customer ID": "external_id"}, "hashed": ["Mobile"]},
        {"ignore": ["Email", "Phone"]},
    ]
)


@settings(max_examples=300)
@given(st.lists(HEADER_NAMES, max_size=25, unique=True), MAPPINGS)  # readers refuse repeats
def test_no_header_ever_makes_two_columns_feed_one_field(
    header: list[str], mapping: dict[str, object] | None
) -> None:
    plan = build_plan(header, mapping)
    slots = [(t.field, t.pii_set) for t in plan.mapped.values()]
    assert len(slots) == len(set(slots))
    plan.layout_for(tuple(header))  # asserts the same by position
    # Every distinct column is accounted for exactly once.
    outcomes = [
        *plan.mapped, *plan.ignored, *(c for c, _ in plan.not_sent), *plan.unknown,
    ]  # fmt: skip
    assert sorted(outcomes) == sorted(set(header))
    # Every set the plan feeds is below the limit, and set 1's address is one group's.
    assert all(t.pii_set is None or t.pii_set < 10 for t in plan.mapped.values())
    groups = {
        classify_column(c).tier
        for c, t in plan.mapped.items()
        if t.field in {"address", "city", "state", "postal"} and plan.sources[c] == "detected"
    }
    assert len(groups) <= 1
