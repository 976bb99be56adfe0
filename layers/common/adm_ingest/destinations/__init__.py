"""Destinations: one implementation of :class:`Destination` per remote target.

:data:`DESTINATIONS` is the one list of them, in routing order (a more specific route before
the route it refines). Adding a destination is a module here, an entry in that tuple, its client,
setup steps and sandbox routes — nothing in the pipeline changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adm_ingest.destinations.aep import AepBatches
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
    RowEncoder,
    RowRefusal,
)
from adm_ingest.destinations.conversions import ConversionEvents
from adm_ingest.destinations.identities import IdentityDeletions
from adm_ingest.destinations.members import AudienceMembers, AudienceRemovals
from adm_ingest.values import ParseOptions

DESTINATIONS: tuple[type[Destination], ...] = (
    AudienceRemovals,
    AudienceMembers,
    ConversionEvents,
    IdentityDeletions,
    AepBatches,
)
"""Every destination, in routing order."""
DEFAULT_DESTINATION = AudienceMembers.name
"""The destination a dry-run assumes when it is not told one."""


class UnknownDestination(LookupError):
    """A name no destination has (e.g. a message written by a newer deploy)."""


def destination_class(name: str) -> type[Destination]:
    """The destination called ``name`` (its :attr:`Destination.name`, or a name it had)."""
    for cls in DESTINATIONS:
        if cls.name == name or name in cls.former_names:
            return cls
    raise UnknownDestination(f"no destination is called {name[:64]!r}")


def destination_for(
    target: DeliveryTarget,
    options: ParseOptions | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Destination:
    """A destination for one file's records. ``options``: how the file writes numbers and
    times (from its mapping config); ``clock``: what "now" is (a dry-run's fixed time)."""
    return destination_class(target.destination)(target, options, clock=clock)


__all__ = [
    "DEFAULT_DESTINATION",
    "DESTINATIONS",
    "AepBatches",
    "AudienceMembers",
    "AudienceRemovals",
    "BatchPosition",
    "ChunkRefusal",
    "ChunkSize",
    "Commit",
    "CommitState",
    "ConversionEvents",
    "Delivery",
    "DeliveryFailed",
    "DeliveryTarget",
    "Destination",
    "FailureClass",
    "FileContext",
    "FileSession",
    "IdentityDeletions",
    "RemoteState",
    "RowEncoder",
    "RowRefusal",
    "UnknownDestination",
    "destination_class",
    "destination_for",
]
