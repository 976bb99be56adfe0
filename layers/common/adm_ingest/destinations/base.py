"""The one interface every destination implements: a whole delivery, with a lifecycle.

A destination declares, as class attributes, where its files come from (:attr:`route`), which
registry namespace resolves the route's name to a remote id (:attr:`namespace`), how its records
are prepared (:attr:`rules`: fields, normalization and hashing, consent) and how its request
bodies are framed and limited (:attr:`wire`). It builds its own client (:meth:`connect`), turns
a prepared record into one wire item (:meth:`build` / :meth:`encode`), and takes a file through
its lifecycle:

``open_file``  once per file, before any chunk is queued (e.g. create a remote batch) — idempotent;
``deliver``    one batch of items; per-item verdicts come back in a :class:`Delivery`;
``commit``     once every chunk is accounted for (e.g. signal a remote batch COMPLETE);
``poll``       while a commit is pending, until the remote state is terminal.

Each public lifecycle method holds the policy and calls a ``_hook`` that does the I/O (the
template-method shape of Powertools' idempotency persistence layer); every hook has a no-op
default, so ADM's conversion and deletion destinations, which finish at ``deliver``, implement
only ``_send`` (its audience destinations add ``_commit`` / ``_poll``, to read the match rate).

Errors are classified inside the destination (:meth:`classify`) into neutral
:class:`FailureClass` outcomes, raised as :class:`DeliveryFailed`: the worker never imports a
destination's exceptions. The splitter, worker, finalizer, ledger, report, dry-run and CLI use
only this interface — they never branch on the destination.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson

from adm_ingest.attempts import AttemptStats
from adm_ingest.batching import Batch, Batcher, Body, WireFormat
from adm_ingest.destinations.routes import RoutePattern
from adm_ingest.record_rules import RecordRules
from adm_ingest.records import PreparedRecord, Rejection
from adm_ingest.values import ParseOptions

if TYPE_CHECKING:
    from adm_ingest.mapping_config import MappingConfig
    from adm_ingest.settings import Settings

FileSession = Mapping[str, str]
"""What a destination remembers of a file between its lifecycle steps (e.g. a remote batch id):
opaque to the pipeline, stored on the file's ledger record and carried by every chunk message.
Ids only — never a record value. Empty for destinations without a remote file."""


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """Where a file's records go: the destination (its :attr:`Destination.name`), the human
    name from the route (an audience, a conversion definition; empty when the route has none),
    the remote id that name resolved to, and the resolved entry's attributes (e.g. the
    audience's ``country``)."""

    destination: str
    name: str = ""
    id: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileContext:
    """The file a lifecycle step is about (identity and routing; no content)."""

    file_id: str
    key: str
    target: DeliveryTarget
    records: int = 0
    """Records the splitter queued (known at ``commit``; 0 at ``open_file``)."""
    failed: int = 0
    """Records that failed for good before the commit (a chunk dead-lettered, a part
    refused): known at ``commit``."""
    mapping: MappingConfig | None = None
    """The file's pinned mapping config (its destination options, e.g. ``on_chunk_failure``)."""


@dataclass(frozen=True, slots=True)
class BatchPosition:
    """Which batch of the file a delivery is: its chunk and its number within the chunk (a
    destination that uploads one remote file per chunk names it by these)."""

    chunk: int = 0
    number: int = 0


@dataclass(frozen=True, slots=True)
class ChunkSize:
    """How much of a file one chunk (one worker invocation) takes: at most ``records``
    records and, when set, about ``bytes`` bytes of the source (a chunk ends at the first
    record boundary past it)."""

    records: int
    bytes: int | None = None


class FailureClass(StrEnum):
    """What a failed delivery step means for the pipeline — the only thing it needs to know."""

    TRANSIENT = "transient"
    """Try again later: the chunk is left for SQS to redeliver (then the dead-letter queue)."""
    PERMANENT = "permanent"
    """No retry can change it (a body refused as a whole): the batch's records fail with the
    reason and the chunk moves on."""
    NEEDS_HUMAN = "needs_human"
    """Credentials, terms or permissions: retried like a transient failure (a human may fix it
    meanwhile, then redrive), and reported as such."""


class DeliveryFailed(Exception):
    """A lifecycle step failed, classified. ``reason`` is a reason code (``adm_400_…``,
    ``not_delivered:throttled``…), never data."""

    def __init__(
        self,
        failure: FailureClass,
        reason: str,
        *,
        status: int | None = None,
        maybe_delivered: bool = False,
        attempts: AttemptStats | None = None,
    ) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason
        self.status = status
        self.maybe_delivered = maybe_delivered
        """The request may have reached the remote system although no answer came back."""
        self.attempts = attempts or AttemptStats()


@dataclass(slots=True)
class Delivery:
    """What the remote system said about one batch: 0-based item index → rejection reason code
    for each refused item (every other item was accepted), the final HTTP status, a remote
    receipt id when there is one, and every attempt the client made."""

    status: int
    rejected: dict[int, str] = field(default_factory=dict)
    ingress_id: str | None = None
    attempts: AttemptStats = field(default_factory=AttemptStats)


class CommitState(StrEnum):
    DONE = "done"
    """Nothing more to wait for: the report is final."""
    PENDING = "pending"
    """The remote system is still working: the poller takes over."""


@dataclass(frozen=True, slots=True)
class Commit:
    state: CommitState = CommitState.DONE
    session: FileSession = field(default_factory=dict)
    """The session as it stands after the commit (what ``poll`` needs)."""

    @property
    def pending(self) -> bool:
        return self.state is CommitState.PENDING


@dataclass(frozen=True, slots=True)
class RemoteState:
    """One look at a pending file's remote state."""

    terminal: bool
    status: str
    """The remote system's word for it (``processing``, ``success``, ``failed``…): a code."""
    succeeded: bool = True
    """For a terminal state: whether the remote system took the file."""
    facts: Mapping[str, int | str] = field(default_factory=dict)
    """Counts and codes the remote system reports (rows ingested, failed…): for the report."""
    refusals: Sequence[RowRefusal] = ()
    """Delivered records the remote system refused after all, located by position."""
    refused_chunks: Sequence[ChunkRefusal] = ()
    """Chunks every delivered record of which the remote system refused (a failed batch)."""


@dataclass(frozen=True, slots=True)
class RowRefusal:
    """One delivered record refused remotely: the chunk it was delivered in, its 0-based
    position among that chunk's delivered records (``None``: the remote system did not say),
    and the reason code."""

    chunk: int | None
    row: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ChunkRefusal:
    """Every delivered record of chunks ``first`` … ``last`` (``None``: no bound) refused
    with ``reason``."""

    first: int
    last: int | None
    reason: str

    def covers(self, chunk: int) -> bool:
        return chunk >= self.first and (self.last is None or chunk <= self.last)


class RowEncoder(Protocol):
    """A destination's own record path, for records that are not prepared the shared way
    (mapped to canonical fields, normalized and hashed): a header's layout once, then each
    record's fields straight to one encoded item, or why not."""

    notes: Counter[str]

    def layout_for(self, header: Sequence[str]) -> object: ...

    def encode_row(self, line: int, fields: Sequence[str]) -> bytes | Rejection:
        """The record's item, with the header last given to :meth:`layout_for`."""
        ...

    def summary(self) -> dict[str, Any]:
        """What the mapping did with the headers seen (names only): the report's
        ``mapping`` section, with its ``warnings``."""
        ...


class Destination(ABC):
    """Base class: subclasses set the class attributes and implement :meth:`build`,
    :meth:`connect`, :meth:`classify` and :meth:`_send`; the other hooks default to no-ops."""

    name: ClassVar[str]
    """Stable identifier (``audience_members``…): in chunk messages, the ledger and reports."""
    former_names: ClassVar[tuple[str, ...]] = ()
    """Names this destination had in messages an earlier deploy may have queued."""
    route: ClassVar[RoutePattern]
    namespace: ClassVar[str | None] = None
    """The registry namespace the route's name resolves in (None: the route names nothing)."""
    target_label: ClassVar[str] = ""
    """What the route's name names, for messages (``audience``, ``conversion definition``)."""
    rules: ClassVar[RecordRules]
    wire: ClassVar[WireFormat]
    client_key: ClassVar[str]
    """Destinations with the same key share one client per container (ADM's three do, per
    account: :meth:`client_key_for`)."""
    own_record_path: ClassVar[bool] = False
    """Whether records take the destination's own :meth:`row_encoder` instead of the shared
    preparation (then :meth:`build` / :meth:`encode` are not used)."""
    accepts_after_commit: ClassVar[bool] = True
    """Whether a committed file may still take records (a redrive of its dead-lettered
    chunks, then a new commit): False when the commit closed a remote batch for good."""
    keeps_delivered_rows: ClassVar[bool] = False
    """Whether the pipeline keeps, per chunk, the source lines of the records delivered in
    order — for a destination whose remote system refuses records after delivery (its
    ``poll`` reports them by position: :class:`RowRefusal`)."""

    def __init__(
        self,
        target: DeliveryTarget,
        options: ParseOptions | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.target = target
        self.options = options or ParseOptions()
        """How the file writes numbers and times (from its mapping config)."""
        self.clock = clock or _utc_now
        """What "now" is, for destinations that check how old a record's time is."""
        self.notes: Counter[str] = Counter()
        """File-level observations (e.g. ``naive_timestamp_as_utc``) the report turns into
        warnings: counts only, never values."""

    # -- the client -------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def connect(cls, environment: Any) -> Any:
        """This destination's client, built from its own settings and credentials
        (``environment``: a :class:`~adm_ingest.pipeline.runtime.ClientEnvironment`)."""

    @classmethod
    def client_key_for(cls, target: DeliveryTarget) -> str:
        """The client a file's target needs: targets with the same key share one client (by
        default the destination's :attr:`client_key`; a destination whose targets may belong
        to several remote accounts keys by account)."""
        return cls.client_key

    @classmethod
    def connect_for(cls, environment: Any, target: DeliveryTarget) -> Any:
        """The client for ``target`` (by default :meth:`connect`: one account per deployment)."""
        return cls.connect(environment)

    @classmethod
    def chunk_size(cls, settings: Settings) -> ChunkSize:
        """How the splitter cuts this destination's files (default: the deployment's records
        per chunk — one request each)."""
        return ChunkSize(records=settings.records_per_chunk)

    # -- records ----------------------------------------------------------------------------

    def row_encoder(self, config: MappingConfig) -> RowEncoder | None:
        """This destination's own record path for ``config``, or ``None`` for the shared one
        (mapping plan → preparer → :meth:`encode`).

        Raises:
            MappingError: ``config`` can't apply to this destination (a file-level error).
        """
        return None

    @abstractmethod
    def build(self, record: PreparedRecord) -> dict[str, Any] | Rejection:
        """One wire item for ``record``, or why it can't be sent."""

    def encode(self, record: PreparedRecord) -> bytes | Rejection:
        """The serialized item — exactly ``orjson.dumps(build(record))`` — or why it can't be
        sent. A destination may override it with a faster encoding, byte-identical to that."""
        item = self.build(record)
        return item if type(item) is Rejection else orjson.dumps(item)

    def batcher(self) -> Batcher:
        return self.wire.batcher()

    def request_name(self, position: BatchPosition, ordinal: int) -> str:
        """The relative file name a dry-run writes a body under: the ``ordinal`` th (1-based)
        request of the file, ``position`` its chunk and number within it. Default: one
        numbered request file each (``requests/0001.json``); a destination that uploads a named
        remote file per chunk names the file as it would upload it."""
        return f"requests/{ordinal:04d}.json"

    @classmethod
    def attributes_from_schema(cls, schema: Mapping[str, Any]) -> dict[str, str]:
        """The target attributes (as the registry entry would hold them) of a target whose
        remote schema is ``schema`` — how a dry-run plays a target set up from its schema.

        Raises:
            ValueError: this destination takes no schema, or can't use this one (the message
                names the problem, never a value).
        """
        raise ValueError(f"the {cls.name} destination takes no schema")

    # -- the lifecycle (public: policy; _hooks: I/O) ------------------------------------------

    def open_file(self, client: Any, file: FileContext) -> FileSession:
        """Prepare the remote side for a file, once (idempotently: a retried split calls it
        again with the same file) and return the session the chunks carry."""
        try:
            return dict(self._open_file(client, file))
        except DeliveryFailed:
            raise
        except Exception as error:
            raise self._failed(error) from error

    def open_chunk(
        self, client: Any, file: FileContext, session: FileSession, index: int
    ) -> FileSession:
        """The session chunk ``index`` of the file needs, as the splitter queues it (in chunk
        order, one file at a time): ``session`` itself, or grown by what the chunk needs
        opened remotely (e.g. the next AEP batch). Idempotent, like :meth:`open_file`."""
        try:
            return dict(self._open_chunk(client, file, session, index))
        except DeliveryFailed:
            raise
        except Exception as error:
            raise self._failed(error) from error

    def deliver(
        self,
        client: Any,
        batch: Batch,
        session: FileSession,
        position: BatchPosition | None = None,
    ) -> Delivery:
        """Send one batch (``position``: which one of the file). Raises
        :class:`DeliveryFailed` (classified) when it could not be delivered; the attempts made
        are on the delivery or on the exception."""
        self._take_attempts(client)  # only this batch's attempts count below
        try:
            delivery = self._send(client, batch.body, session, position or BatchPosition())
        except DeliveryFailed:
            raise
        except Exception as error:
            failed = self._failed(error)
            failed.attempts = self._take_attempts(client)
            raise failed from error
        delivery.attempts = self._take_attempts(client)
        return delivery

    def commit(self, client: Any, file: FileContext, session: FileSession) -> Commit:
        """Every chunk of the file is accounted for: finish it remotely."""
        try:
            return self._commit(client, file, session)
        except DeliveryFailed:
            raise
        except Exception as error:
            raise self._failed(error) from error

    def poll(self, client: Any, file: FileContext, session: FileSession) -> RemoteState:
        """Look once at a committed file's remote state."""
        try:
            return self._poll(client, file, session)
        except DeliveryFailed:
            raise
        except Exception as error:
            raise self._failed(error) from error

    @abstractmethod
    def classify(self, error: Exception) -> DeliveryFailed | None:
        """``error`` (raised by this destination's client) as a neutral outcome; None for an
        error that is not the client's (a bug: it propagates)."""

    def _failed(self, error: Exception) -> DeliveryFailed:
        classified = self.classify(error)
        if classified is None:
            raise error
        return classified

    @abstractmethod
    def _send(
        self, client: Any, body: Body, session: FileSession, position: BatchPosition
    ) -> Delivery:
        """POST one body; map per-item errors to 0-based indexes."""

    def _open_file(self, client: Any, file: FileContext) -> FileSession:
        return {}

    def _open_chunk(
        self, client: Any, file: FileContext, session: FileSession, index: int
    ) -> FileSession:
        return session

    def _commit(self, client: Any, file: FileContext, session: FileSession) -> Commit:
        return Commit(CommitState.DONE, session)

    def _poll(self, client: Any, file: FileContext, session: FileSession) -> RemoteState:
        return RemoteState(terminal=True, status="done")

    def _take_attempts(self, client: Any) -> AttemptStats:
        """The attempts ``client`` made since last asked (a client that does not count them —
        a test double — made none that are known)."""
        take = getattr(client, "take_stats", None)
        return take() if take is not None else AttemptStats()


def _utc_now() -> datetime:
    return datetime.now(UTC)


MAX_API_CODE = 64
"""Characters of an API error code kept in a reason code."""
_UNSAFE_IN_CODE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_code(code: str) -> str:
    """An API-supplied error code as part of a reason code: at most :data:`MAX_API_CODE`
    characters of ``[A-Za-z0-9_.-]``, any other character replaced by ``_``. Reason codes are
    map keys in the ledger and the report and cells of ``rejects.csv``: whatever the API says,
    they stay short, plain and free of separators, line breaks and formula characters."""
    return _UNSAFE_IN_CODE.sub("_", code[:MAX_API_CODE])
