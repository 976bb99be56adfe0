"""Request answer times (:mod:`adm_ingest.request_times`): the key a tally counts, the report's
``requests_over_time``, a chunk's keys folded for one ledger update and the page's buckets."""

from __future__ import annotations

import pytest

from adm_ingest.outcomes import Tally
from adm_ingest.request_times import (
    Bucket,
    bucket_width,
    buckets,
    fold_oldest,
    minute_of,
    parse_key,
    parse_minute,
    series,
)

T = 1_796_134_330.0  # 2026-12-01T14:12:10Z
M = parse_minute("2026-12-01T14:12Z")


def test_a_minute_is_utc_to_the_minute() -> None:
    assert minute_of(T) == "2026-12-01T14:12Z"
    assert minute_of(T + 49.9) == "2026-12-01T14:12Z" and minute_of(T + 50) == "2026-12-01T14:13Z"
    assert int(T) // 60 == M


def test_a_tally_counts_a_request_by_status_and_by_minute() -> None:
    tally = Tally()
    tally.count_request("200", "2026-12-01T14:12Z")
    tally.count_request("200", "2026-12-01T14:12Z")
    tally.count_request("429", "2026-12-01T14:13Z")
    tally.count_request("dry_run", None)  # nothing was sent: no time
    assert tally.requests == {"200": 2, "429": 1, "dry_run": 1}
    assert tally.request_minutes == {"2026-12-01T14:12Z 200": 2, "2026-12-01T14:13Z 429": 1}


def test_keys_parse_back_and_what_is_not_a_key_is_none() -> None:
    assert parse_key("2026-12-01T14:12Z 200") == (M, "200")
    assert parse_key("2026-12-01T14:12Z error") == (M, "error")
    for broken in ("", "2026-12-01T14:12Z", "2026-12-01T14:12Z ", "14:12 200", "x 200"):
        assert parse_key(broken) is None, broken


def test_the_series_is_sorted_by_minute_with_its_statuses() -> None:
    counted = {
        "2026-12-02T00:00Z 200": 1,
        "2026-12-01T23:59Z 503": 2,
        "2026-12-01T23:59Z 200": 5,
        "2026-12-01T23:58Z 200": 0,  # a zero is no request
        "garbage": 9,
    }
    assert series(counted) == [
        {"minute": "2026-12-01T23:59Z", "requests": {"200": 5, "503": 2}},
        {"minute": "2026-12-02T00:00Z", "requests": {"200": 1}},
    ]
    assert series({}) == []


def test_folding_moves_the_oldest_minutes_into_later_ones_keeping_each_status_total() -> None:
    counted = {
        "2026-12-01T14:10Z 200": 3,
        "2026-12-01T14:10Z 429": 1,
        "2026-12-01T14:11Z 200": 2,
        "2026-12-01T14:12Z 200": 4,
        "2026-12-01T14:13Z 503": 1,
    }
    assert fold_oldest(counted, 5) == counted  # fits: untouched
    assert fold_oldest(counted, 4) == {
        "2026-12-01T14:11Z 200": 5,
        "2026-12-01T14:11Z 429": 1,
        "2026-12-01T14:12Z 200": 4,
        "2026-12-01T14:13Z 503": 1,
    }
    with pytest.raises(ValueError, match="do not fit"):
        fold_oldest(counted, 2)  # three statuses cannot share two keys
    assert fold_oldest(counted, 3) == {  # only as far as it must
        "2026-12-01T14:12Z 200": 9,
        "2026-12-01T14:12Z 429": 1,
        "2026-12-01T14:13Z 503": 1,
    }


@pytest.mark.parametrize(
    ("span", "width"),
    [(1, 1), (60, 1), (61, 5), (300, 5), (301, 15), (600, 15), (900, 15), (901, 30),
     (3600, 60), (3601, 180), (24 * 60, 30), (10 * 24 * 60, 360), (89 * 24 * 60, 2880)],
)  # fmt: skip
def test_the_bucket_width_is_the_narrowest_that_fits_60_bars(span: int, width: int) -> None:
    # From a minute aligned to every width (midnight UTC), ``span`` minutes.
    first = parse_minute("2026-12-01T00:00Z")
    assert first is not None
    assert bucket_width(first, first + span - 1) == width


def test_buckets_are_aligned_consecutive_and_keep_the_empty_ones() -> None:
    assert buckets([]) == (1, [])
    assert buckets([(M, {"200": 4})]) == (1, [Bucket(M, {"200": 4})])
    points = [(M, {"200": 1}), (M + 61, {"200": 2, "429": 1}), (M + 62, {"200": 1})]
    width, bars = buckets(points)
    assert width == 5
    start = M // 5 * 5  # 14:10
    assert [bar.start - start for bar in bars] == list(range(0, 65, 5))  # 14:10 … 15:10
    assert bars[0].requests == {"200": 1}
    assert bars[-1].requests == {"200": 3, "429": 1} and bars[-1].total == 4
    assert all(bar.total == 0 for bar in bars[1:-1])
