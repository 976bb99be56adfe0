"""Finalization: when a file's last chunk is accounted for, write its report — exactly once,
and never lost.

Steps, each retried until the file ends ``reported``:

1. **claim** — a lease in the ledger (owner token + claim time), granted only for a complete,
   unreported file nobody else holds within the lease;
2. **outputs** — ``rejects/<key>.csv`` (the staged fates concatenated), then
   ``reports/<key>.json``; then ``report_written_at`` in the ledger;
3. **staging cleanup** — ``_staging/<file_id>/`` deleted (raw PII of gzip inputs);
4. **done** — the report's status and ``reported_at``; the file leaves the finalizing index.

Every ledger write after the claim is conditional on still owning it. A step that fails
releases the claim and re-raises, so the message that triggered it is redelivered and the next
delivery (a chunk, a duplicate S3 event, the dead-letter recorder — any call of
:meth:`Finalizer.finalize_if_complete`) takes it over at once; a holder that crashed without
releasing is taken over after the lease, by the next delivery or by the periodic
:meth:`Finalizer.sweep`.

**A pending commit.** Before step 2 the destination's ``commit`` runs (``committer``, injected:
this module knows no destination). ``DONE`` — every ADM destination — goes on as above.
``PENDING`` (a remote batch still processing) records the commit in the ledger (once: a retry
polls that commit instead of committing again), writes the report with status ``committed``
(what is known so far), starts the poller (``start_poll``; idempotent per file), and parks
the file: the claim ends and no claim is granted until the poller records a terminal remote
state (:mod:`adm_ingest.pipeline.poller`), after which the next claim — the poller's own, or
the sweep's — writes the final report through steps 2–4.

"Exactly once" = one final report object with one content. The content is deterministic (it is
built from the ledger item, whose ``finalized_at`` only the first claim sets), so a retry writes
the same bytes; and a retry first checks the objects' metadata, so after a crash between the
write and ``report_written_at`` it does not write them again. Only a holder overtaken while
still alive (slower than the lease, which exceeds every function's timeout) can write the same
content a second time.

**The notification** (``notify``, optional: :class:`adm_ingest.notify.SnsNotifier` on AWS) is
called after step 4 succeeded — by the one claim whose conditional ``mark_reported`` passed, so
once per file, never for the ``committed`` report of a pending commit (its final report
notifies). It is *at most once*: a failed publish (after the client's own retries) is logged
and counted (``FileNotificationsFailed``), and a crash between step 4 and the publish loses
it; neither is retried, because the file is already reported and nothing redelivers it.
Publishing before step 4 instead would make it at-least-once, and every finalization retry
after a crash a possible duplicate. The report in S3 is the record; the notification points
at it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adm_ingest.destinations.base import Commit, CommitState
from adm_ingest.ledger import DEFAULT_LEASE_SECONDS, FileRecord, Ledger
from adm_ingest.notify import count_failed_publish
from adm_ingest.report import ReportWriter, build_report

logger = logging.getLogger(__name__)

Committer = Callable[[FileRecord], Commit]
"""The destination's commit of a file whose chunks are all accounted for (the ledger's file
record in, the destination's :class:`Commit` out); built from the destination interface in
:mod:`adm_ingest.pipeline.runtime`."""
PollStarter = Callable[[str], None]
"""Starts waiting for a committed file's remote state (file id in); idempotent per file."""
Notify = Callable[[FileRecord, dict[str, Any]], None]
"""Tells people a file is finished (its ledger record and final report in); see the module
docstring for when it is called."""


def commit_done(file: FileRecord) -> Commit:
    """The committer of destinations that finish at delivery (ADM's): nothing to wait for."""
    return Commit()


class PollerNotConfigured(RuntimeError):
    """A destination's commit is pending, but this function has no poller to start."""


@dataclass(slots=True)
class SweepResult:
    """What one sweep found and finished."""

    stale: int = 0
    """Expired or released claims found in the finalizing index."""
    reported: int = 0
    failed: int = 0
    """Files whose finalization failed again (retried by the next sweep)."""

    def as_dict(self) -> dict[str, int]:
        return {"stale": self.stale, "reported": self.reported, "failed": self.failed}


class Finalizer:
    """Writes a file's report when the ledger says it is complete (whoever claims it first)."""

    def __init__(
        self,
        ledger: Ledger,
        writer: ReportWriter,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
        committer: Committer = commit_done,
        start_poll: PollStarter | None = None,
        remote_deadline_seconds: float = 7 * 3600,
        notify: Notify | None = None,
    ) -> None:
        self.ledger = ledger
        self.writer = writer
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.committer = committer
        self.start_poll = start_poll
        self.remote_deadline_seconds = remote_deadline_seconds
        """After a pending commit, how long until a file whose poller never concluded is
        overdue (the poller's own limit, plus a margin)."""
        self.notify = notify

    def finalize_if_complete(self, file_id: str) -> dict[str, Any] | None:
        """The report, if this call finalized the file; None if it isn't complete yet, is
        already reported, or another finalizer holds it. Raises if a step failed (the claim
        is released first, so a retry may take it over at once)."""
        owner = uuid.uuid4().hex
        file = self.ledger.claim_finalization(
            file_id, owner, lease_seconds=self.lease_seconds, now=self.clock()
        )
        if file is None:
            return None
        try:
            report = self._finish(file_id, owner, file)
        except Exception as error:
            self._release(file_id, owner, error)
            raise
        if report is None:
            logger.warning("finalization taken over by another claim", extra={"file_id": file_id})
            return None
        logger.info(
            "file report written",
            extra={
                "file_id": file_id,
                "status": report["status"],
                "records_read": report["records_read"],
                "accepted": report["accepted"],
                "rejected": report["rejected"],
                "failed": report["failed"],
                "attempt": file.finalize_attempts,
            },
        )
        return report

    def sweep(
        self, *, limit: int = 100, time_left: Callable[[], float] = lambda: float("inf")
    ) -> SweepResult:
        """Finish the finalizations whose claim expired or was released (found through the
        ledger's sparse finalizing index). Stops early when ``time_left()`` runs low; what it
        leaves is found again by the next sweep."""
        result = SweepResult()
        file_ids = self.ledger.stale_finalizations(
            lease_seconds=self.lease_seconds, now=self.clock(), limit=limit
        )
        result.stale = len(file_ids)
        for file_id in file_ids:
            if time_left() < 30:
                break
            try:
                report = self.finalize_if_complete(file_id)
            except Exception:
                logger.exception("sweep could not finalize a file", extra={"file_id": file_id})
                result.failed += 1
                continue
            if report is not None:
                result.reported += 1
        return result

    def _finish(self, file_id: str, owner: str, file: FileRecord) -> dict[str, Any] | None:
        """The commit, then steps 2–4 for a claimed file — or, while the commit is pending, the
        ``committed`` report. None when the claim was taken over meanwhile."""
        if not file.error and file.remote_state is None:
            commit = self._commit(file_id, owner, file)
            if commit is None:
                return None
            if commit.pending:
                return self._await_remote(file_id, owner)
        return self._final(file_id, owner, file)

    def _commit(self, file_id: str, owner: str, file: FileRecord) -> Commit | None:
        """The destination's commit, recorded when pending; None when the claim was lost."""
        if file.committed_at is not None:  # an earlier attempt committed: poll that, never twice
            return Commit(CommitState.PENDING, dict(file.commit_session))
        commit = self.committer(file)
        if commit.pending and not self.ledger.record_commit(
            file_id, owner, commit.session, now=self.clock()
        ):
            return None
        return commit

    def _await_remote(self, file_id: str, owner: str) -> dict[str, Any] | None:
        """Write the ``committed`` report, start the poller and park the file (the poller's
        terminal state reopens it). If the poll outran the parking, finish here."""
        if self.start_poll is None:
            raise PollerNotConfigured("a commit is pending and no poller is configured")
        file = self._reread(file_id)  # with the commit just recorded
        report = build_report(file)
        self.writer.write_report(file_id, file.key, report)
        self.start_poll(file_id)
        deadline = self.clock() + self.remote_deadline_seconds
        if self.ledger.await_remote(file_id, owner, deadline=deadline):
            return report
        file = self._reread(file_id)
        if file.remote_state is not None and file.finalize_owner == owner:
            return self._final(file_id, owner, file)
        return None

    def _reread(self, file_id: str) -> FileRecord:
        file = self.ledger.get_file(file_id)
        if file is None:  # claimed a moment ago: only its expiry (TTL) removes the item
            raise LookupError("the claimed file's ledger item is gone")
        return file

    def _final(self, file_id: str, owner: str, file: FileRecord) -> dict[str, Any] | None:
        """Steps 2–4: the final report and rejects, staging cleaned, the file marked reported."""
        report = build_report(file)
        if not file.report_written_at:
            retry = file.finalize_attempts > 1
            self.writer.write_outputs(file_id, file, report, skip_existing=retry)
            if not self.ledger.record_report_written(file_id, owner):
                return None
        self.writer.clean_staging(file_id)
        if not self.ledger.mark_reported(file_id, report["status"], owner=owner):
            return None
        self._notify(file, report)
        return report

    def _notify(self, file: FileRecord, report: dict[str, Any]) -> None:
        """The notification of a file just reported; a failure never undoes the report."""
        if self.notify is None:
            return
        try:
            self.notify(file, report)
        except Exception as error:
            logger.error(
                "file notification failed; the report stands",
                extra={"file_id": file.file_id, "reason": _error_code(error)},
            )
            count_failed_publish()

    def _release(self, file_id: str, owner: str, error: Exception) -> None:
        reason = _error_code(error)
        logger.error(
            "finalization failed; it will be retried",
            extra={"file_id": file_id, "reason": reason},
        )
        try:
            self.ledger.release_finalization(file_id, owner, reason)
        except Exception:  # the lease expires on its own; the sweep takes it over then
            logger.exception("could not release the finalization claim", extra={"file_id": file_id})


def _error_code(error: Exception) -> str:
    """An error's class and AWS error code — never its message (it may quote a key)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return f"{type(error).__name__}:{code}" if code else type(error).__name__
