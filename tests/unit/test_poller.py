"""The poller library: one committed file, a fake destination whose commit is pending and a
fake client scripted with the remote states it answers (moto for the ledger and the bucket).

Each test starts where the finalizer leaves a pending file — ``committed`` report, parked —
and drives :class:`FilePoller` as the state machine's tasks would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.destinations.base import (
    Commit,
    CommitState,
    DeliveryFailed,
    FailureClass,
    FileContext,
    FileSession,
    RemoteState,
)
from adm_ingest.destinations.members import AudienceMembers
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.poller import (
    MAX_WAIT_SECONDS,
    POLL_FAILED,
    TIMED_OUT,
    FilePoller,
    PollRequest,
    PollSettings,
    PollStarter,
    TransientPollError,
    execution_name,
)
from adm_ingest.pipeline.remote import RemoteLifecycle
from adm_ingest.report import ReportWriter, report_key
from tests.unit.test_finalize import BUCKET, FILE_ID, KEY, LEASE, World, complete_file
from tests.unit.test_finalize import world as world  # the fixture, shared

SESSION = {"batch_id": "B-7"}
INTERVAL = 30
MAX_SECONDS = 3600


class Throttled(Exception):
    """The fake client's own error for "try later"."""


class Refused(Exception):
    """The fake client's own error for "never"."""


@dataclass
class FakeClient:
    """Answers polls from a script of remote states (or exceptions), recording each call."""

    script: list[RemoteState | Exception]
    calls: list[tuple[FileContext, dict[str, str]]] = field(default_factory=list)

    def batch_state(self, file: FileContext, session: Mapping[str, str]) -> RemoteState:
        self.calls.append((file, dict(session)))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class PendingDestination(AudienceMembers):
    """A destination that commits a remote batch and is polled for it (AEP's shape): ADM's
    audience members with the commit and poll hooks of a batch API, and its client's errors
    classified."""

    def _commit(self, client: Any, file: FileContext, session: FileSession) -> Commit:
        return Commit(CommitState.PENDING, SESSION)

    def _poll(self, client: Any, file: FileContext, session: FileSession) -> RemoteState:
        return client.batch_state(file, session)  # type: ignore[no-any-return]  # the fake's

    def classify(self, error: Exception) -> DeliveryFailed | None:
        if isinstance(error, Throttled):
            return DeliveryFailed(FailureClass.TRANSIENT, "fake_throttled")
        if isinstance(error, Refused):
            return DeliveryFailed(FailureClass.PERMANENT, "fake_refused")
        return super().classify(error)


@dataclass
class Polling:
    world: World
    client: FakeClient
    poller: FilePoller
    started: list[str]

    def report(self) -> dict[str, Any]:
        return self.world.stored_report()


PROCESSING = RemoteState(terminal=False, status="processing")
SUCCESS = RemoteState(True, "success", True, {"records_written": 5})


@pytest.fixture
def polling(world: World) -> Polling:
    client = FakeClient([])
    remote = RemoteLifecycle(PendingDestination, lambda cls, target: client)
    started: list[str] = []
    finalizer = Finalizer(
        world.ledger,
        ReportWriter(world.s3, BUCKET),
        lease_seconds=LEASE,
        clock=world.clock,
        committer=remote.commit,
        start_poll=started.append,
    )
    complete_file(world)
    committed = finalizer.finalize_if_complete(FILE_ID)
    assert committed is not None and committed["status"] == "committed"
    poller = FilePoller(
        world.ledger,
        finalizer,
        remote,
        settings=PollSettings(interval_seconds=INTERVAL, max_seconds=MAX_SECONDS),
        clock=world.clock,
    )
    return Polling(world, client, poller, started)


def test_polls_until_terminal_then_writes_the_final_report(polling: Polling) -> None:
    polling.client.script = [PROCESSING, PROCESSING, SUCCESS]

    steps = [polling.poller.poll(FILE_ID, attempt) for attempt in range(3)]

    assert [(s.attempt, s.terminal, s.status) for s in steps] == [
        (1, False, "processing"),
        (2, False, "processing"),
        (3, True, "success"),
    ]
    assert [s.wait_seconds for s in steps[:2]] == [INTERVAL, INTERVAL]
    assert not any(s.expired for s in steps)
    # The destination got the file's context and the session its commit returned.
    context, session = polling.client.calls[0]
    assert (context.file_id, context.key, session) == (FILE_ID, KEY, SESSION)
    report = polling.report()
    assert report["status"] == "complete_with_failures"  # the file's own failed record
    assert report["remote"]["status"] == "success"
    assert report["remote"]["facts"] == {"records_written": 5}
    assert polling.world.file().reported_at


def test_a_non_terminal_poll_leaves_the_committed_report(polling: Polling) -> None:
    polling.client.script = [PROCESSING]

    polling.poller.poll(FILE_ID)

    assert polling.report()["status"] == "committed"
    assert polling.world.file().reported_at is None


def test_a_terminal_failure_is_the_final_status(polling: Polling) -> None:
    polling.client.script = [RemoteState(True, "failed", False, {"error": "INGEST-1212-400"})]

    step = polling.poller.poll(FILE_ID)

    assert step.terminal and step.status == "failed"
    report = polling.report()
    assert report["status"] == "remote_failed"
    assert report["remote"]["facts"] == {"error": "INGEST-1212-400"}


def test_past_the_deadline_the_poll_says_expired_and_time_out_records_timed_out(
    polling: Polling,
) -> None:
    polling.client.script = [PROCESSING]
    polling.world.clock.now += MAX_SECONDS

    step = polling.poller.poll(FILE_ID, 4)
    assert (step.terminal, step.expired, step.attempt) == (False, True, 5)

    done = polling.poller.handle(PollRequest("time_out", FILE_ID, step.attempt))

    assert (done.terminal, done.status) == (True, TIMED_OUT)
    report = polling.report()
    assert report["status"] == "remote_failed"
    assert report["remote"]["status"] == TIMED_OUT and report["remote"]["facts"] == {"polls": 5}


def test_a_file_whose_poller_never_concluded_is_timed_out_by_the_sweep(polling: Polling) -> None:
    # The execution died and recording its failure failed too: the file stays parked.
    assert polling.poller.sweep_overdue() == 0  # not overdue yet

    polling.world.clock.now += 7 * 3600 + 1  # past the finalizer's deadline for the poller
    assert polling.poller.sweep_overdue() == 1

    report = polling.report()
    assert report["status"] == "remote_failed" and report["remote"]["status"] == TIMED_OUT
    assert polling.poller.sweep_overdue() == 0  # concluded once


def test_a_classified_transient_error_is_raised_for_the_machine_to_retry(
    polling: Polling,
) -> None:
    polling.client.script = [Throttled("slow down"), SUCCESS]

    with pytest.raises(TransientPollError, match="fake_throttled"):
        polling.poller.poll(FILE_ID)
    assert polling.world.file().remote_state is None  # nothing recorded: poll again

    assert polling.poller.poll(FILE_ID).terminal
    assert polling.report()["remote"]["status"] == "success"


def test_a_classified_permanent_error_ends_the_poll_as_failed(polling: Polling) -> None:
    polling.client.script = [Refused("no such batch")]

    step = polling.poller.poll(FILE_ID)

    assert (step.terminal, step.status) == (True, POLL_FAILED)
    remote = polling.report()["remote"]
    assert remote["facts"] == {"failure": "permanent", "reason": "fake_refused"}


def test_an_unclassified_error_propagates_and_the_recorded_failure_names_it(
    polling: Polling,
) -> None:
    polling.client.script = [KeyError("batch")]

    with pytest.raises(KeyError):
        polling.poller.poll(FILE_ID)
    step = polling.poller.handle(PollRequest("fail", FILE_ID, 1, error="KeyError"))

    assert (step.terminal, step.status) == (True, POLL_FAILED)
    assert polling.report()["remote"]["facts"] == {"error": "KeyError", "polls": 1}


def test_a_retried_task_after_the_terminal_poll_polls_nothing_and_reports_once(
    polling: Polling,
) -> None:
    polling.client.script = [SUCCESS]
    polling.poller.poll(FILE_ID)

    again = polling.poller.poll(FILE_ID, 1)
    late = polling.poller.time_out(FILE_ID, 1)  # a late timeout changes nothing either

    assert (again.terminal, again.status, late.status) == (True, "success", "success")
    assert len(polling.client.calls) == 1
    assert polling.world.versions(report_key(KEY)) == 2  # committed, then final: no third
    assert polling.report()["remote"]["status"] == "success"


def test_a_file_that_is_not_committed_ends_the_poll(polling: Polling) -> None:
    step = polling.poller.poll("0" * 32)

    assert step.terminal and step.status == "unknown_file"


def test_the_wait_between_polls_is_bounded() -> None:
    assert PollSettings(interval_seconds=10**6).wait_seconds == MAX_WAIT_SECONDS
    assert PollSettings(interval_seconds=0).wait_seconds == 1


def test_a_task_event_is_validated() -> None:
    assert PollRequest.from_event({"file_id": FILE_ID}) == PollRequest("poll", FILE_ID, 0)
    with pytest.raises(ValueError, match="action"):
        PollRequest.from_event({"action": "explode", "file_id": FILE_ID})
    with pytest.raises(ValueError, match="file_id"):
        PollRequest.from_event({"action": "poll"})
    long_error = PollRequest.from_event({"action": "fail", "file_id": FILE_ID, "error": "E" * 999})
    assert long_error.error is not None and len(long_error.error) == 100


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("stepfunctions")


def test_the_poller_is_started_once_per_file_by_name(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name="poller",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/poller",
    )["stateMachineArn"]
    start = PollStarter(sfn, arn)

    start(FILE_ID)
    start(FILE_ID)  # a retried finalization: a duplicate, not an error

    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"] == execution_name(FILE_ID) == f"poll-{FILE_ID}"
    with pytest.raises(RuntimeError, match="POLLER_STATE_MACHINE_ARN"):
        PollStarter(sfn, "")(FILE_ID)
