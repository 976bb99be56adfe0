"""A file's remote lifecycle after delivery — the destination's ``commit`` and ``poll`` — for a
ledger file item, through the destination interface only.

The finalizer commits (:meth:`RemoteLifecycle.commit` is its ``committer``) and the poller polls;
neither knows which destination a file went to. Clients come from the runtime's
:class:`~adm_ingest.clients.ClientPool`, which connects only when a hook uses its client (ADM's
commit does not, so functions holding no credentials — the sweeper — finalize ADM files).
Errors come out of the destination classified (:class:`DeliveryFailed`) or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adm_ingest.clients import ClientProvider
from adm_ingest.destinations.base import (
    Commit,
    DeliveryTarget,
    Destination,
    FileContext,
    FileSession,
    RemoteState,
)

DestinationFor = Callable[[DeliveryTarget], Destination]
"""The destination serving a target (:func:`adm_ingest.destinations.destination_for`)."""


def delivery_target(file: Mapping[str, Any]) -> DeliveryTarget:
    """Where the ledger file item's records went: the destination's name (the item's ``kind``),
    the target's name and id. The resolved entry's attributes are not on the item; no commit
    or poll needs them yet."""
    return DeliveryTarget(
        destination=str(file["kind"]),
        name=str(file.get("target_name") or ""),
        id=str(file.get("target_id") or ""),
    )


def file_context(file: Mapping[str, Any]) -> FileContext:
    return FileContext(
        file_id=str(file["pk"]).removeprefix("file#"),
        key=str(file["key"]),
        target=delivery_target(file),
        records=int(file.get("records_total") or file.get("read") or 0),
    )


def file_session(file: Mapping[str, Any]) -> FileSession:
    """The remote ids to poll: the commit's session if it named one, else the file's own
    (opened at split time)."""
    return dict(file.get("commit_session") or file.get("session") or {})


class RemoteLifecycle:
    """The destination's ``commit`` and ``poll`` for ledger file items (both raise
    :class:`~adm_ingest.destinations.base.DeliveryFailed` for a classified failure)."""

    def __init__(self, destination_for: DestinationFor, client_for: ClientProvider) -> None:
        self._destination_for = destination_for
        self._client_for = client_for

    def commit(self, file: Mapping[str, Any]) -> Commit:
        destination = self._destination_for(delivery_target(file))
        client = self._client_for(type(destination))
        return destination.commit(client, file_context(file), dict(file.get("session") or {}))

    def poll(self, file: Mapping[str, Any]) -> RemoteState:
        destination = self._destination_for(delivery_target(file))
        client = self._client_for(type(destination))
        return destination.poll(client, file_context(file), file_session(file))
