"""Street address normalization (ADM key ``ad``, matchKey ``ADDRESS``).

A faithful re-implementation of Amazon's address SDK (``AddressHash.py``), which the
uploader also uses:

1. trim and uppercase;
2. split into tokens on commas, ``C/O``, ``!``, brackets and whitespace (empty tokens go);
3. *dash rule*: ``123-A`` (digits, dash, non-digits; last dash) becomes ``123`` ``A``;
4. *pound rule*: ``APT#5`` becomes ``APT`` ``#`` ``5`` (``[A-Z]*#[0-9A-Z-/]*``);
5. replace whole tokens through the country's word map (``TERRACE`` → ``TER``);
6. join with no separator and lowercase: ``8 Bluestem Terrace`` → ``8bluestemter``.

Steps 3 and 4 keep the SDK's exact mechanics, quirks included, because the hash must equal
Amazon's: each rule visits only as many positions as there were tokens when it started
(splitting shifts later tokens past the end, so ``1-A 2-B`` splits only the first), and
a pound match replaces the whole token with its parts (text around the match is dropped).
"""

from __future__ import annotations

import re

from adm_ingest.normalize._address_tables import DEFAULT_WORDS, WORDS_BY_COUNTRY
from adm_ingest.normalize._text import prepare
from adm_ingest.normalize.countries import CountryRules

# The SDK finds comma, C/O, "!", bracket and whitespace delimiters in turn and keeps the
# text between them; since every delimiter is removed, one alternation splits identically.
_DELIMITERS = re.compile(r"\bC/O\b|[\s,!\[\]{}()]+")
_POUND = re.compile(r"([A-Z]*)#([0-9A-Z\-/]*)")
# Most addresses hold none of the rarer delimiters; plain whitespace splitting (str.split
# uses the same whitespace definition as re's \s) is then ~10x cheaper than the regex.
_RARE_DELIMITER = re.compile(r"[,!\[\]{}()]")
_WORDS: CountryRules[dict[str, str]] = CountryRules(WORDS_BY_COUNTRY, DEFAULT_WORDS)


def address_words(country: str) -> dict[str, str]:
    """Return the token → replacement map used for ``country`` (default map if unlisted)."""
    return _WORDS.for_country(country)


def _split_dashes(tokens: list[str]) -> None:
    """``123-A`` → ``123``, ``A`` (SDK ``Dash`` rule, bounded loop reproduced)."""
    for i in range(len(tokens)):
        word = tokens[i]
        dash = word.rfind("-")
        if 0 < dash < len(word) - 1:
            number, rest = word[:dash], word[dash + 1 :]
            if number.isnumeric() and not rest.isnumeric():
                tokens[i : i + 1] = [number, rest]


def _split_pounds(tokens: list[str]) -> None:
    """``APT#5`` → ``APT``, ``#``, ``5`` (SDK ``Pound`` rule, mechanics reproduced)."""
    for i in range(len(tokens)):
        at = i
        for match in _POUND.finditer(tokens[i]):
            before, after = match.group(1), match.group(2)
            if not before and not after:
                continue
            # Each match replaces the token *currently* at ``at`` — for a second match in
            # the same word that is the previous match's last part, as in the SDK.
            parts = [part for part in (before, "#", after) if part]
            tokens[at : at + 1] = parts
            at += len(parts) - 1


def normalize_address(value: str, country: str = "US") -> str | None:
    """Return the normalized street address for ``country``, or ``None`` if empty."""
    return normalize_address_prepared(prepare(value), country)


def normalize_address_prepared(value: str, country: str = "US") -> str | None:
    """:func:`normalize_address` for a value that is already prepared (``prepare(value) ==
    value``), so the hot path does not trim it a second time."""
    text = value.upper()
    if "C/O" in text or _RARE_DELIMITER.search(text) is not None:
        tokens = [token for token in _DELIMITERS.split(text) if token]
    else:
        tokens = text.split()
    if "-" in text:
        _split_dashes(tokens)
    if "#" in text:
        _split_pounds(tokens)
    words = _WORDS.for_country(country)
    address = "".join([words.get(token, token) for token in tokens]).lower()
    return address or None
