"""Specification of records → XDM rows: mapping, coercion, identities, events, encoding."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.aep.xdm_records import XdmMapping, XdmMappingError, XdmRowBuilder
from adm_ingest.aep.xdm_validation import compile_schema, validate
from adm_ingest.records import Reason, Rejection
from tests.aep.xdm_schemas import EVENT_SCHEMA, PROFILE_SCHEMA, TENANT

PROFILE = compile_schema(PROFILE_SCHEMA)
EVENT = compile_schema(EVENT_SCHEMA)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


SALESFORCE_HEADER = (
    "First Name",
    "Last Name",
    "Email",
    "Mobile",
    "Mailing Street",
    "Mailing City",
    "Mailing State/Province",
    "Mailing Zip/Postal Code",
    "Mailing Country",
    "Loyalty Points",
    "Member Since",
    "Lead Source",
    "Favourite Colour",
)
SALESFORCE_ROW = [
    "Jane",
    "Smith",
    "  JSmith@Example.com ",
    "(415) 555-0123",
    "1 Main St",
    "Springfield",
    "IL",
    "62701",
    "United States",
    "1200",
    "2024-03-05 10:30:00+01:00",
    "Web",
    "blue",
]


def profile_mapping(**extra: Any) -> XdmMapping:
    config: dict[str, Any] = {
        "class": "profile",
        "tenant": "acmecorp",
        "columns": {
            "Loyalty Points": "_{tenant}.loyalty.points",
            "Member Since": "_{tenant}.loyalty.joined",
        },
        "identities": [
            {"column": "Email", "namespace": "Email_LC_SHA256", "primary": True},
            {"column": "Mobile", "namespace": "Phone_SHA256"},
        ],
    }
    config.update(extra)
    return XdmMapping.from_config(config)


def built(builder: XdmRowBuilder, header: tuple[str, ...], row: list[str]) -> Any:
    builder.layout_for(header)
    return builder.build(7, row)


# -- golden rows -------------------------------------------------------------------------------


def test_golden_digests_are_sha256_of_adobes_normalized_forms() -> None:
    assert sha("jsmith@example.com") == (
        "6e3913852f512d76acff15d1e402c7502a5bbe6101745a7120a2a4833ebd2350"
    )
    assert sha("14155550123") == "413ba75461ab5f99d36820e561ea97e2bd80f9cb586f7ecea6cf4c496518950a"


def test_salesforce_profile_row_golden() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    row = built(builder, SALESFORCE_HEADER, SALESFORCE_ROW)
    assert row == {
        "person": {"name": {"firstName": "Jane", "lastName": "Smith"}},
        "personalEmail": {"address": "JSmith@Example.com"},
        "mobilePhone": {"number": "+14155550123"},
        "homeAddress": {
            "street1": "1 Main St",
            "city": "Springfield",
            "stateProvince": "IL",
            "postalCode": "62701",
            "countryCode": "US",
        },
        TENANT: {"loyalty": {"points": 1200, "joined": "2024-03-05T09:30:00Z"}},
        "identityMap": {
            # §10: Email_LC_SHA256 = SHA-256 of the trimmed, lower-cased address.
            "Email_LC_SHA256": [
                {
                    "id": "6e3913852f512d76acff15d1e402c7502a5bbe6101745a7120a2a4833ebd2350",
                    "primary": True,
                }
            ],
            # §10: Phone_SHA256 = SHA-256 of the digits with the country calling code, no "+".
            "Phone_SHA256": [
                {
                    "id": "413ba75461ab5f99d36820e561ea97e2bd80f9cb586f7ecea6cf4c496518950a",
                    "primary": False,
                }
            ],
        },
    }
    assert validate(PROFILE, row) == []


def test_hubspot_profile_row_with_raw_identities() -> None:
    mapping = XdmMapping.from_config(
        {
            "class": "profile",
            "identities": [
                {"column": "Email", "namespace": "Email", "primary": True},
                {"column": "Phone Number", "namespace": "Phone_E.164"},
            ],
            "default_country": "GB",
        }
    )
    header = ("First Name", "Last Name", "Email", "Phone Number", "Postal Code", "Country/Region")
    row = built(
        XdmRowBuilder(mapping, PROFILE),
        header,
        ["Ada", "Lovelace", "ada@example.org", "020 7031 3000", "SW1A 1AA", "United Kingdom"],
    )
    assert row == {
        "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}},
        "personalEmail": {"address": "ada@example.org"},
        "mobilePhone": {"number": "+442070313000"},
        "homeAddress": {"postalCode": "SW1A 1AA", "countryCode": "GB"},
        "identityMap": {
            "Email": [{"id": "ada@example.org", "primary": True}],
            "Phone_E.164": [{"id": "+442070313000", "primary": False}],
        },
    }
    assert validate(PROFILE, row) == []


def test_email_lc_sha256_matches_adobes_documented_example() -> None:
    # Adobe's hashing guidance (AEP-NOTES §10) trims, lower-cases, hashes, writes lowercase hex.
    mapping = XdmMapping.from_config(
        {
            "class": "profile",
            "auto_detect": False,
            "identities": [{"column": "e", "namespace": "Email_LC_SHA256", "primary": True}],
        }
    )
    row = built(XdmRowBuilder(mapping), ("e",), ["  Foo.Bar+Tag@Example.COM  "])
    assert row["identityMap"]["Email_LC_SHA256"][0]["id"] == sha("foo.bar+tag@example.com")


def test_declared_hashed_identity_is_checked_and_lowercased() -> None:
    mapping = XdmMapping.from_config(
        {
            "class": "profile",
            "auto_detect": False,
            "identities": [{"column": "h", "namespace": "Email_LC_SHA256", "hashed": True}],
        }
    )
    builder = XdmRowBuilder(mapping)
    digest = sha("a@b.com")
    assert built(builder, ("h",), [digest.upper()])["identityMap"] == {
        "Email_LC_SHA256": [{"id": digest, "primary": False}]
    }
    rejected = builder.build(3, ["not-a-digest"])
    assert rejected == Rejection(
        3, Reason.INVALID_VALUE, "identityMap.Email_LC_SHA256: not an identity"
    )


def test_experience_event_golden_row() -> None:
    mapping = XdmMapping.from_config(
        {
            "class": "experience_event",
            "columns": {
                "Event Type": "eventType",
                "Total": "commerce.order.priceTotal",
                "Currency": "commerce.order.currencyCode",
            },
            "identities": [{"column": "Email", "namespace": "Email", "primary": True}],
            "id_column": "Event ID",
        }
    )
    builder = XdmRowBuilder(mapping, EVENT, clock=lambda: NOW)
    header = ("Event ID", "Event Time", "Event Type", "Email", "Total", "Currency")
    row = built(
        builder,
        header,
        ["ev-1", "2026-11-30T10:15:00.123+01:00", "commerce.purchases", "j@x.com", "19.99", "EUR"],
    )
    assert row == {
        "_id": "ev-1",
        "timestamp": "2026-11-30T09:15:00.123Z",
        "eventType": "commerce.purchases",
        "commerce": {"order": {"priceTotal": 19.99, "currencyCode": "EUR"}},
        "identityMap": {"Email": [{"id": "j@x.com", "primary": True}]},
    }
    assert validate(EVENT, row) == []


# -- events: _id and timestamp -------------------------------------------------------------------

EVENT_MAPPING = XdmMapping.from_config(
    {"class": "experience_event", "columns": {"Type": "eventType"}}
)
EVENT_HEADER = ("Event Time", "Type")


def test_derived_id_is_deterministic_and_content_based() -> None:
    builder = XdmRowBuilder(EVENT_MAPPING, EVENT, clock=lambda: NOW)
    first = built(builder, EVENT_HEADER, ["2026-11-30T09:15:00Z", "commerce.purchases"])
    again = XdmRowBuilder(EVENT_MAPPING, EVENT, clock=lambda: NOW)
    same = built(again, EVENT_HEADER, ["2026-11-30T09:15:00Z", "commerce.purchases"])
    other = builder.build(8, ["2026-11-30T09:15:01Z", "commerce.purchases"])
    content = {"timestamp": "2026-11-30T09:15:00Z", "eventType": "commerce.purchases"}
    assert (
        first["_id"]
        == same["_id"]
        == sha(orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode())
    )
    assert isinstance(other, dict) and other["_id"] != first["_id"]
    # The column order does not change the event's identity.
    swapped = XdmRowBuilder(EVENT_MAPPING, EVENT, clock=lambda: NOW)
    assert (
        built(swapped, EVENT_HEADER[::-1], ["commerce.purchases", "2026-11-30T09:15:00Z"])["_id"]
        == first["_id"]
    )


def test_future_and_missing_timestamps_are_rejected() -> None:
    builder = XdmRowBuilder(EVENT_MAPPING, EVENT, clock=lambda: NOW)
    assert built(builder, EVENT_HEADER, ["2026-12-01T12:00:01Z", "x"]) == Rejection(
        7, Reason.TIMESTAMP_IN_FUTURE, "timestamp: in the future"
    )
    assert builder.build(8, ["", "x"]) == Rejection(
        8, Reason.MISSING_TIMESTAMP, "timestamp: required"
    )
    assert isinstance(builder.build(9, ["2026-12-01T12:00:00Z", "x"]), dict)


# -- coercion --------------------------------------------------------------------------------------

LOYALTY = XdmMapping.from_config(
    {
        "class": "profile",
        "tenant": "acmecorp",
        "auto_detect": False,
        "columns": {
            "points": "_{tenant}.loyalty.points",
            "ratio": "_{tenant}.loyalty.ratio",
            "active": "_{tenant}.loyalty.active",
            "joined": "_{tenant}.loyalty.joined",
            "birth": "person.birthDate",
            "last": "person.name.lastName",
        },
    }
)
LOYALTY_HEADER = ("points", "ratio", "active", "joined", "birth", "last")


@pytest.mark.parametrize(
    ("column", "text", "expected"),
    [
        ("points", "1 200", 1200),
        ("points", "-0", 0),
        # Plain digits take a shortcut past read_number; it must read them as read_number does.
        ("points", "007", 7),
        ("points", "+ 42", 42),
        ("points", "2147483647", 2147483647),
        ("ratio", "-12", -12.0),
        ("ratio", "-0", 0.0),
        ("ratio", "1", 1.0),
        ("ratio", "0.25", 0.25),
        ("ratio", "-1.5", -1.5),
        ("active", "Yes", True),
        ("active", "FALSE", False),
        ("active", "0", False),
        ("joined", "1764494100000", "2025-11-30T09:15:00Z"),
        ("joined", "30/11/2026 10:15", "2026-11-30T10:15:00Z"),
        ("birth", "1990-07-14", "1990-07-14"),
        ("birth", "14.07.1990", "1990-07-14"),
    ],
)
def test_coercion_per_schema_type(column: str, text: str, expected: object) -> None:
    fields = {name: "" for name in LOYALTY_HEADER} | {column: text, "last": "Smith"}
    row = built(XdmRowBuilder(LOYALTY, PROFILE), LOYALTY_HEADER, list(fields.values()))
    assert isinstance(row, dict), row
    path = {"birth": ("person", "birthDate")}.get(column, (TENANT, "loyalty", column))
    value: Any = row
    for part in path:
        value = value[part]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("column", "text", "reason", "detail"),
    [
        ("points", "1,234", Reason.AMBIGUOUS_VALUE, f"{TENANT}.loyalty.points: one"),
        ("points", "12.5", Reason.INVALID_VALUE, f"{TENANT}.loyalty.points: not an integer"),
        ("points", "twelve", Reason.INVALID_VALUE, f"{TENANT}.loyalty.points: not a number"),
        ("points", "-5", Reason.INVALID_XDM, f"{TENANT}.loyalty.points minimum"),
        ("points", "١٢٣", Reason.INVALID_VALUE, f"{TENANT}.loyalty.points: not a number"),
        ("points", "1234567890123456", Reason.INVALID_XDM, f"{TENANT}.loyalty.points maximum"),
        ("ratio", "abc", Reason.INVALID_VALUE, f"{TENANT}.loyalty.ratio: not a number"),
        ("active", "maybe", Reason.INVALID_VALUE, f"{TENANT}.loyalty.active: not a boolean"),
        ("joined", "03/04/2026", Reason.AMBIGUOUS_TIMESTAMP, f"{TENANT}.loyalty.joined: day"),
        ("joined", "soon", Reason.INVALID_TIMESTAMP, f"{TENANT}.loyalty.joined: not a"),
        ("birth", "1990-07-14 10:00", Reason.INVALID_TIMESTAMP, "person.birthDate: a date-time"),
    ],
)
def test_coercion_rejections(column: str, text: str, reason: str, detail: str) -> None:
    fields = {name: "" for name in LOYALTY_HEADER} | {column: text, "last": "Smith"}
    rejection = built(XdmRowBuilder(LOYALTY, PROFILE), LOYALTY_HEADER, list(fields.values()))
    assert type(rejection) is Rejection
    assert rejection.reason == reason and rejection.detail.startswith(detail)
    assert text not in rejection.detail


def test_decimal_and_date_order_options_resolve_ambiguity() -> None:
    mapping = XdmMapping.from_config(
        {**_loyalty_config(), "decimal": ",", "date_order": "DMY", "timezone": "Europe/Berlin"}
    )
    fields = {name: "" for name in LOYALTY_HEADER} | {
        "points": "1.234",
        "joined": "03/04/2026 10:00",
        "last": "Smith",
    }
    row = built(XdmRowBuilder(mapping, PROFILE), LOYALTY_HEADER, list(fields.values()))
    assert row[TENANT]["loyalty"] == {"points": 1234, "joined": "2026-04-03T08:00:00Z"}


def _loyalty_config() -> dict[str, Any]:
    return {
        "class": "profile",
        "tenant": "acmecorp",
        "auto_detect": False,
        "columns": {
            "points": "_{tenant}.loyalty.points",
            "ratio": "_{tenant}.loyalty.ratio",
            "active": "_{tenant}.loyalty.active",
            "joined": "_{tenant}.loyalty.joined",
            "birth": "person.birthDate",
            "last": "person.name.lastName",
        },
    }


def test_nulls_and_empties_leave_the_key_out() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    fields = ["", "Smith", "   ", "", "", "", "", "", "", "", "", "", ""]
    row = built(builder, SALESFORCE_HEADER, fields)
    # With identities configured, a Profile row without any is rejected (no identity to key on).
    assert row == Rejection(7, Reason.NO_IDENTIFIER, "identityMap: no configured identity")
    no_identities = XdmRowBuilder(profile_mapping(identities=[]), PROFILE)
    assert built(no_identities, SALESFORCE_HEADER, fields) == {
        "person": {"name": {"lastName": "Smith"}}
    }


def test_schema_failures_are_invalid_xdm_with_path_and_rule() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    fields = list(SALESFORCE_ROW)
    fields[SALESFORCE_HEADER.index("Mailing Zip/Postal Code")] = "12345678901"
    assert built(builder, SALESFORCE_HEADER, fields) == Rejection(
        7, Reason.INVALID_XDM, "homeAddress.postalCode maxLength"
    )
    fields = list(SALESFORCE_ROW)
    fields[SALESFORCE_HEADER.index("Last Name")] = ""
    assert builder.build(8, fields) == Rejection(
        8, Reason.INVALID_XDM, "person.name.lastName required"
    )


# -- mapping: detection and reporting --------------------------------------------------------------


def test_unknown_and_not_sent_columns_are_reported() -> None:
    builder = XdmRowBuilder(profile_mapping(ignore=["Lead Source"]), PROFILE)
    builder.layout_for((*SALESFORCE_HEADER, "Emial", "Billing City"))
    summary = builder.summary()
    assert summary["ignored"] == ["Lead Source"]
    assert {"column": "Favourite Colour", "did_you_mean": []} in summary["unknown"]
    assert {"column": "Emial", "did_you_mean": ["email"]} in summary["unknown"]
    assert {"column": "Billing City", "why": "duplicate field"} in summary["not_sent"]
    sources = {entry["column"]: (entry["path"], entry["source"]) for entry in summary["columns"]}
    assert sources["Mailing City"] == ("homeAddress.city", "detected")
    assert sources["Loyalty Points"] == (f"{TENANT}.loyalty.points", "config")
    assert summary["missing"] == []


def test_missing_configured_columns_are_reported() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    builder.layout_for(("Email",))
    assert builder.summary()["missing"] == ["Loyalty Points", "Member Since", "Mobile"]


def test_layout_is_made_once_per_header() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    assert builder.layout_for(SALESFORCE_HEADER) is builder.layout_for(SALESFORCE_HEADER)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "'class'"),
        ({"class": "profile", "colums": {}}, "unknown XDM mapping key 'colums'"),
        ({"class": "profile", "columns": {"a": "_{tenant}.x"}}, "columns['a']: '_{tenant}'"),
        ({"class": "profile", "columns": {"a": "person..name"}}, "columns['a']"),
        ({"class": "profile", "columns": {"a": "identityMap.x"}}, "columns['a']: identityMap"),
        (
            {"class": "profile", "columns": {"a": "person.name", "b": "person.name.firstName"}},
            "columns['b']",
        ),
        ({"class": "profile", "identities": [{"column": "e"}]}, "identities[0].namespace"),
        (
            {
                "class": "profile",
                "identities": [{"column": "e", "namespace": "Email", "hashed": True}],
            },
            "identities[0].hashed",
        ),
        (
            {
                "class": "profile",
                "identities": [
                    {"column": "a", "namespace": "Email", "primary": True},
                    {"column": "b", "namespace": "Phone_E.164", "primary": True},
                ],
            },
            "identities: at most one",
        ),
        ({"class": "profile", "id_column": "x"}, "'id_column'"),
        ({"class": "profile", "default_country": "Atlantis"}, "'default_country'"),
        ({"class": "profile", "date_order": "XYZ"}, "date_order"),
        ({"class": "profile", "ignore": ["a"], "columns": {"a": "person.gender"}}, "ignore"),
    ],
)
def test_config_errors_name_the_field(config: dict[str, Any], message: str) -> None:
    with pytest.raises(XdmMappingError, match=_literal(message)):
        XdmMapping.from_config(config)


def _literal(text: str) -> str:
    import re

    return re.escape(text)


def test_a_configured_path_outside_the_schema_is_a_setup_error() -> None:
    mapping = XdmMapping.from_config(
        {"class": "profile", "columns": {"Zip": "homeAddress.postCode"}}
    )
    with pytest.raises(XdmMappingError, match=r"columns\['Zip'\]: 'homeAddress.postCode'"):
        XdmRowBuilder(mapping, PROFILE)


def test_encode_is_orjson_of_the_row() -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    row = built(builder, SALESFORCE_HEADER, SALESFORCE_ROW)
    assert builder.encode(row) == orjson.dumps(row)
    rejection = Rejection(1, Reason.INVALID_XDM, "x required")
    assert builder.encode(rejection) is rejection


# -- properties ----------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_likely = st.one_of(
    _text,
    st.sampled_from(
        [
            "",
            " ",
            "1,234",
            "12",
            "-3",
            "0.5",
            "yes",
            "03/04/2026",
            "2026-11-30T09:15:00Z",
            "+44 20 7031 3000",
            "a@b.co",
            "US",
            "Deutschland",
            "12345678901",
            "1e5",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_likely, min_size=len(SALESFORCE_HEADER), max_size=len(SALESFORCE_HEADER)))
def test_profile_rows_are_valid_or_rejected_without_values(fields: list[str]) -> None:
    builder = XdmRowBuilder(profile_mapping(), PROFILE)
    row = built(builder, SALESFORCE_HEADER, fields)
    if type(row) is Rejection:
        for value in fields:
            stripped = value.strip()
            if len(stripped) >= 4:
                assert stripped not in row.detail
        if row.reason == Reason.INVALID_XDM:
            assert " " in row.detail
    else:
        assert validate(PROFILE, row) == []
        assert builder.encode(row) == builder.encode(orjson.loads(orjson.dumps(row)))
        again = XdmRowBuilder(profile_mapping(), PROFILE)
        assert again.encode(built(again, SALESFORCE_HEADER, fields)) == builder.encode(row)


@settings(max_examples=200, deadline=None)
@given(st.lists(_likely, min_size=2, max_size=2))
def test_event_rows_are_valid_or_rejected(fields: list[str]) -> None:
    builder = XdmRowBuilder(EVENT_MAPPING, EVENT, clock=lambda: NOW)
    row = built(builder, EVENT_HEADER, fields)
    if type(row) is Rejection:
        assert all(len(v.strip()) < 4 or v.strip() not in row.detail for v in fields)
    else:
        assert validate(EVENT, row) == []
        assert datetime.fromisoformat(row["timestamp"]) <= NOW


def test_phones_without_plus_are_read_in_the_rows_country() -> None:
    mapping = XdmMapping.from_config(
        {
            "class": "profile",
            "identities": [{"column": "Phone", "namespace": "Phone_SHA256", "primary": True}],
        }
    )
    builder = XdmRowBuilder(mapping, PROFILE)
    header = ("Last Name", "Phone", "Country")
    uk = built(builder, header, ["Smith", "020 7031 3000", "GB"])
    assert uk["mobilePhone"] == {"number": "+442070313000"}
    # §10 Phone_SHA256: leading zero removed, country calling code prefixed, no "+".
    assert uk["identityMap"] == {"Phone_SHA256": [{"id": sha("442070313000"), "primary": True}]}
    us = builder.build(8, ["Smith", "(415) 555-0123", ""])  # no country: default_country US
    assert isinstance(us, dict) and us["mobilePhone"] == {"number": "+14155550123"}
    assert builder.build(9, ["Smith", "12", "GB"]) == Rejection(
        9, Reason.INVALID_VALUE, "mobilePhone.number: not a phone number"
    )
