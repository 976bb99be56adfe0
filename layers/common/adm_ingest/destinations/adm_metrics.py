"""An audience upload's match rate: the dataset's metrics, read through the poller once Amazon
has had time to match the records (``GET /adm/datasets/{dataSetId}/metrics``).

ADM takes members at delivery, but matches them to Amazon users afterwards. With
``MATCH_RATE_DELAY_SECONDS`` > 0 the audience destinations' commit is *pending*: the session
names the dataset, when it was committed and when the metrics may be read. Until then a poll is
not terminal (``awaiting_metrics``); after it, the poll reads the metrics and ends in a
terminal, **succeeded** state whose facts carry them (:mod:`adm_ingest.match_rate` names them).

Reading the metrics never fails the file — its records were delivered:

* a transient failure (429, 5xx, no answer: the shared classification, after the client's own
  retries) is tried again at the next poll (``metrics_retrying``);
* a permanent one (a 4xx, refused credentials), or transient ones until the poll would time out,
  end in ``metrics_unavailable`` — succeeded, with the reason as the ``match_unavailable`` fact.

The poll gives up waiting in time for the poller's own deadline (``POLL_MAX_SECONDS``: its
expiry would record ``timed_out``, a failed remote state): at the latest two poll intervals
before it, whatever ``MATCH_RATE_DELAY_SECONDS`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from adm_ingest.adm import AdmClient, DatasetMetrics
from adm_ingest.destinations.base import (
    Commit,
    CommitState,
    DeliveryFailed,
    FailureClass,
    FileSession,
    RemoteState,
)
from adm_ingest.match_rate import (
    MATCH_PERCENTAGE,
    MATCH_READ_AT,
    MATCH_UNAVAILABLE,
    MATCHED,
    RECORDS_RESOLVED,
)

SESSION_DATASET = "metrics_dataset"
SESSION_COMMITTED = "metrics_committed_at"
SESSION_AFTER = "metrics_after"
"""Session keys: the dataset id, and the commit's and the earliest read's epoch seconds."""

AWAITING = "awaiting_metrics"
RETRYING = "metrics_retrying"
READ = "metrics_read"
UNAVAILABLE = "metrics_unavailable"
"""Remote statuses: not terminal (the first two), terminal (the others; both succeeded)."""

_MAX_WAIT_SECONDS = 3600
"""The poller bounds its wait between polls to 1..3600 s."""


def metrics_commit(
    data_set_id: str, session: FileSession, *, now: datetime, delay_seconds: int
) -> Commit:
    """Done (nothing to read) when ``delay_seconds`` ≤ 0; else pending, the session naming the
    dataset and when its metrics may be read."""
    if delay_seconds <= 0 or not data_set_id:
        return Commit(CommitState.DONE, session)
    committed = int(now.timestamp())
    return Commit(
        CommitState.PENDING,
        {
            **session,
            SESSION_DATASET: data_set_id,
            SESSION_COMMITTED: str(committed),
            SESSION_AFTER: str(committed + delay_seconds),
        },
    )


def metrics_poll(
    client: AdmClient,
    session: FileSession,
    *,
    now: datetime,
    poll_max_seconds: int,
    poll_interval_seconds: int,
    classify: Callable[[Exception], DeliveryFailed | None],
) -> RemoteState:
    """One look: not yet, or the metrics (or why there are none). A session without a
    dataset (a commit that was done) has nothing to wait for."""
    if not session.get(SESSION_DATASET):
        return RemoteState(terminal=True, status="done")
    moment = now.timestamp()
    committed = _epoch(session, SESSION_COMMITTED, default=moment)
    wait = max(1, min(_MAX_WAIT_SECONDS, poll_interval_seconds))
    last_chance = committed + poll_max_seconds - 2 * wait
    if moment < min(_epoch(session, SESSION_AFTER, default=moment), last_chance):
        return RemoteState(terminal=False, status=AWAITING)
    read_at = _iso(now)
    try:
        metrics = client.dataset_metrics(session[SESSION_DATASET])
    except Exception as error:
        failed = classify(error)
        if failed is None:
            raise  # not the client's: a bug
        if failed.failure is FailureClass.TRANSIENT and moment < last_chance:
            return RemoteState(terminal=False, status=RETRYING)
        return RemoteState(
            terminal=True,
            status=UNAVAILABLE,
            succeeded=True,
            facts={MATCH_UNAVAILABLE: failed.reason, MATCH_READ_AT: read_at},
        )
    return RemoteState(
        terminal=True, status=READ, succeeded=True, facts=metrics_facts(metrics, read_at)
    )


def metrics_facts(metrics: DatasetMetrics, read_at: str) -> dict[str, int | str]:
    """The remote facts of read metrics (what the API left out is left out)."""
    facts: dict[str, int | str] = {MATCH_READ_AT: read_at}
    counts = {
        MATCHED: metrics.matched,
        RECORDS_RESOLVED: metrics.records_resolved,
        "accepted_count": metrics.accepted_count,
        "invalid_record_count": metrics.invalid_record_count,
        "records_with_identity": metrics.records_with_identity,
        "upload_count": metrics.upload_count,
    }
    facts.update({name: value for name, value in counts.items() if value is not None})
    if metrics.match_record_percentage is not None:
        facts[MATCH_PERCENTAGE] = f"{metrics.match_record_percentage:.2f}"
    return facts


def _epoch(session: Mapping[str, str], key: str, *, default: float) -> float:
    try:
        return float(session[key])
    except (KeyError, ValueError):
        return default


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
