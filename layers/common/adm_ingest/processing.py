"""The record path shared by the worker and the dry-run: map → prepare → encode → batch, and
the accounting of what the API said about each batch.

Every record read ends in exactly one of the tally's outcomes; the per-record loop does no I/O.
A reader's ``report_footer`` rejection is not a record: it is counted in ``Tally.skipped``, not
in ``read``.
CSV lines read as :class:`~adm_ingest.readers.CsvRows` take the *row lane*: fields by position
straight into :meth:`~adm_ingest.prepare.Preparer.prepare_row`, with no source or mapped record
in between. The lane is an optimisation only — a file gives byte-identical bodies and the same
tally either way (tests/property/test_row_lane.py).

Identical request items within a chunk — the same bytes: for a member the same action,
externalUserId, consent and hashed identity; for an event the same event; for a deletion the
same identity — are sent once, with the first record; the later ones are rejected
``duplicate_in_file`` (ADM would keep one of them anyway, so counting them accepted would
over-report). The check is a set of the chunk's encoded items, so batching stays deterministic
and a retried chunk replays the same batches. The set is bounded by :data:`DEDUPE_WINDOW`
items (a chunk holds at most that many records; a dry-run of a whole file dedupes window by
window, as the pipeline does chunk by chunk).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from adm_ingest.batching import Batch, ItemTooLarge
from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import Delivery, Destination
from adm_ingest.mapping import RowLayout
from adm_ingest.outcomes import Tally
from adm_ingest.prepare import Preparer
from adm_ingest.readers import CsvRows
from adm_ingest.records import MappedRecord, PreparedRecord, Reason, Rejection, SourceRecord

DEDUPE_WINDOW = 5000
"""Distinct items remembered for the duplicate check: the largest chunk (one members request)."""


class RecordMapper(Protocol):
    """What the processor needs of a mapping plan."""

    def apply(self, record: SourceRecord) -> MappedRecord: ...
    def row_layout(self, header: Sequence[str]) -> RowLayout: ...


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
        self.preparer = Preparer(policy, requires_consent=destination.rules.requires_consent)
        self.tally = tally if tally is not None else Tally()
        self._passed_through = 0
        """Rejections the reader made (no country resolved for them)."""

    def batches(self, records: Iterable[SourceRecord | Rejection | CsvRows]) -> Iterator[Batch]:
        """Yield full batches as they fill up, then the last partial one."""
        batcher = self.destination.batcher()
        tally = self.tally
        coverage = tally.coverage
        encode = self.destination.encode
        read_before = tally.read
        contexts_before = self.preparer.contexts
        passed_before = self._passed_through
        skipped_before = sum(tally.skipped.values())
        # `type(x) is Rejection` rather than isinstance: Rejection is final, and for the usual
        # non-rejection object isinstance falls back to a slower __instancecheck__ lookup.
        skipped = tally.skipped
        seen: set[bytes] = set()
        remember = seen.add
        for prepared in self._prepared(records):
            if type(prepared) is Rejection:
                # Only a rejection pays for this test: a report footer is no record at all.
                if prepared.reason == Reason.REPORT_FOOTER:
                    skipped[Reason.REPORT_FOOTER.value] += 1
                    continue
                tally.read += 1
                tally.reject(prepared.line, prepared.reason)
                continue
            tally.read += 1
            item = encode(prepared)  # type: ignore[arg-type]
            if type(item) is Rejection:
                tally.reject(item.line, item.reason)
                continue
            # One add and two len() calls: cheaper than a membership test followed by an add.
            distinct = len(seen)
            remember(item)  # type: ignore[arg-type]
            if len(seen) == distinct:
                tally.reject(prepared.line, Reason.DUPLICATE_IN_FILE)
                continue
            try:
                finished = batcher.add(item, prepared.line)  # type: ignore[arg-type]
            except ItemTooLarge:
                seen.discard(item)  # type: ignore[arg-type]
                tally.reject(prepared.line, Reason.RECORD_TOO_LARGE)
                continue
            coverage.add(prepared)  # type: ignore[arg-type]
            if finished is not None:
                if distinct >= DEDUPE_WINDOW:  # bounded (only a dry-run of a big file gets here)
                    seen.clear()
                    remember(item)  # type: ignore[arg-type]  # it opens the next batch
                yield finished
        self._count_countries(
            read=tally.read - read_before,
            contexts=self.preparer.contexts - contexts_before,
            passed_through=self._passed_through - passed_before,
            skipped=sum(tally.skipped.values()) - skipped_before,
        )
        # What the destination noticed while encoding (e.g. naive timestamps read as UTC).
        tally.notes.update(self.destination.notes)
        self.destination.notes.clear()
        tally.notes.update(self.preparer.notes)
        self.preparer.notes.clear()
        last = batcher.flush()
        if last is not None:
            yield last

    def _prepared(
        self, records: Iterable[SourceRecord | Rejection | CsvRows]
    ) -> Iterator[PreparedRecord | Rejection]:
        """One prepared record or rejection per record read, in file order.

        Well-formed rows of a :class:`CsvRows` block take the row lane — fields by position
        straight into :meth:`Preparer.prepare_row`; everything else is mapped record by record.
        """
        prepare = self.preparer.prepare
        prepare_row = self.preparer.prepare_row
        apply = self.mapper.apply
        layouts: dict[tuple[str, ...], RowLayout] = {}
        for record in records:
            if type(record) is CsvRows:
                header = record.header
                layout = layouts.get(header)
                if layout is None:
                    layout = layouts[header] = self.mapper.row_layout(header)
                for line, row in record.rows():
                    if type(row) is list:
                        yield prepare_row(line, row, layout)
                    elif type(row) is Rejection:
                        self._passed_through += 1
                        yield row
                    else:
                        yield prepare(apply(row))  # type: ignore[arg-type]
            elif type(record) is Rejection:
                self._passed_through += 1
                yield record
            else:
                yield prepare(apply(record))  # type: ignore[arg-type]

    def _count_countries(
        self, *, read: int, contexts: int, passed_through: int, skipped: int
    ) -> None:
        """Add where the records' countries came from to the tally, once the records are read.

        Counted in bulk, so the row lane pays nothing per row: every record read either was
        a reader's rejection, or had a context of its own (counted by the preparer), or
        shared its layout's context. Lines that are not records (report footers) pass
        through as rejections but are skipped, not read."""
        shared = read - contexts - (passed_through - skipped)
        sources, countries = self.preparer.take_country_counts(shared)
        self.tally.country_sources.update(sources)
        self.tally.countries.update(countries)

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
