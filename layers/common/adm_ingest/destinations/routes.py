"""Route patterns: the part of a destination's declaration that says which keys are its files.

A pattern is a key prefix with at most one ``{name}`` segment — the registered name the file
targets (an audience, a conversion definition): ``audiences/{name}/delete/``. A file lies under
it when its key starts with the pattern's literal segments and has at least one more segment
(the file name). The routing table (:mod:`adm_ingest.pipeline.routing`) tries the destinations'
patterns in order, most specific first.
"""

from __future__ import annotations

from dataclasses import dataclass

NAME = "{name}"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """A key under a pattern: the name it targets and the prefixes whose mapping applies."""

    name: str
    prefix: str
    """The routing prefix without its trailing slash (``audiences/crm``): a mapping's key."""
    mapping_keys: tuple[str, ...]
    """Where to look for the file's column mapping, in order: its own prefix first, then those
    of the patterns it borrows from (a removal file uses its audience's mapping)."""


@dataclass(frozen=True, slots=True)
class RoutePattern:
    """``pattern`` (e.g. ``audiences/{name}/``) and the patterns whose mapping a file under it
    borrows when it has none of its own."""

    pattern: str
    borrows_mapping_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        segments = self.segments
        if not self.pattern.endswith("/") or segments.count(NAME) > 1 or "" in segments:
            raise ValueError(f"invalid route pattern {self.pattern!r}")
        if segments[0] == NAME:
            raise ValueError("a route pattern starts with a literal segment")

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.pattern[:-1].split("/"))

    @property
    def top(self) -> str:
        """The literal first segment with its slash (``audiences/``): the S3 notification
        filter and lifecycle prefix the template declares for it."""
        return self.segments[0] + "/"

    def match(self, key: str) -> RouteMatch | None:
        parts = key.split("/")
        segments = self.segments
        if len(parts) <= len(segments) or not parts[-1]:
            return None
        name = ""
        for segment, part in zip(segments, parts, strict=False):
            if segment == NAME:
                if not part:
                    return None
                name = part
            elif segment != part:
                return None
        return RouteMatch(
            name=name,
            prefix=self.fill(name),
            mapping_keys=(self.fill(name), *(_fill(p, name) for p in self.borrows_mapping_from)),
        )

    def fill(self, name: str) -> str:
        """The routing prefix for ``name`` (``audiences/crm``), without the trailing slash."""
        return _fill(self.pattern, name)

    def describe(self) -> str:
        return self.pattern.replace(NAME, "<name>")


def _fill(pattern: str, name: str) -> str:
    return pattern.replace(NAME, name).rstrip("/")
