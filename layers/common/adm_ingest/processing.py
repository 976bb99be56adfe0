"""The record path shared by the worker and the dry-run: map → prepare → encode → batch, and
the accounting of what the API said about each batch.

There is one path, whatever the file's format: a reader's blocks of records
(:class:`~adm_ingest.readers.RecordBlock`: a header and its records' fields) are mapped by
position through the plan's layout for that header (:meth:`~adm_ingest.mapping.MappingPlan.
layout_for`), prepared (:meth:`~adm_ingest.prepare.Preparer.prepare`) and encoded
(:meth:`~adm_ingest.destinations.Destination.encode`). The same records as CSV, JSON Lines or a
JSON array give byte-identical bodies (tests/property/test_one_record_path.py).

Every record read ends in exactly one of the tally's outcomes; the per-record loop does no I/O.
A reader's ``report_footer`` rejection is not a record: it is counted in ``Tally.skipped``, not
in ``read``.

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
from adm_ingest.destinations.base import RowEncoder
from adm_ingest.mapping import RecordLayout, build_plan
from adm_ingest.mapping_config import MappingConfig
from adm_ingest.outcomes import Tally
from adm_ingest.prepare import Preparer
from adm_ingest.readers import ReadItem
from adm_ingest.records import Reason, Rejection

DEDUPE_WINDOW = 5000
"""Distinct items remembered for the duplicate check: the largest chunk (one members request)."""


class RecordMapper(Protocol):
    """What the processor needs of a mapping plan."""

    def layout_for(self, header: tuple[str, ...]) -> RecordLayout: ...


class RecordProcessor:
    """Turns a reader's blocks of records into request batches for one destination, recording
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
        self.preparer = Preparer(policy, destination.rules)
        self.tally = tally if tally is not None else Tally()
        self._passed_through = 0
        """Rejections the reader made (no country resolved for them)."""

    def batches(self, items: Iterable[ReadItem]) -> Iterator[Batch]:
        """Yield full batches as they fill up, then the last partial one."""
        batcher = self.destination.batcher()
        tally = self.tally
        coverage = tally.coverage
        encode = self.destination.encode
        prepare = self.preparer.prepare
        layout_for = self.mapper.layout_for
        read_before = tally.read
        contexts_before = self.preparer.contexts
        passed_before = self._passed_through
        skipped_before = sum(tally.skipped.values())
        skipped = tally.skipped
        seen: set[bytes] = set()
        remember = seen.add
        header: tuple[str, ...] | None = None
        layout: RecordLayout | None = None
        # `type(x) is Rejection` rather than isinstance: Rejection is final, and for the usual
        # non-rejection object isinstance falls back to a slower __instancecheck__ lookup.
        for block in items:
            if type(block) is Rejection:  # the reader's: the record never reached a block
                # Only a rejection pays for this test: a report footer is no record at all.
                if block.reason == Reason.REPORT_FOOTER:
                    skipped[Reason.REPORT_FOOTER.value] += 1
                else:
                    tally.read += 1
                    tally.reject(block.line, block.reason)
                self._passed_through += 1
                continue
            if block.header is not header:  # a CSV file: once
                header = block.header
                layout = layout_for(header)
            # Counted per block, not per record: every record of it is given its outcome
            # below before the next block is read (a batch yielded mid-block already counts
            # the rest of the block).
            tally.read += len(block)
            for line, fields in zip(block.lines, block.rows):  # noqa: B905
                prepared = prepare(line, fields, layout)  # type: ignore[arg-type]  # layout is set by the block's header, above
                if type(prepared) is Rejection:
                    tally.reject(prepared.line, prepared.reason)
                    continue
                item = encode(prepared)
                if type(item) is Rejection:
                    tally.reject(item.line, item.reason)
                    continue
                # One add and two len() calls: cheaper than a membership test and an add.
                distinct = len(seen)
                remember(item)
                if len(seen) == distinct:
                    tally.reject(line, Reason.DUPLICATE_IN_FILE)
                    continue
                try:
                    finished = batcher.add(item, line)
                except ItemTooLarge:
                    seen.discard(item)
                    tally.reject(line, Reason.RECORD_TOO_LARGE)
                    continue
                coverage.add(prepared)
                if finished is not None:
                    if distinct >= DEDUPE_WINDOW:  # bounded (only a dry-run of a big file)
                        seen.clear()
                        remember(item)  # it opens the next batch
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

    def _count_countries(
        self, *, read: int, contexts: int, passed_through: int, skipped: int
    ) -> None:
        """Add where the records' countries and consent came from to the tally, once the
        records are read.

        Counted in bulk, so a record pays nothing for it: every record read either was a
        reader's rejection, or had a context of its own (counted by the preparer), or shared
        its layout's context. Lines that are not records (report footers) pass
        through as rejections but are skipped, not read."""
        shared = read - contexts - (passed_through - skipped)
        sources, countries = self.preparer.take_country_counts(shared)
        self.tally.country_sources.update(sources)
        self.tally.countries.update(countries)
        self.tally.consent_sources.update(self.preparer.take_consent_counts(shared))

    def record_delivery(self, batch: Batch, delivery: Delivery, *, minute: str | None) -> None:
        record_delivery(self.tally, batch, delivery, minute=minute)

    def record_failure(self, batch: Batch, reason: str) -> None:
        """The whole batch could not be delivered (retries exhausted, permanent API error)."""
        self.tally.fail(batch.lines, reason)


class RowProcessor:
    """The record path of a destination with its own :class:`RowEncoder` (e.g. XDM rows for
    AEP): the same blocks in, the same batches and tally out as :class:`RecordProcessor`,
    without the shared preparation (no canonical fields, hashing or consent).

    Identical items are not deduplicated here: such a destination's chunks are large (one
    remote file each) and its remote system merges repeats itself (AEP: the same profile
    identity, the same event ``_id``)."""

    def __init__(self, destination: Destination, encoder: RowEncoder, tally: Tally | None = None):
        self.destination = destination
        self.encoder = encoder
        self.tally = tally if tally is not None else Tally()

    def batches(self, items: Iterable[ReadItem]) -> Iterator[Batch]:
        batcher = self.destination.batcher()
        tally = self.tally
        encoder = self.encoder
        encode_row = encoder.encode_row
        header: Sequence[str] | None = None
        for block in items:
            if type(block) is Rejection:
                if block.reason == Reason.REPORT_FOOTER:
                    tally.skipped[Reason.REPORT_FOOTER.value] += 1
                else:
                    tally.read += 1
                    tally.reject(block.line, block.reason)
                continue
            if block.header is not header:
                header = block.header
                encoder.layout_for(header)
            tally.read += len(block)
            for line, fields in zip(block.lines, block.rows):  # noqa: B905
                item = encode_row(line, fields)
                if type(item) is Rejection:
                    # The rejects file says where (the path and rule): the row's own fix.
                    tally.reject(item.line, item.reason, item.detail)
                    continue
                try:
                    finished = batcher.add(item, line)
                except ItemTooLarge:
                    tally.reject(line, Reason.RECORD_TOO_LARGE)
                    continue
                if finished is not None:
                    yield finished
        tally.notes.update(encoder.notes)
        encoder.notes.clear()
        last = batcher.flush()
        if last is not None:
            yield last

    def record_delivery(self, batch: Batch, delivery: Delivery, *, minute: str | None) -> None:
        record_delivery(self.tally, batch, delivery, minute=minute)

    def record_failure(self, batch: Batch, reason: str) -> None:
        self.tally.fail(batch.lines, reason)


Processor = RecordProcessor | RowProcessor


def record_processor(
    destination: Destination,
    config: MappingConfig,
    header: Sequence[str] | None,
    policy: ConsentPolicy,
) -> Processor:
    """The record path of ``destination`` for a file with ``config`` and ``header`` (``None``
    for formats whose records name their fields): its own row encoder if it has one, else the
    shared path (mapping plan → preparer → encode)."""
    if destination.own_record_path:
        encoder = destination.row_encoder(config)
        assert encoder is not None, "a destination with its own record path has a row encoder"
        return RowProcessor(destination, encoder)
    return RecordProcessor(destination, build_plan(header, config), policy)


def record_delivery(tally: Tally, batch: Batch, delivery: Delivery, *, minute: str | None) -> None:
    """Count the batch's items as accepted, except those the API refused, and its request by
    status and by the ``minute`` its answer came (:meth:`Tally.count_request`)."""
    tally.count_request(str(delivery.status), minute)
    if delivery.ingress_id:
        tally.ingress_ids.append(delivery.ingress_id)
    lines = batch.lines
    for index, reason in sorted(delivery.rejected.items()):
        if 0 <= index < len(lines):
            tally.reject(lines[index], reason)
    tally.accepted += len(lines) - sum(1 for index in delivery.rejected if 0 <= index < len(lines))
