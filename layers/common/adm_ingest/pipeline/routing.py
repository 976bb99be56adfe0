"""Routing by key prefix: where in the bucket a file lands decides what it is for.

The one routing table is :data:`adm_ingest.destinations.DESTINATIONS`: each destination
declares its route pattern, and a key goes to the first destination whose pattern it lies
under. With ADM's destinations:

====================================  =========================================
``audiences/<audience>/…``            audience members CREATE (or per-record ``action``)
``audiences/<audience>/delete/…``     audience removal (members DELETE)
``conversions/<definition>/…``        conversion events
``deletions/…``                       GDPR identity deletion
====================================  =========================================

The pipeline's own outputs (``reports/``, ``rejects/``, ``_staging/``) and folder markers are
ignored. Names resolve to remote ids through the registry the setup workflow writes, in the
destination's namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from adm_ingest import registry
from adm_ingest.destinations import DESTINATIONS, DeliveryTarget, Destination
from adm_ingest.report import OUTPUT_PREFIXES

INPUT_PREFIXES: tuple[str, ...] = tuple(dict.fromkeys(cls.route.top for cls in DESTINATIONS))
"""The top-level key prefixes that hold input files (``audiences/``, ``conversions/``…), in
routing order: the S3 notifications (template.yaml, the local stack) and the setup's mapping
keys are checked against this one declaration."""


class RoutingError(ValueError):
    """The key is under no known prefix, or its name is not registered (file-level error)."""


@dataclass(frozen=True, slots=True)
class Route:
    """What a key is for: its destination and the registered name it targets."""

    destination: type[Destination]
    name: str
    prefix: str
    """The routing prefix (``audiences/<name>``…): the key of the file's own column mapping."""
    mapping_keys: tuple[str, ...]
    """Where the file's column mapping may be registered, in order of precedence."""


def decode_key(raw: str) -> str:
    """An S3 event key as stored: URL-decoded, ``+`` meaning space (real S3 and moto alike)."""
    return unquote_plus(raw)


def is_own_output(key: str) -> bool:
    return key.startswith(OUTPUT_PREFIXES) or key.endswith("/")


def route(key: str) -> Route:
    """The route for ``key``. Raises RoutingError for keys under no known prefix."""
    for cls in DESTINATIONS:
        found = cls.route.match(key)
        if found is not None:
            return Route(cls, found.name, found.prefix, found.mapping_keys)
    patterns = [cls.route.describe() for cls in DESTINATIONS]
    raise RoutingError(f"key is not under {', '.join(patterns[:-1])} or {patterns[-1]}")


def resolve_target(found: Route, names: registry.Registry) -> DeliveryTarget:
    """The remote id behind the route's name, with the registered entry's attributes (e.g. an
    audience's country). Raises RoutingError when the name is unknown."""
    destination = found.destination
    if destination.namespace is None:  # the route names nothing (identity deletions)
        return DeliveryTarget(destination.name, found.name, "")
    entry = names.get(destination.namespace, found.name)
    if entry is None:
        raise RoutingError(
            f"unknown {destination.target_label} {found.name!r}: run the setup workflow with it "
            f"in the config (or register it with `adm-ingest register`)"
        )
    attributes = {key: str(value) for key, value in entry.attributes.items() if value}
    return DeliveryTarget(destination.name, found.name, entry.id, attributes)
