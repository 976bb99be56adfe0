"""The jsonschema-rs fast path never changes a verdict of the jsonschema reference validator.

:func:`violations` returns ``[]`` as soon as the fast check accepts a body, so the fast check
must never accept what the reference rejects. Hypothesis builds bodies *from the documented
schemas*: mostly well-formed, with deviations at any depth (a wrong type, a missing required
property, an out-of-range number, a date that is not RFC 3339, one cent too many…), so both
verdicts are exercised on realistic members and eventData bodies. Nothing here is timed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_local.sandbox.routes import EVENT_DATA, ITEMIZED_BODIES
from adm_local.sandbox.validation import (
    ApiSchema,
    envelope_and_items,
    fast_check,
    reference_violations,
    violations,
)

SCHEMA = ApiSchema.load()
MEMBERS = "POST /adm/audiences/{dataSetId}/members"
MEMBERS_JSON = "application/vnd.admAudiences.v1+json"
EVENTS_JSON = "application/vnd.dspconversioneventimport.v1+json"

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=4,
)
"""A value that ignores the schema: the deviation mixed in at every level."""

TIMESTAMP_LOOKALIKES = st.sampled_from(
    [
        "2026-11-02T10:00:00Z", "2026-11-02t10:00:00z", "2026-11-02T10:00:00.123456+05:30",
        "2026-11-02T10:00:00", "2026-11-02 10:00:00Z", "2026-02-30T10:00:00Z",
        "2026-11-02T23:59:60Z", "2026-11-02T24:00:00Z", "2026-11-02T10:00Z", "20261102T100000Z",
        "2026-11-02T10:00:00+0530", "2026-11-02T10:00:00.Z", "",
    ]
)  # fmt: skip


def _timestamps(valid: bool) -> st.SearchStrategy[str]:
    offsets = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))])
    moments = st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
    )
    stamps = moments.map(datetime.isoformat)
    return stamps if valid else stamps | TIMESTAMP_LOOKALIKES


def _numbers(schema: Mapping[str, Any], valid: bool) -> st.SearchStrategy[Any]:
    slack = 0 if valid else 2
    low, high = schema.get("minimum"), schema.get("maximum")
    if schema.get("type") == "integer":
        near = st.integers(
            min_value=None if low is None else int(low) - slack,
            max_value=None if high is None else int(high) + slack,
        )
        return near if valid else near | near.map(float) | st.integers()  # 1.0: not draft 4
    # Whole cents pass ``multipleOf 0.01``, tenths of a cent do not.
    cents = st.decimals(
        min_value=Decimal(str(low)) - slack if low is not None else Decimal(-(10**14)),
        max_value=Decimal(str(high)) + slack if high is not None else Decimal(10**14),
        places=2,
    ).map(float)
    if valid:
        return cents
    mills = st.decimals(min_value=-(10**6), max_value=10**6, places=3).map(float)
    return cents | mills | st.floats(allow_nan=False, allow_infinity=False)


def _strings(schema: Mapping[str, Any], valid: bool) -> st.SearchStrategy[Any]:
    if schema.get("format") == "date-time":
        return _timestamps(valid)
    if "pattern" in schema:
        matching = st.from_regex(schema["pattern"], fullmatch=True)
        return matching if valid else st.from_regex(schema["pattern"]) | st.text(max_size=12)
    slack = 0 if valid else 1
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    return st.text(
        min_size=max(0, low - slack), max_size=max(low, 12) if high is None else high + slack
    )


def from_schema(schema: Mapping[str, Any], valid: bool) -> st.SearchStrategy[Any]:
    """Values for ``schema``: conforming ones if ``valid``, else with deviations at any depth."""
    shaped = _shaped(schema, valid)
    return shaped if valid else st.one_of(shaped, shaped, shaped, ANY_JSON)


def bodies(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Half conforming bodies, half bodies with deviations."""
    return from_schema(schema, valid=True) | from_schema(schema, valid=False)


def _shaped(schema: Mapping[str, Any], valid: bool) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(choice, valid) for choice in schema["oneOf"]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = {
            name: from_schema(sub, valid) for name, sub in schema.get("properties", {}).items()
        }
        required = set(schema.get("required", ()))
        complete = st.fixed_dictionaries(
            {name: value for name, value in properties.items() if name in required},
            optional={name: value for name, value in properties.items() if name not in required},
        )
        if valid:
            return complete
        return complete | st.fixed_dictionaries({}, optional=properties)
    if kind == "array":
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        slack = 0 if valid else 1
        return st.lists(
            from_schema(schema.get("items", {}), valid),
            min_size=max(0, low - slack),
            max_size=low + 3 if high is None else min(high + slack, low + 3),
        )
    if kind in {"number", "integer"}:
        return _numbers(schema, valid)
    if kind == "string":
        return _strings(schema, valid)
    if kind == "boolean":
        return st.booleans()
    return JSON_SCALARS if valid else ANY_JSON


def _body_schema(operation_key: str, media_type: str) -> Mapping[str, Any]:
    operation = next(op for op in SCHEMA.operations if op.key == operation_key)
    return operation.request_content_types[media_type]


def _check_verdicts(schema: Mapping[str, Any], instance: Any, *, exact: bool) -> None:
    """``violations`` always equals the reference; the fast check never accepts what it rejects.

    ``exact``: the fast check also accepts everything the reference accepts. Not true of every
    schema — Python's ``$`` matches before a trailing newline, the ECMA 262 one of jsonschema-rs
    does not — but true of the members and eventData bodies, so the benchmark path stays fast.
    """
    expected = reference_violations(schema, instance)
    fast_verdict = fast_check(schema).accepts(instance)

    assert violations(schema, instance) == expected
    if fast_verdict:
        assert expected == []
    if exact:
        assert fast_verdict == (expected == [])


MEMBERS_SCHEMA = _body_schema(MEMBERS, MEMBERS_JSON)
EVENTS_SCHEMA = _body_schema(EVENT_DATA, EVENTS_JSON)
EVENT_SCHEMA = envelope_and_items(EVENTS_SCHEMA, ITEMIZED_BODIES[EVENT_DATA])[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(MEMBERS_SCHEMA))
def test_members_bodies_get_the_reference_verdict(body: Any) -> None:
    _check_verdicts(MEMBERS_SCHEMA, body, exact=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(EVENTS_SCHEMA))
def test_event_data_bodies_get_the_reference_verdict(body: Any) -> None:
    _check_verdicts(EVENTS_SCHEMA, body, exact=True)


@settings(max_examples=300, deadline=None)
@given(event=bodies(EVENT_SCHEMA))
def test_single_events_get_the_reference_verdict(event: Any) -> None:
    _check_verdicts(EVENT_SCHEMA, event, exact=True)


VALID_EVENT = {
    "conversionDefinitionId": "cd-1",
    "countryCode": "US",
    "name": "store purchase",
    "timestamp": "2026-11-02T10:00:00Z",
    "matchKeys": [{"type": "EMAIL", "values": ["0" * 64]}],
}


def _documented_body_schemas() -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (f"{operation.key} {media_type}", schema)
        for operation in SCHEMA.operations
        for media_type, schema in operation.request_content_types.items()
    ]


@pytest.mark.parametrize(
    "schema", [schema for _, schema in _documented_body_schemas()],
    ids=[name for name, _ in _documented_body_schemas()],
)  # fmt: skip
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_documented_request_body_gets_the_reference_verdict(
    schema: Mapping[str, Any], data: st.DataObject
) -> None:
    _check_verdicts(schema, data.draw(bodies(schema)), exact=False)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(19.99, True), (0.07, True), (12, True), (19.999, False), (1e300, False)],
)
def test_event_values_are_checked_in_decimal_cents_by_both(value: float, accepted: bool) -> None:
    event = {**VALID_EVENT, "value": value}

    assert fast_check(EVENT_SCHEMA).accepts(event) is accepted
    assert (reference_violations(EVENT_SCHEMA, event) == []) is accepted


@pytest.mark.parametrize("code", ["\ud800", "\ud800\ud801", "U\ud800S"])
def test_lone_surrogates_get_the_reference_verdict(code: str) -> None:
    # json.loads turns "\\ud800" into a lone surrogate, which no Rust string can hold.
    _check_verdicts(EVENT_SCHEMA, {**VALID_EVENT, "countryCode": code}, exact=False)
    _check_verdicts({"type": "string", "minLength": 2, "maxLength": 2}, code, exact=False)


def test_cache_compiles_equal_schemas_once() -> None:
    assert fast_check(MEMBERS_SCHEMA) is fast_check(json.loads(json.dumps(MEMBERS_SCHEMA)))
