"""Specification of adm_ingest.mapping: config validation, header auto-detection, and the
per-record mapping of source columns into attributes and PII sets."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.mapping import (
    ATTRIBUTE_FIELDS,
    FieldTarget,
    MappingConfig,
    MappingError,
    build_plan,
    detect_column,
    parse_target,
)
from adm_ingest.records import PII_FIELDS
from tests.record_support import Mapped, Record, apply

# --- auto-detection ------------------------------------------------------------------------------

DETECTED = {
    "Email": FieldTarget("email", 0),
    "Email Address": FieldTarget("email", 0),
    "e-mail": FieldTarget("email", 0),
    "EMAIL_ADDRESS": FieldTarget("email", 0),
    "mobile": FieldTarget("phone", 0),
    "Cell": FieldTarget("phone", 0),
    "Phone Number": FieldTarget("phone", 0),
    "zip_code": FieldTarget("postal", 0),
    "postcode": FieldTarget("postal", 0),
    "Postal Code": FieldTarget("postal", 0),
    "surname": FieldTarget("last_name", 0),
    "Family Name": FieldTarget("last_name", 0),
    "given name": FieldTarget("first_name", 0),
    "First Name": FieldTarget("first_name", 0),
    "street": FieldTarget("address", 0),
    "address1": FieldTarget("address", 0),
    "Address Line 1": FieldTarget("address", 0),
    "Province": FieldTarget("state", 0),
    "city": FieldTarget("city", 0),
    "country_code": FieldTarget("country"),
    "ip_address": FieldTarget("ip"),
    "gpp_string": FieldTarget("gpp"),
    "tcf_string": FieldTarget("tcf"),
    "event_time": FieldTarget("timestamp"),
    "order_id": FieldTarget("dedupe_id"),
    "transaction_id": FieldTarget("dedupe_id"),
    "revenue": FieldTarget("value"),
    "amount": FieldTarget("value"),
    "currency_code": FieldTarget("currency"),
    "quantity": FieldTarget("units"),
    "IDFA": FieldTarget("maid"),
    "gaid": FieldTarget("maid"),
    "adid": FieldTarget("maid"),
    "LiveRamp ID": FieldTarget("ramp_id"),
    "ramp_id": FieldTarget("ramp_id"),
    "customer_id": FieldTarget("external_id"),
    "user_id": FieldTarget("external_id"),
    "CRM ID": FieldTarget("external_id"),
    "sha256_email": FieldTarget("email", 0, hashed=True),
    "hashed_email": FieldTarget("email", 0, hashed=True),
    "Email SHA256": FieldTarget("email", 0, hashed=True),
    "phone_hash": FieldTarget("phone", 0, hashed=True),
    "Email 2": FieldTarget("email", 1),
    "email_2": FieldTarget("email", 1),
    "phone3": FieldTarget("phone", 2),
    "sha256_email_2": FieldTarget("email", 1, hashed=True),
    "amzn_user_data": FieldTarget("amzn_user_data"),
    "data_processing_options": FieldTarget("data_processing"),
    # Never mapped: unknown names, second street lines, hashed attributes, set 11+, set 0.
    "notes": None,
    "Address Line 2": None,
    "address2": None,
    "hashed_customer_id": None,
    "email_11": None,
    "email_0": None,
    "sha256": None,
    "": None,
    # Ambiguous alone (a state or a sales region like "EMEA"): not mapped; see below.
    "region": None,
}


@pytest.mark.parametrize(("column", "target"), DETECTED.items())
def test_header_auto_detection(column: str, target: FieldTarget | None) -> None:
    assert detect_column(column) == target


def test_auto_detection_maps_a_typical_crm_export() -> None:
    header = ["Customer ID", "E-Mail", "Mobile", "First Name", "Surname", "Zip", "Notes", "Email 2"]
    plan = build_plan(header)
    record = Record(
        3,
        {
            "Customer ID": " C-17 ",
            "E-Mail": "Jane@Example.com",
            "Mobile": "",
            "First Name": "Jane",
            "Surname": "  ",
            "Zip": "10001",
            "Notes": "call after 5",
            "Email 2": "jd@work.example",
        },
    )
    assert apply(plan, record) == Mapped(
        line=3,
        attributes={"external_id": "C-17"},
        pii_sets=[
            {"email": "Jane@Example.com", "first_name": "Jane", "postal": "10001"},
            {"email": "jd@work.example"},
        ],
    )
    # "Notes" is a column CRMs export: recognised, reported as not sent (never unknown).
    assert plan.unknown == []
    assert plan.not_sent == [("Notes", "not an identifier ADM matches on")]


def test_two_columns_detected_as_the_same_pii_field_become_two_sets() -> None:
    plan = build_plan(["email", "Email Address", "phone"])
    mapped = apply(plan, Record(2, {"email": "a@x", "Email Address": "b@x", "phone": "1"}))
    assert mapped.pii_sets == [{"email": "a@x", "phone": "1"}, {"email": "b@x"}]


def test_a_second_column_for_an_attribute_is_not_sent() -> None:
    plan = build_plan(["order_id", "transaction_id"])
    mapped = apply(plan, Record(2, {"order_id": "o1", "transaction_id": "t1"}))
    assert mapped.attributes == {"dedupe_id": "o1"}
    assert plan.duplicates == ["transaction_id"]


# --- configured mapping ---------------------------------------------------------------------------

CONFIG = {
    "columns": {"E-Mail": "email", "Cell": "phone", "Alt Email": "email_2", "Ref": "external_id"},
    "hashed": ["E-Mail"],
    "ignore": ["notes", "ip"],
    "defaults": {"country": "DE"},
}
DIGEST = "a" * 64


def test_configured_columns_hashed_ignored_defaults_and_unknown() -> None:
    header = ["E-Mail", "Cell", "Alt Email", "Ref", "notes", "ip", "country", "favourite colour"]
    plan = build_plan(header, CONFIG)
    record = Record(
        9,
        {
            "E-Mail": DIGEST,
            "Cell": "+49 30 1234",
            "Alt Email": "alt@x.de",
            "Ref": "r-1",
            "notes": "VIP",
            "ip": "10.0.0.1",
            "country": "",
            "favourite colour": "blue",
        },
    )
    assert apply(plan, record) == Mapped(
        line=9,
        attributes={"country": "DE", "external_id": "r-1"},
        pii_sets=[{"email": DIGEST, "phone": "+49 30 1234"}, {"email": "alt@x.de"}],
        hashed=frozenset({(0, "email")}),
    )
    # A value in the record wins over the default.
    assert apply(plan, Record(10, {"country": " fr "})).attributes == {"country": "fr"}
    assert plan.ignored == ["notes", "ip"]
    assert plan.unknown == ["favourite colour"]


def test_a_layout_is_the_plan_by_column_position_made_once_per_header() -> None:
    header = ("E-Mail", "Cell", "Alt Email", "Ref", "notes", "ip", "country", "favourite colour")
    plan = build_plan(header, CONFIG)
    layout = plan.layout_for(header)
    assert plan.layout_for(tuple(list(header))) is layout  # an equal header: the same layout
    assert layout.defaults == {"country": "DE"}
    assert layout.attributes == ((3, "external_id"), (6, "country"))
    # PII sets in set order; in each, (column index, field, declared hashed) in column order.
    assert layout.pii_sets == (
        ((0, "email", True), (1, "phone", False)),
        ((2, "email", False),),
    )


def test_hashed_marks_follow_the_sets_after_empty_sets_are_dropped() -> None:
    plan = build_plan(["e1", "e2"], {"columns": {"e1": "email", "e2": "email_2"}, "hashed": ["e2"]})
    mapped = apply(plan, Record(2, {"e1": "", "e2": DIGEST}))
    assert mapped.pii_sets == [{"email": DIGEST}]
    assert mapped.hashed == frozenset({(0, "email")})


def test_hashed_can_name_an_auto_detected_column() -> None:
    plan = build_plan(["email"], {"hashed": ["email"]})
    assert apply(plan, Record(2, {"email": DIGEST})).hashed == frozenset({(0, "email")})


def test_auto_detection_can_be_switched_off() -> None:
    plan = build_plan(["email", "mail2"], {"columns": {"mail2": "email"}, "auto_detect": False})
    mapped = apply(plan, Record(2, {"email": "a@x", "mail2": "b@x"}))
    assert mapped.pii_sets == [{"email": "b@x"}]
    assert plan.unknown == ["email"]


def test_a_record_with_nothing_mapped_has_no_sets() -> None:
    plan = build_plan(["email", "x"])
    assert apply(plan, Record(4, {"email": " ", "x": "y"})) == Mapped(4, {}, [])


def test_json_records_are_mapped_without_a_header() -> None:
    plan = build_plan(None, {"columns": {"mail": "email"}})
    first = apply(plan, Record(1, {"mail": "a@x", "customer_id": "7"}))
    second = apply(plan, Record(2, {"other": "z", "phone": "5"}))
    assert first == Mapped(1, {"external_id": "7"}, [{"email": "a@x"}])
    assert second == Mapped(2, {}, [{"phone": "5"}])
    assert list(plan.mapped) == ["mail", "customer_id", "phone"]
    assert plan.unknown == ["other"]


def test_describe_names_columns_and_never_values() -> None:
    header = ["E-Mail", "Cell", "Alt Email", "notes", "order_id", "transaction_id", "x"]
    plan = build_plan(header, CONFIG)
    apply(plan, Record(2, dict.fromkeys(header, "secret-value@example.com")))
    text = plan.describe()
    assert "secret" not in text
    assert text.splitlines() == [
        "columns used:",
        "  E-Mail    -> email (PII set 1, hashed)",
        "  Cell      -> phone (PII set 1)",
        "  Alt Email -> email (PII set 2)",
        "  order_id  -> dedupe_id",
        "defaults: country",
        "ignored (configured): notes",
        "not sent (duplicate field): transaction_id",
        "not sent (unknown): x",
        "configured but missing from the file: Ref",
        "warning (configured_column_missing): configured column 'Ref' (external_id) is not in"
        " the file; nothing feeds external_id",
    ]


# --- config validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "must be a JSON object"),
        ({"colums": {}}, "unknown mapping config key 'colums'"),
        ({"columns": ["email"]}, "'columns' must be an object of strings"),
        ({"columns": {"a": 1}}, "'columns' must be an object of strings"),
        ({"columns": {"Mail": "e_mail"}}, r"columns\['Mail'\]: unknown target field 'e_mail'"),
        ({"columns": {"Ref": "external_id_2"}}, r"columns\['Ref'\]: unknown target field"),
        ({"columns": {"M": "email_11"}}, r"columns\['M'\]: .*numbered 1..10"),
        ({"columns": {"M": "email_0"}}, r"columns\['M'\]: .*numbered 1..10"),
        ({"columns": {"a": "email", "b": "email_1"}}, r"columns\['b'\]: .*already mapped from 'a'"),
        ({"columns": {"a": "email"}, "ignore": ["a"]}, r"columns\['a'\]: .*also in 'ignore'"),
        ({"hashed": "a"}, "'hashed' must be a list of column names"),
        ({"ignore": [1]}, "'ignore' must be a list of column names"),
        ({"columns": {"a": "country"}, "hashed": ["a"]}, "hashed: 'a' is mapped to a non-PII"),
        ({"hashed": ["a"], "ignore": ["a"]}, "hashed: 'a' is also in 'ignore'"),
        ({"defaults": {"email": "x"}}, r"defaults\['email'\]: only non-PII"),
        ({"defaults": {"colour": "x"}}, r"defaults\['colour'\]: only non-PII"),
        ({"defaults": {"country": " "}}, r"defaults\['country'\]: the default is empty"),
        ({"auto_detect": "yes"}, "'auto_detect' must be true or false"),
    ],
)
def test_invalid_configs_name_the_bad_key(config: object, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        build_plan(["a", "b"], config)  # type: ignore[arg-type]


def test_hashed_column_detected_as_an_attribute_is_rejected_with_the_header() -> None:
    with pytest.raises(MappingError, match="hashed: 'country' is detected as non-PII"):
        build_plan(["country"], {"hashed": ["country"]})


def test_config_from_json() -> None:
    config = MappingConfig.from_json(b'{"columns": {"Mail": "email_3"}}')
    assert config.columns == {"Mail": FieldTarget("email", 2)}
    with pytest.raises(MappingError, match="not valid JSON"):
        MappingConfig.from_json("{columns")


@pytest.mark.parametrize("field", [*PII_FIELDS, *ATTRIBUTE_FIELDS])
def test_every_canonical_field_is_a_target(field: str) -> None:
    target = parse_target(field)
    assert (target.field, target.pii_set) == (field, None if field in ATTRIBUTE_FIELDS else 0)


# --- properties -----------------------------------------------------------------------------------

columns = st.sampled_from(
    ["email", "Email 2", "phone", "cell", "zip", "country", "order_id", "notes", "misc", "E3"]
)
values = st.sampled_from(["", " ", "v", " w ", "x y", "\t"])


@given(st.dictionaries(columns, values, min_size=1))
def test_apply_keeps_every_mapped_value_once_and_nothing_else(row: dict[str, str]) -> None:
    plan = build_plan(list(row), {"columns": {"E3": "email_3"}})
    mapped = apply(plan, Record(1, row))
    sent = [*mapped.attributes.values(), *(v for pii in mapped.pii_sets for v in pii.values())]
    expected = [raw.strip() for col, raw in row.items() if col in plan.mapped and raw.strip()]
    assert sorted(sent) == sorted(expected)
    assert all(mapped.pii_sets), "no empty PII set is kept"
    assert "notes" not in plan.mapped and "misc" not in plan.mapped


# --- configured columns the file lacks ----------------------------------------------------------

CRM_MAPPING = {
    "columns": {"Customer ID": "external_id", "Email Address": "email", "Order Date": "timestamp"},
    "defaults": {"country": "US"},
}


def test_a_configured_column_missing_from_the_header_leaves_its_field_to_detection() -> None:
    # The removals file of an audience whose CREATE mapping names other columns.
    plan = build_plan(["customer_id", "email", "event_time"], CRM_MAPPING)
    assert plan.mapped == {
        "customer_id": FieldTarget("external_id"),
        "email": FieldTarget("email", 0),
        "event_time": FieldTarget("timestamp"),
    }
    assert plan.missing == ["Customer ID", "Email Address", "Order Date"]
    assert [w["message"] for w in plan.warnings] == [
        "configured column 'Customer ID' (external_id) is not in the file;"
        " external_id is auto-detected from 'customer_id'",
        "configured column 'Email Address' (email) is not in the file;"
        " email is auto-detected from 'email'",
        "configured column 'Order Date' (timestamp) is not in the file;"
        " timestamp is auto-detected from 'event_time'",
    ]
    assert (
        build_plan(["customer_id"], CRM_MAPPING)
        .warnings[1]["message"]
        .endswith("nothing feeds email")
    )


def test_without_a_header_the_first_records_columns_are_the_header() -> None:
    plan = build_plan(None, CRM_MAPPING)
    first = apply(plan, Record(1, {"customer_id": "c-1", "email": "a@x"}))
    assert first.attributes == {"country": "US", "external_id": "c-1"}
    assert plan.missing == ["Customer ID", "Email Address", "Order Date"]
    # A configured column first seen later feeds its field when nothing took it...
    later = apply(plan, Record(2, {"Order Date": "2026-11-27", "email": "b@x"}))
    assert later.attributes["timestamp"] == "2026-11-27"
    assert plan.missing == ["Customer ID", "Email Address"]
    # ...and is not sent (reported) when a detected column already feeds it.
    apply(plan, Record(3, {"Customer ID": "c-3"}))
    assert ("Customer ID", "its configured field is already fed by an earlier column") in (
        plan.not_sent
    )
    assert plan.missing == ["Email Address"]


def test_a_header_resolved_from_the_first_block_resolves_as_one_given_up_front() -> None:
    header = ("Billing City", "Mailing City", "Phone", "Mobile", "customer_id")
    by_block = build_plan(None, CRM_MAPPING)
    by_block.layout_for(header)
    assert by_block.summary() == build_plan(header, CRM_MAPPING).summary()


# --- summary() and describe() ---------------------------------------------------------------------


def test_summary_lists_every_column_by_name_only() -> None:
    header = ["E-Mail", "Cell", "Mobile", "notes", "Mailing City", "Billing City", "Emial", "x",
              "Full Name", "Address 2"]  # fmt: skip
    plan = build_plan(header, CONFIG)
    apply(plan, Record(2, dict.fromkeys(header, "secret-value@example.com")))
    summary = plan.summary()
    assert summary == {
        "columns": [
            {"column": "E-Mail", "field": "email", "pii_set": 1, "hashed": True,
             "source": "config"},
            {"column": "Cell", "field": "phone", "pii_set": 1, "hashed": False,
             "source": "config"},
            {"column": "Mobile", "field": "phone", "pii_set": 2, "hashed": False,
             "source": "detected"},
            {"column": "Mailing City", "field": "city", "pii_set": 1, "hashed": False,
             "source": "detected", "group": "mailing"},
        ],
        "ignored": ["notes"],
        "unknown": [
            {"column": "Emial", "did_you_mean": ["email"]},
            {"column": "x", "did_you_mean": []},
            {"column": "Full Name", "did_you_mean": ["first_name", "last_name"],
             "hint": "a full name is not split into first and last name: map first_name /"
                     " last_name columns"},
        ],
        "not_sent": [
            {"column": "Billing City", "why": "lower-precedence address group"},
            {"column": "Address 2", "why": "second street line"},
        ],
        "missing": ["Alt Email", "Ref"],
        "defaults": ["country"],
        "warnings": [
            {"code": "configured_column_missing",
             "message": "configured column 'Alt Email' (email_2) is not in the file; nothing"
                        " feeds email_2"},
            {"code": "configured_column_missing",
             "message": "configured column 'Ref' (external_id) is not in the file; nothing"
                        " feeds external_id"},
            {"code": "unknown_column",
             "message": "column 'Emial' is not sent (did you mean email?)"},
            {"code": "unknown_column",
             "message": "column 'Full Name' is not sent: a full name is not split into first"
                        " and last name: map first_name / last_name columns (did you mean"
                        " first_name / last_name?)"},
        ],
    }  # fmt: skip
    text = orjson.dumps(summary).decode() + plan.describe()
    assert "secret" not in text


def test_describe_is_the_text_of_the_summary() -> None:
    plan = build_plan(["Mailing City", "Billing City", "Emial", "Address 2"])
    assert plan.describe().splitlines() == [
        "columns used:",
        "  Mailing City -> city (PII set 1)  [mailing]",
        "not sent (lower-precedence address group): Billing City",
        "not sent (second street line): Address 2",
        "not sent (unknown): Emial (did you mean email?)",
        "warning (unknown_column): column 'Emial' is not sent (did you mean email?)",
    ]


def test_a_header_without_any_identifier_is_a_warning() -> None:
    codes = [w["code"] for w in build_plan(["notes", "Total"]).warnings]
    assert codes == ["no_identifier_column"]
    assert build_plan(None).warnings == []  # nothing seen yet: nothing to say


@pytest.mark.parametrize(
    ("column", "suggestions"),
    [
        ("Emial", ["email"]),
        ("Frist Name", ["first_name"]),
        ("Zipcod", ["postal"]),
        ("Phon", ["phone"]),
        ("Contry", ["country"]),
        ("favourite colour", []),
        ("Region", ["state"]),
    ],
)
def test_unknown_columns_get_did_you_mean_suggestions(column: str, suggestions: list[str]) -> None:
    plan = build_plan([column, "email_x1"])
    assert plan.suggestions[column] == suggestions


def test_with_auto_detection_off_a_known_name_suggests_its_field() -> None:
    plan = build_plan(["Mobile"], {"auto_detect": False})
    assert plan.summary()["unknown"] == [{"column": "Mobile", "did_you_mean": ["phone"]}]


# --- config options for value parsing ---------------------------------------------------------------


def test_value_parsing_options_are_exposed() -> None:
    config = MappingConfig.from_dict(
        {"decimal": ",", "timezone": "Europe/Berlin", "date_order": "DMY", "strict_country": True}
    )
    assert (config.decimal, config.timezone, config.date_order, config.strict_country) == (
        ",",
        "Europe/Berlin",
        "DMY",
        True,
    )
    absent = MappingConfig.from_dict({})
    assert (absent.decimal, absent.timezone, absent.date_order, absent.strict_country) == (
        None,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"decimal": ";"}, "'decimal' must be ',' or '.'"),
        ({"decimal": 1}, "'decimal' must be ',' or '.'"),
        ({"timezone": "Mars/Olympus"}, "'timezone': 'Mars/Olympus' is not an IANA time zone"),
        ({"timezone": "../etc/passwd"}, "'timezone': '../etc/passwd' is not an IANA"),
        ({"timezone": 5}, "'timezone' must be an IANA time zone name"),
        ({"date_order": "dmy"}, "'date_order' must be 'DMY' or 'MDY' or 'YMD'"),
        ({"strict_country": "yes"}, "'strict_country' must be true or false"),
        ({"defaults": {"country": "Narnia"}}, r"defaults\['country'\]: 'Narnia' is not a known"),
        (
            {"defaults": {"amzn_user_data": "maybe"}},
            r"defaults\['amzn_user_data'\]: must be GRANTED",
        ),
    ],
)
def test_invalid_options_name_the_key(config: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        MappingConfig.from_dict(config)


def test_valid_defaults_are_kept_as_written() -> None:
    config = MappingConfig.from_dict(
        {"defaults": {"country": "Germany", "amzn_ad_storage": "granted"}}
    )
    assert config.defaults == {"country": "Germany", "amzn_ad_storage": "granted"}
