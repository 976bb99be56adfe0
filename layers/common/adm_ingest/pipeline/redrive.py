"""Redrive: send a file's dead-lettered chunks through the worker again, and rewrite its report.

The chunk DLQ is drained by the dead-letter recorder (:mod:`adm_ingest.pipeline.deadletter`),
which counts the chunk's undelivered records ``failed`` in the ledger and keeps, on the chunk
item, a :class:`~adm_ingest.ledger.DeadLetter` record: the chunk's pointer, the exact counts
its failure added to the file and the lines of the rejects rows it wrote. A redrive of a file:

1. **take** the reported file for this run (``redrive_run`` = a fresh token; refused while the
   file is still processing or finalizing, and for a file whose remote batch was committed);
2. **reverse** each dead-lettered chunk whose source can still be read, one transaction each:
   the file loses the chunk's counts and its index in ``counted_chunks``; the chunk loses its
   ``failed`` status and moves to its next **generation** (``redrives``);
3. **carry** the old rejects file's rows of every other chunk into the staging area (the
   first report cleaned it), in chunk order around the redriven chunks, whose rows are dropped:
   their worker writes them again;
4. **re-open** the file: no longer reported, a released claim in the finalizing index;
5. **send** each reversed chunk's pointer, carrying its generation, to the chunk queue, and
   record that it was sent (``redrive_sent``).

The worker then processes the chunk as any other: batches it delivered before are replayed
from the chunk item, never sent again; the others are sent (an ``unconfirmed_delivery`` batch
once more, which the destination takes idempotently). Its ``complete_chunk`` counts the new
outcome once, and the last chunk's finalization — or the sweep's — writes the report, the
rejects file (carried rows + the redriven chunks' new fates) and the HTML beside them. The
report balances as before: every record of the chunk was subtracted, and is counted again.

**Races and idempotency.**

* *A redrive run twice* (in sequence): the second finds the chunks no longer ``failed``
  (in flight, or done) and does nothing; a chunk that dead-lettered again is ``failed`` at
  its new generation and is redriven once more.
* *Two runs at once*: the second's step 1 replaces the token; the first's transactions and its
  re-open are conditional on its token, so it stops (:class:`RedriveConflict`) and the second
  finishes. A chunk both read is reversed once: the chunk half of the transaction requires
  ``failed`` at the generation read.
* *A run that crashed*: after step 2 the file is still reported (no finalizer can claim it)
  and holds the dead token; the next run takes it again, and treats the chunks reversed but
  never sent (``redrives > redrive_sent``, not counted) as its own: their rows are dropped in
  step 3 and their pointers sent in step 5. After step 4, the next run only sends those
  pointers. A crash between a send and its record sends that pointer twice (so does a second
  run started in the instant between a live run's step 4 and its step 5): the worker takes
  the duplicate as it takes SQS's own (the second delivery finds the chunk done).
* *The chunk's old message is still in the DLQ* (the recorder failed after counting, or SQS
  delivers it twice): its generation is older than the chunk's, so the recorder drops it
  (``superseded``) instead of failing the redriven chunk behind the redrive's back; a worker
  receiving an old duplicate from the chunk queue drops it too — and because the worker's
  idempotency key carries the generation (:attr:`ChunkPointer.work_id`), the cached answer
  to that old message never answers for the redriven one. A dead letter of the current
  generation (the redriven chunk failed again) is recorded as usual, and can be redriven.
* *A finalization at the same time*: step 1 requires ``reported_at``, which is set only once a
  finalization is done, and no claim is granted while it is set, so no report is built from a
  half-reversed file; re-opening clears it with the other marks (``finalize_attempts`` too, so
  the rewrite is no "retry" that would keep the old rejects file).

**Not redriven** (listed with the reason): a chunk whose source is gone — a gzip or JSON-array
file's staged chunks are deleted with its staging area once the report is written (raw PII is
not kept for a redrive), and an object version deleted or overwritten is another file; a chunk
counted whose item lacks the record (dead-lettered by an earlier release, or the recorder
stopped between its two ledger writes). Re-dropping the file is the remedy there.

Carrying the rejects reads the old rejects file into memory (rows of line numbers and codes).
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from adm_ingest.destinations import destination_class
from adm_ingest.ledger import ChunkRecord, FileRecord, Ledger
from adm_ingest.ledger_redrive import RedriveConflict, RedriveLedger, RedriveRefused
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.report import REJECTS_HEADER, rejects_key, staging_prefix

logger = logging.getLogger(__name__)

__all__ = ["ChunkRedrive", "FileRedrive", "RedriveConflict", "RedriveRefused", "Redriver"]

CARRIED = "carried"
"""Marks the staged fate files a redrive carries over from the old rejects file."""


@dataclass(frozen=True, slots=True)
class ChunkRedrive:
    """What a redrive did with one dead-lettered chunk."""

    index: int
    outcome: str
    """``redriven`` (reversed and sent) · ``resent`` (reversed by an earlier run that did
    not send it) · ``skipped``."""
    reason: str = ""
    """Why it was skipped (a sentence without data)."""
    records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "outcome": self.outcome,
            "reason": self.reason,
            "records": self.records,
        }


@dataclass(slots=True)
class FileRedrive:
    """A redrive of one file."""

    file_id: str
    key: str = ""
    chunks: list[ChunkRedrive] = field(default_factory=list)
    refused: str = ""
    """Why the file was not redriven at all (empty: it was, or had nothing to redrive)."""

    @property
    def sent(self) -> int:
        return sum(1 for chunk in self.chunks if chunk.outcome != "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "key": self.key,
            "sent": self.sent,
            "refused": self.refused,
            "chunks": [chunk.as_dict() for chunk in self.chunks],
        }


class Redriver:
    """Redrives dead-lettered chunks (see the module docstring)."""

    def __init__(self, ledger: Ledger, *, s3: Any, sqs: Any, chunk_queue_url: str) -> None:
        self.ledger = ledger
        self.records = RedriveLedger(ledger)
        self.s3 = s3
        self.sqs = sqs
        self.chunk_queue_url = chunk_queue_url

    def redrive_all(self) -> list[FileRedrive]:
        """Every file with a dead-lettered chunk (a scan of the ledger)."""
        results = [self.redrive_file(file_id) for file_id in self.records.files_with_dead_letters()]
        return [result for result in results if result.chunks or result.refused]

    def redrive_file(self, file_id: str) -> FileRedrive:
        """Redrive the file's dead-lettered chunks.

        Raises:
            RedriveConflict: another run took the file over meanwhile (it finishes the work).
        """
        file = self.ledger.get_file(file_id)
        if file is None:
            return FileRedrive(file_id, refused="no such file in the ledger")
        result = FileRedrive(file_id, file.key)
        every = self.records.chunks(file_id)
        result.chunks.extend(
            ChunkRedrive(
                chunk.index, "skipped", "no redrive record (dead-lettered by an earlier release)"
            )
            for chunk in every
            if chunk.status == "failed" and not chunk.dead_letter
        )
        chunks = [chunk for chunk in every if chunk.dead_letter]
        failed = [chunk for chunk in chunks if chunk.status == "failed"]
        unsent = [
            chunk
            for chunk in chunks
            if not chunk.status
            and chunk.redrives > chunk.redrive_sent
            and chunk.index not in file.counted_chunks
        ]
        if file.reported_at is None:
            if self.records.run_token(file_id) is None:
                self._send(file_id, unsent, result, "resent")  # re-opened, sends lost
            result.chunks.extend(
                ChunkRedrive(c.index, "skipped", "its file's report is not written yet")
                for c in failed
            )
            return result
        readable: list[ChunkRecord] = []
        for chunk in failed:
            problem = self._unreadable(_pointer(chunk))
            if problem:
                result.chunks.append(ChunkRedrive(chunk.index, "skipped", problem))
            else:
                readable.append(chunk)
        if not readable and not unsent:
            return result
        token = uuid.uuid4().hex
        try:
            self.records.open(
                file_id,
                token,
                after_commit=destination_class(file.destination).accepts_after_commit,
            )
        except RedriveRefused as refused:
            result.refused = str(refused)
            return result
        reversed_now: list[ChunkRecord] = []
        for chunk in readable:
            try:
                done = self.records.reverse(file_id, chunk, token)
            except RedriveRefused as refused:
                result.chunks.append(ChunkRedrive(chunk.index, "skipped", str(refused)))
                continue
            if done:
                reversed_now.append(replace(chunk, status=None, redrives=chunk.redrives + 1))
            else:
                result.chunks.append(ChunkRedrive(chunk.index, "skipped", "changed meanwhile"))
        if not reversed_now and not unsent:
            self.records.release(file_id, token)
            return result
        self._carry_rejects(file, [*reversed_now, *unsent])
        if not self.records.reopen(file_id, token):
            raise RedriveConflict("another redrive run took the file over")
        self._send(file_id, reversed_now, result, "redriven")
        self._send(file_id, unsent, result, "resent")
        logger.info(
            "dead-lettered chunks redriven",
            extra={"file_id": file_id, "chunks": result.sent},
        )
        return result

    def _send(
        self, file_id: str, chunks: Sequence[ChunkRecord], result: FileRedrive, outcome: str
    ) -> None:
        for chunk in chunks:
            pointer = replace(_pointer(chunk), redrive=chunk.redrives)
            self.sqs.send_message(QueueUrl=self.chunk_queue_url, MessageBody=pointer.to_message())
            self.records.mark_sent(file_id, chunk.index, chunk.redrives)
            result.chunks.append(ChunkRedrive(chunk.index, outcome, records=pointer.records))

    def _unreadable(self, pointer: ChunkPointer) -> str:
        """Why the worker could not read the chunk any more ('' when it can)."""
        try:
            if pointer.staged_key:
                self.s3.head_object(Bucket=pointer.bucket, Key=pointer.staged_key)
                return ""
            extra = {"VersionId": pointer.version_id} if pointer.version_id else {}
            head = self.s3.head_object(Bucket=pointer.bucket, Key=pointer.key, **extra)
        except ClientError:
            if pointer.staged_key:
                return (
                    "its staged copy was deleted with the report (a compressed or JSON-array file)"
                )
            return "the object (that version of it) is gone"
        if pointer.etag and str(head.get("ETag", "")).strip('"') != pointer.etag.strip('"'):
            return "the object was overwritten since (that content is gone)"
        return ""

    def _carry_rejects(self, file: FileRecord, redriven: Sequence[ChunkRecord]) -> None:
        """Stage the old rejects file's rows of the other chunks (step 3 of the docstring)."""
        prefix = f"{staging_prefix(file.file_id)}fates/"
        old = [
            {"Key": obj["Key"]}
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=file.bucket, Prefix=prefix
            )
            for obj in page.get("Contents", [])
            if CARRIED in obj["Key"]
        ]
        if old:
            self.s3.delete_objects(Bucket=file.bucket, Delete={"Objects": old, "Quiet": True})
        try:
            body = self.s3.get_object(Bucket=file.bucket, Key=rejects_key(file.key))["Body"].read()
        except ClientError:
            return  # no rejects file: nothing to carry
        spans = sorted(
            (_pointer(chunk).first_line, _last_line(chunk), chunk.index) for chunk in redriven
        )
        starts = [start for start, _, _ in spans]
        segments: dict[str, list[str]] = {}
        for line, raw in _rows(body.decode("utf-8")):
            k = bisect.bisect_right(starts, line)
            if k and line <= spans[k - 1][1]:
                continue  # a redriven chunk's row: its worker writes it again
            name = (
                f"{spans[k][2]:06d}-{CARRIED}"
                if k < len(spans)
                else f"{spans[-1][2]:06d}~{CARRIED}"
            )
            segments.setdefault(name, []).append(raw)
        for name, rows in segments.items():
            self.s3.put_object(
                Bucket=file.bucket, Key=f"{prefix}{name}.csv", Body="".join(rows).encode()
            )


def _pointer(chunk: ChunkRecord) -> ChunkPointer:
    assert chunk.dead_letter is not None
    return ChunkPointer.from_message(chunk.dead_letter.pointer)


def _last_line(chunk: ChunkRecord) -> int:
    """The last line of the chunk's old rejects rows (before its first line: none)."""
    assert chunk.dead_letter is not None
    lines = chunk.dead_letter.lines
    return lines[1] if lines else -1


class _Taken:
    """The physical lines :mod:`csv` reads, so each parsed row's exact text can be kept."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _Taken:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line


def _rows(text: str) -> Iterator[tuple[int, str]]:
    """``(line, raw row text)`` of a rejects file, its header skipped."""
    header = REJECTS_HEADER.decode()
    if text.startswith(header):
        text = text[len(header) :]
    source = _Taken(iter(io.StringIO(text, newline="")))
    for row in csv.reader(source):
        raw = "".join(source.taken)
        source.taken.clear()
        if row and row[0].isdigit():
            yield int(row[0]), raw if raw.endswith("\n") else raw + "\n"
