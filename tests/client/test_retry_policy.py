"""Backoff math, Retry-After parsing and deadlines: the arithmetic behind every retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.adm import Deadline, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=8.0)


@pytest.mark.parametrize(
    ("retry_number", "ceiling"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (60, 8.0), (10_000, 8.0)],
)
def test_backoff_ceiling_doubles_from_the_base_up_to_the_cap(
    retry_number: int, ceiling: float
) -> None:
    assert POLICY.backoff_ceiling(retry_number) == ceiling


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high * 0.25

    assert POLICY.backoff(3, uniform=uniform) == 0.5
    assert drawn == [(0.0, 2.0)]


@given(
    base=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    retry_number=st.integers(min_value=1, max_value=10_000),
)
def test_backoff_never_exceeds_the_cap_nor_goes_negative(
    base: float, cap: float, retry_number: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    delay = policy.backoff(retry_number)
    assert 0.0 <= delay <= policy.backoff_ceiling(retry_number) <= cap


@given(st.integers(min_value=1, max_value=200))
def test_backoff_ceiling_is_monotonic(retry_number: int) -> None:
    assert POLICY.backoff_ceiling(retry_number) <= POLICY.backoff_ceiling(retry_number + 1)


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


NOW = datetime(2026, 11, 3, 7, 28, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Tue, 03 Nov 2026 07:29:30 GMT", 90.0),
        ("Tue, 03 Nov 2026 07:00:00 GMT", 0.0),  # a date in the past: retry now
        ("Tuesday, 03-Nov-26 07:28:10 GMT", 10.0),  # obsolete RFC 850 form
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_golden_values(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_delay_seconds_round_trip(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_http_date_round_trip(seconds: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now=NOW) == float(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_never_goes_negative() -> None:
    clock = FakeClock()
    deadline = Deadline.after(5.0, clock=clock)
    assert deadline.remaining() == 5.0
    clock.now += 3.0
    assert deadline.remaining() == 2.0
    clock.now += 10.0
    assert deadline.remaining() == 0.0


def test_earliest_of_two_deadlines() -> None:
    clock = FakeClock()
    soon, later = Deadline.after(1.0, clock=clock), Deadline.after(9.0, clock=clock)
    assert soon.earliest(later) is soon
    assert later.earliest(soon) is soon
    assert later.earliest(None) is later


def test_deadline_from_lambda_context_keeps_a_margin() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    remaining = Deadline.from_lambda_context(Context(), margin_seconds=10.0).remaining()
    assert 19.0 < remaining <= 20.0

    class AlmostOut:
        def get_remaining_time_in_millis(self) -> int:
            return 2_000

    assert Deadline.from_lambda_context(AlmostOut(), margin_seconds=10.0).remaining() == 0.0
