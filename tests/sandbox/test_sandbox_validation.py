"""The sandbox's schema validation: decimal ``multipleOf``, value-free violation messages, and
the strict JSON reader requests go through."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_local.sandbox.validation import parse_json, violations

CENTS = {"type": "number", "multipleOf": 0.01}


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_every_whole_number_of_cents_is_a_multiple_of_0_01(cents: int) -> None:
    value = float(Decimal(cents) / 100)

    assert violations(CENTS, value) == []


@given(st.integers(min_value=1, max_value=10**9).filter(lambda n: n % 10 != 0))
def test_tenths_of_a_cent_are_not_multiples_of_0_01(mills: int) -> None:
    value = float(Decimal(mills) / 1000)

    assert [str(v) for v in violations(CENTS, value)] == ["body: violates multipleOf 0.01"]


@given(st.emails())
def test_violation_messages_never_quote_the_offending_value(email: str) -> None:
    schema = {
        "type": "object",
        "properties": {"em": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                       "action": {"enum": ["CREATE", "DELETE"]}},
        "required": ["id"],
    }  # fmt: skip

    found = violations(schema, {"em": email, "action": email})

    assert [str(v) for v in found] == [
        "body: missing required property 'id'",
        "body.action: must be one of CREATE, DELETE",
        "body.em: violates pattern '^[0-9a-f]{64}$'",
    ]
    assert all(email not in str(v) for v in found)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_parse_json_reads_every_rfc_json_document(value: object) -> None:
    assert parse_json(json.dumps(value).encode()) == value
    assert parse_json(json.dumps(value, ensure_ascii=False).encode()) == value


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 4301])
def test_parse_json_refuses_what_is_not_a_finite_json_number(number: str) -> None:
    with pytest.raises(ValueError, match=r"^(.*Infinity|NaN) is not a JSON number$|out of range"):
        parse_json(f'{{"n": [{number}]}}'.encode())
