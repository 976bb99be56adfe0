"""Destinations: one implementation of :class:`Destination` per API target."""

from __future__ import annotations

from adm_ingest.destinations.base import AdmApi, Delivery, Destination, Target
from adm_ingest.destinations.conversions import ConversionEvents
from adm_ingest.destinations.identities import IdentityDeletions
from adm_ingest.destinations.members import AudienceDeletions, AudienceMembers
from adm_ingest.model import Kind
from adm_ingest.values import ParseOptions

DESTINATIONS: dict[Kind, type[Destination]] = {
    Kind.AUDIENCE_MEMBERS: AudienceMembers,
    Kind.AUDIENCE_DELETIONS: AudienceDeletions,
    Kind.CONVERSIONS: ConversionEvents,
    Kind.IDENTITY_DELETIONS: IdentityDeletions,
}


def destination_for(target: Target, options: ParseOptions | None = None) -> Destination:
    """The destination that serves ``target.kind``; ``options`` (how the file writes numbers
    and times, from its mapping config) reach the destinations that read such values."""
    cls = DESTINATIONS[target.kind]
    if cls.reads_values:
        return cls(target, options=options or ParseOptions())  # type: ignore[call-arg]
    return cls(target)


__all__ = [
    "DESTINATIONS",
    "AdmApi",
    "AudienceDeletions",
    "AudienceMembers",
    "ConversionEvents",
    "Delivery",
    "Destination",
    "IdentityDeletions",
    "Target",
    "destination_for",
]
