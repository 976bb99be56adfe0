"""Country codes as the normalizers see them."""

from __future__ import annotations

from functools import lru_cache

DEFAULT_COUNTRY = "US"
"""The country assumed by the public normalizers when the caller passes none."""

_ALIASES = {"UK": "GB"}
"""Amazon's address SDK spells the United Kingdom ``UK``; ISO 3166-1 (and we) say ``GB``."""


@lru_cache(maxsize=1024)
def canonical_country(country: str) -> str:
    """Return ``country`` as an upper-case ISO 3166-1 alpha-2 code (``uk`` → ``GB``).

    Cached: a file carries only a handful of distinct country spellings, and every
    normalizer calls this once per value.
    """
    code = country.strip().upper()
    return _ALIASES.get(code, code)
