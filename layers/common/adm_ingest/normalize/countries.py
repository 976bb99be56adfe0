"""Country codes as the normalizers see them, and fast per-country rule lookup."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final, Generic, TypeVar

from adm_ingest.countries import known_country

_MAX_SPELLINGS: Final = 1024
"""Bound on remembered raw country spellings, so hostile input cannot grow memory."""

Rule = TypeVar("Rule")


@lru_cache(maxsize=_MAX_SPELLINGS)
def canonical_country(country: str) -> str:
    """Return ``country`` as an ISO 3166-1 alpha-2 code, read by :mod:`adm_ingest.countries`
    (``uk`` → ``GB``, as Amazon's address SDK spells it; ``Deutschland`` → ``DE``); a spelling
    it does not know comes back trimmed and upper-cased (and finds the default rule)."""
    return known_country(country) or country.strip().upper()


class CountryRules(Generic[Rule]):
    """A per-country rule table with a default for unlisted countries.

    Normalizers run once per value, so the lookup must cost one dict probe: each raw country
    spelling (``"US"``, ``"us "``, ``"UK"``) is resolved once and remembered.
    """

    __slots__ = ("_by_country", "_default", "_resolved")

    def __init__(self, by_country: Mapping[str, Rule], default: Rule) -> None:
        self._by_country = dict(by_country)
        self._default = default
        self._resolved: dict[str, Rule] = {}

    def for_country(self, country: str) -> Rule:
        """Return the rule for ``country`` (any spelling ``canonical_country`` reads), else
        the default."""
        try:
            return self._resolved[country]
        except KeyError:
            rule = self._by_country.get(canonical_country(country), self._default)
            if len(self._resolved) < _MAX_SPELLINGS:
                self._resolved[country] = rule
            return rule
