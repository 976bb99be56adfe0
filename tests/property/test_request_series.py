"""Properties of the requests-over-time series: whatever the answers and their minutes, the
series sums to the request totals, and neither the ledger's folding nor the page's bucketing
loses or invents a request (folding never shows one earlier than its answer came)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.outcomes import Tally
from adm_ingest.request_times import (
    MAX_BUCKETS,
    buckets,
    fold_oldest,
    format_minute,
    parse_key,
    series,
)

START = 29_935_572  # 2026-12-01T14:12Z, in minutes
STATUSES = st.sampled_from(["200", "207", "400", "429", "500", "503", "error"])
# Answers over up to 90 days (the ledger's retention), most of them close together.
OFFSETS = st.one_of(st.integers(0, 180), st.integers(0, 90 * 24 * 60))
ANSWERS = st.lists(st.tuples(OFFSETS, STATUSES), max_size=200)


def tallied(answers: list[tuple[int, str]]) -> Tally:
    tally = Tally()
    for offset, status in answers:
        tally.count_request(status, format_minute(START + offset))
    return tally


def by_status(counts: dict[str, int]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for key, count in counts.items():
        parsed = parse_key(key)
        assert parsed is not None
        totals[parsed[1]] += count
    return totals


@given(ANSWERS)
def test_the_series_sums_to_the_request_totals(answers: list[tuple[int, str]]) -> None:
    tally = tallied(answers)
    summed: Counter[str] = Counter()
    minutes = []
    for point in series(tally.request_minutes):
        summed.update(point["requests"])
        minutes.append(point["minute"])
    assert summed == tally.requests
    assert minutes == sorted(set(minutes))  # one entry a minute, in order


@given(ANSWERS)
def test_bucketing_keeps_every_total_in_at_most_60_aligned_bars(
    answers: list[tuple[int, str]],
) -> None:
    tally = tallied(answers)
    points = [(START + offset, {status: 1}) for offset, status in answers]
    width, bars = buckets(points)
    if not answers:
        assert bars == []
        return
    assert 1 <= len(bars) <= MAX_BUCKETS
    assert all(bar.start % width == 0 for bar in bars)
    assert [b.start - a.start for a, b in pairwise(bars)] == [width] * (len(bars) - 1)
    summed: Counter[str] = Counter()
    for bar in bars:
        summed.update(bar.requests)
    assert summed == tally.requests
    assert sum(bar.total for bar in bars) == len(answers)
    for offset, _ in answers:  # each answer's bar covers its minute
        assert bars[0].start <= START + offset < bars[-1].start + width


@given(ANSWERS, st.integers(min_value=7, max_value=40))
def test_folding_keeps_each_status_total_and_never_moves_a_request_earlier(
    answers: list[tuple[int, str]], max_keys: int
) -> None:
    counted = dict(tallied(answers).request_minutes)
    folded = fold_oldest(counted, max_keys)  # at least as many keys as there are statuses
    assert len(folded) <= max_keys
    assert by_status(folded) == by_status(counted)
    if len(counted) <= max_keys:
        assert folded == counted

    def answered_by(counts: dict[str, int], minute: int, status: str) -> int:
        return sum(
            n
            for key, n in counts.items()
            if (parsed := parse_key(key)) and parsed[1] == status and parsed[0] <= minute
        )

    for key in counted:
        parsed = parse_key(key)
        assert parsed is not None
        assert answered_by(folded, parsed[0], parsed[1]) <= answered_by(counted, *parsed)
