"""One validation pass reports every mistake of a setup config, each by its field path."""

from __future__ import annotations

from typing import Any

import pytest

from adm_ingest.setup.config import ConfigError, Problem, parse_config, parse_sharing_rule

SIX_MISTAKES = {
    "region": "region",
    "audiences[0].countryCode": "countryCode",
    "audiences[1].idRetention": "idRetention",
    "conversionDefinitions[0].value": "value",
    "sharingRules[0].revoke": "revoke",
    "mappings['crm/']": "mapping",
}


def six_mistakes(config: dict[str, Any]) -> dict[str, Any]:
    config["region"] = "US"
    config["audiences"][0]["countryCode"] = "Germany"
    config["audiences"][1]["idRetention"] = "yes"
    config["conversionDefinitions"][0]["value"] = "one"
    config["sharingRules"][0]["revoke"] = "no"
    config["mappings"]["crm/"] = {"columns": {"E-Mail": "email"}}
    return config


def test_six_mistakes_are_six_problems_in_one_error(example_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(six_mistakes(example_config))

    fields = [problem.field for problem in refused.value.problems]
    assert sorted(fields) == sorted(SIX_MISTAKES)
    lines = str(refused.value).splitlines()
    assert len(lines) == 6
    assert all(line.startswith(tuple(f"{field}: " for field in SIX_MISTAKES)) for line in lines)
    # the first problem stays addressable as before
    assert (refused.value.field, refused.value.problem) == (
        refused.value.problems[0].field,
        refused.value.problems[0].problem,
    )


def test_every_bad_field_of_one_item_is_reported(example_config: dict[str, Any]) -> None:
    example_config["audiences"].append({"countryCode": "USA", "idRetention": 1, "colour": "red"})

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert {problem.field for problem in refused.value.problems} == {
        "audiences[2].name",
        "audiences[2].countryCode",
        "audiences[2].idRetention",
        "audiences[2].colour",
    }


def test_an_invalid_audience_is_not_reported_again_by_the_rule_sharing_it(
    example_config: dict[str, Any],
) -> None:
    """The rule names the audience by a name the config does hold: one mistake, one line."""
    example_config["audiences"][0]["countryCode"] = "Germany"

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert refused.value.problems == (
        Problem("audiences[0].countryCode", "must be an ISO 3166-1 alpha-2 code, e.g. US"),
    )


def test_all_problems_never_echo_values(example_config: dict[str, Any]) -> None:
    secret = "jane.doe@example.com"
    example_config["audiences"][0]["name"] = secret
    example_config["audiences"][1]["countryCode"] = secret
    example_config["conversionDefinitions"][0]["source"] = secret

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert len(refused.value.problems) >= 3
    assert "jane" not in str(refused.value)


def test_a_single_item_parser_reports_all_of_its_problems() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_sharing_rule({"dataset": "crm_customers_us", "application": "TV", "revoke": 1})

    assert {problem.field for problem in refused.value.problems} == {
        "sharingRule.application",
        "sharingRule.destinationAccountId",
        "sharingRule.metadata",
        "sharingRule.marketplaceId",
        "sharingRule.revoke",
    }
