"""Where each record's country came from, counted without a cost per row on the row lane.

``country_sources`` counts records whose country was resolved — ``record`` (its own column),
``mapping_default``, ``dataset`` (the audience's country) or ``deployment_default`` — and
``countries`` counts them by country, whatever happened to them next. Rows of a layout with
no country or consent column share one context and are counted in bulk; a reader's rejection
has no country.
"""

from __future__ import annotations

import io

import pytest

from adm_ingest.consent import ConsentPolicy, CountrySource
from adm_ingest.destinations import AudienceMembers, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.outcomes import Tally
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records
from adm_local.dryrun import dry_run, summary_text


def run(data: bytes, policy: ConsentPolicy, config: dict | None = None, *, rows: bool = True):
    processor = RecordProcessor(
        AudienceMembers(DeliveryTarget("audience_members", "a", "ds-1")),
        build_plan(None, config),
        policy,
    )
    for _ in processor.batches(open_records(io.BytesIO(data), rows=rows)):
        pass
    return processor


DATASET_US = ConsentPolicy.from_defaults({}, country="US", country_source=CountrySource.DATASET)


def test_rows_without_a_country_column_are_counted_in_bulk_under_the_default() -> None:
    data = b"email,phone\n" + b"".join(
        b"p%d@example.com,+1 206 555 %04d\n" % (i, i) for i in range(50)
    )
    data += b"a-short-row\n"
    processor = run(data, DATASET_US)
    assert processor.preparer.contexts == 0  # no row had a context of its own
    assert processor.tally.country_sources == {"dataset": 50}
    assert processor.tally.countries == {"US": 50}
    assert processor.tally.read == 51  # the short row was read, but has no country


@pytest.mark.parametrize("rows", [True, False])
def test_a_country_column_counts_each_record_where_it_comes_from(rows: bool) -> None:
    data = (
        b"email,country,gpp\n"
        b"a@example.com,DE,DBABMA~x\n"
        b"b@example.com,,\n"
        b'"c@example.com",United Kingdom,\n'  # counted, then rejected: no consent
        b"d@example.com,Narnia,\n"  # no country resolved
    )
    tally = run(data, DATASET_US, rows=rows).tally
    assert tally.country_sources == {"record": 2, "dataset": 1}
    assert tally.countries == {"DE": 1, "GB": 1, "US": 1}
    assert tally.rejected == {"missing_consent": 1, "invalid_country": 1}


def test_a_mapping_default_country_is_its_own_source() -> None:
    config = {"defaults": {"country": "CA"}}
    policy = ConsentPolicy.from_defaults(config["defaults"], country="US", country_source="dataset")
    assert policy.country_source == CountrySource.MAPPING_DEFAULT
    tally = run(b"email\na@example.com\nb@example.com\n", policy, config).tally
    assert tally.country_sources == {"mapping_default": 2}
    assert tally.countries == {"CA": 2}
    # With a country column: a record naming another country is its own; one naming the
    # default country is indistinguishable from the default and counts as defaulted.
    data = b"email,country\na@example.com,DE\nb@example.com,CA\nc@example.com,\n"
    tally = run(data, policy, config).tally
    assert tally.country_sources == {"record": 1, "mapping_default": 2}


def test_the_deployment_default_is_the_source_when_nothing_else_names_a_country() -> None:
    tally = run(b"email\na@example.com\n", ConsentPolicy.from_defaults({})).tally
    assert tally.country_sources == {"deployment_default": 1}


def test_counts_add_up_over_two_runs_of_one_processor() -> None:
    processor = run(b"email\na@example.com\n", DATASET_US)
    for _ in processor.batches(open_records(io.BytesIO(b"email\nb@example.com\n"), rows=True)):
        pass
    assert processor.tally.country_sources == {"dataset": 2}


def test_the_dry_run_summary_shows_mapping_country_sources_and_warnings(tmp_path) -> None:
    source = tmp_path / "crm.csv"
    source.write_bytes(
        b"Email,Phone,Shoe Size\n"
        + b"".join(b"p%d@example.de,+49 30 9018%02d,x\n" % (i, i) for i in range(10))
    )
    result = dry_run(source, destination="audience_members", out_dir=tmp_path / "out", country="US")
    report = result.report
    assert report["country_sources"] == {"dataset": 10}
    assert report["records_by_country"] == {"US": 10}
    assert report["mapping"]["columns"][0] == {
        "column": "Email",
        "field": "email",
        "pii_set": 1,
        "hashed": False,
        "source": "detected",
    }
    assert {w["code"] for w in report["warnings"]} == {
        "unknown_columns",
        "country_defaulted",
        "country_looks_foreign",
    }
    text = summary_text(result)
    assert "columns: Email → email, Phone → phone" in text
    assert "countries from: dataset 10  ·  US 10" in text
    assert "warning: no country column was found; all 10 records were sent as US" in text
    assert "warning: 1 column not recognised, so not sent: Shoe Size" in text
    assert "example.de" not in text and "9018" not in text
    assert isinstance(result.tally, Tally)
