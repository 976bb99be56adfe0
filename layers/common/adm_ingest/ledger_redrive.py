"""The ledger's side of a redrive: reverse a dead-lettered chunk's counted failure, re-open its
file for finalization. The protocol (and why it is safe) is in :mod:`adm_ingest.pipeline.redrive`.

Every write is conditional:

* :meth:`RedriveLedger.open` takes the file for one redrive run (``redrive_run`` = a fresh
  token) only while it is **reported** (``reported_at``: no finalizer can claim it, so its
  counters may move without a report being written from half-reversed numbers) and has no
  remote commit (a committed remote batch takes no more records);
* :meth:`RedriveLedger.reverse` is one transaction of two updates: the file item (still this
  run's; the chunk's index still in ``counted_chunks``) loses exactly the counts the chunk's
  failure added (:class:`~adm_ingest.ledger_records.DeadLetter` ``counted``), and the chunk
  item (still ``failed``, still at the generation read) loses its status and moves to the next
  generation. Neither happens without the other;
* :meth:`RedriveLedger.reopen` ends the run: the file loses ``reported_at`` and the other marks
  of its finalization and enters the finalizing index as a released claim, so the last chunk's
  worker — or, failing that, the sweep — finalizes it again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from adm_ingest.ledger import CLAIMED, CLAIMED_AT_ATTRIBUTE, FINALIZING_ATTRIBUTE, Ledger
from adm_ingest.ledger_records import ChunkRecord, FileRecord, iso_time

_TRIES = 5
"""Transaction attempts when the file item moved between the read and the write (another
redriven chunk completing); each re-reads the file."""


class RedriveRefused(Exception):
    """The file can't be redriven now; the text says why (codes and states, never data)."""


class RedriveConflict(Exception):
    """Another redrive run took the file over (its token replaced this one's)."""


@dataclass(frozen=True, slots=True)
class _Reversal:
    expression: str
    condition: str
    names: dict[str, str]
    values: dict[str, Any]


class RedriveLedger:
    """Redrive operations on the ledger table of ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._table = ledger.table
        self._client = ledger.table.meta.client
        """The resource's client: it (de)serializes DynamoDB values as the resource does."""

    def chunks(self, file_id: str) -> list[ChunkRecord]:
        """Every chunk item of the file (a query of its partition)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ExpressionAttributeValues": {":pk": f"file#{file_id}", ":chunk": "chunk#"},
            "ConsistentRead": True,
        }
        found: list[ChunkRecord] = []
        while True:
            page = self._table.query(**query)
            found.extend(ChunkRecord.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def files_with_dead_letters(self) -> list[str]:
        """File ids with a chunk that keeps a dead-letter record: a **scan** of the table
        (an operator's command, not a hot path), keys only."""
        scan: dict[str, Any] = {
            "FilterExpression": "begins_with(sk, :chunk) AND attribute_exists(dead_letter)",
            "ProjectionExpression": "pk",
            "ExpressionAttributeValues": {":chunk": "chunk#"},
        }
        file_ids: dict[str, None] = {}
        while True:
            page = self._table.scan(**scan)
            for item in page.get("Items", []):
                file_ids.setdefault(str(item["pk"]).removeprefix("file#"))
            if "LastEvaluatedKey" not in page:
                return list(file_ids)
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def run_token(self, file_id: str) -> str | None:
        """The token of the redrive run holding the file, if one does (or crashed holding it)."""
        item = self._table.get_item(
            Key=_file_key(file_id), ConsistentRead=True, ProjectionExpression="redrive_run"
        ).get("Item")
        return None if not item or "redrive_run" not in item else str(item["redrive_run"])

    def open(self, file_id: str, token: str, *, after_commit: bool = False) -> None:
        """Take the reported file for the run ``token``. ``after_commit``: its destination
        takes records after a commit (the reopened file is committed again), else a committed
        file is refused.

        Raises:
            RedriveRefused: not reported (still processing or finalizing), or its remote
                batch was committed.
        """
        condition = "attribute_exists(reported_at) AND attribute_not_exists(awaiting_remote)"
        if not after_commit:
            condition += " AND attribute_not_exists(committed_at)"
        try:
            self._table.update_item(
                Key=_file_key(file_id),
                UpdateExpression="SET redrive_run = :token",
                ConditionExpression=condition,
                ExpressionAttributeValues={":token": token},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            file = self.ledger.get_file(file_id)
            if file is None:
                raise RedriveRefused("no such file in the ledger") from None
            if file.committed_at is not None and not after_commit:
                raise RedriveRefused(
                    "its destination committed the file's remote batch, which takes no more "
                    "records: drop the file again instead"
                ) from None
            raise RedriveRefused(
                f"its report is not written yet (status {file.status or 'unknown'}): "
                "redrive once it is"
            ) from None

    def reverse(self, file_id: str, chunk: ChunkRecord, token: str) -> bool:
        """Undo ``chunk``'s counted failure and move it to its next generation, atomically.
        False when the chunk changed meanwhile (not ``failed`` at the generation read).

        Raises:
            RedriveConflict: another run took the file over.
            RedriveRefused: the file's counters do not hold the chunk's counts.
        """
        assert chunk.dead_letter is not None, "only dead-lettered chunks are reversed"
        for _ in range(_TRIES):
            file = self.ledger.get_file(file_id)
            if file is None:
                raise RedriveRefused("no such file in the ledger")
            if chunk.index not in file.counted_chunks:
                return False
            reversal = _reversal(file, chunk, token)
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Update": self._file_update(file_id, reversal)},
                        {"Update": self._chunk_update(chunk)},
                    ]
                )
                return True
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                reasons = [
                    str(reason.get("Code", ""))
                    for reason in error.response.get("CancellationReasons", [])
                ]
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    return False
                if self.run_token(file_id) != token:
                    raise RedriveConflict("another redrive run took the file over") from None
                # The file item moved (a counter this reversal removes changed): read again.
        raise RedriveConflict("the file's counters kept moving; run the redrive again")

    def reopen(self, file_id: str, token: str, *, now: float | None = None) -> bool:
        """End the run: the file is no longer reported and waits to be finalized again
        (a released claim in the finalizing index). False when another run holds it."""
        now = time.time() if now is None else now
        try:
            self._table.update_item(
                Key=_file_key(file_id),
                UpdateExpression=(
                    "SET #s = :processing, #finalizing = :claimed, #claimed_at = :zero, "
                    "redriven_at = :iso ADD redrive_runs :one "
                    "REMOVE reported_at, report_written_at, finalize_owner, finalized_at, "
                    "finalize_attempts, last_finalize_error, redrive_run, "
                    # A file that was committed (its destination takes records after that) is
                    # committed again when the redriven chunks are in.
                    "committed_at, committed_epoch, commit_session, remote_state"
                ),
                ConditionExpression="redrive_run = :token",
                ExpressionAttributeNames={
                    "#s": "status",
                    "#finalizing": FINALIZING_ATTRIBUTE,
                    "#claimed_at": CLAIMED_AT_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":processing": "processing",
                    ":claimed": CLAIMED,
                    ":zero": 0,
                    ":iso": iso_time(now),
                    ":one": 1,
                    ":token": token,
                },
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, file_id: str, token: str) -> None:
        """Give the file back untouched (the run reversed nothing)."""
        try:
            self._table.update_item(
                Key=_file_key(file_id),
                UpdateExpression="REMOVE redrive_run",
                ConditionExpression="redrive_run = :token",
                ExpressionAttributeValues={":token": token},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise

    def mark_sent(self, file_id: str, index: int, generation: int) -> None:
        """The chunk's pointer of ``generation`` is on the chunk queue."""
        try:
            self._table.update_item(
                Key={"pk": f"file#{file_id}", "sk": f"chunk#{index:06d}"},
                UpdateExpression="SET redrive_sent = :g",
                ConditionExpression="attribute_not_exists(redrive_sent) OR redrive_sent < :g",
                ExpressionAttributeValues={":g": generation},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise

    def _file_update(self, file_id: str, reversal: _Reversal) -> dict[str, Any]:
        return {
            "TableName": self.ledger.table_name,
            "Key": _file_key(file_id),
            "UpdateExpression": reversal.expression,
            "ConditionExpression": reversal.condition,
            "ExpressionAttributeNames": reversal.names,
            "ExpressionAttributeValues": reversal.values,
        }

    def _chunk_update(self, chunk: ChunkRecord) -> dict[str, Any]:
        return {
            "TableName": self.ledger.table_name,
            "Key": {"pk": f"file#{chunk.file_id}", "sk": f"chunk#{chunk.index:06d}"},
            "UpdateExpression": "SET redrives = :next, redrive_queued_at = :now "
            "REMOVE #s, completed_at",
            "ConditionExpression": "#s = :failed AND "
            "(attribute_not_exists(redrives) OR redrives = :generation)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":next": chunk.redrives + 1,
                ":now": iso_time(time.time()),
                ":failed": "failed",
                ":generation": chunk.redrives,
            },
        }


def _reversal(file: FileRecord, chunk: ChunkRecord, token: str) -> _Reversal:
    """The file item update that subtracts the chunk's counted failure. A counter the chunk
    alone holds is removed (the report lists no zero reasons), on the condition that it still
    holds exactly that; other counters are decremented (commutes with concurrent additions)."""
    assert chunk.dead_letter is not None
    counted = chunk.dead_letter.counted
    names = {"#read": "read"}
    values: dict[str, Any] = {
        ":one": 1,
        ":read": int(counted.get("read", 0)),
        ":accepted": int(counted.get("accepted", 0)),
        ":index": chunk.index,
        ":indexes": {chunk.index},
        ":token": token,
    }
    sets = [
        "chunks_done = chunks_done - :one",
        "#read = #read - :read",
        "accepted = accepted - :accepted",
    ]
    removes: list[str] = []
    conditions = ["redrive_run = :token", "contains(counted_chunks, :index)"]
    wait = int(counted.get("retry_wait_ms", 0))
    if wait:
        values[":wait"] = wait
        sets.append("retry_wait_ms = retry_wait_ms - :wait")
    maps: Mapping[str, Mapping[str, Any]] = counted.get("maps") or {}
    n = 0
    for a, (attribute, counts) in enumerate(sorted(maps.items())):
        current: Mapping[str, int] = getattr(file, attribute, None) or {}
        for name, raw in sorted(counts.items()):
            count = int(raw)
            held = int(current.get(name, 0))
            if held < count:
                raise RedriveRefused(f"the file's {attribute} counters do not hold its chunk's")
            n += 1
            names[f"#a{a}"] = attribute
            names[f"#k{n}"] = name
            path = f"#a{a}.#k{n}"
            values[f":v{n}"] = count
            if held == count:
                removes.append(path)
                conditions.append(f"{path} = :v{n}")
            else:
                sets.append(f"{path} = {path} - :v{n}")
    taken: set[int] = set()
    for i, ingress_id in enumerate(counted.get("ingress_ids") or ()):
        position = next(
            (p for p, held in enumerate(file.ingress_ids) if held == ingress_id and p not in taken),
            None,
        )
        if position is None:
            continue  # not listed (an older item): nothing to remove
        taken.add(position)
        values[f":id{i}"] = ingress_id
        removes.append(f"ingress_ids[{position}]")
        conditions.append(f"ingress_ids[{position}] = :id{i}")
    expression = "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    expression += " DELETE counted_chunks :indexes"
    return _Reversal(expression, " AND ".join(conditions), names, values)


def _file_key(file_id: str) -> dict[str, str]:
    return {"pk": f"file#{file_id}", "sk": "file"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
