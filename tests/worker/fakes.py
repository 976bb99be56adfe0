"""In-memory stand-ins for the worker's, dead-letter recorder's and finalizer's collaborators.

* :class:`FakeLedger` — exactly the :class:`~adm_ingest.ledger.Ledger` methods those
  components (and the tests' setup) call, with the same semantics: items in the table's shape
  (``pk``/``sk``, the same attribute names), read back through the same typed records
  (``FileRecord.from_item``, ``ChunkRecord.from_item``), and the same conditions — a chunk is
  counted once, a finalization claim is a lease (owner token, expiry by the injected clock,
  released claims free at once), every step after the claim is conditional on owning it.
  Left out, deliberately: DynamoDB's 4 KB expression limit (the real ledger folds rare
  countries into ``other`` to stay under it), TTLs and the counter-map migration of old items.
* :class:`ObjectStore` — the S3 client calls the worker and the report writer make
  (``get_object`` with a version/ETag and a range, ``put_object``, ``head_object``,
  ``delete_objects``, the ``list_objects_v2`` / ``list_object_versions`` paginators), over a
  versioned bucket, with one-shot faults. No multipart upload: a test's rejects file is small.
* :class:`FakeAdm` — an ADM client for the members destinations: it answers
  ``ingest_members`` with per-item refusals (by ``externalUserId``), or raises the scripted
  error for a call, and reports the attempts each call made through ``take_stats`` as the real
  client does.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field, replace
from typing import Any, cast

import orjson
from botocore.exceptions import ClientError

from adm_ingest.adm.models import ItemError, MembersResult
from adm_ingest.attempts import AttemptStats
from adm_ingest.destinations import AudienceMembers
from adm_ingest.ledger import (
    DEFAULT_LEASE_SECONDS,
    ChunkRecord,
    DeadLetter,
    DeliveredBatch,
    FileEntry,
    FileRecord,
    Ledger,
    PinnedMapping,
)
from adm_ingest.ledger_records import iso_time
from adm_ingest.outcomes import Tally
from adm_ingest.pipeline.chunks import ChunkPointer, SourceLayout
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.worker import ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter

_LEGACY_REPORTED = ("complete", "complete_with_failures")


class Clock:
    """An injected "now" (epoch seconds) that a test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _chunk_sk(index: int) -> str:
    return f"chunk#{index:06d}"


# -- the ledger --------------------------------------------------------------------------------


class FakeLedger:
    """The ledger's file and chunk items in a dict, with the real ledger's conditions."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or Clock()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def as_ledger(self) -> Ledger:
        """This fake where a :class:`Ledger` is expected: it has every method the worker, the
        dead-letter recorder and the finalizer call (and only those, plus the tests' setup)."""
        return cast(Ledger, self)

    # -- helpers ------------------------------------------------------------------------

    def _file(self, file_id: str) -> dict[str, Any] | None:
        return self.items.get((f"file#{file_id}", "file"))

    def _chunk(self, file_id: str, index: int) -> dict[str, Any]:
        """The chunk item, created as an update creates it (keys only)."""
        key = (f"file#{file_id}", _chunk_sk(index))
        return self.items.setdefault(key, {"pk": key[0], "sk": key[1]})

    # -- files --------------------------------------------------------------------------

    def register_file(self, entry: FileEntry) -> bool:
        if self._file(entry.file_id) is not None:
            return False
        item = entry.new_item(self.clock())  # the real ledger's item, exactly
        self.items[(item["pk"], "file")] = item
        return True

    def get_file(self, file_id: str) -> FileRecord | None:
        found = self._file(file_id)
        return FileRecord.from_item(deepcopy(found)) if found is not None else None

    def pin_mapping(self, file_id: str, mapping: PinnedMapping) -> PinnedMapping:
        item = self._file(file_id)
        if item is None:
            raise _conditional_check_failed("UpdateItem")
        item.setdefault("mapping_config", mapping.canonical)
        item.setdefault("mapping_hash", mapping.content_hash)
        item.setdefault("mapping_prefix", mapping.prefix)
        pinned = FileRecord.from_item(item).pinned_mapping()
        assert pinned is not None
        return pinned

    def record_split(self, file_id: str, *, chunks_total: int, records_total: int) -> None:
        item = self.items.setdefault(
            (f"file#{file_id}", "file"), {"pk": f"file#{file_id}", "sk": "file"}
        )
        item.update(
            chunks_total=chunks_total,
            records_total=records_total,
            split_done=True,
            split_done_at=iso_time(self.clock()),
            status="processing",
        )
        item.pop("split_checkpoint", None)

    # -- chunks -------------------------------------------------------------------------

    def get_chunk(self, file_id: str, index: int) -> ChunkRecord | None:
        found = self.items.get((f"file#{file_id}", _chunk_sk(index)))
        return ChunkRecord.from_item(deepcopy(found)) if found is not None else None

    def record_delivered_batch(self, file_id: str, index: int, batch: DeliveredBatch) -> None:
        self._chunk(file_id, index).setdefault("delivered_batches", []).append(batch.to_item())

    def record_chunk_error(
        self,
        file_id: str,
        index: int,
        reason: str,
        *,
        unconfirmed_batch: int | None = None,
        attempts: AttemptStats | None = None,
    ) -> None:
        chunk = self._chunk(file_id, index)
        chunk["last_error"] = reason
        if attempts:
            chunk.setdefault("attempt_log", []).append(attempts.to_dict())
        chunk["attempts"] = chunk.get("attempts", 0) + 1
        if unconfirmed_batch is not None:
            chunk.setdefault("unconfirmed_batches", set()).add(unconfirmed_batch)

    def complete_chunk(
        self,
        file_id: str,
        index: int,
        tally: Tally,
        *,
        status: str,
        dead_letter: DeadLetter | None = None,
    ) -> bool:
        """The counters move and the index joins ``counted_chunks`` only if the file exists
        and the index is not there yet (one conditional update in the real ledger)."""
        item = self._file(file_id)
        if item is None or index in item.get("counted_chunks", set()):
            return False
        item["chunks_done"] = item.get("chunks_done", 0) + 1
        item["read"] = item.get("read", 0) + tally.read
        item["accepted"] = item.get("accepted", 0) + tally.accepted
        item.setdefault("ingress_ids", []).extend(tally.ingress_ids)
        if tally.retry_wait_ms:
            item["retry_wait_ms"] = item.get("retry_wait_ms", 0) + tally.retry_wait_ms
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
            "countries": tally.countries,
            "consent_sources": tally.consent_sources,
            "request_minutes": tally.request_minutes,
        }
        for attribute, counts in counters.items():
            stored = item.setdefault(attribute, {})
            for name, count in counts.items():
                if count:
                    stored[name] = stored.get(name, 0) + count
        item.setdefault("counted_chunks", set()).add(index)
        chunk = self._chunk(file_id, index)
        chunk.update(status=status, completed_at=iso_time(self.clock()))
        if dead_letter is not None:  # the real ledger keeps what it added (countries folded)
            maps = {a: {k: v for k, v in c.items() if v} for a, c in counters.items()}
            counted = {
                "read": tally.read,
                "accepted": tally.accepted,
                "retry_wait_ms": tally.retry_wait_ms,
                "ingress_ids": list(tally.ingress_ids),
                "maps": {a: c for a, c in maps.items() if c},
            }
            chunk["dead_letter"] = replace(dead_letter, counted=counted).to_item()
        return True

    # -- finalization (a lease) ---------------------------------------------------------

    def claim_finalization(
        self,
        file_id: str,
        owner: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
    ) -> FileRecord | None:
        now = self.clock() if now is None else now
        item = self._file(file_id)
        if item is None:
            return None
        claimed_at = item.get("finalize_claimed_at")
        legacy_reported = (
            "finalized_at" in item and claimed_at is None and item.get("status") in _LEGACY_REPORTED
        )
        complete = item.get("split_done") is True and item.get("chunks_done", 0) >= item.get(
            "chunks_total", 0
        )
        free = claimed_at is None or claimed_at < now - lease_seconds
        if not complete or "reported_at" in item or not free or legacy_reported:
            return None
        item.update(finalize_owner=owner, finalize_claimed_at=round(now, 3), finalizing="claimed")
        item.setdefault("finalized_at", iso_time(now))
        item["finalize_attempts"] = item.get("finalize_attempts", 0) + 1
        return FileRecord.from_item(deepcopy(item))

    def record_report_written(self, file_id: str, owner: str) -> bool:
        item = self._owned(file_id, owner)
        if item is None:
            return False
        item.setdefault("report_written_at", iso_time(self.clock()))
        return True

    def mark_reported(self, file_id: str, status: str, *, owner: str | None = None) -> bool:
        item = self._file(file_id) if owner is None else self._owned(file_id, owner)
        if item is None:
            return False
        item.update(status=status, reported_at=iso_time(self.clock()))
        item.pop("finalizing", None)
        return True

    def release_finalization(self, file_id: str, owner: str, reason: str) -> bool:
        item = self._owned(file_id, owner)
        if item is None:
            return False
        item.update(finalize_claimed_at=0, last_finalize_error=reason[:200])
        return True

    def stale_finalizations(
        self,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
        limit: int = 100,
    ) -> list[str]:
        """The sparse index's query: claimed (``finalizing``) items, claim expired, oldest first."""
        now = self.clock() if now is None else now
        stale = sorted(
            (item["finalize_claimed_at"], item["pk"].removeprefix("file#"))
            for item in self.items.values()
            if item.get("sk") == "file"
            and item.get("finalizing") == "claimed"
            and item["finalize_claimed_at"] < now - lease_seconds
        )
        return [file_id for _, file_id in stale[:limit]]

    def _owned(self, file_id: str, owner: str) -> dict[str, Any] | None:
        item = self._file(file_id)
        return item if item is not None and item.get("finalize_owner") == owner else None

    # -- messages nobody can attribute --------------------------------------------------

    def record_poison_message(self, queue: str, kind: str, digest: str) -> None:
        item = self.items.setdefault(
            (f"POISON#{queue}", "poison"), {"pk": f"POISON#{queue}", "sk": "poison"}
        )
        item.update(last_kind=kind, last_digest=digest)
        item["messages"] = item.get("messages", 0) + 1
        item[f"kind_{kind}"] = item.get(f"kind_{kind}", 0) + 1


def _conditional_check_failed(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "condition"}}, operation
    )


# -- S3 ----------------------------------------------------------------------------------------


@dataclass
class _Version:
    version_id: str
    body: bytes | None
    """``None``: a delete marker."""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.version_id}"'


class _Body(io.BytesIO):
    """A streaming body: ``read(size)`` and ``close()``, as botocore's."""


class _Paginator:
    def __init__(self, list_page: Callable[..., dict[str, Any]]) -> None:
        self._list_page = list_page

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield self._list_page(**kwargs)  # one page: a test's prefixes hold a few objects


class ObjectStore:
    """A versioned S3 bucket (any bucket name) with the calls the worker and report writer
    make. ``fail(operation, key_prefix)`` makes the next such call raise an AWS error."""

    def __init__(self) -> None:
        self.objects: dict[str, list[_Version]] = {}
        self._ids = itertools.count(1)
        self._faults: list[tuple[str, str]] = []
        self.calls: Counter[str] = Counter()

    # -- faults -------------------------------------------------------------------------

    def fail(self, operation: str, key_prefix: str = "") -> None:
        self._faults.append((operation, key_prefix))

    def _enter(self, operation: str, key: str = "") -> None:
        self.calls[operation] += 1
        for fault in self._faults:
            if fault[0] == operation and key.startswith(fault[1]):
                self._faults.remove(fault)
                raise ClientError(
                    {"Error": {"Code": "InternalError", "Message": "injected"}}, operation
                )

    # -- objects ------------------------------------------------------------------------

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes,
        Metadata: Mapping[str, str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        self._enter("PutObject", Key)
        version = _Version(f"v{next(self._ids)}", bytes(Body), dict(Metadata or {}))
        self.objects.setdefault(Key, []).append(version)
        return {"VersionId": version.version_id, "ETag": version.etag}

    def get_object(
        self,
        *,
        Bucket: str,
        Key: str,
        VersionId: str | None = None,
        IfMatch: str | None = None,
        Range: str | None = None,
    ) -> dict[str, Any]:
        self._enter("GetObject", Key)
        version = self._version(Key, VersionId)
        if IfMatch is not None and IfMatch.strip('"') != version.etag.strip('"'):
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "GetObject")
        body = version.body or b""
        if Range is not None:
            start, end = Range.removeprefix("bytes=").split("-")
            body = body[int(start) : int(end) + 1 if end else None]
        return {"Body": _Body(body), "VersionId": version.version_id, "Metadata": version.metadata}

    def head_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self._enter("HeadObject", Key)
        version = self._version(Key, None, code="404")
        return {"Metadata": dict(version.metadata), "VersionId": version.version_id}

    def delete_objects(self, *, Bucket: str, Delete: Mapping[str, Any]) -> dict[str, Any]:
        self._enter("DeleteObjects")
        for target in Delete["Objects"]:
            versions = self.objects.get(target["Key"], [])
            versions[:] = [v for v in versions if v.version_id != target.get("VersionId")]
            if not versions:
                self.objects.pop(target["Key"], None)
        return {}

    def get_paginator(self, operation: str) -> _Paginator:
        pages = {"list_objects_v2": self._list_objects, "list_object_versions": self._list_versions}
        return _Paginator(pages[operation])

    def _list_objects(self, *, Bucket: str, Prefix: str = "") -> dict[str, Any]:
        self._enter("ListObjectsV2", Prefix)
        keys = sorted(
            k for k, v in self.objects.items() if k.startswith(Prefix) and v[-1].body is not None
        )
        return {"Contents": [{"Key": key} for key in keys]} if keys else {}

    def _list_versions(self, *, Bucket: str, Prefix: str = "") -> dict[str, Any]:
        self._enter("ListObjectVersions", Prefix)
        listed: dict[str, list[dict[str, str]]] = {"Versions": [], "DeleteMarkers": []}
        for key in sorted(k for k in self.objects if k.startswith(Prefix)):
            for version in self.objects[key]:
                kind = "Versions" if version.body is not None else "DeleteMarkers"
                listed[kind].append({"Key": key, "VersionId": version.version_id})
        return listed

    def _version(self, key: str, version_id: str | None, *, code: str = "NoSuchKey") -> _Version:
        versions = self.objects.get(key, [])
        found = [v for v in versions if version_id is None or v.version_id == version_id]
        if not found or found[-1].body is None:
            raise ClientError({"Error": {"Code": code, "Message": "not found"}}, "GetObject")
        return found[-1]

    # -- for assertions -----------------------------------------------------------------

    def versions(self, key: str) -> int:
        return len(self.objects.get(key, []))

    def body(self, key: str) -> bytes | None:
        """The latest content of ``key`` (``None``: no such object)."""
        versions = self.objects.get(key)
        return versions[-1].body if versions else None

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


# -- ADM ---------------------------------------------------------------------------------------


class FakeAdm:
    """An ADM client for audience members: every call of ``ingest_members`` answers 200,
    refusing the members whose ``externalUserId`` is in ``refuse`` (id → ADM error code), or
    raises ``errors[call number]`` when one is scripted. The ingress id is the body's digest
    (the same body gets the same id, whichever run sends it). ``attempts[call number]`` is what that
    call's attempts were (default: one answered attempt, ``200`` — or none for an error)."""

    def __init__(
        self,
        *,
        refuse: Mapping[str, str] | None = None,
        errors: Mapping[int, BaseException] | None = None,
        attempts: Mapping[int, AttemptStats] | None = None,
    ) -> None:
        self.refuse = dict(refuse or {})
        self.errors = dict(errors or {})
        self.attempts = dict(attempts or {})
        self.bodies: list[bytes] = []
        """Every body received, in order (a failed call's too)."""
        self._pending = AttemptStats()

    def ingest_members(self, data_set_id: str, body: bytes) -> MembersResult:
        call = len(self.bodies)
        self.bodies.append(bytes(body))
        error = self.errors.get(call)
        stats = self.attempts.get(call)
        self._pending.add(stats or AttemptStats(Counter() if error else Counter({"200": 1})))
        if error is not None:
            raise error
        members = orjson.loads(body)["members"]
        refused = [
            ItemError(position, self.refuse[member["externalUserId"]], "refused")
            for position, member in enumerate(members)
            if member.get("externalUserId") in self.refuse
        ]
        return MembersResult(f"ingress-{hashlib.sha256(body).hexdigest()[:12]}", refused)

    def take_stats(self) -> AttemptStats:
        return self._pending.take()

    def sent_ids(self) -> list[list[str]]:
        """The externalUserIds of each body received."""
        return [[m["externalUserId"] for m in orjson.loads(b)["members"]] for b in self.bodies]


class UntouchableClient:
    """A client for a path that must never reach the destination: any use is recorded and
    refused."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"the client was used: {name}")


# -- a file, its chunk and the components, wired to the fakes ---------------------------------

BUCKET = "adm-ingest-fake"
KEY = "audiences/vip/crm.csv"
TARGET_ID = "DS-1"
HEADER = b"customer_id,email\n"


@contextlib.contextmanager
def small_batches(max_items: int) -> Iterator[None]:
    """Audience members' bodies hold at most ``max_items`` members (5,000 in production), so a
    few rows make several batches."""
    wire = AudienceMembers.wire
    AudienceMembers.wire = replace(wire, max_items=max_items)
    try:
        yield
    finally:
        AudienceMembers.wire = wire


def member_rows(count: int, *, without_identifier: frozenset[int] = frozenset()) -> list[bytes]:
    """CSV rows ``c-<n>,member<n>@example.com`` (n from 0); a row in ``without_identifier``
    has no id and no valid email (rejected ``no_identifier`` before any request)."""
    return [
        f",not-an-email-{n}".encode()
        if n in without_identifier
        else f"c-{n},member{n}@example.com".encode()
        for n in range(count)
    ]


@dataclass
class World:
    """One registered, fully split one-chunk CSV file of audience members, and the worker and
    finalizer that process it — on the fakes."""

    rows: list[bytes]
    clock: Clock = field(default_factory=Clock)
    ledger: FakeLedger = field(init=False)
    s3: ObjectStore = field(default_factory=ObjectStore)
    file_id: str = "f" * 32
    lease_seconds: float = 900.0

    def __post_init__(self) -> None:
        self.ledger = FakeLedger(self.clock)
        body = HEADER + b"".join(row + b"\n" for row in self.rows)
        version = self.s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)["VersionId"]
        self.ledger.register_file(
            FileEntry(
                self.file_id, BUCKET, KEY, version, None, len(body), "audience_members", "vip",
                TARGET_ID,
            )
        )  # fmt: skip
        self.mapping = self.ledger.pin_mapping(self.file_id, PinnedMapping.of("", None))
        self.version_id = version
        self.body = body
        self.ledger.record_split(self.file_id, chunks_total=1, records_total=len(self.rows))

    @property
    def pointer(self) -> ChunkPointer:
        return ChunkPointer(
            file_id=self.file_id,
            index=0,
            bucket=BUCKET,
            key=KEY,
            destination="audience_members",
            target_name="vip",
            target_id=TARGET_ID,
            layout=SourceLayout("csv", ",", header_range=(0, len(HEADER))),
            first_line=2,
            records=len(self.rows),
            version_id=self.version_id,
            byte_range=(len(HEADER), len(self.body)),
            mapping_hash=self.mapping.content_hash,
        )

    def finalizer(self) -> Finalizer:
        return Finalizer(
            self.ledger.as_ledger(),
            ReportWriter(self.s3, BUCKET),
            lease_seconds=self.lease_seconds,
            clock=self.clock,
        )

    def worker(self, client: Any, *, time_left: Callable[[], float] | None = None) -> ChunkWorker:
        return ChunkWorker(
            s3=self.s3,
            ledger=self.ledger.as_ledger(),
            registry=cast("Registry", None),  # the file's mapping is pinned: never read
            finalizer=self.finalizer(),
            clients=lambda destination, target: client,
            time_left=time_left or (lambda: float("inf")),
            clock=self.clock,
        )

    def file(self) -> FileRecord:
        found = self.ledger.get_file(self.file_id)
        assert found is not None
        return found

    def chunk(self) -> ChunkRecord:
        found = self.ledger.get_chunk(self.file_id, 0)
        assert found is not None
        return found
