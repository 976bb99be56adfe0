"""The splitter: one S3 object → chunk pointers on the queue, streamed once with flat memory.

Plain CSV and JSON Lines are cut into byte ranges at record boundaries (workers range-read the
original object). Gzip and JSON arrays can't be range-read, so their records are re-serialized
into plain staged chunks under ``_staging/``. Chunk ids derive from the object's identity, so a
redelivered S3 event produces the same chunks, which the workers deduplicate.

The mapping a file uses is validated completely (values too) and pinned on its ledger item
before anything is queued — a broken mapping is one file-level error — and every chunk pointer
names the pinned version's hash, so a setup re-run mid-file changes nothing for its chunks (a
resumed split reads the pinned mapping back, never the registry).

When an invocation runs short of time it saves a checkpoint and queues a continuation message;
the next invocation resumes exactly where it stopped — there is no file-size ceiling, only the
:class:`~adm_ingest.pipeline.limits.FileLimits`. Time is watched on bytes read (every
:data:`~adm_ingest.pipeline.limits.CLOCK_BYTES` of data), so a file of blank lines or one huge
line continues like any other; a staged split continues at the data offset it had reached
(a gzip file is inflated up to it again, which costs a fraction of parsing; nothing is parsed
twice).

Every file ends in exactly one report. Whatever goes wrong with its content — malformed, over
a limit, deleted or replaced while being split, or a bug — becomes a file-level error (the
chunks already queued still complete; nothing more is read). Only transient AWS trouble
(throttling, 5xx, connection errors) propagates, so Lambda or SQS retries the invocation from
its last checkpoint; retries exhausted, the event lands in the split dead-letter queue.
"""

from __future__ import annotations

import contextlib
import io
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from adm_ingest import registry as names
from adm_ingest.clients import ClientProvider, no_clients
from adm_ingest.consent import ConsentError, ConsentPolicy, CountrySource
from adm_ingest.destinations import (
    ChunkSize,
    DeliveryFailed,
    Destination,
    FailureClass,
    FileContext,
    FileSession,
    RowEncoder,
)
from adm_ingest.ledger import FileEntry, FileFacts, FileRecord, Ledger
from adm_ingest.mapping import build_plan
from adm_ingest.mapping_config import MappingConfig, MappingError, MappingMismatch, PinnedMapping
from adm_ingest.notices import foreign_data_message
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout, file_id_for
from adm_ingest.pipeline.continuation import SplitCheckpoint, SplitContinuation
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.limits import (
    CLOCK_BYTES,
    CLOCK_GRACE_BYTES,
    DataStream,
    FileLimits,
    OutOfTime,
)
from adm_ingest.pipeline.routing import (
    RoutingError,
    decode_key,
    is_own_output,
    resolve_target,
    route,
)
from adm_ingest.pipeline.sources import (
    ConcatStream,
    ObjectRef,
    open_object,
)
from adm_ingest.profile import (
    SAMPLE_BYTES,
    SAMPLE_RECORDS,
    country_columns,
    header_of,
    profile_records,
)
from adm_ingest.readers import (
    MAX_JSON_DEPTH,
    BoundaryScan,
    FileFormatError,
    Format,
    NoRecordsError,
    RangeScanUnsupported,
    ReadItem,
    ReadProgress,
    count_records,
    head,
    open_records,
    scan_boundaries,
    staged_lines,
)
from adm_ingest.report import mapping_section, staging_prefix

logger = logging.getLogger(__name__)

_SQS_BATCH = 10


@dataclass(slots=True)
class _Queued:
    """What is on the chunk queue for the file being split (what its error report waits for)."""

    chunks: int = 0
    records: int = 0


@dataclass(slots=True)
class SplitOutcome:
    """What one invocation did with one object."""

    file_id: str | None
    status: str
    """``queued`` · ``continued`` · ``duplicate`` · ``ignored`` · ``error``."""
    chunks: int = 0
    records: int = 0
    """Records queued; report footer lines included (the scan doesn't tell them apart; the
    workers count them as skipped)."""
    error: str | None = None
    encoding: str | None = None
    """The text encoding the file was read with (``utf-8``, ``cp1252``…), once it is known."""


class Splitter:
    """Splits objects into chunk pointers. ``time_left`` returns the invocation's remaining
    seconds; the splitter stops with a checkpoint when it drops below ``margin_seconds``."""

    def __init__(
        self,
        *,
        s3: Any,
        sqs: Any,
        ledger: Ledger,
        registry: names.Registry,
        finalizer: Finalizer,
        chunk_queue_url: str,
        split_queue_url: str,
        records_per_chunk: int = 5000,
        default_country: str = "US",
        margin_seconds: float = 30.0,
        max_json_depth: int = MAX_JSON_DEPTH,
        limits: FileLimits | None = None,
        clients: ClientProvider = no_clients,
        clock_bytes: int = CLOCK_BYTES,
        clock_grace_bytes: int = CLOCK_GRACE_BYTES,
        chunk_size: Callable[[type[Destination]], ChunkSize] | None = None,
    ) -> None:
        self.s3 = s3
        self.sqs = sqs
        self.ledger = ledger
        self.registry = registry
        self.finalizer = finalizer
        self.chunk_queue_url = chunk_queue_url
        self.split_queue_url = split_queue_url
        self.records_per_chunk = records_per_chunk
        self.default_country = default_country
        self.margin_seconds = margin_seconds
        self.max_json_depth = max_json_depth
        self.limits = limits or FileLimits()
        self.clients = clients
        """A destination's client, for ``open_file`` (lazy: ADM's destinations never use it)."""
        self.clock_bytes = clock_bytes
        """Data bytes between two looks at the clock."""
        self.clock_grace_bytes = clock_grace_bytes
        """Data bytes an invocation reads before its first look (past a file's opening)."""
        self._queued = _Queued()
        """Of the file being split (one at a time)."""
        self.chunk_size = chunk_size or (lambda _destination: ChunkSize(records_per_chunk))
        """How a destination's files are cut (records, and bytes of the source)."""
        self._size = ChunkSize(records_per_chunk)
        """Of the file being split."""
        self._opened: _OpenedFile | None = None
        """The file being split, as its destination opened it (its session grows when a chunk
        needs more of the remote side: a second AEP batch)."""

    # -- entry points ----------------------------------------------------------------------

    def handle_s3_record(
        self, record: dict[str, Any], time_left: Callable[[], float]
    ) -> SplitOutcome:
        """One ``Records[]`` entry of an S3 ObjectCreated event."""
        s3 = record["s3"]
        ref = ObjectRef(
            bucket=s3["bucket"]["name"],
            key=decode_key(s3["object"]["key"]),
            version_id=s3["object"].get("versionId") or None,
            etag=(s3["object"].get("eTag") or "").strip('"') or None,
            size=int(s3["object"].get("size", 0)),
        )
        return self.split(ref, time_left)

    def handle_continuation(
        self, message: SplitContinuation, time_left: Callable[[], float]
    ) -> SplitOutcome:
        """A continuation message the splitter queued for itself."""
        return self.split(message.object, time_left, resume=message.checkpoint)

    # -- the split -------------------------------------------------------------------------

    def split(
        self,
        ref: ObjectRef,
        time_left: Callable[[], float],
        *,
        resume: SplitCheckpoint | None = None,
    ) -> SplitOutcome:
        if is_own_output(ref.key):
            return SplitOutcome(None, "ignored")
        file_id = file_id_for(ref.bucket, ref.key, ref.version_id, ref.etag)
        try:
            found = route(ref.key)
            target = resolve_target(found, self.registry)
            error = None
        except RoutingError as routing_error:
            found, target, error = None, None, str(routing_error)

        entry = FileEntry(
            file_id=file_id,
            bucket=ref.bucket,
            key=ref.key,
            version_id=ref.version_id,
            etag=ref.etag,
            size=ref.size,
            destination=found.destination.name if found else "unknown",
            target_name=found.name if found else "",
            target_id=target.id if target else "",
            target_attributes=dict(target.attributes) if target else {},
        )
        existing: FileRecord | None = None
        if resume is None and not self.ledger.register_file(entry):
            existing = self.ledger.get_file(file_id) or FileRecord(file_id)
            if existing.split_done:
                # A redelivered event may be all that is left to retry a failed finalization.
                self.finalizer.finalize_if_complete(file_id)
                return SplitOutcome(file_id, "duplicate")
            saved = existing.split_checkpoint
            resume = SplitCheckpoint.from_dict(dict(saved)) if saved else SplitCheckpoint()
        elif resume is not None:
            existing = self.ledger.get_file(file_id)
        if error is not None or found is None or target is None:
            return self._file_error(file_id, error or "unroutable key")

        # The registered target's own country (an audience dataset's) comes before the default.
        country = target.attributes.get("country", "")
        country_source = CountrySource.DATASET if country else CountrySource.DEPLOYMENT_DEFAULT
        try:
            pinned = self._pinned_mapping(file_id, found.mapping_keys, existing)
            encoder = found.destination(target, pinned.config.parse_options).row_encoder(
                pinned.config
            )
            policy = ConsentPolicy.from_defaults(
                pinned.config.defaults or {},
                country=country or self.default_country,
                country_source=country_source,
            )
        except MappingError as mapping_error:
            return self._file_error(file_id, f"invalid column mapping: {mapping_error}")
        except ConsentError as consent_error:
            return self._file_error(file_id, f"invalid column mapping: {consent_error.detail}")
        except MappingMismatch:
            return self._file_error(file_id, "the file's pinned column mapping is damaged")
        self._size = self.chunk_size(found.destination)
        try:
            file = FileContext(file_id, ref.key, target, mapping=pinned.config)
            session = self._session(file, found.destination)
            self._opened = _OpenedFile(found.destination(target), file, dict(session))
        except DeliveryFailed as failed:
            if failed.failure is FailureClass.TRANSIENT:
                raise  # retried by Lambda (S3 event) or SQS (continuation)
            return self._file_error(
                file_id, f"{found.destination.name} could not open the file: {failed.reason}"
            )
        template = ChunkPointer(
            file_id=file_id,
            index=0,
            bucket=ref.bucket,
            key=ref.key,
            destination=found.destination.name,
            target_name=target.name,
            target_id=target.id,
            layout=SourceLayout(format="csv"),
            first_line=1,
            records=0,
            version_id=ref.version_id,
            etag=ref.etag,
            mapping_prefix=pinned.prefix,
            mapping_hash=pinned.content_hash,
            session=dict(session),
            default_country=country or self.default_country,
            default_country_source=str(country_source),
        )
        checkpoint = resume or SplitCheckpoint()
        inherited = pinned.prefix if pinned.prefix not in ("", found.prefix) else ""
        survey = _Survey(pinned.config, policy, inherited, encoder)
        self._queued = _Queued(checkpoint.chunk_index, checkpoint.records)
        try:
            return self._split_content(ref, template, checkpoint, time_left, survey)
        except FileFormatError as format_error:  # FileLimitError too
            message = str(format_error)
        except ClientError as client_error:
            if _transient(client_error):
                raise  # retried by Lambda (S3 event) or SQS (continuation) from the checkpoint
            message = _client_error_message(client_error)
        except DeliveryFailed as failed:  # the destination could not open what a chunk needs
            if failed.failure is FailureClass.TRANSIENT:
                raise
            message = f"{found.destination.name} could not open the file: {failed.reason}"
        except BotoCoreError:
            raise  # connection trouble: transient as well
        except Exception as unexpected:  # a bug must not become a crash loop
            _log_unexpected(file_id, unexpected)
            message = (
                f"the split failed unexpectedly ({type(unexpected).__name__}); the file was "
                "not read further"
            )
        return self._file_error(
            file_id, message, chunks=self._queued.chunks, records=self._queued.records
        )

    def _split_content(
        self,
        ref: ObjectRef,
        template: ChunkPointer,
        checkpoint: SplitCheckpoint,
        time_left: Callable[[], float],
        survey: _Survey,
    ) -> SplitOutcome:
        if checkpoint.source is None and (
            checkpoint.layout is None or checkpoint.offset is not None
        ):
            try:
                return self._split_ranges(ref, template, checkpoint, time_left, survey)
            except RangeScanUnsupported:
                pass  # gzip or a JSON array (found before anything was queued): staged below
        return self._split_staged(ref, template, checkpoint, time_left, survey)

    def _time_short(self, time_left: Callable[[], float]) -> Callable[[], bool]:
        return lambda: time_left() < self.margin_seconds

    def _chunk_limit(self, checkpoint: SplitCheckpoint) -> int:
        """Records the next chunk may take: a chunk's worth, or what the file limit leaves."""
        return max(0, min(self._size.records, self.limits.max_records - checkpoint.records))

    def _session(self, file: FileContext, destination: type[Destination]) -> FileSession:
        """The file's session with its destination: opened once (``open_file``) and kept on
        the file's ledger item, so a continuation or a redelivered event reuses it."""
        known = self.ledger.get_file(file.file_id)
        if known is not None and known.session:
            return dict(known.session)
        session = destination(file.target).open_file(self.clients(destination, file.target), file)
        return self.ledger.open_session(file.file_id, session)

    def _pinned_mapping(
        self, file_id: str, mapping_keys: Sequence[str], file: FileRecord | None
    ) -> PinnedMapping:
        """The mapping the file's chunks use: the one pinned on its ledger item (a resumed
        split, a redelivered event), else the registry's now — validated, then pinned.

        Raises:
            MappingError: the registered mapping is invalid (a file-level error).
            MappingMismatch: the pinned mapping does not match its hash.
        """
        pinned = file.pinned_mapping() if file is not None else None
        if pinned is not None:
            return pinned
        mapping_prefix, config = self._mapping(mapping_keys)
        return self.ledger.pin_mapping(file_id, PinnedMapping.of(mapping_prefix, config))

    def _mapping(self, keys: Sequence[str]) -> tuple[str, MappingConfig | None]:
        """The registered mapping that applies to the file ("" and None for none), validated —
        keys and values — so a broken mapping is one clear file-level error instead of a chunk
        retried to the DLQ. ``keys`` are the route's mapping keys in precedence order (a
        removal file falls back to its audience's mapping)."""
        for candidate in keys:
            entry = self.registry.get(names.MAPPING, candidate)
            if entry is not None:
                config = entry.attributes.get("config")
                text = config if isinstance(config, str) else orjson.dumps(config)
                return candidate, MappingConfig.from_json(text)
        return "", None

    # -- the survey: mapping and country profile, once per file --------------------------------

    def _survey(
        self,
        file_id: str,
        survey: _Survey,
        header: Sequence[str] | None,
        sample: list[ReadItem],
        encoding: str | None,
    ) -> str | None:
        """Before any chunk is queued: resolve the mapping against the file's columns, profile
        the sample's countries and store both on the file item. Returns the file-level error
        when ``strict_country`` is set and the data looks like another country's.

        Raises:
            MappingError: the mapping can't apply to these columns.
        """
        columns = header if header is not None else header_of(sample)
        if survey.encoder is not None:
            survey.encoder.layout_for(columns or ())
            self.ledger.record_file_facts(
                file_id, FileFacts(mapping=mapping_section(survey.encoder), encoding=encoding)
            )
            return None
        plan = build_plan(columns, survey.config)
        profile = profile_records(sample, plan, survey.policy.country)
        self.ledger.record_file_facts(
            file_id,
            FileFacts(
                mapping=mapping_section(plan, inherited_from=survey.inherited_from),
                encoding=encoding,
                country_column=bool(country_columns(plan)),
                default_country=survey.policy.country,
                default_country_source=str(survey.policy.country_source),
                country_profile=profile.to_dict(),
            ),
        )
        if profile.looks_foreign and survey.config.strict_country:
            return foreign_data_message(profile.to_dict(), strict=True)
        return None

    def _range_sample(self, ref: ObjectRef, scan: BoundaryScan) -> list[ReadItem]:
        """The file's first records, from one ranged GET of at most :data:`SAMPLE_BYTES`."""
        size = ref.size or _object_size(self.s3, ref)
        end = min(size, SAMPLE_BYTES)
        with contextlib.closing(open_object(self.s3, ref, (0, end))) as stream:
            try:
                records = head(
                    open_records(
                        stream,
                        format=scan.format,
                        delimiter=scan.delimiter,
                        max_depth=self.max_json_depth,
                    ),
                    SAMPLE_RECORDS + 1,
                )
            except FileFormatError:  # the split itself reports what is wrong
                return []
        count = count_records(records)
        if end < size and count <= SAMPLE_RECORDS:
            count -= 1  # the range may have cut the last record short
        return head(records, min(count, SAMPLE_RECORDS))

    def _staged_sample(self, ref: ObjectRef) -> list[ReadItem]:
        """The file's first records, from at most :data:`SAMPLE_BYTES` of (decompressed) data."""
        data = DataStream(open_object(self.s3, ref), self.limits, inflate=True, cap=SAMPLE_BYTES)
        records: list[ReadItem] = []
        with contextlib.closing(data), contextlib.suppress(FileFormatError):
            # (the split itself reports what is wrong; the records before it are a sample)
            head(open_records(data, max_depth=self.max_json_depth), SAMPLE_RECORDS, into=records)
        count = count_records(records)
        if data.capped and count < SAMPLE_RECORDS:
            records = head(records, count - 1)  # the cap may have cut the last record short
        return records

    # -- range-read files (plain CSV / JSON Lines) ------------------------------------------

    def _split_ranges(
        self,
        ref: ObjectRef,
        template: ChunkPointer,
        checkpoint: SplitCheckpoint,
        time_left: Callable[[], float],
        survey: _Survey,
    ) -> SplitOutcome:
        resuming = checkpoint.offset is not None
        progress = ReadProgress()
        if resuming:
            assert checkpoint.offset is not None
            # Re-read the header, then continue from the checkpoint's record boundary.
            header_bytes = checkpoint.header_bytes or 0
            with contextlib.closing(open_object(self.s3, ref, (0, header_bytes))) as head_body:
                head = head_body.read()
            rest = open_object(self.s3, ref, (checkpoint.offset, None))
            data = DataStream(ConcatStream(io.BytesIO(head), rest), self.limits, inflate=False)
            data.watch(
                self._time_short(time_left),
                every=self.clock_bytes,
                grace=self.clock_grace_bytes,
            )
            saved = checkpoint.layout or {}
            scan = scan_boundaries(
                data,
                format=saved.get("format"),
                delimiter=saved.get("delimiter"),
                # None while only ASCII had been seen: the resumed scan detects it afresh, from
                # the same first non-ASCII byte the first scan would have seen.
                encoding=saved.get("encoding"),
                progress=progress,
            )
            shift = checkpoint.offset - header_bytes
            # The resumed stream's line at ``header_bytes`` is the checkpoint's line.
            line_shift = (checkpoint.line or 1) - (head.count(b"\n") + 1)
        else:
            ref = ref if ref.size else replace(ref, size=_object_size(self.s3, ref))
            if ref.size > self.limits.max_decompressed_bytes:
                raise self.limits.too_large()
            data = DataStream(open_object(self.s3, ref), self.limits, inflate=False)
            data.watch(
                self._time_short(time_left),
                every=self.clock_bytes,
                grace=self.clock_grace_bytes,
            )
            scan = scan_boundaries(data, progress=progress)
            shift = line_shift = 0
            header_bytes = checkpoint.header_bytes = scan.body_start[0]
        # The header's bytes, not its names: a chunk message carries nothing read from the file.
        layout = SourceLayout(
            format=str(scan.format), delimiter=scan.delimiter, header_range=scan.header_range
        )
        if not resuming:
            try:
                error = self._survey(
                    template.file_id,
                    survey,
                    scan.header,
                    self._range_sample(ref, scan),
                    _encoding_of(scan),
                )
            except MappingError as mapping_error:
                error = f"invalid column mapping: {mapping_error}"
            if error is not None:
                return self._file_error(template.file_id, error)
        pending: list[ChunkPointer] = []
        chunk_start: tuple[int, int] | None = None
        count = 0
        limit = self._chunk_limit(checkpoint)
        # No byte bound: one past any offset, so the test below is one comparison.
        byte_limit = self._size.bytes or (1 << 62)
        try:
            for offset, line in scan:
                offset += shift
                line += line_shift
                if chunk_start is None:
                    if checkpoint.records >= self.limits.max_records:
                        raise self.limits.too_many_records()
                    chunk_start = (offset, line)
                elif count >= limit or offset - chunk_start[0] >= byte_limit:
                    # Every byte before ``offset`` went through the scan's encoding watch, so
                    # the encoding of this moment is right for the chunk (one that is still all
                    # ASCII reads the same in any).
                    layout = _with_encoding(layout, scan.encoding)
                    pending.append(
                        self._range_chunk(template, checkpoint, layout, chunk_start, offset, count)
                    )
                    checkpoint.chunk_index += 1
                    checkpoint.records += count
                    chunk_start, count = (offset, line), 0
                    if checkpoint.records >= self.limits.max_records:
                        raise self.limits.too_many_records()
                    limit = self._chunk_limit(checkpoint)
                    if len(pending) >= _SQS_BATCH:
                        self._send_chunks(pending)
                        pending.clear()
                        if time_left() < self.margin_seconds:
                            checkpoint.offset, checkpoint.line = chunk_start
                            checkpoint.layout = _layout_dict(
                                layout, scan.encoding if scan.encoding_settled else None
                            )
                            return self._continue(ref, template.file_id, checkpoint)
                count += 1
        except NoRecordsError:
            if not (checkpoint.records or count):
                raise
            # A resumed scan whose rest holds no more records (blank lines): the file is done.
        except OutOfTime:
            # Out of time between two blocks: every record the scan yielded lies before
            # ``progress.offset``; the chunk in progress ends there, the next split starts there.
            if progress.offset >= header_bytes:
                stop = (progress.offset + shift, progress.line + line_shift)
            else:  # still in the re-read header (an old checkpoint's long one): no progress
                stop = (checkpoint.offset or header_bytes, checkpoint.line or progress.line)
            layout = _with_encoding(layout, scan.encoding)
            if chunk_start is not None and count:
                pending.append(
                    self._range_chunk(template, checkpoint, layout, chunk_start, stop[0], count)
                )
                checkpoint.chunk_index += 1
                checkpoint.records += count
            self._send_chunks(pending)
            checkpoint.offset, checkpoint.line = stop
            checkpoint.layout = _layout_dict(
                layout, scan.encoding if scan.encoding_settled else None
            )
            return self._continue(ref, template.file_id, checkpoint)
        layout = _with_encoding(layout, scan.encoding)  # the scan is over: settled, or ASCII
        if chunk_start is not None and count:
            end = ref.size if ref.size else _object_size(self.s3, ref)
            pending.append(self._range_chunk(template, checkpoint, layout, chunk_start, end, count))
            checkpoint.chunk_index += 1
            checkpoint.records += count
        self._send_chunks(pending)
        return self._split_done(template.file_id, checkpoint, encoding=scan.encoding)

    def _range_chunk(
        self,
        template: ChunkPointer,
        checkpoint: SplitCheckpoint,
        layout: SourceLayout,
        start: tuple[int, int],
        end: int,
        count: int,
    ) -> ChunkPointer:
        return _replace(
            template,
            index=checkpoint.chunk_index,
            layout=layout,
            first_line=start[1],
            records=count,
            byte_range=(start[0], end),
            session=self._chunk_session(checkpoint.chunk_index),
        )

    def _chunk_session(self, index: int) -> dict[str, str]:
        """The session chunk ``index`` carries: the file's, grown by the destination when the
        chunk needs more of the remote side (kept on the file's ledger item at once, so the
        commit sees every batch)."""
        opened = self._opened
        assert opened is not None, "a chunk is cut only after its file was opened"
        grown = opened.destination.open_chunk(
            self.clients(type(opened.destination), opened.file.target),
            opened.file,
            opened.session,
            index,
        )
        if grown != opened.session:
            self.ledger.update_session(opened.file.file_id, grown)
            opened.session = dict(grown)
        return dict(opened.session)

    # -- staged files (gzip, JSON arrays) --------------------------------------------------

    def _split_staged(
        self,
        ref: ObjectRef,
        template: ChunkPointer,
        checkpoint: SplitCheckpoint,
        time_left: Callable[[], float],
        survey: _Survey,
    ) -> SplitOutcome:
        source = checkpoint.source
        if source is None and not checkpoint.records:
            try:
                error = self._survey(
                    template.file_id, survey, None, self._staged_sample(ref), _DEFAULT_ENCODING
                )
            except MappingError as mapping_error:
                error = f"invalid column mapping: {mapping_error}"
            if error is not None:
                return self._file_error(template.file_id, error)
        opened = self._open_staged(ref, source)
        opened.data.watch(
            self._time_short(time_left), every=self.clock_bytes, grace=self.clock_grace_bytes
        )
        reader, line_shift = opened.reader, opened.line_shift
        # A checkpoint from before sources were saved: skip (re-read) what it staged.
        skip = checkpoint.records if source is None else opened.placeholders
        layout = SourceLayout(format="staged")  # staged chunks are UTF-8 JSON, whatever the file
        buffer: list[bytes] = []
        buffered = 0
        first_line = 0
        pending: list[ChunkPointer] = []
        limit = self._chunk_limit(checkpoint)
        byte_limit = self._size.bytes or (1 << 62)
        try:
            for line, staged in staged_lines(reader, line_shift, skip):
                if len(buffer) >= limit or buffered >= byte_limit:
                    if buffer:
                        pending.append(
                            self._stage(template, checkpoint, layout, buffer, first_line)
                        )
                        buffer = []
                        buffered = 0
                    if checkpoint.records >= self.limits.max_records:
                        raise self.limits.too_many_records()
                    limit = self._chunk_limit(checkpoint)
                    # Until the compression-ratio guard is settled the chunks wait: a file
                    # refused as a bomb has sent nothing.
                    if len(pending) >= _SQS_BATCH and opened.data.ratio_settled:
                        self._send_chunks(pending)
                        pending.clear()
                if not buffer:
                    first_line = line
                buffer.append(staged)
                buffered += len(staged)
        except NoRecordsError:
            if not (checkpoint.records or buffer):
                raise
            # A resumed read whose rest holds no more records (blank lines): the file is done.
        except OutOfTime:
            # Every record the reader yielded lies before ``progress.offset``: stage them all
            # and continue from there.
            if buffer:
                pending.append(self._stage(template, checkpoint, layout, buffer, first_line))
            self._send_chunks(pending)
            checkpoint.source = self._source_checkpoint(opened)
            checkpoint.layout = _layout_dict(layout, None)
            return self._continue(ref, template.file_id, checkpoint)
        if buffer:
            pending.append(self._stage(template, checkpoint, layout, buffer, first_line))
        self._send_chunks(pending)
        return self._split_done(template.file_id, checkpoint, encoding=reader.encoding)

    def _open_staged(self, ref: ObjectRef, source: Mapping[str, Any] | None) -> _Staged:
        """The file's records from the start, or from where ``source`` says a split stopped:
        the data fast-forwarded there (a gzip file inflated up to it, a plain one range-read)
        behind a prefix that makes the rest a file of its own — the CSV header, ``[`` (or
        ``[{}`` when the rest starts after an element: that placeholder is skipped)."""
        progress = ReadProgress()
        if source is None:
            data = DataStream(open_object(self.s3, ref), self.limits, inflate=True)
            reader = open_records(data, progress=progress, max_depth=self.max_json_depth)
            return _Staged(data, reader, progress)
        offset = int(source["offset"])
        header_line = b""
        if source.get("compressed"):
            data = DataStream(open_object(self.s3, ref), self.limits, inflate=True)
            if source.get("header_range"):  # re-read the header line: never kept in a checkpoint
                start, end = (int(n) for n in source["header_range"])
                header_line = _read_exactly(data, end)[start:]
                data.skip(offset - end)
            else:
                data.skip(offset)
        else:
            data = DataStream(
                open_object(self.s3, ref, (offset, None)), self.limits, inflate=False, start=offset
            )
        fmt = Format(source["format"])
        placeholders = 0
        first_line = 1
        if fmt is Format.JSON_ARRAY:
            placeholders = 1 if source.get("after_element") else 0
            prefix = b"[{}" if placeholders else b"["
            # The reader numbers the elements itself (its errors name the file's element).
            first_line = int(source["line"]) - placeholders
            first = int(source["line"])
        elif fmt is Format.CSV:
            prefix = header_line
            first = prefix.count(b"\n") + 1
        else:
            prefix, first = b"", 1
        reader = open_records(
            _Prefixed(prefix, data),
            format=fmt,
            delimiter=source.get("delimiter"),
            encoding=source.get("encoding"),
            first_line=first_line,
            progress=progress,
            max_depth=self.max_json_depth,
        )
        return _Staged(
            data,
            reader,
            progress,
            line_shift=int(source["line"]) - first,
            base=offset - len(prefix),
            placeholders=placeholders,
            header_range=_range(source.get("header_range")),
        )

    def _source_checkpoint(self, opened: _Staged) -> dict[str, Any]:
        """Where the staged split continues: what :meth:`_open_staged` needs."""
        progress, reader = opened.progress, opened.reader
        # The file's own range: a resumed reader's header is a copy at the start of its stream.
        header_range = opened.header_range or progress.header_range
        return {
            "offset": opened.base + progress.offset,
            "line": progress.line + opened.line_shift,
            "after_element": progress.after_element,
            "compressed": opened.data.compressed,
            "format": str(progress.format),
            "delimiter": progress.delimiter,
            "header_range": list(header_range) if header_range else None,
            "encoding": reader.encoding if reader.encoding_settled else None,
        }

    def _stage(
        self,
        template: ChunkPointer,
        checkpoint: SplitCheckpoint,
        layout: SourceLayout,
        lines: list[bytes],
        first_line: int,
    ) -> ChunkPointer:
        key = f"{staging_prefix(template.file_id)}chunks/{checkpoint.chunk_index:06d}.jsonl"
        self.s3.put_object(Bucket=template.bucket, Key=key, Body=b"".join(lines))
        pointer = _replace(
            template,
            index=checkpoint.chunk_index,
            layout=layout,
            first_line=first_line,
            records=len(lines),
            staged_key=key,
            session=self._chunk_session(checkpoint.chunk_index),
        )
        checkpoint.chunk_index += 1
        checkpoint.records += len(lines)
        return pointer

    # -- bookkeeping -------------------------------------------------------------------------

    def _send_chunks(self, chunks: list[ChunkPointer]) -> None:
        for start in range(0, len(chunks), _SQS_BATCH):
            entries = [
                {"Id": str(i), "MessageBody": chunk.to_message()}
                for i, chunk in enumerate(chunks[start : start + _SQS_BATCH])
            ]
            response = self.sqs.send_message_batch(QueueUrl=self.chunk_queue_url, Entries=entries)
            if response.get("Failed"):
                failed = {f["Id"] for f in response["Failed"]}
                retry = [e for e in entries if e["Id"] in failed]
                for entry in retry:  # one by one; raises if SQS keeps refusing
                    self.sqs.send_message(
                        QueueUrl=self.chunk_queue_url, MessageBody=entry["MessageBody"]
                    )
        self._queued.chunks += len(chunks)
        self._queued.records += sum(chunk.records for chunk in chunks)

    def _continue(self, ref: ObjectRef, file_id: str, checkpoint: SplitCheckpoint) -> SplitOutcome:
        self.ledger.save_split_checkpoint(file_id, asdict(checkpoint))
        message = SplitContinuation(file_id, ref, checkpoint)
        self.sqs.send_message(QueueUrl=self.split_queue_url, MessageBody=message.to_message())
        return SplitOutcome(file_id, "continued", checkpoint.chunk_index, checkpoint.records)

    def _split_done(
        self, file_id: str, checkpoint: SplitCheckpoint, *, encoding: str | None = None
    ) -> SplitOutcome:
        if encoding is not None:
            # Final now (the survey saw only the file's start); before record_split, so the
            # report, which can be written as soon as the split is done, names it.
            self.ledger.record_file_facts(file_id, FileFacts(encoding=encoding))
        self.ledger.record_split(
            file_id, chunks_total=checkpoint.chunk_index, records_total=checkpoint.records
        )
        self.finalizer.finalize_if_complete(file_id)
        return SplitOutcome(
            file_id, "queued", checkpoint.chunk_index, checkpoint.records, encoding=encoding
        )

    def _file_error(
        self, file_id: str, message: str, *, chunks: int = 0, records: int = 0
    ) -> SplitOutcome:
        self.ledger.record_file_error(file_id, message, chunks_total=chunks, records_total=records)
        self.finalizer.finalize_if_complete(file_id)
        return SplitOutcome(file_id, "error", chunks, records, error=message)


@dataclass(frozen=True, slots=True)
class _Staged:
    """A staged split's reader and what maps its positions to the file's."""

    data: DataStream
    reader: Any
    progress: ReadProgress
    line_shift: int = 0
    """Added to the reader's line (element) numbers: the file's numbers."""
    base: int = 0
    """Added to the reader's offsets: the file's data offsets."""
    placeholders: int = 0
    """Leading records that stand in for what came before (skipped)."""
    header_range: tuple[int, int] | None = None
    """Where the file's CSV header line is (a resumed reader reads a copy of it first)."""


class _Prefixed:
    """``prefix``, then ``data``: each ``read`` reads from one of them only, so a clock that
    interrupts ``data`` never takes bytes the reader was already handed."""

    def __init__(self, prefix: bytes, data: DataStream) -> None:
        self._prefix = prefix
        self._data = data

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            head, self._prefix = self._prefix, b""
            return head
        return self._data.read(size)


def _range(value: Any) -> tuple[int, int] | None:
    """A ``[start, end)`` pair as a checkpoint stores it (a JSON list), or None."""
    return (int(value[0]), int(value[1])) if value else None


def _read_exactly(data: DataStream, count: int) -> bytes:
    """The next ``count`` bytes of ``data``."""
    parts: list[bytes] = []
    while count > 0:
        part = data.read(count)
        if not part:
            raise FileFormatError("the file is shorter than when its split began")
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "TransactionInProgressException",
    }
)
"""AWS error codes worth a retry: throttling, timeouts, the service's own trouble."""
_GONE_CODES = frozenset(
    {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "PreconditionFailed", "412"}
)
"""The file (the version or ETag the event named) is no longer there."""


def _aws_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _transient(error: ClientError) -> bool:
    """Throttling, timeouts, 5xx: retried by the invocation's retry (Lambda's for the S3
    event, SQS's for a continuation), which resumes at the last checkpoint. Anything else
    (missing, forbidden, invalid) would fail every retry the same way: a file error."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return _aws_code(error) in _TRANSIENT_CODES or status >= 500 or status == 429


def _client_error_message(error: ClientError) -> str:
    code = _aws_code(error) or "unknown"
    if code in _GONE_CODES:
        return (
            f"the file was deleted or replaced before its split finished (S3 said {code}); "
            "the file was not read further"
        )
    return f"the file could not be split: AWS error {code}"


def _log_unexpected(file_id: str, error: BaseException) -> None:
    """Where it failed, never what it read: the type and the frames, not the message (an
    exception's text may quote a value)."""
    frames = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
    ]
    logger.error(
        "split failed unexpectedly",
        extra={"file_id": file_id, "error_type": type(error).__name__, "frames": frames},
    )


class _OpenedFile:
    """The file being split, its destination, and its session as it stands."""

    def __init__(self, destination: Destination, file: FileContext, session: dict[str, str]):
        self.destination = destination
        self.file = file
        self.session = session


@dataclass(frozen=True, slots=True)
class _Survey:
    """What the survey of a file needs: its mapping config and consent policy."""

    config: MappingConfig
    policy: ConsentPolicy
    inherited_from: str = ""
    """The prefix whose mapping this file borrows (a removal file under ``…/delete/``)."""
    encoder: RowEncoder | None = None
    """The destination's own record path, if it has one (then no consent or countries)."""


_DEFAULT_ENCODING = "utf-8"


def _encoding_of(scan: BoundaryScan) -> str:
    """The encoding the scan has settled on so far (UTF-8 while it has seen only ASCII)."""
    return scan.encoding


def _layout_dict(layout: SourceLayout, settled_encoding: str | None) -> dict[str, Any]:
    """The checkpoint's layout; ``encoding`` only once settled (``None``: detect on resume).
    No column names: the checkpoint (ledger, continuation message) holds nothing read from the
    file, and a resumed scan re-reads the header anyway."""
    return {
        "format": layout.format,
        "delimiter": layout.delimiter,
        "encoding": settled_encoding,
    }


def _with_encoding(layout: SourceLayout, encoding: str) -> SourceLayout:
    return layout if layout.encoding == encoding else replace(layout, encoding=encoding)


def _replace(pointer: ChunkPointer, **changes: Any) -> ChunkPointer:
    return replace(pointer, **changes)


def _object_size(s3: Any, ref: ObjectRef) -> int:
    kwargs = ref.get_kwargs()
    kwargs.pop("IfMatch", None)
    return int(s3.head_object(**kwargs)["ContentLength"])
