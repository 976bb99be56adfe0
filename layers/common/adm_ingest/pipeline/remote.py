"""A file's remote lifecycle after delivery — the destination's ``commit`` and ``poll`` — for a
ledger file record, through the destination interface only.

The finalizer commits (:meth:`RemoteLifecycle.commit` is its ``committer``) and the poller polls;
neither knows which destination a file went to. Clients come from the runtime's
:class:`~adm_ingest.clients.ClientPool`, which connects only when a hook uses its client (ADM's
commit does not, so functions holding no credentials — the sweeper — finalize ADM files).
Errors come out of the destination classified (:class:`DeliveryFailed`) or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from adm_ingest.clients import ClientProvider
from adm_ingest.destinations import destination_class
from adm_ingest.destinations.base import (
    Commit,
    DeliveryTarget,
    Destination,
    FileContext,
    FileSession,
    RemoteState,
)
from adm_ingest.ledger_records import FileRecord
from adm_ingest.pipeline.delivered_rows import DeliveredRows, account_remote

DestinationFor = Callable[[DeliveryTarget], Destination]
"""The destination serving a target (:func:`adm_ingest.destinations.destination_for`)."""


def delivery_target(file: FileRecord) -> DeliveryTarget:
    """Where the file's records went: its destination, the target's name and id, and the
    resolved entry's attributes as pinned at split time."""
    return DeliveryTarget(
        destination=file.destination,
        name=file.target_name,
        id=file.target_id,
        attributes=dict(file.target_attributes),
    )


def file_context(file: FileRecord) -> FileContext:
    return FileContext(
        file_id=file.file_id,
        key=file.key,
        target=delivery_target(file),
        records=file.records_total or file.read,
        failed=sum(file.failed.values()),
        mapping=pinned.config if (pinned := file.pinned_mapping()) is not None else None,
    )


def file_session(file: FileRecord) -> FileSession:
    """The remote ids to poll: the commit's session if it named one, else the file's own
    (opened at split time)."""
    return dict(file.commit_session or file.session)


class RemoteLifecycle:
    """The destination's ``commit`` and ``poll`` for ledger file records (both raise
    :class:`~adm_ingest.destinations.base.DeliveryFailed` for a classified failure)."""

    def __init__(
        self,
        destination_for: DestinationFor,
        client_for: ClientProvider,
        delivered_rows: DeliveredRows | None = None,
    ) -> None:
        self._destination_for = destination_for
        self._client_for = client_for
        self._delivered_rows = delivered_rows

    def commit(self, file: FileRecord) -> Commit:
        target = delivery_target(file)
        destination = self._destination_for(target)
        client = self._client_for(type(destination), target)
        return destination.commit(client, file_context(file), dict(file.session))

    def poll(self, file: FileRecord) -> RemoteState:
        target = delivery_target(file)
        destination = self._destination_for(target)
        client = self._client_for(type(destination), target)
        return destination.poll(client, file_context(file), file_session(file))

    def account(self, file: FileRecord, state: RemoteState) -> Counter[str]:
        """The delivered records ``state`` says the remote system did not take, staged as the
        file's last fates and counted by reason (none for a destination that keeps no
        delivered rows: it finishes at delivery, or its remote side refuses nothing later)."""
        if self._delivered_rows is None or not state.terminal:
            return Counter()
        if not destination_class(file.destination).keeps_delivered_rows:
            return Counter()
        return account_remote(self._delivered_rows, file.bucket, file.file_id, state)
