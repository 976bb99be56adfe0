"""Destinations: one implementation of :class:`Destination` per API target."""

from __future__ import annotations

from adm_ingest.destinations.base import AdmApi, Delivery, Destination, Target
from adm_ingest.destinations.conversions import ConversionEvents
from adm_ingest.destinations.identities import IdentityDeletions
from adm_ingest.destinations.members import AudienceDeletions, AudienceMembers
from adm_ingest.model import Kind

DESTINATIONS: dict[Kind, type[Destination]] = {
    Kind.AUDIENCE_MEMBERS: AudienceMembers,
    Kind.AUDIENCE_DELETIONS: AudienceDeletions,
    Kind.CONVERSIONS: ConversionEvents,
    Kind.IDENTITY_DELETIONS: IdentityDeletions,
}


def destination_for(target: Target) -> Destination:
    """The destination that serves ``target.kind``."""
    return DESTINATIONS[target.kind](target)


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
