"""The poller: wait for a committed file's remote state, then write its final report.

A destination whose ``commit`` says *pending* (a remote batch still processing) leaves the file
parked in the ledger with a ``committed`` report (:mod:`adm_ingest.pipeline.finalize`), and the
finalizer starts one execution of the poller state machine for it
(``functions/poller/poller.asl.json``, named by :func:`execution_name`, so a repeated start is a
harmless duplicate). The machine loops Poll → terminal? → Wait; each task calls
:meth:`FilePoller.handle`:

* ``poll`` — the destination's ``poll`` with its client and the file's remote session. Not
  terminal: the machine waits ``wait_seconds`` (:class:`PollSettings`, bounded) and polls again,
  unless the file's deadline passed (``expired``) or the machine's poll bound is reached. A
  transient failure (classified by the destination) is raised as :class:`TransientPollError`,
  which the machine retries with backoff; a permanent one, or one that needs a human, ends the
  poll as ``poll_failed``.
* ``time_out`` — the terminal outcome ``timed_out``.
* ``fail`` — the terminal outcome ``poll_failed`` (the machine caught an error it could not
  retry; only its name is recorded, never its message).

A terminal state is recorded on the file once (:meth:`Ledger.record_remote_state`), which makes
the file claimable again; then the finalizer writes the final report. Every step is idempotent:
a retried task finds the state recorded and only makes sure the report is written (a report the
poller cannot finish is finished by the sweep).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adm_ingest.destinations.base import DeliveryFailed, FailureClass, RemoteState
from adm_ingest.ledger import FileRecord, Ledger, RemoteOutcome
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.remote import RemoteLifecycle

logger = logging.getLogger(__name__)

POLL, TIME_OUT, FAIL = "poll", "time_out", "fail"
ACTIONS = (POLL, TIME_OUT, FAIL)
TIMED_OUT = "timed_out"
"""Remote status recorded when the file's deadline or the machine's poll bound is reached."""
POLL_FAILED = "poll_failed"
"""Remote status recorded when polling failed for good (a permanent error, retries spent)."""
UNKNOWN_FILE = "unknown_file"
MIN_WAIT_SECONDS = 1
MAX_WAIT_SECONDS = 3600
"""Bounds of the wait between polls, whatever the settings say."""
MAX_ERROR_NAME = 100


class TransientPollError(Exception):
    """The destination could not answer now (throttled, unavailable): the state machine
    retries the poll with backoff (its Retry names this class, the Lambda ``errorType``)."""


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval_seconds: int = 120
    """Seconds between polls (bounded to 1..3600)."""
    max_seconds: int = 6 * 3600
    """How long after the commit the poller gives up and records ``timed_out``."""

    @property
    def wait_seconds(self) -> int:
        return max(MIN_WAIT_SECONDS, min(MAX_WAIT_SECONDS, int(self.interval_seconds)))


@dataclass(frozen=True, slots=True)
class PollRequest:
    """A task's input from the state machine."""

    action: str
    file_id: str
    attempt: int = 0
    """Polls made so far for this file (by this execution)."""
    error: str | None = None
    """``fail``: the name of the error the machine caught."""

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PollRequest:
        action = event.get("action", POLL)
        file_id = event.get("file_id")
        if action not in ACTIONS:
            raise ValueError(f"unknown poller action {action!r}")
        if not isinstance(file_id, str) or not file_id:
            raise ValueError("a poller task needs a file_id")
        error = event.get("error")
        return cls(
            action=action,
            file_id=file_id,
            attempt=int(event.get("attempt") or 0),
            error=str(error)[:MAX_ERROR_NAME] if error else None,
        )


@dataclass(frozen=True, slots=True)
class PollStep:
    """A task's output: what the state machine does next."""

    file_id: str
    attempt: int
    terminal: bool
    status: str
    wait_seconds: int = 0
    expired: bool = False

    def to_event(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "attempt": self.attempt,
            "terminal": self.terminal,
            "status": self.status,
            "wait_seconds": self.wait_seconds,
            "expired": self.expired,
        }


class FilePoller:
    """One poll (or the end of polling) of one committed file."""

    def __init__(
        self,
        ledger: Ledger,
        finalizer: Finalizer,
        remote: RemoteLifecycle,
        *,
        settings: PollSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.finalizer = finalizer
        self.remote = remote
        self.settings = settings or PollSettings()
        self.clock = clock

    def handle(self, request: PollRequest) -> PollStep:
        if request.action == TIME_OUT:
            return self.time_out(request.file_id, request.attempt)
        if request.action == FAIL:
            return self.record_failure(request.file_id, request.error or "Unknown", request.attempt)
        return self.poll(request.file_id, request.attempt)

    def poll(self, file_id: str, attempt: int = 0) -> PollStep:
        """Poll the file's remote state once; record it and write the final report when it is
        terminal. Raises :class:`TransientPollError` for the machine to retry."""
        file = self.ledger.get_file(file_id)
        if file is None or file.committed_at is None:
            logger.error("poll for a file that is not committed", extra={"file_id": file_id})
            return PollStep(file_id, attempt, terminal=True, status=UNKNOWN_FILE)
        if file.remote_state is not None:  # a retried task: only make sure the report is written
            return self._finalize(file_id, attempt, file.remote_state.status)
        attempt += 1
        try:
            state = self.remote.poll(file)
        except DeliveryFailed as failure:  # an unclassified error propagates: the machine
            if failure.failure is FailureClass.TRANSIENT:  # records it as poll_failed (Catch)
                raise TransientPollError(failure.reason) from None
            state = RemoteState(
                terminal=True,
                status=POLL_FAILED,
                succeeded=False,
                facts={"reason": failure.reason, "failure": str(failure.failure)},
            )
        if state.terminal:
            return self._conclude(file_id, attempt, state)
        logger.info(
            "remote state not final yet",
            extra={"file_id": file_id, "status": state.status, "attempt": attempt},
        )
        return PollStep(
            file_id,
            attempt,
            terminal=False,
            status=state.status,
            wait_seconds=self.settings.wait_seconds,
            expired=self._expired(file),
        )

    def sweep_overdue(
        self, *, limit: int = 100, time_left: Callable[[], float] = lambda: float("inf")
    ) -> int:
        """Time out the parked files whose poller never concluded (its execution failed, and
        so did recording the failure): each gets ``timed_out`` and its final report. Returns
        how many were concluded; the rest are found again by the next sweep."""
        concluded = 0
        for file_id in self.ledger.overdue_remote(now=self.clock(), limit=limit):
            if time_left() < 30:
                break
            try:
                self.time_out(file_id)
            except Exception:
                logger.exception("could not time out an overdue file", extra={"file_id": file_id})
                continue
            concluded += 1
        return concluded

    def time_out(self, file_id: str, attempt: int = 0) -> PollStep:
        """Stop waiting: the file's outcome is ``timed_out``."""
        state = RemoteState(
            terminal=True, status=TIMED_OUT, succeeded=False, facts={"polls": attempt}
        )
        return self._conclude(file_id, attempt, state)

    def record_failure(self, file_id: str, error: str, attempt: int = 0) -> PollStep:
        """Polling failed for good (``error``: the error's name): the outcome is
        ``poll_failed``."""
        state = RemoteState(
            terminal=True,
            status=POLL_FAILED,
            succeeded=False,
            facts={"error": error[:MAX_ERROR_NAME], "polls": attempt},
        )
        return self._conclude(file_id, attempt, state)

    def _expired(self, file: FileRecord) -> bool:
        committed = file.committed_epoch or 0
        return self.clock() - committed >= self.settings.max_seconds

    def _conclude(self, file_id: str, attempt: int, state: RemoteState) -> PollStep:
        file = self.ledger.get_file(file_id)
        # Staged before the state is recorded (a retry stages the same fates again).
        failed = self.remote.account(file, state) if file is not None else {}
        outcome = remote_outcome(state, self.clock(), failed)
        recorded = self.ledger.record_remote_state(file_id, outcome)
        if not recorded:  # recorded before (a retry), or the file is gone / not committed
            file = self.ledger.get_file(file_id)
            known = None if file is None else file.remote_state
            if known is None:
                logger.error("no committed file to conclude", extra={"file_id": file_id})
                return PollStep(file_id, attempt, terminal=True, status=UNKNOWN_FILE)
            return self._finalize(file_id, attempt, known.status)
        logger.info(
            "remote state final",
            extra={
                "file_id": file_id,
                "status": state.status,
                "succeeded": state.succeeded,
                "attempt": attempt,
            },
        )
        return self._finalize(file_id, attempt, state.status)

    def _finalize(self, file_id: str, attempt: int, status: str) -> PollStep:
        # None is fine: reported already, or another finalizer holds it (the sweep finishes
        # a claim that was not finished).
        self.finalizer.finalize_if_complete(file_id)
        return PollStep(file_id, attempt, terminal=True, status=status)


def remote_outcome(
    state: RemoteState, finished_at: float, failed: Mapping[str, int] | None = None
) -> RemoteOutcome:
    """A terminal :class:`RemoteState` as the ledger records it (ids and counts only),
    finished at ``finished_at`` (epoch seconds); ``failed``: the delivered records it did not
    take, by reason."""
    return RemoteOutcome(
        status=state.status,
        succeeded=bool(state.succeeded),
        facts={str(k): v for k, v in state.facts.items()},
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished_at)),
        failed=dict(failed or {}),
    )


# -- starting the poller ----------------------------------------------------------------------

EXECUTION_PREFIX = "poll-"


def execution_name(file_id: str) -> str:
    """The poller execution's name for a file: derived from the file id alone, so a second
    start for the same file (a retried finalization) is refused as a duplicate. File ids are
    32 hex digits (:func:`adm_ingest.pipeline.chunks.file_id_for`); names allow 80 characters."""
    return f"{EXECUTION_PREFIX}{file_id}"[:80]


class PollStarter:
    """Starts the poller state machine for a file (the finalizer's ``start_poll``)."""

    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = state_machine_arn

    def __call__(self, file_id: str) -> None:
        if not self._arn:
            raise RuntimeError("POLLER_STATE_MACHINE_ARN is not set")
        try:
            self._sfn.start_execution(
                stateMachineArn=self._arn,
                name=execution_name(file_id),
                input=json.dumps({"file_id": file_id}),
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            logger.info("poller already started", extra={"file_id": file_id})
            return
        logger.info("poller started", extra={"file_id": file_id})
