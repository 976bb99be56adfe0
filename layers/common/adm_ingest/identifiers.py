"""What identifies a person to Amazon, and what an id column may be trusted with.

**Matchable PII sets.** Amazon matches a hashed PII set on an email, a phone, or a street
address with its postal code (:data:`MATCHABLE_SETS`). A set without any of those — first and
last name, city, state, a postal code alone, or city + state — is too weak: many people share
it, so it matches nobody (or the wrong person). The preparer therefore keeps only matchable
sets (:func:`is_matchable`):

* the sets of one record are alternatives for the same person, so an unmatchable set beside a
  matchable one is dropped from the body (and counted in the preparer's notes as
  ``insufficient_pii_set``) — it could only add noise;
* a record whose every set is unmatchable keeps none, and is rejected
  ``insufficient_identifier`` unless something else identifies it — an external identity
  (:data:`EXTERNAL_IDENTITIES`: a MAID or a RampID), or, for a removal, the externalUserId
  that names the member;
* a record with nothing at all stays ``no_identifier``.

The same rule serves every destination: audience members, conversion events' matchKeys (a
names-only event attributes nothing) and GDPR identity deletions (a deletion by name alone
would match nobody — or, worse, someone else — so it is rejected rather than sent).

**Id columns.** ``external_id`` (→ externalUserId) and ``dedupe_id`` (→ clientDedupeId) are
sent as given, so the spreadsheet damage of :mod:`adm_ingest.normalize.spreadsheet` is dealt
with here: a text guard is stripped (``'1001`` → ``1001``), and an id in scientific notation
(``7.01234E+12``) is refused (:func:`clean_id` → ``None``, the record is rejected
``mangled_by_spreadsheet``): thousands of different ids collapse into one such value, and
sending it would merge different people (or orders) into one.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Final

from adm_ingest.normalize.spreadsheet import (
    GUARD_STARTS,
    is_scientific_notation,
    strip_spreadsheet_guard,
)

MATCHABLE_SETS: Final[tuple[frozenset[str], ...]] = (
    frozenset({"email"}),
    frozenset({"phone"}),
    frozenset({"address", "postal"}),
)
"""The PII field combinations Amazon can match a person on; a set is matchable when it holds
all the fields of at least one of them."""

EXTERNAL_IDENTITIES: Final[dict[str, str]] = {"ramp_id": "liveRampId", "maid": "maId"}
"""Attributes that identify a person on their own, and their key in ADM's
``ExternalIdentity``. ADM also defines experianId, kantarId, merkleId, neustarId, realId and
sambaTvId ("planned for the future"); a mapping field for one of them belongs here too."""


def is_matchable(names: Container[str]) -> bool:
    """Whether a PII set holding these fields can identify a person (:data:`MATCHABLE_SETS`).

    Written out rather than looped over the data: it runs for every record, and two dict
    probes (an email-only set answers at the first) cost less than building a cache key.
    ``tests/unit/test_identifiers_golden.py`` checks it against :data:`MATCHABLE_SETS` for
    every combination of fields.
    """
    return "email" in names or "phone" in names or ("address" in names and "postal" in names)


def clean_id(value: str) -> str | None:
    """An id column's value as it should be sent: without a spreadsheet text guard (``'1001``,
    ``="1001"`` → ``1001``); ``None`` when it is in scientific notation (the digits are lost).
    A value that was only a guard comes back empty (absent)."""
    if value and value[0] in GUARD_STARTS:
        value = strip_spreadsheet_guard(value)
    if "+" in value and is_scientific_notation(value):
        return None
    return value
