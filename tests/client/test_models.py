"""Typed results: the DSP's 1-based multi-status indexes become our 0-based positions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.adm import BatchResult, EventsResult, ItemError, MembersResult


def test_conversion_definitions_207_golden() -> None:
    body = {
        "success": [
            {"index": 3, "conversionDefinitionId": "cd-3"},
            {"index": 1, "conversionDefinitionId": "cd-1"},
        ],
        "error": [
            {
                "index": 2,
                "code": "INVALID_ARGUMENT",
                "message": "countingMethod invalid",
                "errors": [{"errorType": "INVALID_ARGUMENT", "message": "bad enum"}],
            }
        ],
    }
    result = BatchResult.from_api(body)
    assert result.success == [(0, "cd-1"), (2, "cd-3")]
    assert result.errors == [ItemError(1, "INVALID_ARGUMENT", "countingMethod invalid")]


def test_members_errors_are_already_0_based() -> None:
    body = {
        "ingressId": "in-1",
        "errors": [{"index": 0, "code": "MISSING_CONSENT", "details": "needs consent"}],
    }
    assert MembersResult.from_api(body) == MembersResult(
        "in-1", [ItemError(0, "MISSING_CONSENT", "needs consent")]
    )


def test_nested_error_fills_a_missing_code_and_message() -> None:
    body = {"error": [{"index": 1, "errors": [{"errorType": "TOO_OLD", "message": "> 7 days"}]}]}
    assert EventsResult.from_api(body).errors == [ItemError(0, "TOO_OLD", "> 7 days")]


@given(st.lists(st.booleans(), min_size=1, max_size=100))
def test_events_207_positions_partition_the_request(accepted: list[bool]) -> None:
    # The API reports event n (1-based) in either list; we report position n - 1.
    body = {
        "success": [{"index": n + 1, "message": "ok"} for n, ok in enumerate(accepted) if ok],
        "error": [
            {"index": n + 1, "code": "INVALID", "message": "no"}
            for n, ok in enumerate(accepted)
            if not ok
        ],
    }
    result = EventsResult.from_api(body)
    assert result.succeeded == [n for n, ok in enumerate(accepted) if ok]
    assert [error.index for error in result.errors] == [
        n for n, ok in enumerate(accepted) if not ok
    ]
    assert sorted(result.succeeded + [e.index for e in result.errors]) == list(range(len(accepted)))
