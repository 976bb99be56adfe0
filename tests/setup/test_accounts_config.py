"""Several advertisers in one setup config: ``accounts``, and ``account`` on each item."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from adm_ingest.adm import AccountRef
from adm_ingest.setup.config import (
    ConfigError,
    load_config,
    parse_account,
    parse_audience,
    parse_config,
    parse_conversion_definitions,
    parse_sharing_rule,
)
from tests.setup.accounts_support import EU, EU_SECRET_ID, multi_account_config
from tests.setup.setup_support import EXAMPLE_CONFIG


def test_items_name_their_account_and_the_rest_belong_to_the_default_one() -> None:
    config = parse_config(multi_account_config())

    eu, brand2 = config.accounts
    assert (eu.name, eu.region, eu.secret_id, eu.profile_id) == (
        "eu",
        "EU",
        EU_SECRET_ID,
        EU.profile_id,
    )
    assert brand2.region == "NA"  # the top-level region, when an account names none
    assert brand2.secret_id is None  # the deployment's secret, acting for brand2's ids
    assert [a.account for a in config.audiences] == [None, eu, brand2]
    assert [d.account for d in config.conversion_definitions] == [None, eu, brand2]
    assert config.sharing_rules[0].account == eu  # its dataset's account
    assert eu.ref() == AccountRef(
        manager_account_id=EU.manager_account_id,
        advertiser_account_id=EU.advertiser_account_id,
        profile_id=EU.profile_id,
        secret_id=EU_SECRET_ID,
        region="EU",
    )


def test_the_normalized_config_carries_each_item_s_account_whole_and_round_trips() -> None:
    config = parse_config(multi_account_config())
    normalized = config.to_json()

    eu_audience = normalized["audiences"][1]
    assert eu_audience["account"] == normalized["accounts"][0]
    assert "account" not in normalized["audiences"][0]
    # Each step gets one item alone: the item is enough to know the account.
    assert parse_audience(eu_audience).account == config.accounts[0]
    assert (
        parse_conversion_definitions(normalized["conversionDefinitions"])[2].account
        == (config.accounts[1])
    )
    assert parse_sharing_rule(normalized["sharingRules"][0]).account == config.accounts[0]
    assert parse_account(normalized["accounts"][1]) == config.accounts[1]
    assert parse_config(normalized) == config
    # The create request of a definition never carries the account.
    assert "account" not in config.conversion_definitions[1].request_item()


def test_a_single_account_config_is_unchanged() -> None:
    raw = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config = load_config(EXAMPLE_CONFIG)
    normalized = config.to_json()

    assert config.accounts == ()
    assert set(normalized) == {
        "region",
        "managerAccountId",
        "advertiserAccountId",
        "audiences",
        "conversionDefinitions",
        "sharingRules",
        "mappings",
        "aepDatasets",
    }
    assert [item["name"] for item in normalized["audiences"]] == [
        item["name"] for item in raw["audiences"]
    ]
    for key in ("audiences", "conversionDefinitions", "sharingRules"):
        assert all("account" not in item for item in normalized[key]), key


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = multi_account_config()
    change(doc)
    return doc


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "accounts not a list",
        lambda d: d.update(accounts={"eu": {}}),
        "accounts",
        "must be a JSON array",
    ),
    (
        "account without a name",
        lambda d: d["accounts"][0].pop("name"),
        "accounts[0].name",
        "non-empty string",
    ),
    (
        "account name with a slash",
        lambda d: d["accounts"][0].update(name="e/u"),
        "accounts[0].name",
        "letters, digits",
    ),
    (
        "account named default",
        lambda d: d["accounts"][1].update(name="default"),
        "accounts[1].name",
        "top-level account",
    ),
    (
        "duplicate account",
        lambda d: d["accounts"][1].update(name="eu"),
        "accounts[1].name",
        "duplicates",
    ),
    (
        "account region",
        lambda d: d["accounts"][0].update(region="EMEA"),
        "accounts[0].region",
        "must be one of NA, EU, FE",
    ),
    (
        "account without a manager",
        lambda d: d["accounts"][1].pop("managerAccountId"),
        "accounts[1].managerAccountId",
        "required",
    ),
    (
        "account without an advertiser",
        lambda d: d["accounts"][0].pop("advertiserAccountId"),
        "accounts[0].advertiserAccountId",
        "required",
    ),
    (
        "empty secret id",
        lambda d: d["accounts"][0].update(secretId=""),
        "accounts[0].secretId",
        "non-empty string",
    ),
    (
        "unknown account field",
        lambda d: d["accounts"][0].update(secret="x"),
        "accounts[0].secret",
        "not a known field",
    ),
    (
        "audience in an unknown account",
        lambda d: d["audiences"][1].update(account="apac"),
        "audiences[1].account",
        "must name an account",
    ),
    (
        "definition in an unknown account",
        lambda d: d["conversionDefinitions"][2].update(account="apac"),
        "conversionDefinitions[2].account",
        "must name an account",
    ),
    (
        "account not a string",
        lambda d: d["audiences"][1].update(account=3),
        "audiences[1].account",
        "non-empty string",
    ),
    (
        "sharing rule in another account than its dataset",
        lambda d: d["sharingRules"][0].update(account="brand2"),
        "sharingRules[0].account",
        "account of its dataset",
    ),
    (
        "sharing rule of a definition in another account",
        lambda d: d["sharingRules"].append(
            {
                "dataset": "eu_members",
                "conversionDefinition": "brand2_orders",
                "application": "EVENTS_MANAGER",
                "destinationAccountId": EU.advertiser_account_id,
                "marketplaceId": EU.marketplace_id,
            }
        ),
        "sharingRules[1].conversionDefinition",
        "account of the rule's dataset",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_accounts_are_named_by_field(
    change: Callable[[dict[str, Any]], None], field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_edit(change))

    assert caught.value.field == field
    assert problem in caught.value.problem


def test_a_bad_top_level_region_is_reported_once_not_again_per_account() -> None:
    """An account without its own region inherits the top-level one: when that is invalid,
    the problem is the top-level field's alone (it is not the account's to fix)."""
    config = _edit(lambda d: d.update(region="US"))
    for account in config["accounts"]:
        account.pop("region", None)

    with pytest.raises(ConfigError) as caught:
        parse_config(config)

    assert [str(problem) for problem in caught.value.problems] == [
        "region: must be one of NA, EU, FE"
    ]


def test_default_names_the_top_level_account_and_a_sharing_rule_may_name_it() -> None:
    doc = multi_account_config()
    doc["audiences"][0]["account"] = "default"
    doc["sharingRules"].append(
        {
            "dataset": "home_members",
            "account": "default",
            "application": "DSP_AUDIENCES",
            "destinationAccountId": "ADV-SANDBOX-1",
            "marketplaceId": "ATVPDKIKX0DER",
            "metadata": {"audienceMetadata": {"audienceName": "Home members audience"}},
        }
    )

    config = parse_config(doc)

    assert config.audiences[0].account is None
    assert config.sharing_rules[1].account is None
    assert "account" not in config.to_json()["audiences"][0]


def test_a_normalized_item_whose_account_differs_from_the_declared_one_is_refused() -> None:
    normalized = parse_config(multi_account_config()).to_json()
    normalized["audiences"][1]["account"]["managerAccountId"] = "amzn1.ads1ma1.other"

    with pytest.raises(ConfigError) as caught:
        parse_config(normalized)

    assert caught.value.field == "audiences[1].account"
