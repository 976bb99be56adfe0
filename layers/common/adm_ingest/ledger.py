"""The ledger: one DynamoDB item per file and one per chunk, with atomic counters.

Keys: ``pk = "file#<file_id>"``; ``sk = "file"`` for the file, ``"chunk#<index>"`` for a chunk.
Records in and out are typed (:mod:`adm_ingest.ledger_records`, which alone knows the item
shapes). A chunk's outcome is added to its file exactly once (a conditional update that records the
chunk's index with the counters), so redelivered or retried chunks can never be counted twice.

Finalization (writing the report once every chunk is done) is a **lease**, so it can't be lost
and is never done twice at once: whoever sees the file complete claims it (``finalize_owner`` — a
fresh token — and ``finalize_claimed_at``), writes the outputs, records ``report_written_at``,
cleans the staging area, and marks the file reported (``reported_at``); every step after the
claim is conditional on still owning it. A claim that did not finish is released on the error
(anyone may take it at once) or, if its holder crashed, expires after the lease. Claims in
progress carry the ``finalizing`` attribute, the key of the sparse :data:`FINALIZING_INDEX`: the
sweeper queries that index for expired claims instead of scanning the table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from adm_ingest.attempts import AttemptStats
from adm_ingest.ledger_records import (
    COUNTER_MAPS,
    RETENTION_SECONDS,
    ChunkRecord,
    DeadLetter,
    DeliveredBatch,
    FileEntry,
    FileFacts,
    FileRecord,
    PinnedMapping,
    RemoteOutcome,
    iso_time,
)
from adm_ingest.outcomes import Tally
from adm_ingest.request_times import fold_oldest

__all__ = [
    "ChunkRecord",
    "DeadLetter",
    "DeliveredBatch",
    "FileEntry",
    "FileFacts",
    "FileRecord",
    "Ledger",
    "PinnedMapping",
    "RemoteOutcome",
]

OTHER_COUNTRIES = "other"
"""Where a chunk's least frequent countries are folded when its update would outgrow
DynamoDB's expression limit (only a chunk with dozens of countries gets there)."""
_MAX_EXPRESSION = 4000
"""DynamoDB refuses update expressions over 4 KB; keep a margin."""


FINALIZING_INDEX = "finalizing"
"""Sparse GSI of the files whose finalization is claimed and not done: hash key
:data:`FINALIZING_ATTRIBUTE` (always :data:`CLAIMED`), range key :data:`CLAIMED_AT_ATTRIBUTE`
(epoch seconds, number), keys only. An item leaves the index when it is marked reported, so it
holds only finalizations in flight (seconds each) and the ones the sweeper must finish."""
FINALIZING_ATTRIBUTE = "finalizing"
CLAIMED_AT_ATTRIBUTE = "finalize_claimed_at"
CLAIMED = "claimed"
AWAITING = "awaiting"
"""The finalizing index's key of a parked file (committed, waiting for its remote state); its
range key is then the time by which the poller must have recorded that state."""
DEFAULT_LEASE_SECONDS = 900
"""How long a finalization claim is exclusive: at least the longest function timeout (the
splitter's 900 s), so a live finalizer is never overtaken."""
_LEGACY_REPORTED = ("complete", "complete_with_failures")
"""Statuses a file item finalized before leases existed (``finalized_at`` without a claim) has
only once its report was written; any other such item lost its report and may be claimed."""
POISON_PK_PREFIX = "POISON#"


def _chunk_sk(index: int) -> str:
    return f"chunk#{index:06d}"


class Ledger:
    """File and chunk accounting in DynamoDB."""

    def __init__(self, table_name: str, *, dynamodb: Any | None = None) -> None:
        self._resource_table = (dynamodb or boto3.resource("dynamodb")).Table(table_name)
        self.table_name = table_name

    # -- files ---------------------------------------------------------------------------

    def register_file(self, entry: FileEntry) -> bool:
        """Create the file item; False when it already exists (a redelivered S3 event)."""
        item = entry.new_item(time.time())
        try:
            self._resource_table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_file(self, file_id: str) -> FileRecord | None:
        found = self._resource_table.get_item(
            Key={"pk": f"file#{file_id}", "sk": "file"}, ConsistentRead=True
        ).get("Item")
        return FileRecord.from_item(found) if found else None

    def pin_mapping(self, file_id: str, mapping: PinnedMapping) -> PinnedMapping:
        """Fix the mapping the file's chunks use: ``mapping`` if the file has none yet, else
        the one pinned first (a redelivered event or a resumed split never changes it).

        Raises:
            MappingMismatch: the stored mapping does not match its stored hash.
        """
        updated = self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression=(
                "SET mapping_config = if_not_exists(mapping_config, :config), "
                "mapping_hash = if_not_exists(mapping_hash, :hash), "
                "mapping_prefix = if_not_exists(mapping_prefix, :prefix)"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":config": mapping.canonical,
                ":hash": mapping.content_hash,
                ":prefix": mapping.prefix,
            },
            ReturnValues="ALL_NEW",
        )
        pinned = FileRecord.from_item(updated["Attributes"]).pinned_mapping()
        assert pinned is not None, "just pinned"
        return pinned

    def save_split_checkpoint(self, file_id: str, checkpoint: Mapping[str, Any]) -> None:
        """Where a split that ran out of time continues (opaque to the ledger)."""
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression="SET split_checkpoint = :c",
            ExpressionAttributeValues={":c": dict(checkpoint)},
        )

    def record_split(self, file_id: str, *, chunks_total: int, records_total: int) -> None:
        """The splitter has queued every chunk of the file."""
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression=(
                "SET chunks_total = :c, records_total = :r, split_done = :t, "
                "split_done_at = :now, #s = :processing REMOVE split_checkpoint"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":c": chunks_total,
                ":r": records_total,
                ":t": True,
                ":now": iso_time(time.time()),
                ":processing": "processing",
            },
        )

    def record_file_facts(self, file_id: str, facts: FileFacts) -> None:
        """Store what the split learned about the file (its fields that are not ``None``)."""
        values = facts.to_item()
        if not values:
            return
        names = {f"#f{i}": key for i, key in enumerate(values)}
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":f{i}": value for i, value in enumerate(values.values())},
        )

    def open_session(self, file_id: str, session: Mapping[str, str]) -> dict[str, str]:
        """Keep the file's session with its destination (``open_file``'s result), unless one is
        kept already; returns the one that is kept (the first, when two splits raced)."""
        try:
            self._resource_table.update_item(
                Key={"pk": f"file#{file_id}", "sk": "file"},
                UpdateExpression="SET #session = :session",
                ConditionExpression="attribute_not_exists(#session)",
                ExpressionAttributeNames={"#session": "session"},
                ExpressionAttributeValues={":session": dict(session)},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            file = self.get_file(file_id)
            return dict(file.session) if file is not None else {}
        return dict(session)

    def update_session(self, file_id: str, session: Mapping[str, str]) -> None:
        """Replace the file's session by the grown one its destination returned for a chunk
        (``open_chunk``): only the file's split writes it, one chunk after the other."""
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression="SET #session = :session",
            ConditionExpression="attribute_exists(#session)",
            ExpressionAttributeNames={"#session": "session"},
            ExpressionAttributeValues={":session": dict(session)},
        )

    def record_file_error(
        self, file_id: str, message: str, *, chunks_total: int = 0, records_total: int = 0
    ) -> None:
        """A file-level problem (bad format, unknown audience…). Chunks queued before it was
        found (a corrupt gzip tail) still complete; nothing else will be sent."""
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression=(
                "SET #s = :error, #e = :message, split_done = :t, chunks_total = :chunks, "
                "records_total = :records"
            ),
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues={
                ":error": "error",
                ":message": message,
                ":t": True,
                ":chunks": chunks_total,
                ":records": records_total,
            },
        )

    # -- chunks --------------------------------------------------------------------------

    def get_chunk(self, file_id: str, index: int) -> ChunkRecord | None:
        found = self._resource_table.get_item(
            Key={"pk": f"file#{file_id}", "sk": _chunk_sk(index)}, ConsistentRead=True
        ).get("Item")
        return ChunkRecord.from_item(found) if found else None

    def record_delivered_batch(self, file_id: str, index: int, batch: DeliveredBatch) -> None:
        """Remember the next batch of a chunk that got its final answer, so a retry of the
        chunk replays it and never posts it again."""
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": _chunk_sk(index)},
            UpdateExpression=(
                "SET delivered_batches = "
                "list_append(if_not_exists(delivered_batches, :empty), :one), "
                "expires_at = if_not_exists(expires_at, :ttl)"
            ),
            ExpressionAttributeValues={
                ":empty": [],
                ":one": [batch.to_item()],
                ":ttl": int(time.time()) + RETENTION_SECONDS,
            },
        )

    def record_chunk_error(
        self,
        file_id: str,
        index: int,
        reason: str,
        *,
        unconfirmed_batch: int | None = None,
        attempts: AttemptStats | None = None,
    ) -> None:
        """Why the last attempt at a chunk failed (a reason code, never data).

        ``unconfirmed_batch`` — the number of a batch whose request went unanswered after it may
        have reached the API — joins the chunk's ``unconfirmed_batches`` for good (a later run
        that is merely throttled does not make it "not delivered"). ``attempts`` is appended
        to ``attempt_log``, so the chunk's outcome
        counts the attempts of its failed runs too (a chunk is received a few times at most).
        """
        expression = "SET last_error = :r"
        values: dict[str, Any] = {":r": reason, ":one": 1}
        if attempts:
            expression += ", attempt_log = list_append(if_not_exists(attempt_log, :empty), :log)"
            values[":empty"] = []
            values[":log"] = [attempts.to_dict()]
        expression += " ADD attempts :one"
        if unconfirmed_batch is not None:
            expression += ", unconfirmed_batches :batch"
            values[":batch"] = {unconfirmed_batch}
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": _chunk_sk(index)},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )

    @property
    def table(self) -> Any:
        """The DynamoDB resource table (for :mod:`adm_ingest.ledger_redrive`)."""
        return self._resource_table

    def complete_chunk(
        self,
        file_id: str,
        index: int,
        tally: Tally,
        *,
        status: str,
        dead_letter: DeadLetter | None = None,
    ) -> bool:
        """Add the chunk's outcome to its file, once. False when it was already counted.

        With ``dead_letter`` (the dead-letter recorder's), the chunk item keeps it, with the
        exact counts just added (``counted``), in the same update that sets its status: a
        redrive subtracts them (:mod:`adm_ingest.ledger_redrive`).

        One conditional update of the file item does it: the counters move and the chunk's
        index joins ``counted_chunks`` only if it was not there yet — atomic without a
        transaction. (A number set of chunk indexes keeps files below DynamoDB's 400 KB item
        limit up to ~60,000 chunks, i.e. 300 M records at 5,000 per chunk. The
        ``request_minutes`` map beside it holds one key per minute and status the file's
        requests were answered in, ~25 bytes each: 10 hours with two statuses ~30 KB.)
        """
        expression, names, values, counted = _chunk_update(index, tally)
        update: dict[str, Any] = {
            "Key": {"pk": f"file#{file_id}", "sk": "file"},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND NOT contains(counted_chunks, :index)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            try:
                self._resource_table.update_item(**update)
            except ClientError as error:
                if _code(error) != "ValidationException":
                    raise
                # A file registered by an older release lacks a counter map this one adds
                # into ("notes", "countries"…): DynamoDB refuses a path under a missing map.
                # Nothing was applied; create the missing maps, then try once more.
                self._add_missing_counter_maps(file_id)
                self._resource_table.update_item(**update)
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        # Lets later deliveries of this chunk stop early (the file item stays the authority).
        chunk_values: dict[str, Any] = {
            ":status": status,
            ":now": iso_time(time.time()),
            ":ttl": int(time.time()) + RETENTION_SECONDS,
        }
        chunk_expression = "SET #s = :status, completed_at = :now, expires_at = :ttl"
        if dead_letter is not None:
            chunk_expression += ", dead_letter = :dead"
            chunk_values[":dead"] = replace(dead_letter, counted=counted).to_item()
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": _chunk_sk(index)},
            UpdateExpression=chunk_expression,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=chunk_values,
        )
        return True

    def _add_missing_counter_maps(self, file_id: str) -> None:
        self._resource_table.update_item(
            Key={"pk": f"file#{file_id}", "sk": "file"},
            UpdateExpression="SET "
            + ", ".join(f"#m{i} = if_not_exists(#m{i}, :empty)" for i in range(len(COUNTER_MAPS)))
            + ", ingress_ids = if_not_exists(ingress_ids, :none)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={f"#m{i}": name for i, name in enumerate(COUNTER_MAPS)},
            ExpressionAttributeValues={":empty": {}, ":none": []},
        )

    # -- finalization (a lease: see the module docstring) ------------------------------------

    def claim_finalization(
        self,
        file_id: str,
        owner: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
    ) -> FileRecord | None:
        """Claim the right to write the file's report for ``lease_seconds``: the file item
        (``finalize_attempts`` counts the claims) if the file is complete, not reported and
        not claimed by someone else within the lease; None otherwise.

        ``finalized_at`` (the report's ``finished_at``) is set by the first claim only, so
        every attempt builds the same report."""
        now = time.time() if now is None else now
        try:
            updated = self._resource_table.update_item(
                Key={"pk": f"file#{file_id}", "sk": "file"},
                UpdateExpression=(
                    "SET finalize_owner = :owner, #claimed_at = :now, #finalizing = :claimed, "
                    "finalized_at = if_not_exists(finalized_at, :iso) "
                    "ADD finalize_attempts :one"
                ),
                ConditionExpression=(
                    "split_done = :t AND chunks_done >= chunks_total "
                    "AND attribute_not_exists(reported_at) "
                    "AND attribute_not_exists(awaiting_remote) "
                    "AND (attribute_not_exists(#claimed_at) OR #claimed_at < :expired) "
                    "AND NOT (attribute_exists(finalized_at) AND attribute_not_exists(#claimed_at)"
                    " AND #s IN (:legacy0, :legacy1))"
                ),
                ExpressionAttributeNames={
                    "#claimed_at": CLAIMED_AT_ATTRIBUTE,
                    "#finalizing": FINALIZING_ATTRIBUTE,
                    "#s": "status",
                },
                ExpressionAttributeValues={
                    ":owner": owner,
                    ":now": _epoch(now),
                    ":claimed": CLAIMED,
                    ":iso": iso_time(now),
                    ":one": 1,
                    ":t": True,
                    ":expired": _epoch(now - lease_seconds),
                    ":legacy0": _LEGACY_REPORTED[0],
                    ":legacy1": _LEGACY_REPORTED[1],
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return FileRecord.from_item(updated["Attributes"])

    def record_report_written(self, file_id: str, owner: str) -> bool:
        """The report and rejects are in the bucket: a later attempt only cleans up. False
        when ``owner`` no longer holds the claim (its lease expired and it was taken over)."""
        return self._as_owner(
            file_id, owner, "SET report_written_at = if_not_exists(report_written_at, :now)"
        )

    def mark_reported(self, file_id: str, status: str, *, owner: str | None = None) -> bool:
        """The file is done: ``status`` is the report's, and it leaves the finalizing index.
        With ``owner``, only if that claim still holds (False otherwise)."""
        expression = "SET #s = :s, reported_at = :now REMOVE #finalizing"
        names = {"#s": "status", "#finalizing": FINALIZING_ATTRIBUTE}
        if owner is None:
            self._resource_table.update_item(
                Key={"pk": f"file#{file_id}", "sk": "file"},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":s": status, ":now": iso_time(time.time())},
            )
            return True
        return self._as_owner(file_id, owner, expression, names=names, values={":s": status})

    def release_finalization(self, file_id: str, owner: str, reason: str) -> bool:
        """Give a claim up after a failed step (``reason``: an error code, never data): the
        next delivery or sweep may take it over at once instead of after the lease."""
        return self._as_owner(
            file_id,
            owner,
            "SET #claimed_at = :zero, last_finalize_error = :reason",
            names={"#claimed_at": CLAIMED_AT_ATTRIBUTE},
            values={":zero": 0, ":reason": reason[:200]},
        )

    # -- a remote commit that is pending (see adm_ingest.pipeline.poller) ----------------------

    def record_commit(
        self, file_id: str, owner: str, session: Mapping[str, str], *, now: float
    ) -> bool:
        """The destination's commit said "pending": remember when, and the remote session to
        poll (opaque ids). Kept from the first call, so a retried finalization polls the same
        remote state instead of committing again. False when ``owner`` lost the claim."""
        return self._as_owner(
            file_id,
            owner,
            "SET committed_at = if_not_exists(committed_at, :iso), "
            "committed_epoch = if_not_exists(committed_epoch, :epoch), "
            "commit_session = if_not_exists(commit_session, :session)",
            values={
                ":iso": iso_time(now),
                ":epoch": int(now),  # the poller's deadline: whole seconds are plenty
                ":session": {str(k): str(v) for k, v in session.items()},
            },
        )

    def await_remote(self, file_id: str, owner: str, *, deadline: float) -> bool:
        """Park a committed file until its remote state is terminal: the claim ends (status
        ``committed``) and no claim is granted while it waits — the poller's
        :meth:`record_remote_state` ends the wait. The file stays in the finalizing index
        under :data:`AWAITING` until ``deadline`` (epoch seconds), so a file whose poller never
        concludes is found by :meth:`overdue_remote`. False when ``owner`` lost the claim, or
        the remote state is already known (the poll outran this call: the claim's holder then
        writes the final report itself)."""
        return self._as_owner(
            file_id,
            owner,
            "SET awaiting_remote = :t, #claimed_at = :deadline, #s = :committed, "
            "#finalizing = :awaiting",
            names={
                "#claimed_at": CLAIMED_AT_ATTRIBUTE,
                "#finalizing": FINALIZING_ATTRIBUTE,
                "#s": "status",
            },
            values={
                ":t": True,
                ":deadline": int(deadline),
                ":committed": "committed",
                ":awaiting": AWAITING,
            },
            condition="attribute_not_exists(remote_state)",
        )

    def record_remote_state(self, file_id: str, state: RemoteOutcome) -> bool:
        """The poll reached a terminal remote state (status, facts — ids and counts, never
        data): recorded once, and the file may be claimed again to write its final report.
        It rejoins the finalizing index, so a final report the poller does not finish is
        finished by the sweep. False when a remote state was recorded already."""
        try:
            self._resource_table.update_item(
                Key={"pk": f"file#{file_id}", "sk": "file"},
                UpdateExpression="SET remote_state = :state, #finalizing = :claimed, "
                "#claimed_at = :zero REMOVE awaiting_remote",
                ConditionExpression="attribute_exists(committed_at) "
                "AND attribute_not_exists(remote_state) AND attribute_not_exists(reported_at)",
                ExpressionAttributeNames={
                    "#finalizing": FINALIZING_ATTRIBUTE,
                    "#claimed_at": CLAIMED_AT_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":state": state.to_item(),
                    ":claimed": CLAIMED,
                    ":zero": 0,
                },
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def stale_finalizations(
        self,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
        limit: int = 100,
    ) -> list[str]:
        """File ids whose finalization claim expired (or was released) without being marked
        reported, oldest first: a query of the sparse :data:`FINALIZING_INDEX`, never a scan."""
        now = time.time() if now is None else now
        return self._finalizing(CLAIMED, before=now - lease_seconds, limit=limit)

    def overdue_remote(self, *, now: float | None = None, limit: int = 100) -> list[str]:
        """File ids parked for a remote state past their deadline (:meth:`await_remote`):
        their poller never concluded. A query of the sparse finalizing index."""
        now = time.time() if now is None else now
        return self._finalizing(AWAITING, before=now, limit=limit)

    def _finalizing(self, key: str, *, before: float, limit: int) -> list[str]:
        file_ids: list[str] = []
        query: dict[str, Any] = {
            "IndexName": FINALIZING_INDEX,
            "KeyConditionExpression": "#finalizing = :key AND #claimed_at < :before",
            "ExpressionAttributeNames": {
                "#finalizing": FINALIZING_ATTRIBUTE,
                "#claimed_at": CLAIMED_AT_ATTRIBUTE,
            },
            "ExpressionAttributeValues": {":key": key, ":before": _epoch(before)},
        }
        while len(file_ids) < limit:
            page = self._resource_table.query(**query, Limit=limit - len(file_ids))
            file_ids.extend(
                str(item["pk"]).removeprefix("file#")
                for item in page.get("Items", [])
                if item.get("sk") == "file"
            )
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return file_ids

    def _as_owner(
        self,
        file_id: str,
        owner: str,
        expression: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        condition: str | None = None,
    ) -> bool:
        # DynamoDB refuses an empty ExpressionAttributeNames: only pass it with names.
        named: dict[str, Any] = {"ExpressionAttributeNames": dict(names)} if names else {}
        try:
            self._resource_table.update_item(
                Key={"pk": f"file#{file_id}", "sk": "file"},
                UpdateExpression=expression,
                ConditionExpression="finalize_owner = :owner"
                + (f" AND {condition}" if condition else ""),
                **named,
                ExpressionAttributeValues={
                    ":owner": owner,
                    **({":now": iso_time(time.time())} if ":now" in expression else {}),
                    **(values or {}),
                },
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- messages nobody can attribute -------------------------------------------------------

    def record_poison_message(self, queue: str, kind: str, digest: str) -> None:
        """Count a message removed from ``queue`` because it can't be read as what the queue
        carries (``kind``: why; ``digest``: SHA-256 of its first bytes — never the bytes)."""
        now = time.time()
        self._resource_table.update_item(
            Key={"pk": f"{POISON_PK_PREFIX}{queue}", "sk": "poison"},
            UpdateExpression=(
                "SET first_seen_at = if_not_exists(first_seen_at, :iso), last_seen_at = :iso, "
                "last_kind = :kind, last_digest = :digest, expires_at = :ttl "
                "ADD messages :one, #kind :one"
            ),
            ExpressionAttributeNames={"#kind": f"kind_{kind}"},
            ExpressionAttributeValues={
                ":iso": iso_time(now),
                ":kind": kind,
                ":digest": digest,
                ":ttl": int(now) + RETENTION_SECONDS,
                ":one": 1,
            },
        )


def _chunk_update(
    index: int, tally: Tally
) -> tuple[str, dict[str, str], dict[str, Any], dict[str, Any]]:
    """The update expression (with its names and values) that adds a chunk's tally to its
    file: counters move and the chunk's index joins ``counted_chunks``, in one update. The
    fourth value is what it adds, as :attr:`DeadLetter.counted` keeps it."""
    applied: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {"#read": "read"}
    values: dict[str, Any] = {
        ":one": 1,
        ":read": tally.read,
        ":accepted": tally.accepted,
        ":z": 0,
        ":index": index,
        ":indexes": {index},
    }
    sets = [
        "chunks_done = chunks_done + :one",
        "#read = #read + :read",
        "accepted = accepted + :accepted",
    ]
    if tally.ingress_ids:
        values[":ids"] = list(tally.ingress_ids)
        sets.append("ingress_ids = list_append(ingress_ids, :ids)")
    if tally.retry_wait_ms:
        values[":wait"] = tally.retry_wait_ms
        sets.append("retry_wait_ms = if_not_exists(retry_wait_ms, :z) + :wait")
    counters: dict[str, Mapping[str, int]] = {
        "rejected": tally.rejected,
        "failed": tally.failed,
        "coverage_valid": tally.coverage.valid,
        "coverage_invalid": tally.coverage.invalid,
        "requests": tally.requests,
        "request_attempts": tally.attempts,
        "notes": tally.notes,
        "skipped": tally.skipped,
        "country_sources": tally.country_sources,
        "consent_sources": tally.consent_sources,
    }
    n = 0

    def add(placeholder: str, attribute: str, counts: Mapping[str, int]) -> None:
        """``attribute.<name> += count`` for each count (a short clause: the limit is 4 KB)."""
        nonlocal n
        for name, count in counts.items():
            if count:
                n += 1
                names[placeholder] = attribute
                names[f"#k{n}"] = name
                values[f":v{n}"] = count
                path = f"{placeholder}.#k{n}"
                sets.append(f"{path} = if_not_exists({path}, :z) + :v{n}")
                applied.setdefault(attribute, {})[name] = count

    for number, (attribute, counts) in enumerate(counters.items()):
        add(f"#a{number}", attribute, counts)
    clause = len(", #aC.#k0000 = if_not_exists(#aC.#k0000, :z) + :v0000")
    # The request minutes (one to three keys a chunk, normally) may take half the room left;
    # past it their oldest minutes fold into later ones (totals kept), so the countries keep
    # the other half.
    base = len("SET " + ", ".join(sets) + " ADD counted_chunks :indexes")
    minutes = {key: count for key, count in tally.request_minutes.items() if count}
    room = (_MAX_EXPRESSION - base) // clause // 2
    if len(minutes) > room:
        minutes = fold_oldest(minutes, room)
    add("#aT", "request_minutes", minutes)
    countries = sorted(tally.countries.items(), key=lambda item: (-item[1], item[0]))
    keep = len(countries)
    base = len("SET " + ", ".join(sets) + " ADD counted_chunks :indexes")
    if base + clause * keep > _MAX_EXPRESSION:
        keep = max(0, (_MAX_EXPRESSION - base) // clause - 1)  # room for "other"
    folded = dict(countries[:keep])
    rest = sum(count for _, count in countries[keep:])
    if rest:
        folded[OTHER_COUNTRIES] = folded.get(OTHER_COUNTRIES, 0) + rest
    add("#aC", "countries", folded)
    expression = "SET " + ", ".join(sets) + " ADD counted_chunks :indexes"
    if len(expression) > _MAX_EXPRESSION:  # countries and minutes fold; the others are few
        raise ValueError("the chunk's counters do not fit one DynamoDB update")
    counted = {
        "read": tally.read,
        "accepted": tally.accepted,
        "retry_wait_ms": tally.retry_wait_ms,
        "ingress_ids": list(tally.ingress_ids),
        "maps": applied,
    }
    return expression, names, values, counted


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _epoch(seconds: float) -> Decimal:
    """DynamoDB numbers from floats: millisecond precision is plenty for a lease."""
    return Decimal(str(round(seconds, 3)))
