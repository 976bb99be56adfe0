"""Delivered rows: for a destination whose remote system may refuse records after delivery
(:attr:`~adm_ingest.destinations.Destination.keeps_delivered_rows`), the source line of every
record delivered in each chunk, in delivery order — so a refusal the remote system reports by
position (part file, row) becomes a source line in the rejects file.

One staging object per chunk, ``_staging/<file_id>/rows/<chunk>.u32``: the lines as unsigned
32-bit little-endian integers (4 bytes a record; written before the chunk's batch is sent, so
no delivered record is ever missing from it). Staging is deleted with the file's final report.

:func:`remote_failures` turns a terminal remote state into per-line failures: each located
:class:`~adm_ingest.destinations.RowRefusal` fails its line; each
:class:`~adm_ingest.destinations.ChunkRefusal` (a failed batch) fails every delivered line of the
chunks it covers; an unsuccessful state that names neither (timed out, the poll failed) fails
every delivered line, since none is known to have arrived. A refusal the remote system did not
locate is failed on line 0.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from adm_ingest.destinations.base import ChunkRefusal, RemoteState
from adm_ingest.outcomes import FAILED, RecordFate
from adm_ingest.report import fates_csv, staging_prefix

UNLOCATED_LINE = 0
"""The line a refusal is recorded on when the remote system did not say which row it was."""
REMOTE_FATES = "fates/remote.csv"
"""The staged fates of the remote refusals (after the chunks' own: ``fates/000000.csv``…)."""


def rows_key(file_id: str, chunk: int) -> str:
    return f"{staging_prefix(file_id)}rows/{chunk:06d}.u32"


def _packed(lines: Iterable[Sequence[int]]) -> bytes:
    packed = array("I")
    for batch in lines:
        packed.extend(batch)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def _unpacked(data: bytes) -> array[int]:
    lines = array("I")
    lines.frombytes(data)
    if sys.byteorder != "little":
        lines.byteswap()
    return lines


class DeliveredRows:
    """The per-chunk line index in the file's staging area."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def record(
        self, bucket: str, file_id: str, chunk: int, batches: Iterable[Sequence[int]]
    ) -> None:
        """The lines of the chunk's delivered batches, in order (replaces what was there)."""
        self.s3.put_object(Bucket=bucket, Key=rows_key(file_id, chunk), Body=_packed(batches))

    def chunks(self, bucket: str, file_id: str) -> list[int]:
        """The chunks with an index, in order."""
        prefix = f"{staging_prefix(file_id)}rows/"
        found: list[int] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", ()):
                stem = str(entry["Key"])[len(prefix) :].removesuffix(".u32")
                if stem.isdigit():
                    found.append(int(stem))
        return sorted(found)

    def lines(self, bucket: str, file_id: str, chunk: int) -> array[int]:
        """The chunk's delivered lines (empty when it has no index)."""
        try:
            response = self.s3.get_object(Bucket=bucket, Key=rows_key(file_id, chunk))
        except self.s3.exceptions.NoSuchKey:
            return array("I")
        return _unpacked(response["Body"].read())


def remote_failures(
    rows: DeliveredRows, bucket: str, file_id: str, state: RemoteState
) -> Iterator[RecordFate]:
    """The delivered records ``state`` says the remote system did not take, one fate each."""
    chunk_refusals: Sequence[ChunkRefusal] = state.refused_chunks
    if not state.succeeded and not state.refusals and not chunk_refusals:
        chunk_refusals = (ChunkRefusal(0, None, f"remote_{state.status}"),)
    refused_rows: dict[int, dict[int, str]] = {}
    for refusal in state.refusals:
        if refusal.chunk is None or refusal.row is None:
            yield RecordFate(UNLOCATED_LINE, FAILED, refusal.reason)
            continue
        refused_rows.setdefault(refusal.chunk, {}).setdefault(refusal.row, refusal.reason)
    chunks = rows.chunks(bucket, file_id) if chunk_refusals else sorted(refused_rows)
    for chunk in chunks:
        whole = next((c.reason for c in chunk_refusals if c.covers(chunk)), None)
        wanted = refused_rows.get(chunk, {})
        if whole is None and not wanted:
            continue
        lines = rows.lines(bucket, file_id, chunk)
        if whole is not None:
            for line in lines:
                yield RecordFate(line, FAILED, whole)
            continue
        for row, reason in sorted(wanted.items()):
            yield RecordFate(lines[row] if row < len(lines) else UNLOCATED_LINE, FAILED, reason)


def account_remote(
    rows: DeliveredRows, bucket: str, file_id: str, state: RemoteState
) -> Counter[str]:
    """Stage the remote failures as the file's last fates and count them by reason."""
    fates = list(remote_failures(rows, bucket, file_id, state))
    counts: Counter[str] = Counter(fate.reason for fate in fates)
    if fates:
        rows.s3.put_object(
            Bucket=bucket, Key=f"{staging_prefix(file_id)}{REMOTE_FATES}", Body=fates_csv(fates)
        )
    return counts
