"""The row validator promotion uses: each XDM rule it enforces, named by path and rule."""

from __future__ import annotations

from typing import Any

import pytest

from adm_local.aep_sandbox.schemas import seeded_schemas
from adm_local.aep_sandbox.xdm import validate_row

PROFILE, EVENT = (schema.full() for schema in seeded_schemas("t"))
IDENTITY = {"identityMap": {"Email": [{"id": "a@example.com", "primary": True}]}}


def _problems(schema: dict[str, Any], row: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in validate_row(schema, row)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"_t": {"loyalty": {"points": 2**31}}}, ["_t.loyalty.points: maximum"]),
        ({"_t": {"loyalty": {"points": 1.5}}}, ["_t.loyalty.points: type integer"]),
        ({"_t": {"loyalty": {"points": True}}}, ["_t.loyalty.points: type integer"]),
        ({"_t": {"loyalty": {"tier": "platinum"}}}, ["_t.loyalty.tier: enum"]),
        ({"homeAddress": {"countryCode": "es"}}, ["homeAddress.countryCode: pattern"]),
        ({"personalEmail": {"address": "nope"}}, ["personalEmail.address: format email"]),
        ({"personalEmail": {"primary": "yes"}}, ["personalEmail.primary: type boolean"]),
        ({"person": {"birthDate": "1990-02-30"}}, ["person.birthDate: format date"]),
        ({"person": {"name": {}}}, ["person.name: null or empty value"]),
        ({"mobilePhone": {"number": None}}, ["mobilePhone.number: null or empty value"]),
        ({"loyalty": {"points": 1}}, ["loyalty: not in schema"]),
        ({"identityMap": {"Email": [{"primary": True}]}}, ["identityMap.Email[0].id: required"]),
        ({"identityMap": {"Email": "a@example.com"}}, ["identityMap.Email: type array"]),
    ],
)
def test_profile_rules(fields: dict[str, Any], expected: list[str]) -> None:
    assert _problems(PROFILE, IDENTITY | fields) == expected


def test_a_valid_profile_and_event_pass() -> None:
    profile = IDENTITY | {
        "person": {"name": {"firstName": "A"}, "birthDate": "1990-02-28"},
        "homeAddress": {"countryCode": "ES", "postalCode": "28001"},
        "_t": {"loyalty": {"points": -5, "memberSince": "2020-01-01T00:00:00.123456789+02:00"}},
    }
    event = {"_id": "e1", "timestamp": "2026-01-01T00:00:00Z", "_t": {"order": {"total": 3}}}

    assert _problems(PROFILE, profile) == []
    assert _problems(EVENT, event) == []


def test_missing_fields_are_flagged_as_missing() -> None:
    problems = validate_row(EVENT, {"eventType": "x"})

    assert [(str(p), p.missing) for p in problems] == [
        ("_id: required", True),
        ("timestamp: required", True),
    ]
