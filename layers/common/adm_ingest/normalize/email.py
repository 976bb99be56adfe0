"""Email normalization (ADM key ``em``, matchKey ``EMAIL``).

Rule (Amazon Marketing Cloud Uploader, ``email_normalizer.py``): lowercase; delete every
character that is not a word character, ``.``, ``@`` or ``-`` (so whitespace and ``+`` go,
``Foo.Bar+tag@x`` becomes ``foo.bartag@x``); keep the result only if it *starts* with
``local@domain`` — the reference uses ``re.match``, so trailing text after a valid prefix
(``a@b@c``) is kept as is.
"""

from __future__ import annotations

import re

from adm_ingest.normalize._text import prepare

_NOT_EMAIL_CHAR = re.compile(r"[^\w.@-]+")
_LOOKS_LIKE_EMAIL = re.compile(r"[\w.-]+@[\w.-]+")


def normalize_email(value: str, country: str = "US") -> str | None:
    """Return the normalized email, or ``None`` if nothing email-like remains.

    ``country`` is accepted for a uniform normalizer signature; email rules are global.
    """
    email = _NOT_EMAIL_CHAR.sub("", prepare(value).lower())
    if _LOOKS_LIKE_EMAIL.match(email) is None:
        return None
    return email
