"""The record path shared by the worker and the dry-run: map → prepare → build → batch, and the
accounting of what the API said about each batch.

Every record read ends in exactly one of the tally's outcomes; the per-record loop does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from adm_ingest.batching import Batch, ItemTooLarge
from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import Delivery, Destination
from adm_ingest.model import MappedRecord, Reason, Rejection, SourceRecord
from adm_ingest.outcomes import Tally
from adm_ingest.prepare import Preparer


class RecordMapper(Protocol):
    """What the processor needs of a mapping plan."""

    def apply(self, record: SourceRecord) -> MappedRecord: ...


class RecordProcessor:
    """Turns a stream of source records into request batches for one destination, recording
    every rejection (with its line number) in ``tally`` as it goes."""

    def __init__(
        self,
        destination: Destination,
        mapper: RecordMapper,
        policy: ConsentPolicy,
        tally: Tally | None = None,
    ) -> None:
        self.destination = destination
        self.mapper = mapper
        self.preparer = Preparer(policy, requires_consent=destination.requires_consent)
        self.tally = tally if tally is not None else Tally()

    def batches(self, records: Iterable[SourceRecord | Rejection]) -> Iterator[Batch]:
        """Yield full batches as they fill up, then the last partial one."""
        destination = self.destination
        batcher = destination.batcher()
        tally = self.tally
        coverage = tally.coverage
        prepare = self.preparer.prepare
        apply = self.mapper.apply
        build = destination.build
        serialize = destination.serialize
        # `type(x) is Rejection` rather than isinstance: Rejection is final, and for the usual
        # non-rejection object isinstance falls back to a slower __instancecheck__ lookup.
        for record in records:
            tally.read += 1
            if type(record) is Rejection:
                tally.reject(record.line, record.reason)
                continue
            prepared = prepare(apply(record))
            if type(prepared) is Rejection:
                tally.reject(prepared.line, prepared.reason)
                continue
            item = build(prepared)
            if type(item) is Rejection:
                tally.reject(item.line, item.reason)
                continue
            try:
                finished = batcher.add(serialize(item), record.line)
            except ItemTooLarge:
                tally.reject(record.line, Reason.RECORD_TOO_LARGE)
                continue
            coverage.add(prepared)
            if finished is not None:
                yield finished
        last = batcher.flush()
        if last is not None:
            yield last

    def record_delivery(self, batch: Batch, delivery: Delivery) -> None:
        """Count the batch's items as accepted, except those the API refused."""
        tally = self.tally
        tally.requests[str(delivery.status)] += 1
        if delivery.ingress_id:
            tally.ingress_ids.append(delivery.ingress_id)
        for index, reason in sorted(delivery.rejected.items()):
            if 0 <= index < len(batch.lines):
                tally.reject(batch.lines[index], reason)
        tally.accepted += len(batch.lines) - sum(
            1 for index in delivery.rejected if 0 <= index < len(batch.lines)
        )

    def record_failure(self, batch: Batch, reason: str) -> None:
        """The whole batch could not be delivered (retries exhausted, permanent API error)."""
        self.tally.fail(batch.lines, reason)
