"""The match rate: an audience upload's commit is pending while Amazon matches the records; the
poll waits out ``MATCH_RATE_DELAY_SECONDS``, reads the dataset's metrics and ends succeeded —
even when the metrics can't be read — and the report carries them (``match_rate``) and warns
below ``MIN_AUDIENCE_SIZE``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adm_ingest.adm.errors import AuthError, NotFound, ServerError, Throttled
from adm_ingest.adm.models import DatasetMetrics
from adm_ingest.destinations import (
    CommitState,
    DeliveryTarget,
    FileContext,
    destination_class,
    destination_for,
)
from adm_ingest.destinations.adm_metrics import AWAITING, READ, RETRYING, UNAVAILABLE
from adm_ingest.ledger_records import FileRecord, RemoteOutcome
from adm_ingest.report import build_report

COMMITTED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
METRICS = {
    "dataSetId": "DS-1",
    "acceptedCount": 2600,
    "invalidRecordCount": 12,
    "matchRecordPercentage": 61.538,
    "recordsResolved": 1600,
    "recordsWithIdentity": 2600,
    "uploadCount": 3,
    "lastModified": "2026-11-27T12:00:00Z",
}


class MetricsClient:
    """``dataset_metrics`` as ADM answers it — or raising ``errors`` one call at a time."""

    def __init__(self, *errors: Exception, body: dict[str, Any] | None = None) -> None:
        self.errors = list(errors)
        self.body = METRICS if body is None else body
        self.calls: list[str] = []

    def dataset_metrics(self, data_set_id: str) -> DatasetMetrics:
        self.calls.append(data_set_id)
        if self.errors:
            raise self.errors.pop(0)
        return DatasetMetrics.from_api(self.body)


class Clock:
    def __init__(self) -> None:
        self.now = COMMITTED

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def delay(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("MATCH_RATE_DELAY_SECONDS", "900")
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "120")
    monkeypatch.setenv("POLL_MAX_SECONDS", str(6 * 3600))
    return 900


def audience(name: str = "audience_members", clock: Clock | None = None) -> Any:
    target = DeliveryTarget(name, "vip", "DS-1", {"country": "US"})
    return destination_for(target, clock=clock or Clock())


def context(destination: Any) -> FileContext:
    return FileContext("f" * 32, "audiences/vip/crm.csv", destination.target, records=3)


def committed(clock: Clock, name: str = "audience_members") -> tuple[Any, FileContext, Any]:
    destination = audience(name, clock)
    file = context(destination)
    return destination, file, destination.commit(MetricsClient(), file, {})


# -- the lifecycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["audience_members", "audience_removals"])
def test_the_commit_is_pending_and_names_the_dataset_and_when_to_read(
    delay: int, name: str
) -> None:
    clock = Clock()
    client = MetricsClient()
    destination = audience(name, clock)

    commit = destination.commit(client, context(destination), {})

    assert commit.state is CommitState.PENDING
    assert commit.session == {
        "metrics_dataset": "DS-1",
        "metrics_committed_at": str(int(COMMITTED.timestamp())),
        "metrics_after": str(int(COMMITTED.timestamp()) + delay),
    }
    assert client.calls == []  # the commit reads nothing: the members are in ADM already


def test_no_delay_means_no_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCH_RATE_DELAY_SECONDS", "0")
    destination = audience()
    commit = destination.commit(MetricsClient(), context(destination), {})
    assert commit.state is CommitState.DONE and commit.session == {}


@pytest.mark.parametrize("name", ["conversions", "identity_deletions"])
def test_conversions_and_identity_deletions_never_wait_for_metrics(delay: int, name: str) -> None:
    cls = destination_class(name)
    target = DeliveryTarget(name, "offline", "CD-1") if cls.namespace else DeliveryTarget(name)
    destination = destination_for(target)
    file = FileContext("f" * 32, "x.csv", target)
    assert destination.commit(MetricsClient(), file, {}).state is CommitState.DONE


def test_pending_then_not_yet_then_the_metrics(delay: int) -> None:
    clock = Clock()
    destination, file, commit = committed(clock)
    client = MetricsClient()

    clock.now = COMMITTED + timedelta(seconds=delay - 1)
    early = destination.poll(client, file, commit.session)
    clock.now = COMMITTED + timedelta(seconds=delay)
    state = destination.poll(client, file, commit.session)

    assert (early.terminal, early.status, client.calls) == (False, AWAITING, ["DS-1"])
    assert state.terminal and state.succeeded and state.status == READ
    assert dict(state.facts) == {
        "matched": 1600,
        "records_resolved": 1600,
        "match_percentage": "61.54",
        "match_read_at": "2026-11-27T12:15:00Z",
        "accepted_count": 2600,
        "invalid_record_count": 12,
        "records_with_identity": 2600,
        "upload_count": 3,
    }


def test_a_transient_failure_is_tried_again_at_the_next_poll(delay: int) -> None:
    clock = Clock()
    destination, file, commit = committed(clock)
    client = MetricsClient(Throttled(429, "TOO_MANY", "slow down"), ServerError(503, "X", ""))
    clock.now = COMMITTED + timedelta(seconds=delay)

    states = [destination.poll(client, file, commit.session) for _ in range(3)]

    assert [(state.terminal, state.status) for state in states] == [
        (False, RETRYING),
        (False, RETRYING),
        (True, READ),
    ]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (NotFound(404, "NOT_FOUND", "no such dataset"), "adm_404_NOT_FOUND"),
        (AuthError("refresh token refused"), "auth"),
    ],
)
def test_metrics_that_cannot_be_read_never_fail_the_file(
    delay: int, error: Exception, reason: str
) -> None:
    clock = Clock()
    destination, file, commit = committed(clock)
    clock.now = COMMITTED + timedelta(seconds=delay)

    state = destination.poll(MetricsClient(error), file, commit.session)

    assert state.terminal and state.succeeded and state.status == UNAVAILABLE
    assert dict(state.facts) == {
        "match_unavailable": reason,
        "match_read_at": "2026-11-27T12:15:00Z",
    }


def test_transient_failures_give_up_before_the_poller_would_time_out(delay: int) -> None:
    clock = Clock()
    destination, file, commit = committed(clock)
    # Two poll intervals before POLL_MAX_SECONDS: the poller's deadline is not reached yet.
    clock.now = COMMITTED + timedelta(seconds=6 * 3600 - 240)

    state = destination.poll(MetricsClient(ServerError(500, "X", "")), file, commit.session)

    assert (state.terminal, state.succeeded, state.status) == (True, True, UNAVAILABLE)
    assert state.facts["match_unavailable"] == "server_error"


def test_a_delay_beyond_the_poll_deadline_reads_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCH_RATE_DELAY_SECONDS", str(24 * 3600))
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "60")
    monkeypatch.setenv("POLL_MAX_SECONDS", "3600")
    clock = Clock()
    destination, file, commit = committed(clock)
    client = MetricsClient()

    clock.now = COMMITTED + timedelta(seconds=3600 - 121)
    waiting = destination.poll(client, file, commit.session)
    clock.now = COMMITTED + timedelta(seconds=3600 - 120)
    state = destination.poll(client, file, commit.session)

    assert waiting.status == AWAITING and state.status == READ and state.succeeded


def test_metrics_without_resolved_records_are_matched_by_their_percentage() -> None:
    metrics = DatasetMetrics.from_api({"acceptedCount": 3000, "matchRecordPercentage": 50.0})
    assert (metrics.matched, metrics.records_resolved) == (1500, None)
    assert DatasetMetrics.from_api({"dataSetId": "DS-1"}).matched is None


# -- the report ------------------------------------------------------------------------------


def reported(facts: dict[str, int | str], *, minimum: int = 2000) -> dict[str, Any]:
    file = FileRecord(
        "f" * 32,
        key="audiences/vip/crm.csv",
        read=3,
        accepted=3,
        committed_at="2026-11-27T12:00:00Z",
        commit_session={"metrics_dataset": "DS-1"},
        remote_state=RemoteOutcome(READ, True, facts, "2026-11-27T12:15:01Z"),
    )
    return build_report(file, minimum_audience_size=minimum)


def warning_codes(report: dict[str, Any]) -> list[str]:
    return [warning["code"] for warning in report["warnings"]]


def test_the_report_has_the_match_rate_and_stays_complete() -> None:
    facts = {"matched": 2400, "records_resolved": 2400, "match_percentage": "61.54",
             "match_read_at": "2026-11-27T12:15:00Z"}  # fmt: skip

    report = reported(facts)

    assert report["status"] == "complete" and report["balanced"]
    assert report["match_rate"] == {
        "matched": 2400,
        "match_percentage": 61.54,
        "records_resolved": 2400,
        "read_at": "2026-11-27T12:15:00Z",
        "minimum_audience_size": 2000,
        "below_minimum": False,
    }
    assert "below_minimum_audience_size" not in warning_codes(report)


def test_below_the_minimum_audience_size_the_report_warns() -> None:
    report = reported({"matched": 1600, "match_read_at": "2026-11-27T12:15:00Z"})

    assert report["match_rate"]["below_minimum"] is True
    assert report["match_rate"]["match_percentage"] is None
    (warning,) = [w for w in report["warnings"] if w["code"] == "below_minimum_audience_size"]
    assert warning["count"] == 1600
    assert "1,600" in warning["message"] and "2,000" in warning["message"]


def test_the_minimum_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_AUDIENCE_SIZE", "1000")
    file = FileRecord(
        "f" * 32,
        committed_at="2026-11-27T12:00:00Z",
        remote_state=RemoteOutcome(READ, True, {"matched": 1600, "match_read_at": "t"}),
    )
    match_rate = build_report(file)["match_rate"]
    assert (match_rate["minimum_audience_size"], match_rate["below_minimum"]) == (1000, False)


def test_unavailable_metrics_are_a_warning_not_a_failure() -> None:
    report = reported({"match_unavailable": "adm_404_NOT_FOUND", "match_read_at": "t"})

    assert report["status"] == "complete" and "match_rate" not in report
    (warning,) = [w for w in report["warnings"] if w["code"] == "match_rate_unavailable"]
    assert "adm_404_NOT_FOUND" in warning["message"]


def test_a_report_without_metrics_has_no_match_rate() -> None:
    file = FileRecord("f" * 32, read=1, accepted=1)
    report = build_report(file)
    assert "match_rate" not in report and "remote" not in report
