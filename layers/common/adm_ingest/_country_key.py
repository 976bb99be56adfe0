"""The matching rule for country spellings, shared by :mod:`adm_ingest.countries` and the
generator of its table (``scripts/gen_countries.py``), so both read text the same way."""

from __future__ import annotations

import unicodedata

_UNDECOMPOSED_LETTERS = str.maketrans(
    {"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
"""Latin letters NFKD leaves whole (``Grækenland``, ``Korea Południowa``), as their plain
spellings, after case folding."""


def country_key(text: str) -> str:
    """``text`` folded for matching: accents, case, punctuation and spaces don't count, nor
    does a leading "the" (``" U.S.A. "`` → ``"usa"``, ``"ESPAÑA"`` → ``"espana"``,
    ``"The Gambia"`` → ``"gambia"``). Letters of any script survive (``"日本"``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    words = (
        "".join(
            char if char.isalnum() else " "
            for char in decomposed
            if not unicodedata.combining(char)
        )
        .casefold()
        .translate(_UNDECOMPOSED_LETTERS)
        .split()
    )
    if words and words[0] == "the":
        del words[0]
    # NFKD split Hangul syllables into jamo (letters, not marks): put them back together.
    return unicodedata.normalize("NFC", "".join(words))
