"""The setup config's ``aepDatasets`` section: defaults, round trip, and every invalid field
named by its path (``aepDatasets[1].partialIngestionPercent``), never echoing the value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adm_ingest.setup.config import AepDatasetSpec, ConfigError, load_config, parse_config
from tests.setup.setup_support import REPO

AEP_EXAMPLE = REPO / "events" / "setup-config-aep.json"
ACCOUNT = {"region": "NA", "managerAccountId": "amzn1.ads1ma1.x", "advertiserAccountId": "ADV-1"}


def config_with(*datasets: Any) -> dict[str, Any]:
    return ACCOUNT | {"aepDatasets": list(datasets)}


def test_the_aep_example_loads_with_defaults_filled_in_and_round_trips() -> None:
    config = load_config(AEP_EXAMPLE)

    profiles, events = config.aep_datasets
    assert profiles == AepDatasetSpec(
        "loyalty_profiles", "adm-ingest Loyalty Profiles", True, True, 5
    )
    assert events.name == "purchase_events"
    assert events.schema.startswith("https://ns.adobe.com/")
    assert (events.profile_enabled, events.identity_enabled) == (False, False)
    assert events.partial_ingestion_percent == 0
    assert parse_config(config.to_json()) == config
    assert config.to_json()["aepDatasets"][1] == {
        "name": "purchase_events",
        "schema": events.schema,
        "profileEnabled": False,
        "identityEnabled": False,
        "partialIngestionPercent": 0,
    }


def test_a_config_without_aep_datasets_has_none_and_says_so_in_its_json() -> None:
    config = parse_config(ACCOUNT)

    assert config.aep_datasets == ()
    assert config.to_json()["aepDatasets"] == []


GOOD = {"name": "loyalty", "schema": "Loyalty"}
INVALID: list[tuple[Any, str, str]] = [
    ({"name": "x"}, "aepDatasets", "must be a JSON array"),
    ([GOOD, "loyalty"], "aepDatasets[1]", "must be a JSON object"),
    ([{"schema": "Loyalty"}], "aepDatasets[0].name", "is required"),
    ([{"name": "", "schema": "Loyalty"}], "aepDatasets[0].name", "is required"),
    ([{"name": "a/b", "schema": "Loyalty"}], "aepDatasets[0].name", "letters, digits"),
    ([{"name": "a,b", "schema": "Loyalty"}], "aepDatasets[0].name", "letters, digits"),
    ([{"name": "trailing ", "schema": "Loyalty"}], "aepDatasets[0].name", "letters, digits"),
    ([{"name": "x" * 101, "schema": "Loyalty"}], "aepDatasets[0].name", "1–100"),
    ([{"name": "loyalty"}], "aepDatasets[0].schema", "is required"),
    ([{"name": "loyalty", "schema": 7}], "aepDatasets[0].schema", "non-empty string"),
    ([GOOD | {"profileEnabled": "yes"}], "aepDatasets[0].profileEnabled", "true or false"),
    ([GOOD | {"identityEnabled": 1}], "aepDatasets[0].identityEnabled", "true or false"),
    (
        [GOOD, {"name": "events", "schema": "E", "partialIngestionPercent": 101}],
        "aepDatasets[1].partialIngestionPercent",
        "from 0 to 100",
    ),
    ([GOOD | {"partialIngestionPercent": -1}], "aepDatasets[0].partialIngestionPercent", "0"),
    ([GOOD | {"partialIngestionPercent": "5"}], "aepDatasets[0].partialIngestionPercent", "0"),
    ([GOOD | {"partialIngestionPercent": True}], "aepDatasets[0].partialIngestionPercent", "0"),
    ([GOOD | {"partialIngestion": 5}], "aepDatasets[0].partialIngestion", "not a known field"),
    ([GOOD, GOOD | {"schema": "Other"}], "aepDatasets[1].name", "duplicates an earlier entry"),
]


@pytest.mark.parametrize(("datasets", "field", "problem"), INVALID)
def test_an_invalid_aep_dataset_names_the_field(datasets: Any, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(ACCOUNT | {"aepDatasets": datasets})

    assert raised.value.field == field
    assert problem in raised.value.problem


def test_errors_do_not_echo_the_value() -> None:
    secretish = "jane.doe@example.com"
    for datasets in ([{"name": secretish, "schema": "S"}], [{"name": "ok", "schema": "S",
                     "partialIngestionPercent": secretish}]):  # fmt: skip
        with pytest.raises(ConfigError) as raised:
            parse_config(config_with(*datasets))
        assert secretish not in str(raised.value)


@pytest.mark.parametrize("percent", [0, 0.5, 5, 100, 100.0])
def test_partial_ingestion_percent_accepts_the_whole_range(percent: float) -> None:
    (spec,) = parse_config(config_with(GOOD | {"partialIngestionPercent": percent})).aep_datasets

    assert spec.partial_ingestion_percent == percent


def test_the_schema_reference_is_kept_as_written_apart_from_outer_spaces() -> None:
    (spec,) = parse_config(config_with({"name": "l", "schema": "  Loyalty Members "})).aep_datasets

    assert spec.schema == "Loyalty Members"
    assert json.loads(json.dumps(spec.to_json()))["schema"] == "Loyalty Members"


def test_an_aep_only_config_needs_no_adm_account() -> None:
    config = parse_config({"aepDatasets": [GOOD]})

    assert config.manager_account_id is None
    assert (config.region, config.manager_account_id, config.advertiser_account_id) == (
        None,
        None,
        None,
    )
    document = config.to_json()
    assert not {"region", "managerAccountId", "advertiserAccountId"} & set(document)
    assert parse_config(document) == config
    assert parse_config(config_with(GOOD)).manager_account_id is not None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "region"),  # nothing for AEP either: the ADM account is what is missing
        ({"aepDatasets": []}, "region"),
        ({"aepDatasets": [GOOD], "region": "NA"}, "managerAccountId"),  # ADM meant: all three
        (
            {"aepDatasets": [GOOD], "audiences": [{"name": "crm_customers", "countryCode": "US"}]},
            "region",
        ),
    ],
)
def test_the_adm_account_is_required_unless_the_config_is_aep_only(
    document: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(document)

    assert raised.value.field == field
