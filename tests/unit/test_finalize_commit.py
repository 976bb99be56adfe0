"""A pending commit: the file's report says ``committed`` until the poller records a terminal
remote state, then the final report is written exactly once (moto, in-process).

The finalizer knows no destination: it is given a ``committer`` (the destination's commit) and
a ``start_poll``. These tests drive it as the poller does, through the ledger's
``record_remote_state`` and another ``finalize_if_complete``.
"""

from __future__ import annotations

from typing import Any

import pytest

from adm_ingest.destinations.base import Commit, CommitState, RemoteState
from adm_ingest.ledger import FileEntry, FileRecord
from adm_ingest.pipeline.finalize import Finalizer, PollerNotConfigured
from adm_ingest.pipeline.poller import remote_outcome
from adm_ingest.report import ReportWriter, build_report, rejects_key, report_key
from tests.unit.test_finalize import (
    BUCKET,
    EXPECTED_REJECTS,
    FILE_ID,
    KEY,
    LEASE,
    World,
    complete_file,
)
from tests.unit.test_finalize import world as world  # the fixture, shared

SESSION = {"batch_id": "B-1"}


class Remote:
    """A destination's commit that is pending, and a poller start that is recorded."""

    def __init__(self, world: World, *, state: CommitState = CommitState.PENDING) -> None:
        self.world = world
        self.state = state
        self.commits: list[str] = []
        self.polls_started: list[str] = []
        self.on_start: Any = None

    def commit(self, file: FileRecord) -> Commit:
        self.commits.append(file.key)
        return Commit(self.state, SESSION)

    def start_poll(self, file_id: str) -> None:
        self.polls_started.append(file_id)
        if self.on_start is not None:
            self.on_start(file_id)

    def finalizer(self) -> Finalizer:
        return Finalizer(
            self.world.ledger,
            ReportWriter(self.world.s3, BUCKET),
            lease_seconds=LEASE,
            clock=self.world.clock,
            committer=self.commit,
            start_poll=self.start_poll,
        )


def terminal(world: World, *, succeeded: bool = True, status: str = "success") -> bool:
    state = RemoteState(True, status, succeeded, {"records_written": 5, "batch": "B-1"})
    return world.ledger.record_remote_state(FILE_ID, remote_outcome(state, world.clock()))


def test_a_pending_commit_reports_committed_starts_the_poller_and_parks_the_file(
    world: World,
) -> None:
    complete_file(world)
    remote = Remote(world)

    report = remote.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None and report == world.stored_report()
    assert report["status"] == "committed"
    assert report["remote"] == {
        "status": "pending",
        "succeeded": None,
        "facts": {},
        "failed_by_reason": {},
        "session": SESSION,
        "committed_at": world.file().committed_at,
        "finished_at": None,
    }
    assert (report["records_read"], report["rejected"], report["failed"]) == (8, 2, 1)
    assert report["rejects_file"] is None and report["timings"]["finished_at"] is None
    assert remote.commits == [KEY] and remote.polls_started == [FILE_ID]
    file = world.file()
    assert file.status == "committed" and file.awaiting_remote and file.reported_at is None
    # Rejects and staging wait for the final report; the file is out of the sweep's index.
    assert world.versions(rejects_key(KEY)) == 0
    assert world.staged()
    assert world.ledger.stale_finalizations(lease_seconds=0, now=world.clock() + 10**6) == []


def test_a_parked_file_is_not_claimed_again_until_its_remote_state_is_known(
    world: World,
) -> None:
    complete_file(world)
    remote = Remote(world)
    remote.finalizer().finalize_if_complete(FILE_ID)
    world.clock.now += 10 * LEASE  # long after any lease

    assert remote.finalizer().finalize_if_complete(FILE_ID) is None
    assert remote.finalizer().sweep().stale == 0
    assert remote.commits == [KEY] and len(remote.polls_started) == 1


def test_the_terminal_poll_gets_the_final_report_exactly_once(world: World) -> None:
    complete_file(world)
    remote = Remote(world)
    remote.finalizer().finalize_if_complete(FILE_ID)
    world.clock.now += 300

    assert terminal(world)
    assert not terminal(world)  # recorded once
    report = remote.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None and report == world.stored_report() == build_report(world.file())
    assert report["status"] == "complete_with_failures"
    assert report["remote"]["status"] == "success" and report["remote"]["succeeded"] is True
    assert report["remote"]["facts"] == {"batch": "B-1", "records_written": 5}
    assert report["timings"]["finished_at"] == report["remote"]["finished_at"]
    assert report["rejects_file"] == rejects_key(KEY)
    body = world.s3.get_object(Bucket=BUCKET, Key=rejects_key(KEY))["Body"].read()
    assert body == EXPECTED_REJECTS
    assert world.staged() == []
    assert world.file().status == "complete_with_failures" and world.file().reported_at
    assert world.versions(report_key(KEY)) == 2  # the committed report, then the final one
    assert remote.finalizer().finalize_if_complete(FILE_ID) is None
    assert remote.commits == [KEY]  # committed once, never again


def test_an_unsuccessful_remote_state_is_the_report_s_status(world: World) -> None:
    complete_file(world)
    remote = Remote(world)
    remote.finalizer().finalize_if_complete(FILE_ID)

    terminal(world, succeeded=False, status="timed_out")
    report = remote.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None
    assert report["status"] == "remote_failed"
    assert (report["remote"]["status"], report["remote"]["succeeded"]) == ("timed_out", False)


def test_a_final_report_the_poller_did_not_finish_is_finished_by_the_sweep(
    world: World,
) -> None:
    complete_file(world)
    remote = Remote(world)
    remote.finalizer().finalize_if_complete(FILE_ID)
    terminal(world)  # ... and the poller died before finalizing

    result = remote.finalizer().sweep()

    assert (result.stale, result.reported) == (1, 1)
    assert world.stored_report()["status"] == "complete_with_failures"


def test_a_failure_after_the_commit_is_retried_without_committing_again(world: World) -> None:
    complete_file(world)
    remote = Remote(world)

    def unavailable(file_id: str) -> None:
        raise ConnectionError("states endpoint unreachable")

    remote.on_start = unavailable
    with pytest.raises(ConnectionError):
        remote.finalizer().finalize_if_complete(FILE_ID)
    assert world.file().committed_at and world.file().status != "committed"

    remote.on_start = None
    report = remote.finalizer().finalize_if_complete(FILE_ID)  # the next delivery

    assert report is not None and report["status"] == "committed"
    assert report["remote"]["session"] == SESSION
    assert remote.commits == [KEY]
    assert remote.polls_started == [FILE_ID, FILE_ID]  # started idempotently per file id


def test_a_poll_that_outruns_the_parking_is_finished_by_the_claim_holder(world: World) -> None:
    complete_file(world)
    remote = Remote(world)
    remote.on_start = lambda file_id: terminal(world)  # terminal before the file is parked

    report = remote.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None and report["status"] == "complete_with_failures"
    assert world.stored_report() == report and world.file().reported_at


def test_a_done_commit_and_a_file_error_take_today_s_path(world: World) -> None:
    complete_file(world)
    done = Remote(world, state=CommitState.DONE)

    report = done.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None and report["status"] == "complete_with_failures"
    assert "remote" not in report and done.polls_started == []
    assert done.commits == [KEY]


def test_a_file_level_error_is_reported_without_a_commit(world: World) -> None:
    world.ledger.register_file(
        FileEntry(FILE_ID, BUCKET, KEY, "v1", "etag", 1, "audience_members", "vip", "DS-1")
    )
    world.ledger.record_file_error(FILE_ID, "unknown audience")
    remote = Remote(world)

    report = remote.finalizer().finalize_if_complete(FILE_ID)

    assert report is not None and report["status"] == "error"
    assert remote.commits == []


def test_a_pending_commit_without_a_poller_is_an_error_not_a_silent_report(world: World) -> None:
    complete_file(world)
    remote = Remote(world)
    finalizer = remote.finalizer()
    finalizer.start_poll = None

    with pytest.raises(PollerNotConfigured):
        finalizer.finalize_if_complete(FILE_ID)
    assert world.file().reported_at is None
