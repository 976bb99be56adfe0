"""Adobe Experience Platform batch ingestion: a file under ``aep/<dataset>/`` becomes one AEP
batch (or several, for a very large file) of JSON Lines part files, one per chunk.

The lifecycle, every step safe to repeat:

``open_file``  at split time: the file's first batch, found by ``externalId`` (derived from
               the file's identity) before one is created — a redelivered S3 event or a
               restarted split finds it instead of opening another. ``open_chunk`` opens the
               next batch, the same way, when the first of its parts is queued. The batch ids
               are the file's session.
``deliver``    one chunk's validated XDM rows, spooled (never held whole in memory), uploaded
               as ``part-<chunk>.json`` — a PUT, or the large-file upload above
               ``AEP_LARGE_FILE_BYTES``. A redelivered chunk re-uploads the same name, which
               replaces the file.
``commit``     every chunk accounted for: COMPLETE each batch — or, when some records failed
               for good, ABORT them (``on_chunk_failure: abort``, the default) or COMPLETE what
               is there (``complete``). Pending: the poller takes over.
``poll``       the batches' states until each is final; AEP's metrics and error codes go into
               the report, and its row errors come back as refusals located by part file and
               row, which the pipeline maps to source lines (a failed or aborted batch refuses
               every row it holds).

Every step calls AEP as the dataset's account: the client comes from the credentials secret
the registry entry names (``aep_secret_id``, pinned on the file at split time) or, without one,
the deployment's ``AEP_SECRET_ID`` — one client per secret, one IMS token provider per secret
per container (:meth:`AepBatches.connect_for`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, ClassVar

from adm_ingest import registry
from adm_ingest.aep import AepClient
from adm_ingest.aep.auth import (
    AEP_SECRET_ATTRIBUTE,
    AepSecretUnreadable,
    ImsTokenProvider,
    read_credentials,
)
from adm_ingest.aep.client import aep_transport
from adm_ingest.aep.dataset_schema import dataset_attributes
from adm_ingest.aep.endpoints import AepSettings
from adm_ingest.aep.errors import AepApiError
from adm_ingest.aep.models import Batch as AepBatch
from adm_ingest.aep.xdm_encoder import XdmEncoder, validator_form, xdm_mapping
from adm_ingest.batching import (
    Batcher,
    Body,
    SpooledBody,
    SpoolingBatcher,
    WireFormat,
    json_lines,
)
from adm_ingest.clients import ClientEnvironment
from adm_ingest.destinations.base import (
    BatchPosition,
    ChunkRefusal,
    ChunkSize,
    Commit,
    CommitState,
    Delivery,
    DeliveryFailed,
    DeliveryTarget,
    Destination,
    FailureClass,
    FileContext,
    FileSession,
    RemoteState,
    RowRefusal,
    safe_code,
)
from adm_ingest.destinations.http_failures import classify_http_error
from adm_ingest.destinations.routes import RoutePattern
from adm_ingest.mapping_config import MappingConfig
from adm_ingest.record_rules import RecordRules
from adm_ingest.records import PreparedRecord, Rejection
from adm_ingest.settings import Settings

PLATFORM = "aep"
SECRET_UNREADABLE = "aep_credentials_unreadable"
"""The failure reason of a file whose dataset's credentials secret cannot be read."""
logger = logging.getLogger(__name__)

MAX_ROWS_PER_PART = 10_000_000
"""Records per chunk at most, whatever its bytes (a chunk's line index stays small)."""
MAX_FILES_PER_BATCH = 1500
"""AEP's limit of files in one batch."""
SESSION_DATASET = "dataset"
SESSION_BATCHES = "batches"
SESSION_PARTS_PER_BATCH = "parts_per_batch"
SESSION_OUTCOME = "outcome"
SESSION_EMPTY = "empty_batches"
"""The session's keys: the dataset id, the batch ids (comma-separated, in order), how many
consecutive parts each batch takes, what the commit did (``completed`` / ``aborted``), and the
batches it aborted because AEP would not complete them empty."""
COMPLETED, ABORTED = "completed", "aborted"
EMPTY = "empty"
"""The remote status of a file none of whose batches held a file: nothing was uploaded."""
_NOT_INGESTED = frozenset({"failed", "failure", "aborted", "abandoned"})


def part_name(chunk: int) -> str:
    """The part file of a chunk in its batch."""
    return f"part-{chunk:06d}.json"


def chunk_of_part(name: str | None) -> int | None:
    """The chunk a part file name stands for (None: not one of ours)."""
    if not name:
        return None
    stem = name.rsplit("/", 1)[-1]
    if not (stem.startswith("part-") and stem.endswith(".json")):
        return None
    digits = stem[len("part-") : -len(".json")]
    return int(digits) if digits.isdigit() else None


def external_id(file_id: str, batch_number: int) -> str:
    """The ``externalId`` of a file's batch: derived from the file's identity (bucket, key,
    version), so every attempt at the same file finds the same batches."""
    return f"adm-ingest-{file_id}-{batch_number}"


class AepBatches(Destination):
    """Rows of an AEP dataset, as batches of JSON Lines part files."""

    name: ClassVar[str] = "aep"
    route: ClassVar[RoutePattern] = RoutePattern("aep/{name}/")
    namespace: ClassVar[str | None] = registry.AEP_DATASET
    target_label: ClassVar[str] = "AEP dataset"
    rules: ClassVar[RecordRules] = RecordRules(fields=frozenset(), requires_consent=False)
    """Unused: AEP rows take their own record path (:meth:`row_encoder`), with Adobe's
    identity rules and no Amazon hashing or consent."""
    wire: ClassVar[WireFormat] = json_lines(max_items=MAX_ROWS_PER_PART, max_bytes=1 << 62)
    client_key: ClassVar[str] = "aep"
    own_record_path: ClassVar[bool] = True
    accepts_after_commit: ClassVar[bool] = False  # a COMPLETEd batch takes no more files
    keeps_delivered_rows: ClassVar[bool] = True

    # The part and batch sizes: the deployment's settings, read once per destination.

    @cached_property
    def large_file_bytes(self) -> int:
        return Settings.from_env().aep_large_file_bytes

    @cached_property
    def parts_per_batch(self) -> int:
        return max(1, min(MAX_FILES_PER_BATCH, Settings.from_env().aep_parts_per_batch))

    # -- the client -------------------------------------------------------------------------

    @classmethod
    def connect(cls, environment: ClientEnvironment) -> AepClient:
        """The deployment's default account (the ``AEP_SECRET_ID`` secret's)."""
        return cls.connect_for(environment, DeliveryTarget(cls.name))

    @classmethod
    def client_key_for(cls, target: DeliveryTarget) -> str:
        # One client per credentials secret: its org, sandbox and tenant are the account's.
        secret_id = account_secret_id(target)
        return cls.client_key if secret_id is None else f"{cls.client_key}|{secret_id}"

    @classmethod
    def connect_for(cls, environment: ClientEnvironment, target: DeliveryTarget) -> AepClient:
        """A client with the credentials of the dataset's account: the secret its registry
        entry names (``aep_secret_id``, pinned on the file), else the deployment's
        ``AEP_SECRET_ID``; one IMS token provider per secret and container (Adobe throttles
        integrations that mint many tokens)."""
        secret_id = account_secret_id(target) or environment.settings.aep_secret_id
        settings = AepSettings.from_environ()
        # A secret that cannot be read is AepSecretUnreadable: an auth failure, so the file
        # (not a retried chunk, nor the split) fails, naming the reason.
        credentials = read_credentials(secret_id)
        # The provider outlives any one client: it has a transport of its own, as ADM's has.
        tokens = environment.shared(
            ("aep-token-provider", secret_id, settings.token_url),
            lambda: ImsTokenProvider(credentials, settings, aep_transport(settings)),
        )
        return AepClient(credentials, settings, tokens=tokens)

    @classmethod
    def chunk_size(cls, settings: Settings) -> ChunkSize:
        return ChunkSize(records=MAX_ROWS_PER_PART, bytes=settings.aep_part_bytes)

    def classify(self, error: Exception) -> DeliveryFailed | None:
        if isinstance(error, AepSecretUnreadable):
            logger.error(
                "AEP credentials secret unreadable",
                extra={"aep_secret_id": error.secret_id, "aep_dataset": self.target.name},
            )
            return DeliveryFailed(
                FailureClass.NEEDS_HUMAN, SECRET_UNREADABLE, maybe_delivered=False
            )
        return classify_http_error(error, PLATFORM)

    # -- records ----------------------------------------------------------------------------

    def row_encoder(self, config: MappingConfig) -> XdmEncoder:
        attributes = self.target.attributes
        return XdmEncoder(
            xdm_mapping(config, attributes), validator_form(attributes), clock=self.clock
        )

    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        raise NotImplementedError(
            "AEP rows are built by the row encoder, not from prepared records"
        )

    def batcher(self) -> Batcher:
        return SpoolingBatcher(max_items=MAX_ROWS_PER_PART)

    def request_name(self, position: BatchPosition, ordinal: int) -> str:
        return f"parts/{part_name(position.chunk)}"

    @classmethod
    def attributes_from_schema(cls, schema: Mapping[str, Any]) -> dict[str, str]:
        return dataset_attributes(schema)

    # -- the lifecycle ----------------------------------------------------------------------

    def _open_file(self, client: AepClient, file: FileContext) -> FileSession:
        return {
            SESSION_DATASET: self.target.id,
            SESSION_BATCHES: self._batch(client, external_id(file.file_id, 0)),
            SESSION_PARTS_PER_BATCH: str(self.parts_per_batch),
        }

    def _open_chunk(
        self, client: AepClient, file: FileContext, session: FileSession, index: int
    ) -> FileSession:
        """Open batch ``n`` when the first chunk of it is queued (parts fill the batches in
        order), so a file of any size — a gzip file's too, whose parts can't be counted from
        its size — keeps ``AEP_PARTS_PER_BATCH`` parts per batch."""
        ids = batch_ids(session)
        number = index // int(session.get(SESSION_PARTS_PER_BATCH) or self.parts_per_batch)
        if number < len(ids):
            return session
        for missing in range(len(ids), number + 1):
            ids.append(self._batch(client, external_id(file.file_id, missing)))
        return {**session, SESSION_BATCHES: ",".join(ids)}

    def _batch(self, client: AepClient, external: str) -> str:
        """The batch with this ``externalId``: the one already open, else a new one."""
        dataset_id = self.target.id
        percent = self.target.attributes.get("partial_ingestion_percent")
        for found in client.list_batches(external_id=external):
            if found.dataset_id in (None, dataset_id):
                return found.id
        created = client.create_batch(
            dataset_id,
            external_id=external,
            partial_ingestion_percent=float(percent) if percent and float(percent) > 0 else None,
        )
        return created.id

    def _send(
        self, client: AepClient, body: Body, session: FileSession, position: BatchPosition
    ) -> Delivery:
        batch_id = batch_for_chunk(session, position.chunk)
        dataset_id = session[SESSION_DATASET]
        name = part_name(position.chunk)
        if isinstance(body, SpooledBody):
            try:
                if body.size > self.large_file_bytes:
                    client.upload_large_file(
                        batch_id, dataset_id, name, body.stream(), size=body.size
                    )
                else:
                    client.put_file(batch_id, dataset_id, name, body.stream())
            finally:
                body.close()
        else:
            client.put_file(batch_id, dataset_id, name, body)
        return Delivery(status=200)

    def _commit(self, client: AepClient, file: FileContext, session: FileSession) -> Commit:
        policy = file.mapping.on_chunk_failure if file.mapping is not None else "abort"
        abort = file.failed > 0 and policy == "abort"
        empty: list[str] = []
        for batch_id in batch_ids(session):
            try:
                if abort:
                    client.abort_batch(batch_id)
                else:
                    client.complete_batch(batch_id)
            except AepApiError as refused:
                state = client.get_batch(batch_id).status
                if state in _NOT_INGESTED:
                    # AEP closed the batch on its own (``abandoned`` after loading too long):
                    # nothing is left to finish, and a commit failing for ever would leave
                    # the file without a final report. The poll reports the batch's state.
                    continue
                if abort or refused.status != 400 or state != "loading":
                    raise
                # COMPLETE refused on an open batch: AEP completes no batch without files
                # ("106: Dataset file is empty") — every row of its parts was rejected before
                # upload, or the file needed fewer batches than its size suggested. It is
                # aborted, and the poll fails any row it did hold rather than drop it.
                client.abort_batch(batch_id)
                empty.append(batch_id)
        outcome = ABORTED if abort else COMPLETED
        closed = {SESSION_EMPTY: ",".join(empty)} if empty else {}
        return Commit(CommitState.PENDING, {**session, SESSION_OUTCOME: outcome, **closed})

    def _poll(self, client: AepClient, file: FileContext, session: FileSession) -> RemoteState:
        ids = batch_ids(session)
        batches = [client.get_batch(batch_id) for batch_id in ids]
        if not all(batch.is_final for batch in batches):
            pending = next(batch.status for batch in batches if not batch.is_final)
            return RemoteState(terminal=False, status=pending)
        per_batch = int(session.get(SESSION_PARTS_PER_BATCH) or self.parts_per_batch)
        refused_chunks: list[ChunkRefusal] = []
        refusals: list[RowRefusal] = []
        for number, batch in enumerate(batches):
            if batch.status in _NOT_INGESTED:
                first = number * per_batch
                last = None if number == len(batches) - 1 else first + per_batch - 1
                refused_chunks.append(ChunkRefusal(first, last, batch_reason(batch)))
            elif (batch.metrics.failed_record_count or 0) > 0:
                refusals.extend(row_refusals(client, batch))
        # A batch aborted at commit for holding no files decides nothing (its chunks are
        # refused above all the same: a row it did hold is failed, never dropped).
        empty = set(batch_ids({SESSION_BATCHES: session.get(SESSION_EMPTY, "")}))
        deciding = [batch for batch in batches if batch.id not in empty]
        facts = batch_facts(batches, session.get(SESSION_OUTCOME, ""))
        if empty:
            facts["empty_batches"] = ",".join(sorted(empty))
        return RemoteState(
            terminal=True,
            status=overall_status(deciding) if deciding else EMPTY,
            succeeded=all(batch.succeeded for batch in deciding),
            facts=facts,
            refusals=tuple(refusals),
            refused_chunks=tuple(refused_chunks),
        )


def account_secret_id(target: DeliveryTarget) -> str | None:
    """The AEP credentials secret a target's registry entry names (``None``: the default)."""
    return target.attributes.get(AEP_SECRET_ATTRIBUTE) or None


def batch_ids(session: Mapping[str, str]) -> list[str]:
    return [batch_id for batch_id in session.get(SESSION_BATCHES, "").split(",") if batch_id]


def batch_for_chunk(session: Mapping[str, str], chunk: int) -> str:
    """The batch a chunk's part goes into: consecutive parts fill each batch in turn (the
    splitter opened the chunk's batch before queuing it: :meth:`AepBatches._open_chunk`)."""
    ids = batch_ids(session)
    number = chunk // max(1, int(session.get(SESSION_PARTS_PER_BATCH) or 1))
    if number >= len(ids):
        raise DeliveryFailed(FailureClass.PERMANENT, "aep_no_batch")
    return ids[number]


def batch_reason(batch: AepBatch) -> str:
    """Why a batch's rows were not ingested: its first error code, else its status."""
    for error in batch.errors:
        if error.code:
            return f"aep_{safe_code(error.code)}"
    return f"aep_{safe_code(batch.status)}"


def row_refusals(client: AepClient, batch: AepBatch) -> Iterable[RowRefusal]:
    """The batch's row errors as refusals: one per refused row (a row with several problems
    is refused once, with its first code), located by its part file and position."""
    seen: set[tuple[int | None, int | None]] = set()
    for error in client.row_errors(batch.id):
        chunk = chunk_of_part(error.file)
        where = (chunk, error.row_index)
        if chunk is not None and error.row_index is not None:
            if where in seen:
                continue
            seen.add(where)
        yield RowRefusal(chunk, error.row_index, f"aep_{safe_code(error.code)}")


def overall_status(batches: list[AepBatch]) -> str:
    """One word for the file: the first batch that did not succeed decides, else success."""
    for batch in batches:
        if not batch.succeeded:
            return batch.status
    return batches[0].status if batches else "success"


def batch_facts(batches: list[AepBatch], outcome: str) -> dict[str, int | str]:
    """What the report shows of the batches: ids, statuses, AEP's record counts, error codes."""
    facts: dict[str, int | str] = {
        "batches": ",".join(batch.id for batch in batches),
        "batch_statuses": ",".join(batch.status for batch in batches),
    }
    if outcome:
        facts["commit"] = outcome
    for key, values in (
        ("input_records", [b.metrics.input_record_count for b in batches]),
        ("output_records", [b.metrics.output_record_count for b in batches]),
        ("failed_records", [b.metrics.failed_record_count for b in batches]),
    ):
        known = [value for value in values if value is not None]
        if known:
            facts[key] = sum(known)
    codes = sorted({safe_code(error.code) for batch in batches for error in batch.errors})
    if codes:
        facts["errors"] = ",".join(codes)
    return facts
