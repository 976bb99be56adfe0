"""Where each record's consent came from, counted without a cost per row (issue #13's
"records by consent source").

``consent_sources`` counts the records whose consent was resolved, by
:class:`~adm_ingest.consent.ConsentSource`: ``record`` (at least one of its own consent values
differs from the mapping's defaults), ``mapping_default`` (its signals are the mapping's
``defaults`` — taken, or repeated by the record: every record starts from the defaults, so a
record repeating them is indistinguishable from one that took them) and ``none`` (no signal,
allowed because its country requires none). Records rejected for their consent
(``missing_consent``, ``invalid_consent``) or before it (their country) are not counted: they
are among the rejects. A layout with no country or consent column shares one context, and its
records are counted in bulk.
"""

from __future__ import annotations

import io

import orjson
import pytest

import adm_ingest.prepare
from adm_ingest.consent import ConsentPolicy, ConsentSource, CountrySource
from adm_ingest.destinations import AudienceMembers, DeliveryTarget, IdentityDeletions
from adm_ingest.destinations.base import Destination
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records
from adm_ingest.records import ConsentSignals
from adm_local.demo import _report_text
from adm_local.dryrun import dry_run, summary_text
from adm_local.report_sample import SAMPLE_REPORT

GPP = "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"
DATASET_US = ConsentPolicy.from_defaults({}, country="US", country_source=CountrySource.DATASET)


def members() -> Destination:
    return AudienceMembers(DeliveryTarget("audience_members", "a", "ds-1"))


def run(
    data: bytes,
    policy: ConsentPolicy = DATASET_US,
    config: dict | None = None,
    destination: Destination | None = None,
) -> RecordProcessor:
    processor = RecordProcessor(destination or members(), build_plan(None, config), policy)
    for _ in processor.batches(open_records(io.BytesIO(data))):
        pass
    return processor


def with_defaults(defaults: dict[str, str]) -> tuple[ConsentPolicy, dict]:
    """The policy and the mapping config of a mapping with ``defaults`` (as the worker builds
    them: ConsentPolicy.from_defaults of the config's ``defaults``)."""
    config = {"defaults": defaults}
    return ConsentPolicy.from_defaults(defaults, country="US", country_source="dataset"), config


def jsonl(*records: dict[str, str]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


# -- the classification --------------------------------------------------------------------


def test_signals_are_classified_against_the_mapping_defaults() -> None:
    policy, _ = with_defaults({"amzn_ad_storage": "GRANTED", "gpp": GPP})
    source_of = policy.consent_source_of
    assert source_of(ConsentSignals()) is ConsentSource.NONE
    assert source_of(ConsentSignals(gpp=GPP, amzn_ad_storage="GRANTED")) is (
        ConsentSource.MAPPING_DEFAULT
    )
    # One value of its own (the rest filled in from the defaults) makes it the record's.
    assert source_of(ConsentSignals(gpp=GPP, amzn_ad_storage="DENIED")) is ConsentSource.RECORD
    assert source_of(ConsentSignals(gpp="other", amzn_ad_storage="GRANTED")) is (
        ConsentSource.RECORD
    )
    # Without defaults, any signal is the record's own.
    assert DATASET_US.consent_source_of(ConsentSignals(tcf="T")) is ConsentSource.RECORD
    assert [source.value for source in ConsentSource] == ["record", "mapping_default", "none"]


# -- counted per record (a layout with a country or consent column) --------------------------


def test_own_consent_columns_count_as_the_records_own() -> None:
    data = (
        b"email,country,amzn_ad_storage,amzn_user_data\n"
        b"a@example.com,DE,GRANTED,GRANTED\n"
        b"b@example.com,FR,denied,GRANTED\n"
        b"c@example.com,US,,\n"  # no signal, and the US requires none
        b"d@example.com,GB,,\n"  # rejected: the UK requires consent
        b"e@example.com,DE,maybe,\n"  # rejected: not a consent value
        b"f@example.com,Narnia,GRANTED,\n"  # rejected before consent: no country
    )
    processor = run(data)
    tally = processor.tally
    assert processor.preparer.contexts == 6  # every record had a context of its own
    assert tally.consent_sources == {"record": 2, "none": 1}
    assert tally.rejected == {"missing_consent": 1, "invalid_consent": 1, "invalid_country": 1}
    assert tally.country_sources == {"record": 5}  # the consent rejects had a country


def test_a_record_repeating_the_defaults_counts_as_mapping_default() -> None:
    policy, config = with_defaults({"amzn_ad_storage": "GRANTED", "amzn_user_data": "GRANTED"})
    data = (
        b"email,country,amzn_ad_storage\n"
        b"a@example.com,DE,GRANTED\n"  # the defaults' own value
        b"b@example.com,DE,yes\n"  # the same signal, spelt otherwise
        b"c@example.com,DE,\n"  # takes the default
        b"d@example.com,DE,DENIED\n"  # its own
    )
    tally = run(data, policy, config).tally
    assert tally.consent_sources == {"mapping_default": 3, "record": 1}
    assert not tally.rejected


def test_a_consent_column_beside_consent_defaults_names_the_record_when_it_differs() -> None:
    # The mapping's defaults are in every record's attributes, so "the record has a gpp key"
    # says nothing; its values against the defaults do.
    policy, config = with_defaults({"gpp": GPP})
    data = b"email,country,gpp\na@example.com,DE,\nb@example.com,DE,DBABMA~own\n"
    assert run(data, policy, config).tally.consent_sources == {
        "mapping_default": 1,
        "record": 1,
    }


# -- counted in bulk (a layout with neither) ------------------------------------------------


def test_a_shared_layout_is_counted_in_bulk_under_the_defaults_source() -> None:
    policy, config = with_defaults({"country": "DE", "gpp": GPP})
    data = b"email\n" + b"".join(b"p%d@example.com\n" % i for i in range(40)) + b"short,row\n"
    processor = run(data, policy, config)
    assert processor.preparer.contexts == 0
    assert processor.tally.consent_sources == {"mapping_default": 40}  # not the short row
    # Without consent defaults, US records share "none".
    processor = run(b"email\na@example.com\nb@example.com\n")
    assert processor.preparer.contexts == 0
    assert processor.tally.consent_sources == {"none": 2}


def test_a_shared_layout_rejected_for_its_consent_is_not_counted() -> None:
    policy, config = with_defaults({"country": "DE"})  # the EEA, and no consent anywhere
    tally = run(b"email\na@example.com\nb@example.com\n", policy, config).tally
    assert tally.rejected == {"missing_consent": 2}
    assert tally.consent_sources == {}
    assert tally.country_sources == {"mapping_default": 2}  # their country was resolved


def test_mixed_layouts_in_one_chunk_count_each_record_once() -> None:
    policy, config = with_defaults({"gpp": GPP})
    data = jsonl(
        {"email": "a@example.com", "country": "DE", "gpp": "DBABMA~own"},  # own context
        {"email": "b@example.com"},  # shared: the defaults
        {"email": "c@example.com"},
        {"email": "d@example.com", "country": "FR", "gpp": ""},  # own context, the default
        {"email": "e@example.com", "amzn_ad_storage": "nope"},  # own context, rejected
        {"email": "f@example.com"},
    )
    processor = run(data, policy, config)
    assert processor.preparer.contexts == 3
    assert processor.tally.consent_sources == {"mapping_default": 4, "record": 1}
    assert processor.tally.rejected == {"invalid_consent": 1}


# -- bounds, resets, destinations without consent --------------------------------------------


def test_per_person_consent_strings_are_counted_exactly_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adm_ingest.prepare, "_MAX_CONSENT_OBJECTS", 3)
    policy, config = with_defaults({"gpp": GPP})
    rows = [b"p%d@example.com,DE,DBABMA~person-%d\n" % (i, i) for i in range(10)]
    rows += [b"q%d@example.com,DE,\n" % i for i in range(5)]  # the default, between them
    rows += [b"r%d@example.com,DE,DBABMA~person-%d\n" % (i, i % 4) for i in range(6)]
    processor = run(b"email,country,gpp\n" + b"".join(rows), policy, config)
    assert processor.tally.consent_sources == {"record": 16, "mapping_default": 5}
    assert len(processor.preparer._consent_objects) == 0  # taken: nothing is kept


def test_counts_start_again_after_each_take_and_add_up_over_runs() -> None:
    processor = run(b"email,country,tcf\na@example.com,DE,T1\n")
    assert processor.preparer.take_consent_counts(0) == {}  # already taken by the run
    for _ in processor.batches(open_records(io.BytesIO(b"email\nb@example.com\n"))):
        pass
    assert processor.tally.consent_sources == {"record": 1, "none": 1}


def test_a_destination_that_takes_no_consent_counts_none() -> None:
    target = DeliveryTarget("identity_deletions", "", "")
    data = b"email,country,gpp\na@example.com,DE,x\nb@example.com,GB,\n"
    tally = run(data, destination=IdentityDeletions(target)).tally
    assert tally.consent_sources == {}
    assert tally.country_sources == {"record": 2}


# -- the dry-run shows them -------------------------------------------------------------------


def test_the_dry_run_report_and_summary_show_consent_sources(tmp_path) -> None:
    source = tmp_path / "eu.csv"
    source.write_bytes(
        b"email,country,gpp\n"
        b"a@example.de,DE,DBABMA~x\n"
        b"b@example.com,US,\n"
        b"c@example.com,US,\n"
        b"d@example.co.uk,GB,\n"
    )
    result = dry_run(source, destination="audience_members", out_dir=tmp_path / "out", country="US")
    assert result.report["consent_sources"] == {"none": 2, "record": 1}
    assert orjson.loads((tmp_path / "out" / "report.json").read_bytes())["consent_sources"] == {
        "none": 2,
        "record": 1,
    }
    text = summary_text(result)
    assert (
        "consent from: none 2, record 1  (not counting records rejected for their consent)" in text
    )
    assert "DBABMA~x" not in text


def test_the_demo_prints_consent_sources_under_the_countries() -> None:
    report = orjson.loads(SAMPLE_REPORT.read_bytes())
    lines = _report_text("audiences/crm/x.csv", report, []).splitlines()
    countries = next(i for i, line in enumerate(lines) if line.startswith("    countries: "))
    assert lines[countries + 1] == "    consent from: none 9, record 4"
    del report["consent_sources"]  # a report written before consent sources were counted
    assert "consent from" not in _report_text("audiences/crm/x.csv", report, [])
