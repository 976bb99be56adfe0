"""The splitter: one S3 object → chunk pointers on the queue, streamed once with flat memory.

Plain CSV and JSON Lines are cut into byte ranges at record boundaries (workers range-read the
original object). Gzip and JSON arrays can't be range-read, so their records are re-serialized
into plain staged chunks under ``_staging/``. Chunk ids derive from the object's identity, so a
redelivered S3 event produces the same chunks, which the workers deduplicate.

When an invocation runs short of time it saves a checkpoint and queues a continuation message;
the next invocation resumes exactly where it stopped — there is no file-size ceiling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import islice
from typing import Any

import orjson

from adm_ingest import registry as names
from adm_ingest.consent import ConsentError, ConsentPolicy, CountrySource
from adm_ingest.ledger import FileEntry, Ledger
from adm_ingest.mapping import MappingConfig, MappingError, build_plan
from adm_ingest.model import Kind
from adm_ingest.notices import foreign_data_message
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout, file_id_for
from adm_ingest.pipeline.finalize import Finalizer
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
    stage_line,
)
from adm_ingest.profile import (
    SAMPLE_BYTES,
    SAMPLE_RECORDS,
    country_columns,
    header_of,
    profile_records,
    strict_country,
)
from adm_ingest.readers import (
    MAX_JSON_DEPTH,
    BoundaryScan,
    FileFormatError,
    RangeScanUnsupported,
    open_records,
    scan_boundaries,
)
from adm_ingest.report import mapping_section, staging_prefix

_SQS_BATCH = 10


@dataclass(slots=True)
class Checkpoint:
    """Where a split stopped: enough to resume in a new invocation."""

    chunk_index: int = 0
    """Chunks queued so far (the next chunk's index)."""
    records: int = 0
    """Records covered by those chunks."""
    offset: int | None = None
    """Byte offset of the next chunk's first record (range-read files)."""
    line: int | None = None
    """Line number of that record."""
    header_bytes: int | None = None
    """Length of the CSV header prefix (re-read on resume so the scanner sees a header)."""
    layout: dict[str, Any] | None = None


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
        self, message: dict[str, Any], time_left: Callable[[], float]
    ) -> SplitOutcome:
        """A continuation message the splitter queued for itself."""
        ref = ObjectRef(**message["object"])
        return self.split(ref, time_left, resume=Checkpoint(**message["checkpoint"]))

    # -- the split -------------------------------------------------------------------------

    def split(
        self,
        ref: ObjectRef,
        time_left: Callable[[], float],
        *,
        resume: Checkpoint | None = None,
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
            kind=str(found.kind) if found else "unknown",
            target_name=found.name if found else "",
            target_id=target.id if target else "",
        )
        if resume is None and not self.ledger.register_file(entry):
            existing = self.ledger.get_file(file_id) or {}
            if existing.get("split_done"):
                # A redelivered event may be all that is left to retry a failed finalization.
                self.finalizer.finalize_if_complete(file_id)
                return SplitOutcome(file_id, "duplicate")
            saved = existing.get("split_checkpoint")
            resume = Checkpoint(**saved) if saved else Checkpoint()
        if error is not None or found is None or target is None:
            return self._file_error(file_id, error or "unroutable key")

        audience = (
            self.registry.get(names.AUDIENCE, found.name)
            if found.kind in (Kind.AUDIENCE_MEMBERS, Kind.AUDIENCE_DELETIONS)
            else None
        )
        country = str((audience.attributes.get("country") if audience else None) or "")
        country_source = CountrySource.DATASET if country else CountrySource.DEPLOYMENT_DEFAULT
        try:
            mapping_prefix, config = self._mapping(found.prefix)
            policy = ConsentPolicy.from_defaults(
                (config or {}).get("defaults", {}),
                country=country or self.default_country,
                country_source=country_source,
            )
        except MappingError as mapping_error:
            return self._file_error(file_id, f"invalid column mapping: {mapping_error}")
        except ConsentError as consent_error:
            return self._file_error(file_id, f"invalid column mapping: {consent_error.detail}")
        template = ChunkPointer(
            file_id=file_id,
            index=0,
            bucket=ref.bucket,
            key=ref.key,
            kind=found.kind,
            target_name=target.name,
            target_id=target.id,
            layout=SourceLayout(format="csv"),
            first_line=1,
            records=0,
            version_id=ref.version_id,
            etag=ref.etag,
            mapping_prefix=mapping_prefix,
            default_country=country or self.default_country,
            default_country_source=str(country_source),
        )
        checkpoint = resume or Checkpoint()
        inherited = mapping_prefix if mapping_prefix not in ("", found.prefix) else ""
        survey = _Survey(config, policy, inherited)
        try:
            if checkpoint.layout is None or checkpoint.offset is not None:
                outcome = self._split_ranges(ref, template, checkpoint, time_left, survey)
            else:
                outcome = self._split_staged(ref, template, checkpoint, time_left, survey)
        except RangeScanUnsupported:
            outcome = self._split_staged(ref, template, checkpoint, time_left, survey)
        except FileFormatError as format_error:
            return self._file_error(
                file_id,
                str(format_error),
                chunks=checkpoint.chunk_index,
                records=checkpoint.records,
            )
        return outcome

    def _mapping(self, prefix: str) -> tuple[str, dict[str, Any] | None]:
        """The registered mapping that applies to ``prefix`` ("" and None for none) and its
        config, validated now so a broken mapping is one clear file-level error instead of a
        chunk retried to the DLQ. ``audiences/<name>/delete`` falls back to the mapping of
        ``audiences/<name>``."""
        candidates = [prefix]
        if prefix.endswith("/delete"):
            candidates.append(prefix.rsplit("/", 1)[0])
        for candidate in candidates:
            entry = self.registry.get(names.MAPPING, candidate)
            if entry is not None:
                config = entry.attributes.get("config")
                text = config if isinstance(config, str) else orjson.dumps(config)
                MappingConfig.from_json(text)
                return candidate, dict(orjson.loads(text))
        return "", None

    # -- the survey: mapping and country profile, once per file --------------------------------

    def _survey(
        self,
        file_id: str,
        survey: _Survey,
        header: Sequence[str] | None,
        sample: list[Any],
        encoding: str | None,
    ) -> str | None:
        """Before any chunk is queued: resolve the mapping against the file's columns, profile
        the sample's countries and store both on the file item. Returns the file-level error
        when ``strict_country`` is set and the data looks like another country's.

        Raises:
            MappingError: the mapping can't apply to these columns.
        """
        plan = build_plan(header if header is not None else header_of(sample), survey.config)
        profile = profile_records(sample, plan, survey.policy.country)
        self.ledger.record_file_facts(
            file_id,
            {
                "mapping": mapping_section(plan, inherited_from=survey.inherited_from),
                "encoding": encoding,
                "country_column": bool(country_columns(plan)),
                "default_country": survey.policy.country,
                "default_country_source": str(survey.policy.country_source),
                "country_profile": profile.to_dict(),
            },
        )
        if profile.looks_foreign and strict_country(survey.config):
            return foreign_data_message(profile.to_dict(), strict=True)
        return None

    def _range_sample(self, ref: ObjectRef, scan: BoundaryScan) -> list[Any]:
        """The file's first records, from one ranged GET of at most :data:`SAMPLE_BYTES`."""
        size = ref.size or _object_size(self.s3, ref)
        end = min(size, SAMPLE_BYTES)
        with contextlib.closing(open_object(self.s3, ref, (0, end))) as stream:
            try:
                records = list(
                    islice(
                        open_records(
                            stream,
                            format=scan.format,
                            delimiter=scan.delimiter,
                            max_depth=self.max_json_depth,
                        ),
                        SAMPLE_RECORDS + 1,
                    )
                )
            except FileFormatError:  # the split itself reports what is wrong
                return []
        if end < size and len(records) <= SAMPLE_RECORDS:
            records = records[:-1]  # the range may have cut the last record short
        return records[:SAMPLE_RECORDS]

    def _staged_sample(self, ref: ObjectRef) -> list[Any]:
        """The file's first records, read (and decompressed) only as far as they go."""
        with contextlib.closing(open_object(self.s3, ref)) as stream:
            try:
                records = open_records(stream, max_depth=self.max_json_depth)
                return list(islice(records, SAMPLE_RECORDS))
            except FileFormatError:
                return []

    # -- range-read files (plain CSV / JSON Lines) ------------------------------------------

    def _split_ranges(
        self,
        ref: ObjectRef,
        template: ChunkPointer,
        checkpoint: Checkpoint,
        time_left: Callable[[], float],
        survey: _Survey,
    ) -> SplitOutcome:
        resuming = checkpoint.offset is not None
        if resuming:
            # Re-read the header, then continue from the checkpoint's record boundary.
            header_bytes = checkpoint.header_bytes or 0
            stream = ConcatStream(
                open_object(self.s3, ref, (0, header_bytes)),
                open_object(self.s3, ref, (checkpoint.offset, None)),
            )
            saved = checkpoint.layout or {}
            scan = scan_boundaries(
                stream,
                format=saved.get("format"),
                delimiter=saved.get("delimiter"),
                # None while only ASCII had been seen: the resumed scan detects it afresh, from
                # the same first non-ASCII byte the first scan would have seen.
                encoding=saved.get("encoding"),
            )
            shift = checkpoint.offset - header_bytes
        else:
            scan = scan_boundaries(open_object(self.s3, ref))
            shift = 0
        line_shift: int | None = None if resuming else 0
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
        for offset, line in scan:
            if line_shift is None:  # resumed: the first record is the checkpoint's record
                line_shift = (checkpoint.line or line) - line
            offset += shift
            line += line_shift
            if checkpoint.header_bytes is None:
                checkpoint.header_bytes = offset
            if chunk_start is None:
                chunk_start = (offset, line)
            elif count == self.records_per_chunk:
                # Every byte before ``offset`` went through the scan's encoding watch, so the
                # encoding of this moment is right for the chunk (one that is still all ASCII
                # reads the same in any).
                layout = _with_encoding(layout, scan.encoding)
                pending.append(
                    self._range_chunk(template, checkpoint, layout, chunk_start, offset, count)
                )
                checkpoint.chunk_index += 1
                checkpoint.records += count
                chunk_start, count = (offset, line), 0
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
        checkpoint: Checkpoint,
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
        )

    # -- staged files (gzip, JSON arrays) --------------------------------------------------

    def _split_staged(
        self,
        ref: ObjectRef,
        template: ChunkPointer,
        checkpoint: Checkpoint,
        time_left: Callable[[], float],
        survey: _Survey,
    ) -> SplitOutcome:
        if not checkpoint.records:
            try:
                error = self._survey(
                    template.file_id, survey, None, self._staged_sample(ref), _DEFAULT_ENCODING
                )
            except MappingError as mapping_error:
                error = f"invalid column mapping: {mapping_error}"
            if error is not None:
                return self._file_error(template.file_id, error)
        reader = open_records(open_object(self.s3, ref), max_depth=self.max_json_depth)
        records: Iterable[Any] = reader
        layout = SourceLayout(format="staged")  # staged chunks are UTF-8 JSON, whatever the file
        skip = checkpoint.records  # resume: re-read (cheaply) past what was already staged
        buffer: list[bytes] = []
        first_line = 0
        pending: list[ChunkPointer] = []
        for record in records:
            if skip:
                skip -= 1
                continue
            if not buffer:
                first_line = record.line
            buffer.append(stage_line(record))
            if len(buffer) == self.records_per_chunk:
                pending.append(self._stage(template, checkpoint, layout, buffer, first_line))
                buffer = []
                if len(pending) >= _SQS_BATCH:
                    self._send_chunks(pending)
                    pending.clear()
                    if time_left() < self.margin_seconds:
                        checkpoint.layout = _layout_dict(layout, None)
                        return self._continue(ref, template.file_id, checkpoint)
        if buffer:
            pending.append(self._stage(template, checkpoint, layout, buffer, first_line))
        self._send_chunks(pending)
        return self._split_done(template.file_id, checkpoint, encoding=reader.encoding)

    def _stage(
        self,
        template: ChunkPointer,
        checkpoint: Checkpoint,
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

    def _continue(self, ref: ObjectRef, file_id: str, checkpoint: Checkpoint) -> SplitOutcome:
        saved = asdict(checkpoint)
        self.ledger.save_split_checkpoint(file_id, saved)
        message = {"object": asdict(ref), "checkpoint": saved, "file_id": file_id}
        self.sqs.send_message(
            QueueUrl=self.split_queue_url, MessageBody=orjson.dumps(message).decode()
        )
        return SplitOutcome(file_id, "continued", checkpoint.chunk_index, checkpoint.records)

    def _split_done(
        self, file_id: str, checkpoint: Checkpoint, *, encoding: str | None = None
    ) -> SplitOutcome:
        if encoding is not None:
            # Final now (the survey saw only the file's start); before record_split, so the
            # report, which can be written as soon as the split is done, names it.
            self.ledger.record_file_facts(file_id, {"encoding": encoding})
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
class _Survey:
    """What the survey of a file needs: its mapping config and consent policy."""

    config: Mapping[str, Any] | None
    policy: ConsentPolicy
    inherited_from: str = ""
    """The prefix whose mapping this file borrows (a removal file under ``…/delete/``)."""


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
