"""Destinations: one implementation of :class:`Destination` per API target."""

from __future__ import annotations

from adm_ingest.destinations.base import AdmApi, Delivery, DeliveryTarget, Destination
from adm_ingest.destinations.conversions import ConversionEvents
from adm_ingest.destinations.identities import IdentityDeletions
from adm_ingest.destinations.members import AudienceMembers, AudienceRemovals
from adm_ingest.records import Kind
from adm_ingest.values import ParseOptions

DESTINATIONS: dict[Kind, type[Destination]] = {
    Kind.AUDIENCE_MEMBERS: AudienceMembers,
    Kind.AUDIENCE_REMOVALS: AudienceRemovals,
    Kind.CONVERSIONS: ConversionEvents,
    Kind.IDENTITY_DELETIONS: IdentityDeletions,
}


def destination_for(target: DeliveryTarget, options: ParseOptions | None = None) -> Destination:
    """The destination that serves ``target.kind``; ``options`` (how the file writes numbers
    and times, from its mapping config) reach the destinations that read such values."""
    cls = DESTINATIONS[target.kind]
    if cls.reads_values:
        return cls(target, options=options or ParseOptions())  # type: ignore[call-arg]
    return cls(target)


__all__ = [
    "DESTINATIONS",
    "AdmApi",
    "AudienceMembers",
    "AudienceRemovals",
    "ConversionEvents",
    "Delivery",
    "DeliveryTarget",
    "Destination",
    "IdentityDeletions",
    "destination_for",
]
