"""Consent sources account for every record prepared: each record handed to the preparer is
counted under exactly one consent source, or rejected for its consent (``missing_consent``,
``invalid_consent``), or rejected before its consent was resolved (its country:
``invalid_country``, ``unsupported_country``) — whatever happens to it afterwards (no
identifier, a duplicate…).

Files are JSON Lines whose records each carry any subset of the country and consent fields,
so one chunk mixes layouts that share the defaults' context (counted in bulk) with layouts
whose records have contexts of their own (counted one by one); mappings with and without
consent defaults; a few records the reader rejects (never prepared). This file's own oracle
says where each record's consent comes from.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy, CountrySource
from adm_ingest.destinations import AudienceMembers, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records

NEEDS_CONSENT = {"DE", "GB"}
"""Of the countries drawn below, those that require a consent signal (restated: the oracle
does not trust the code under test)."""
COUNTRIES = {"": None, "US": "US", "us": "US", "DE": "DE", "Germany": "DE", "GB": "GB", "JP": "JP"}
"""Country values → the country they name (``""``: none, the default applies)."""
BAD_COUNTRIES = ["Narnia", "XX"]
AMZN = {"": None, "GRANTED": "GRANTED", "granted": "GRANTED", "yes": "GRANTED", "DENIED": "DENIED"}
"""Amazon consent values → their normalized form (``""``: none, the default applies)."""
BAD_AMZN = ["maybe", "2"]
GPP = ["", "DBABMA~one", "DBABMA~two"]
DEFAULTS = st.sampled_from(
    [
        {},
        {"country": "DE"},
        {"gpp": "DBABMA~one"},
        {"amzn_ad_storage": "GRANTED", "amzn_user_data": "DENIED"},
        {"country": "GB", "gpp": "DBABMA~two", "amzn_ad_storage": "DENIED"},
    ]
)
_FIELDS = ("gpp", "amzn_ad_storage", "amzn_user_data")


@st.composite
def records(draw: st.DrawFn) -> dict[str, str] | None:
    """A record with any subset of the country and consent fields (``None``: a line the
    reader rejects)."""
    if draw(st.integers(0, 19)) == 0:
        return None
    record = {"email": f"p{draw(st.integers(0, 30))}@example.com"}  # repeats: duplicates
    if draw(st.booleans()):
        record["country"] = draw(st.sampled_from([*COUNTRIES, *BAD_COUNTRIES]))
    if draw(st.booleans()):
        record["gpp"] = draw(st.sampled_from(GPP))
    for name in ("amzn_ad_storage", "amzn_user_data"):
        if draw(st.integers(0, 2)) == 0:
            record[name] = draw(st.sampled_from([*AMZN, *BAD_AMZN]))
    return record


def expected(record: dict[str, str], defaults: dict[str, str]) -> str:
    """The oracle: the record's consent source, or the reason it is rejected for."""
    raw_country = record.get("country", "")
    if raw_country in BAD_COUNTRIES:
        return "invalid_country"
    country = COUNTRIES[raw_country] or defaults.get("country", "US")
    signals = []
    for name in _FIELDS:
        own = record.get(name, "")
        if name != "gpp" and own:
            if own in BAD_AMZN:
                return "invalid_consent"
            own = AMZN[own] or ""
        signals.append(own or defaults.get(name) or None)
    if not any(signals):
        return "missing_consent" if country in NEEDS_CONSENT else "none"
    if signals == [defaults.get(name) for name in _FIELDS]:
        return "mapping_default"
    return "record"


class CountingPreparer(Preparer):
    """The preparer, counting the records handed to it (the "records prepared")."""

    prepared = 0

    def prepare(self, line: int, fields: list[str], layout: Any) -> Any:
        self.prepared += 1
        return super().prepare(line, fields, layout)


def written(items: list[dict[str, str] | None]) -> bytes:
    return b"".join(
        b"{not json\n" if item is None else orjson.dumps(item) + b"\n" for item in items
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(records(), min_size=1, max_size=40), defaults=DEFAULTS)
def test_consent_sources_and_consent_rejects_add_up_to_the_records_prepared(
    items: list[dict[str, str] | None], defaults: dict[str, str]
) -> None:
    config = {"defaults": defaults}
    policy = ConsentPolicy.from_defaults(
        defaults, country="US", country_source=CountrySource.DATASET
    )
    processor = RecordProcessor(
        AudienceMembers(DeliveryTarget("audience_members", "a", "ds-1")),
        build_plan(None, config),
        policy,
    )
    preparer = processor.preparer = CountingPreparer(policy, processor.destination.rules)
    for _ in processor.batches(open_records(io.BytesIO(written(items)))):
        pass
    tally = processor.tally
    rejected = tally.rejected
    consent_rejected = rejected["missing_consent"] + rejected["invalid_consent"]
    before_consent = rejected["invalid_country"] + rejected["unsupported_country"]
    assert preparer.prepared == sum(1 for item in items if item is not None)
    assert sum(tally.consent_sources.values()) + consent_rejected + before_consent == (
        preparer.prepared
    )
    # And each record where the oracle says.
    oracle = Counter(expected(item, defaults) for item in items if item is not None)
    sources = {"record", "mapping_default", "none"}
    assert tally.consent_sources == {k: n for k, n in oracle.items() if k in sources}
    for reason in ("missing_consent", "invalid_consent", "invalid_country"):
        assert rejected[reason] == oracle[reason], reason
