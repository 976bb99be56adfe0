"""Worker crashes at named points of a chunk's life — a test hook of the local stack only.

A *hard* crash is the Lambda execution environment dying (a timeout, running out of memory, a
lost host): no ``except`` or ``finally`` of the handler runs, so Powertools Idempotency leaves
the chunk's record ``INPROGRESS`` until the invocation's deadline, the BatchProcessor reports
nothing, and SQS redelivers every message of the invocation once their visibility timeout
passes. It is raised as :class:`SimulatedCrash`, a ``BaseException`` that the handler stack's
``except Exception`` clauses cannot catch; the local stack's pump treats it as the invocation
dying and starts a fresh container for the next one, as Lambda does.

A *soft* crash raises :class:`InjectedError`, an ordinary exception (a DynamoDB write that
failed, a bug): the handler stack sees it, Idempotency releases the chunk and the batch
response names the message as failed.

The points, in the order a chunk passes them (``batch`` counts a chunk's batches from 0,
across deliveries — a retry that replays two delivered batches sends batch 2 next):

* ``before_send``: batch built, nothing sent;
* ``after_send``: ADM answered the batch, its delivered batch not recorded;
* ``after_delivered_batch``: the batch recorded as delivered, before the next batch;
* ``before_complete``: every batch recorded, the chunk's outcome not yet added to its file;
* ``after_counted``: the file's counters moved (the conditional update), the chunk item not
  yet marked done;
* ``after_finalize_claim``: the last chunk claimed the file's report (``finalized_at`` set),
  the report not yet written.

The hooks wrap the worker's collaborators from outside (the ADM client's send methods, the
ledger's public methods, the ledger table's ``update_item``); nothing in ``functions/`` or the
layer knows about them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import Any

SEND_METHODS = ("ingest_members", "ingest_conversion_events", "delete_identities")
"""The ADM client methods the worker's destinations send batches with."""


class CrashPoint(StrEnum):
    BEFORE_SEND = "before_send"
    AFTER_SEND = "after_send"
    AFTER_DELIVERED_BATCH = "after_delivered_batch"
    BEFORE_COMPLETE = "before_complete"
    AFTER_COUNTED = "after_counted"
    AFTER_FINALIZE_CLAIM = "after_finalize_claim"


class SimulatedCrash(BaseException):
    """The worker's execution environment died at a crash point (see the module docstring)."""


class InjectedError(Exception):
    """An ordinary exception raised at a crash point (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Crash:
    """One crash that happened: where, in which chunk, at which of its batches."""

    point: CrashPoint
    key: str
    """The input file's S3 key."""
    chunk_id: str
    batch: int | None
    hard: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    point: CrashPoint
    batch: int | None
    hard: bool
    where: Callable[[Any], bool] | None


class Crashes:
    """The armed crash points of one local stack's worker containers (thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._fired: set[tuple[CrashPoint, str, int | None]] = set()
        self.history: list[Crash] = []
        """Every crash so far, in order."""
        self._lock = threading.Lock()

    def arm(
        self,
        point: CrashPoint,
        *,
        batch: int | None = 0,
        hard: bool = True,
        where: Callable[[Any], bool] | None = None,
    ) -> None:
        """Crash every chunk (or those whose ``ChunkPointer`` ``where`` accepts) once at
        ``point``.

        ``batch`` picks the batch for the per-batch points (``before_send``, ``after_send``,
        ``after_delivered_batch``); a chunk with fewer batches does not crash there. It is ignored
        for the per-chunk points.
        """
        per_batch = point in (
            CrashPoint.BEFORE_SEND,
            CrashPoint.AFTER_SEND,
            CrashPoint.AFTER_DELIVERED_BATCH,
        )
        with self._lock:
            self._rules.append(_Rule(point, batch if per_batch else None, hard, where))

    def disarm(self) -> None:
        """Remove every armed crash (the history stays)."""
        with self._lock:
            self._rules.clear()

    def hit(self, point: CrashPoint, pointer: Any, batch: int | None = None) -> None:
        """Called at ``point`` of the chunk ``pointer``: raise if a crash is armed there and
        has not fired for that chunk yet."""
        chunk_id = pointer.chunk_id
        with self._lock:
            for rule in self._rules:
                if rule.point is not point or (rule.batch is not None and rule.batch != batch):
                    continue
                if rule.where is not None and not rule.where(pointer):
                    continue
                fired = (point, chunk_id, rule.batch)
                if fired in self._fired:
                    continue
                self._fired.add(fired)
                self.history.append(Crash(point, pointer.key, chunk_id, rule.batch, rule.hard))
                message = f"simulated crash at {point} of chunk {pointer.index}"
                if rule.hard:
                    raise SimulatedCrash(message)
                raise InjectedError(message)

    # -- installation ------------------------------------------------------------------------

    def install(self, worker_module: ModuleType) -> None:
        """Wrap the collaborators of a loaded worker function (one "container")."""
        runtime = worker_module.runtime
        worker = runtime.worker
        if runtime.finalizer.ledger is not worker.ledger:
            raise RuntimeError("the worker's finalizer no longer shares its ledger")
        _Hooks(self, worker, worker.ledger).install()


@dataclass(slots=True)
class _Attempt:
    """The chunk a container is processing and the number of its next batch."""

    pointer: Any = None
    next_batch: int = 0


class _Hooks:
    def __init__(self, crashes: Crashes, worker: Any, ledger: Any) -> None:
        self.crashes = crashes
        self.worker = worker
        self.ledger = ledger
        self.attempt = _Attempt()

    def install(self) -> None:
        crashes, attempt, ledger = self.crashes, self.attempt, self.ledger
        process = self.worker.process

        def tracked_process(pointer: Any) -> Any:
            existing = ledger.get_chunk(pointer.file_id, pointer.index)
            attempt.pointer = pointer
            attempt.next_batch = len(existing.delivered_batches) if existing else 0
            return process(pointer)

        self.worker.process = tracked_process

        clients = self.worker.clients
        self.worker.clients = lambda destination, target: _CrashingClient(
            clients(destination, target), crashes, attempt
        )

        record_delivered_batch = ledger.record_delivered_batch

        def recorded(file_id: str, index: int, delivered: Any) -> None:
            record_delivered_batch(file_id, index, delivered)
            batch = attempt.next_batch
            attempt.next_batch += 1
            crashes.hit(CrashPoint.AFTER_DELIVERED_BATCH, attempt.pointer, batch)

        ledger.record_delivered_batch = recorded

        complete_chunk = ledger.complete_chunk

        def completing(file_id: str, index: int, tally: Any, **kwargs: Any) -> bool:
            crashes.hit(CrashPoint.BEFORE_COMPLETE, attempt.pointer)
            return bool(complete_chunk(file_id, index, tally, **kwargs))

        ledger.complete_chunk = completing

        # The finalizer shares the worker's ledger: wrap its lease-based claim.
        claim = ledger.claim_finalization

        def claimed(*args: Any, **kwargs: Any) -> Any:
            file = claim(*args, **kwargs)
            if file is not None:
                crashes.hit(CrashPoint.AFTER_FINALIZE_CLAIM, attempt.pointer)
            return file

        ledger.claim_finalization = claimed
        ledger._resource_table = _CountingTable(ledger._resource_table, crashes, attempt)


class _CrashingClient:
    """A destination's client whose sending calls pass the crash points around them."""

    def __init__(self, client: Any, crashes: Crashes, attempt: _Attempt) -> None:
        self._client = client
        self._crashes = crashes
        self._attempt = attempt

    def __getattr__(self, name: str) -> Any:
        original = getattr(self._client, name)
        if name not in SEND_METHODS:
            return original
        crashes, attempt = self._crashes, self._attempt

        def send(*args: Any, **kwargs: Any) -> Any:
            batch = attempt.next_batch
            crashes.hit(CrashPoint.BEFORE_SEND, attempt.pointer, batch)
            result = original(*args, **kwargs)
            crashes.hit(CrashPoint.AFTER_SEND, attempt.pointer, batch)
            return result

        return send


class _CountingTable:
    """The ledger table, crashing right after the update that adds a chunk to its file."""

    def __init__(self, table: Any, crashes: Crashes, attempt: _Attempt) -> None:
        self._table = table
        self._crashes = crashes
        self._attempt = attempt

    def update_item(self, **kwargs: Any) -> Any:
        result = self._table.update_item(**kwargs)
        if "counted_chunks" in str(kwargs.get("ConditionExpression", "")):
            self._crashes.hit(CrashPoint.AFTER_COUNTED, self._attempt.pointer)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)
