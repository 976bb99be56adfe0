"""The sandbox's schema validation: decimal ``multipleOf`` and value-free violation messages."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from adm_local.sandbox.validation import violations

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
