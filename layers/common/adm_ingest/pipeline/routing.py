"""Routing by key prefix: where in the bucket a file lands decides what it is for.

====================================  =========================================
``audiences/<audience>/…``            audience members CREATE (or per-record ``action``)
``audiences/<audience>/delete/…``     audience members DELETE
``conversions/<definition>/…``        conversion events
``deletions/…``                       GDPR identity deletion
====================================  =========================================

The pipeline's own outputs (``reports/``, ``rejects/``, ``_staging/``) and folder markers are
ignored. Names resolve to ADM ids through the registry the setup workflow writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from adm_ingest import registry
from adm_ingest.destinations import DeliveryTarget
from adm_ingest.records import Kind
from adm_ingest.report import OUTPUT_PREFIXES


class RoutingError(ValueError):
    """The key is under no known prefix, or its name is not registered (file-level error)."""


@dataclass(frozen=True, slots=True)
class Route:
    """What a key is for: the kind of data and the registered name it targets."""

    kind: Kind
    name: str
    prefix: str
    """The routing prefix (``audiences/<name>``…): the key for an optional column mapping."""


def decode_key(raw: str) -> str:
    """An S3 event key as stored: URL-decoded, ``+`` meaning space (real S3 and moto alike)."""
    return unquote_plus(raw)


def is_own_output(key: str) -> bool:
    return key.startswith(OUTPUT_PREFIXES) or key.endswith("/")


def route(key: str) -> Route:
    """The route for ``key``. Raises RoutingError for keys under no known prefix."""
    parts = key.split("/")
    top = parts[0]
    if top == "audiences" and len(parts) >= 3 and parts[1]:
        name = parts[1]
        if len(parts) >= 4 and parts[2] == "delete":
            return Route(Kind.AUDIENCE_REMOVALS, name, f"audiences/{name}/delete")
        return Route(Kind.AUDIENCE_MEMBERS, name, f"audiences/{name}")
    if top == "conversions" and len(parts) >= 3 and parts[1]:
        return Route(Kind.CONVERSIONS, parts[1], f"conversions/{parts[1]}")
    if top == "deletions" and len(parts) >= 2:
        return Route(Kind.IDENTITY_DELETIONS, "", "deletions")
    if top == "aep":
        raise RoutingError("AEP batch ingestion is not available yet (aep/ prefix)")
    raise RoutingError(
        "key is not under audiences/<name>/, audiences/<name>/delete/, "
        "conversions/<name>/ or deletions/"
    )


_NAMESPACE = {
    Kind.AUDIENCE_MEMBERS: registry.AUDIENCE,
    Kind.AUDIENCE_REMOVALS: registry.AUDIENCE,
    Kind.CONVERSIONS: registry.CONVERSION_DEFINITION,
}


def resolve_target(found: Route, names: registry.Registry) -> DeliveryTarget:
    """The ADM id behind the route's name. Raises RoutingError when the name is unknown."""
    namespace = _NAMESPACE.get(found.kind)
    if namespace is None:  # identity deletions need no target id
        return DeliveryTarget(found.kind, found.name, "")
    entry = names.get(namespace, found.name)
    if entry is None:
        label = "audience" if namespace == registry.AUDIENCE else "conversion definition"
        raise RoutingError(
            f"unknown {label} {found.name!r}: run the setup workflow with it in the config "
            f"(or register it with `adm-ingest register`)"
        )
    return DeliveryTarget(found.kind, found.name, entry.id)
