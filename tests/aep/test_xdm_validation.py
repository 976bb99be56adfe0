"""Specification of the pre-upload XDM check: schema → compact form → problems per row."""

from __future__ import annotations

import copy
import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.aep.xdm_validation import (
    UnsupportedSchema,
    ValidatorForm,
    XdmProblem,
    compile_schema,
    validate,
)
from tests.aep.xdm_schemas import EVENT_SCHEMA, PROFILE_SCHEMA, TENANT, event_row, profile_row

PROFILE = compile_schema(PROFILE_SCHEMA)
EVENT = compile_schema(EVENT_SCHEMA)


def reasons(form: ValidatorForm, row: dict[str, Any]) -> list[str]:
    return [problem.reason for problem in validate(form, row)]


def one_field(field: dict[str, Any], *, required: bool = False) -> ValidatorForm:
    schema: dict[str, Any] = {"type": "object", "properties": {"f": field}}
    if required:
        schema["required"] = ["f"]
    return compile_schema(schema)


# -- golden cases, one per rule -----------------------------------------------------------------


def test_a_valid_profile_row_has_no_problem() -> None:
    assert validate(PROFILE, profile_row()) == []


def test_the_reason_names_the_path_and_the_rule() -> None:
    row = profile_row()
    row["homeAddress"]["postalCode"] = "62701-12345"
    assert reasons(PROFILE, row) == ["invalid_xdm: homeAddress.postalCode maxLength"]
    assert validate(PROFILE, row) == [XdmProblem("homeAddress.postalCode", "maxLength")]


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ({"type": "string"}, 5, "type"),
        ({"type": "string"}, None, "null"),
        ({"type": "string"}, "", "empty"),
        ({"type": "string", "minLength": 3}, "ab", "minLength"),
        ({"type": "string", "maxLength": 3}, "abcd", "maxLength"),
        ({"type": "string", "enum": ["a", "b"]}, "c", "enum"),
        ({"type": "string", "pattern": "^[A-Z]{2}$"}, "usa", "pattern"),
        ({"type": "string", "format": "date"}, "2026-02-30", "format"),
        ({"type": "string", "format": "date"}, "20260201", "format"),
        ({"type": "string", "format": "date-time"}, "2018-00-23T22:07:01Z", "format"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T10:00Z", "format"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T10:00:00", "format"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T24:00:00Z", "format"),
        ({"type": "string", "format": "date-time"}, "2026-01-01T10:00:00.1234567890Z", "format"),
        ({"type": "string", "format": "email"}, "jsmith.example.com", "format"),
        ({"type": "string", "format": "email"}, "j smith@example.com", "format"),
        ({"type": "string", "format": "uri"}, "no scheme here", "format"),
        ({"type": "string", "format": "uri-reference"}, "has space", "format"),
        ({"type": "integer"}, True, "type"),
        ({"type": "integer"}, 1.0, "type"),
        ({"type": "integer"}, "1", "type"),
        ({"type": "integer", "minimum": 0}, -1, "minimum"),
        ({"type": "integer", "maximum": 10}, 11, "maximum"),
        ({"type": "integer", "meta:xdmType": "byte"}, 128, "maximum"),
        ({"type": "integer", "meta:xdmType": "short"}, -32769, "minimum"),
        ({"type": "integer", "meta:xdmType": "int"}, 2**31, "maximum"),
        ({"type": "integer", "meta:xdmType": "long"}, 2**53 + 1, "maximum"),
        ({"type": "integer", "enum": [1, 2]}, 3, "enum"),
        ({"type": "number"}, False, "type"),
        ({"type": "number"}, "1.5", "type"),
        ({"type": "number"}, float("nan"), "type"),
        ({"type": "number"}, float("inf"), "type"),
        ({"type": "number", "maximum": 1}, 1.5, "maximum"),
        ({"type": "boolean"}, 1, "type"),
        ({"type": "boolean"}, "true", "type"),
        ({"type": "object", "properties": {}}, [], "type"),
        ({"type": "array", "items": {"type": "string"}}, "a", "type"),
        ({"type": "array", "items": {"type": "string"}, "minItems": 1}, [], "minItems"),
        ({"type": "array", "items": {"type": "string"}, "maxItems": 1}, ["a", "b"], "maxItems"),
    ],
)
def test_each_rule_rejects_its_violation(field: dict[str, Any], value: object, rule: str) -> None:
    assert validate(one_field(field), {"f": value}) == [XdmProblem("f", rule)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ({"type": "string", "format": "date"}, "2024-02-29"),
        ({"type": "string", "format": "date-time"}, "2026-11-30T09:15:00Z"),
        ({"type": "string", "format": "date-time"}, "2026-11-30T09:15:00.123456789+05:30"),
        ({"type": "string", "format": "date-time"}, "2026-11-30t09:15:00-08:00"),
        ({"type": "string", "format": "email"}, "a.b+c@mail.example.co.uk"),
        ({"type": "string", "format": "uri"}, "https://example.com/a?b=c"),
        ({"type": "string", "format": "uri-reference"}, "/relative/path#x"),
        ({"type": "integer", "meta:xdmType": "byte"}, -128),
        ({"type": "integer", "meta:xdmType": "long"}, -(2**53)),
        ({"type": "integer", "minimum": 5, "meta:xdmType": "byte"}, 5),
        ({"type": "number"}, 3),
        ({"type": "number"}, -0.5),
        ({"type": "boolean"}, False),
        ({"type": "boolean", "enum": [True]}, True),
        ({"type": "string", "enum": ["a", "b"]}, "b"),
        # `pattern` is unanchored (JSON Schema / ECMA): a match anywhere in the value passes.
        ({"type": "string", "pattern": "[0-9]"}, "abc1def"),
        ({"type": "object", "additionalProperties": True}, {"anything": [1, {"x": None}]}),
    ],
)
def test_valid_values_pass(field: dict[str, Any], value: object) -> None:
    assert validate(one_field(field), {"f": value}) == []


def test_meta_enum_alone_is_suggested_values_not_a_constraint() -> None:
    row = profile_row()
    row["personalEmail"]["status"] = "pending"  # not among the suggested values
    assert validate(PROFILE, row) == []
    row["person"]["gender"] = "unknown"  # `enum` (with display names in meta:enum) constrains
    assert reasons(PROFILE, row) == ["invalid_xdm: person.gender enum"]


def test_pattern_dollar_is_the_end_of_the_value_as_in_ecma() -> None:
    form = one_field({"type": "string", "pattern": "^[A-Z]{2}$"})
    assert reasons(form, {"f": "US\n"}) == ["invalid_xdm: f pattern"]  # Python's $ would pass
    escaped = one_field({"type": "string", "pattern": r"^\$[0-9]+[$]?$"})
    assert validate(escaped, {"f": "$12$"}) == []


def test_pattern_digit_class_is_ascii_as_in_ecma() -> None:
    form = one_field({"type": "string", "pattern": r"^\d+$"})
    assert validate(form, {"f": "123"}) == []
    assert reasons(form, {"f": "١٢٣"}) == ["invalid_xdm: f pattern"]  # Arabic-Indic digits


def test_required_is_checked_at_every_level_only_when_the_parent_is_present() -> None:
    row = profile_row()
    del row["person"]["name"]["lastName"]
    assert reasons(PROFILE, row) == ["invalid_xdm: person.name.lastName required"]
    del row["person"]  # no person, so nothing of person is required
    assert validate(PROFILE, row) == []
    row["consents"] = {"marketing": {"email": {}}}
    assert reasons(PROFILE, row) == ["invalid_xdm: consents.marketing.email.val required"]


def test_experience_event_requires_id_and_timestamp() -> None:
    assert validate(EVENT, event_row()) == []
    row = event_row()
    del row["_id"]
    row["timestamp"] = "2026-11-30 09:15"
    assert reasons(EVENT, row) == [
        "invalid_xdm: _id required",
        "invalid_xdm: timestamp format",
    ]
    assert reasons(EVENT, {}) == ["invalid_xdm: _id required", "invalid_xdm: timestamp required"]


def test_unknown_fields_are_rejected_with_their_name_when_it_is_a_field_name() -> None:
    row = profile_row()
    row["homeAddress"]["postCode"] = "62701"
    row[TENANT]["loyalty"]["pointz"] = 3
    assert sorted(reasons(PROFILE, row)) == [
        f"invalid_xdm: {TENANT}.loyalty.pointz unknown",
        "invalid_xdm: homeAddress.postCode unknown",
    ]


def test_an_unknown_key_that_looks_like_data_is_not_named() -> None:
    row = profile_row()
    row["homeAddress"]["jsmith@example.com"] = "x"
    assert reasons(PROFILE, row) == ["invalid_xdm: homeAddress.? unknown"]


def test_map_values_are_checked_and_map_keys_never_shown() -> None:
    row = profile_row()
    row["identityMap"]["jsmith@example.com"] = [{"primary": "yes"}]
    row["identityMap"]["Phone"] = {"id": "+14155550123"}
    assert reasons(PROFILE, row) == [
        "invalid_xdm: identityMap.*[].id required",
        "invalid_xdm: identityMap.*[].primary type",
        "invalid_xdm: identityMap.* type",
    ]
    row = profile_row()
    row["identityMap"]["Email"][0]["authenticatedState"] = "maybe"
    assert reasons(PROFILE, row) == ["invalid_xdm: identityMap.*[].authenticatedState enum"]


def test_array_items_are_checked() -> None:
    row = profile_row()
    row[TENANT]["loyalty"]["tags"] = ["ok", "x" * 21, 3]
    assert reasons(PROFILE, row) == [
        f"invalid_xdm: {TENANT}.loyalty.tags[] maxLength",
        f"invalid_xdm: {TENANT}.loyalty.tags[] type",
    ]


def test_tenant_loyalty_points_are_an_int_within_range() -> None:
    row = profile_row()
    row[TENANT]["loyalty"]["points"] = -5
    assert reasons(PROFILE, row) == [f"invalid_xdm: {TENANT}.loyalty.points minimum"]
    row[TENANT]["loyalty"]["points"] = 2**31
    assert reasons(PROFILE, row) == [f"invalid_xdm: {TENANT}.loyalty.points maximum"]
    row[TENANT]["loyalty"]["points"] = "1200"
    assert reasons(PROFILE, row) == [f"invalid_xdm: {TENANT}.loyalty.points type"]


def test_a_row_that_is_not_an_object_nested_is_a_type_problem() -> None:
    row = profile_row()
    row["homeAddress"] = "1 Main St, Springfield"
    assert reasons(PROFILE, row) == ["invalid_xdm: homeAddress type"]


def test_problems_never_contain_values() -> None:
    row = profile_row()
    row["personalEmail"]["address"] = "jsmith at example.com"
    row["mobilePhone"]["number"] = "4155550123"
    row["person"]["name"]["firstName"] = "J" * 101
    row["homeAddress"]["countryCode"] = "Springfield"
    text = " ".join(reasons(PROFILE, row)) + repr(validate(PROFILE, row))
    assert len(validate(PROFILE, row)) == 4
    for secret in ("jsmith", "4155550123", "JJJ", "Springfield"):
        assert secret not in text


# -- unsupported constructs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "construct"),
    [
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "keyword 'oneOf'"),
        ({"anyOf": [{"type": "string"}]}, "keyword 'anyOf'"),
        ({"allOf": [{"$ref": "https://ns.adobe.com/xdm/common/address"}]}, "keyword 'allOf'"),
        ({"$ref": "https://ns.adobe.com/xdm/common/address"}, "keyword '$ref'"),
        # The Schema Registry's own examples spell it with a trailing space.
        ({"$ref ": "#/definitions/x", "type": "object"}, "keyword '$ref'"),
        (
            {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
            "keyword 'patternProperties'",
        ),
        ({"type": "decimal"}, "type 'decimal'"),
        ({"type": ["string", "null"]}, "type ['string', 'null']"),
        ({"title": "no type"}, "type None"),
        ({"type": "string", "format": "ipv4"}, "format 'ipv4'"),
        ({"type": "array"}, "array without 'items'"),
        ({"type": "array", "items": [{"type": "string"}]}, "tuple 'items'"),
        ({"type": "object", "meta:xdmType": "map"}, "map without a typed 'additionalProperties'"),
        ({"type": "string", "pattern": "(?<name>a)"}, "pattern this validator cannot compile"),
        ({"type": "string", "maxLength": -1}, "'maxLength' that is not a non-negative integer"),
        ({"type": "string", "enum": [1, 2]}, "'enum' value of another type than the field"),
        ({"type": "integer", "pattern": "^1$"}, "'pattern' on a number"),
        ({"type": "string", "minimum": 1}, "'minimum' on a string"),
        ({"type": "number", "exclusiveMaximum": 1}, "keyword 'exclusiveMaximum'"),
    ],
)
def test_a_construct_the_validator_does_not_understand_is_a_setup_error(
    field: dict[str, Any], construct: str
) -> None:
    schema = {"type": "object", "properties": {"homeAddress": {"properties": {"f": field}}}}
    with pytest.raises(UnsupportedSchema) as raised:
        compile_schema(schema)
    assert raised.value.path == "homeAddress.f"
    assert raised.value.construct == construct
    assert str(raised.value) == f"XDM schema at homeAddress.f: unsupported {construct}"


def test_a_required_field_the_schema_does_not_define_is_a_setup_error() -> None:
    with pytest.raises(UnsupportedSchema, match="at timestamp: unsupported required field"):
        compile_schema({"type": "object", "properties": {}, "required": ["timestamp"]})


def test_an_unresolved_root_is_a_setup_error() -> None:
    # What `Accept: application/vnd.adobe.xed+json` (not xed-full) returns: refs, no properties.
    raw = {"type": "object", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}]}
    with pytest.raises(UnsupportedSchema, match="at <root>: unsupported keyword 'allOf'"):
        compile_schema(raw)
    with pytest.raises(UnsupportedSchema, match="root that is not an object"):
        compile_schema({"type": "string"})


# -- the form -----------------------------------------------------------------------------------


def test_the_form_round_trips_through_json() -> None:
    for form in (PROFILE, EVENT):
        again = ValidatorForm.from_json(form.to_json())
        assert again == form
        assert again.to_json() == form.to_json()
        row = profile_row() if form is PROFILE else event_row()
        row["unexpected"] = 1
        assert validate(again, row) == validate(form, row)


def test_the_form_is_small_and_holds_constraints_only() -> None:
    text = PROFILE.to_json()
    assert len(text) < len(json.dumps(PROFILE_SCHEMA)) / 3
    assert len(text) < 1600  # a 30-field Profile schema: well within a DynamoDB item
    for annotation in ("title", "description", "meta:", "Loyalty members", "Suggested", "Male"):
        assert annotation not in text


def test_a_form_of_another_version_or_a_damaged_form_is_refused() -> None:
    with pytest.raises(ValueError, match="version 1"):
        ValidatorForm.from_json('{"v": 2, "root": {"t": "o"}}')
    with pytest.raises(ValueError, match="damaged XDM validator form at f"):
        ValidatorForm.from_json('{"v": 1, "root": {"t": "o", "props": {"f": {"t": "q"}}}}')


# -- properties ---------------------------------------------------------------------------------

_DATE_TIMES = st.datetimes(timezones=st.just(UTC)).map(
    lambda moment: moment.isoformat().replace("+00:00", "Z")
)
_FORMAT_STRATEGIES: dict[str, st.SearchStrategy[str]] = {
    "date": st.dates().map(lambda day: day.isoformat()).filter(lambda text: len(text) == 10),
    "date-time": _DATE_TIMES.filter(lambda text: len(text) > 18 and text[4] == "-"),
    "email": st.from_regex(r"[a-z0-9]{1,10}@[a-z]{1,10}\.[a-z]{2,4}", fullmatch=True),
    "uri": st.from_regex(r"https://[a-z]{1,10}\.com/[a-z0-9]{0,10}", fullmatch=True),
    "uri-reference": st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True),
}


def _values(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = node["t"]
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "s":
        if "fmt" in node:
            return _FORMAT_STRATEGIES[node["fmt"]]
        if "pat" in node:
            return st.from_regex(node["pat"].replace("$", r"\Z"), fullmatch=False).filter(
                lambda text: text and len(text) <= node.get("maxLen", 10**6)
            )
        low = max(1, node.get("minLen", 1))
        return st.text(min_size=low, max_size=node.get("maxLen", max(low, 30)))
    if kind == "i":
        return st.integers(node.get("min"), node.get("max"))
    if kind == "n":
        return st.floats(node.get("min"), node.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "b":
        return st.booleans()
    if kind == "a":
        return st.lists(_values(node["items"]), max_size=node.get("maxItems", 3))
    props = node.get("props", {})
    required = set(node.get("req", ()))
    fields = st.fixed_dictionaries(
        {name: _values(sub) for name, sub in props.items() if name in required},
        optional={name: _values(sub) for name, sub in props.items() if name not in required},
    )
    extra = node.get("extra")
    if isinstance(extra, dict):
        keys = st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)
        return st.dictionaries(keys, _values(extra), max_size=3)
    return fields


def _rows(form: ValidatorForm) -> st.SearchStrategy[dict[str, Any]]:
    return _values(dict(form.root))


def _leaf_paths(value: Any, node: dict[str, Any], path: str = "") -> list[tuple[list[Any], str]]:
    """(keys into the row, schema path) of every present scalar, for mutating one of them."""
    found: list[tuple[list[Any], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = node.get("props", {}).get(key) or node.get("extra")
            sub_path = (
                (f"{path}.*" if path else "*")
                if key not in node.get("props", {})
                else (f"{path}.{key}" if path else key)
            )
            for keys, leaf in _leaf_paths(item, sub, sub_path):
                found.append(([key, *keys], leaf))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for keys, leaf in _leaf_paths(item, node["items"], f"{path}[]"):
                found.append(([index, *keys], leaf))
    else:
        found.append(([], path))
    return found


_SECRETS = st.sampled_from(["jsmith@example.com", "+14155550123", "62701-SECRET", "Jane Q"])


@given(st.data())
def test_generated_valid_rows_pass(data: st.DataObject) -> None:
    for form in (PROFILE, EVENT):
        row = data.draw(_rows(form))
        assert validate(form, row) == []


@given(st.data(), _SECRETS)
def test_a_mutated_value_fails_at_its_path_and_the_problem_holds_no_value(
    data: st.DataObject, secret: str
) -> None:
    form = data.draw(st.sampled_from([PROFILE, EVENT]))
    row = data.draw(_rows(form))
    leaves = _leaf_paths(row, dict(form.root))
    if not leaves:
        return
    keys, path = data.draw(st.sampled_from(leaves))
    mutated = copy.deepcopy(row)
    target = mutated
    for key in keys[:-1]:
        target = target[key]
    original = target[keys[-1]]
    # A value of the wrong type for this leaf, carrying PII-like text where it can.
    wrong: object = 12345 if isinstance(original, str) else secret
    target[keys[-1]] = wrong
    problems = validate(form, mutated)
    assert XdmProblem(path, "type") in problems
    assert all(problem.path == path for problem in problems)
    text = " ".join(problem.reason for problem in problems)
    assert secret not in text and "12345" not in text


@given(st.data(), _SECRETS)
def test_a_dropped_required_field_fails_as_required(data: st.DataObject, secret: str) -> None:
    row = data.draw(_rows(EVENT))
    field = data.draw(st.sampled_from(["_id", "timestamp"]))
    del row[field]
    row["commerce"] = {"order": {"currencyCode": secret}}
    problems = validate(EVENT, row)
    assert XdmProblem(field, "required") in problems
    assert all(secret not in problem.reason for problem in problems)


# -- the accepting function: the same answer as the checker, sooner -----------------------------

_ODD_VALUES = st.sampled_from(
    [None, "", " ", "x" * 300, 0, -1, 2**40, 1.5, float("nan"), True, False, [], [{}], {}, {"k": 1}]
)


def _checker_problems(form: ValidatorForm, row: object) -> list[XdmProblem]:
    problems: list[XdmProblem] = []
    form.checker()(row, problems)
    return problems


@settings(max_examples=400)
@given(st.data(), _ODD_VALUES, st.sampled_from(["replace", "delete", "add"]))
def test_validate_finds_exactly_what_the_checker_finds(
    data: st.DataObject, odd: object, how: str
) -> None:
    # validate() asks a compiled "certainly valid?" function first and the checker only when
    # it says no: on valid rows and on rows with one odd value anywhere, the answers agree.
    form = data.draw(st.sampled_from([PROFILE, EVENT]))
    row = data.draw(_rows(form))
    assert validate(form, row) == _checker_problems(form, row) == []
    leaves = _leaf_paths(row, dict(form.root))
    if leaves:
        keys, _ = data.draw(st.sampled_from(leaves))
        target: Any = row
        for key in keys[:-1]:
            target = target[key]
        if how == "replace" or isinstance(target, list):
            target[keys[-1]] = odd
        elif how == "delete":
            del target[keys[-1]]
        else:
            target["notAField"] = odd
    assert validate(form, row) == _checker_problems(form, row)


def test_the_accepting_function_accepts_valid_rows_and_nothing_else() -> None:
    accept = PROFILE._accept  # built with the checker; None would mean the slow path only
    assert accept is not None
    assert accept(profile_row())
    row = profile_row()
    row["homeAddress"]["postalCode"] = "1" * 11  # maxLength 10
    assert not accept(row)
    assert not accept({"identityMap": {}, "person": None})


def test_a_form_nested_too_deep_for_one_function_is_checked_by_the_checker_alone() -> None:
    schema: dict[str, Any] = {"type": "string", "maxLength": 2}
    for _ in range(120):  # deeper than Python's 100 levels of indentation
        schema = {"type": "object", "properties": {"n": schema}}
    form = compile_schema(schema)
    row: Any = "abc"
    for _ in range(120):
        row = {"n": row}
    assert [problem.rule for problem in validate(form, row)] == ["maxLength"]
    assert form._accept is None


def test_field_names_and_patterns_are_data_never_code() -> None:
    name = "x\"]; __import__('os')._exit(3); [\"\\"
    form = compile_schema(
        {
            "type": "object",
            "properties": {name: {"type": "string", "pattern": "^'\"; raise SystemExit$"}},
            "required": [name],
        }
    )
    assert validate(form, {name: "'\"; raise SystemExit"}) == []
    assert [problem.rule for problem in validate(form, {name: "other"})] == ["pattern"]
    assert [problem.rule for problem in validate(form, {})] == ["required"]
