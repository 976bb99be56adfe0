"""A file's remote lifecycle after delivery — the destination's ``commit`` and ``poll`` — for a
ledger file item, through the destination interface only.

The finalizer commits (:meth:`RemoteLifecycle.commit` is its ``committer``) and the poller polls;
neither knows which destination a file went to. Destinations that keep the default hooks (ADM's:
done at commit, nothing to poll) are answered without building their client, so functions that
hold no credentials (the sweeper) can finalize their files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adm_ingest.destinations.base import (
    Commit,
    DeliveryFailed,
    DeliveryTarget,
    Destination,
    FileContext,
    FileSession,
    RemoteState,
)

DestinationFor = Callable[[DeliveryTarget], Destination]
"""The destination serving a target (:func:`adm_ingest.destinations.destination_for`)."""
ClientFor = Callable[[type[Destination]], Any]
"""The client of a destination class, one per ``client_key`` per container (the runtime's)."""


def delivery_target(file: Mapping[str, Any]) -> DeliveryTarget:
    """Where the ledger file item's records went (the destination's name, target name, id)."""
    return DeliveryTarget(
        destination=str(file.get("destination") or file["kind"]),
        name=str(file.get("target_name") or ""),
        id=str(file.get("target_id") or ""),
    )


def file_context(file: Mapping[str, Any]) -> FileContext:
    file_id = str(file.get("file_id") or str(file["pk"]).removeprefix("file#"))
    return FileContext(
        file_id=file_id,
        key=str(file["key"]),
        target=delivery_target(file),
        records=int(file.get("read") or 0),
    )


def file_session(file: Mapping[str, Any]) -> FileSession:
    """The remote ids to poll: the commit's session if it named one, else the file's own
    (opened at split time)."""
    return dict(file.get("commit_session") or file.get("session") or {})


class RemoteLifecycle:
    """The destination's ``commit`` / ``poll`` / ``classify`` for ledger file items."""

    def __init__(self, destination_for: DestinationFor, client_for: ClientFor) -> None:
        self._destination_for = destination_for
        self._client_for = client_for

    def commit(self, file: Mapping[str, Any]) -> Commit:
        destination = self._destination_for(delivery_target(file))
        if type(destination).commit is Destination.commit:  # done at delivery: no client needed
            return Commit()
        client = self._client_for(type(destination))
        return destination.commit(client, file_context(file), dict(file.get("session") or {}))

    def poll(self, file: Mapping[str, Any]) -> RemoteState:
        destination = self._destination_for(delivery_target(file))
        client = self._client_for(type(destination))
        return destination.poll(client, file_context(file), file_session(file))

    def classify(self, file: Mapping[str, Any], error: Exception) -> DeliveryFailed | None:
        """The destination's neutral verdict on an error its poll raised (None: unknown)."""
        if isinstance(error, DeliveryFailed):
            return error
        return self._destination_for(delivery_target(file)).classify(error)
