"""AEP datasets of several advertisers in the setup config: ``aepSecretId`` on an account, an
account that is AEP-only, and ``account`` on an ``aepDatasets`` item — every mistake reported in
one pass, a single-account config unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adm_ingest.setup.config import (
    AccountSpec,
    ConfigError,
    load_config,
    parse_account,
    parse_aep_dataset,
    parse_config,
)
from tests.setup.accounts_support import multi_account_config
from tests.setup.aep_accounts_support import aep_accounts_config
from tests.setup.setup_support import EXAMPLE_CONFIG

ACME = AccountSpec(name="acme", aep_secret_id="adm-ingest/aep-credentials/acme")
BRAND2_SECRET = "adm-ingest/aep-credentials/brand2"


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return [str(problem) for problem in caught.value.problems]


def test_an_aep_only_config_may_name_aep_only_accounts() -> None:
    config = parse_config(aep_accounts_config())

    brand2, acme = config.accounts
    assert acme == ACME
    assert (acme.has_adm, acme.region, acme.manager_account_id) == (False, None, None)
    assert brand2 == AccountSpec(name="brand2", aep_secret_id=BRAND2_SECRET)
    assert config.region is None and config.manager_account_id is None  # no ADM account
    assert [d.account for d in config.aep_datasets] == [None, brand2, acme]
    assert [d.aep_secret_id for d in config.aep_datasets] == [
        None,
        BRAND2_SECRET,
        ACME.aep_secret_id,
    ]


def test_an_adm_account_may_carry_an_aep_secret_too(example_config: dict[str, Any]) -> None:
    config = parse_config(aep_accounts_config(adm=example_config))

    brand2 = config.accounts[0]
    assert brand2.has_adm and brand2.region == "NA"  # the top-level region
    assert brand2.aep_secret_id == BRAND2_SECRET
    assert brand2.secret_id is None  # ADM: the deployment's secret, acting for its ids
    assert config.aep_datasets[1].account == brand2


def test_the_normalized_config_carries_each_dataset_s_account_and_round_trips(
    example_config: dict[str, Any],
) -> None:
    for raw in (aep_accounts_config(), aep_accounts_config(adm=example_config)):
        config = parse_config(raw)
        normalized = config.to_json()

        acme = normalized["accounts"][1]
        assert acme == {"name": "acme", "aepSecretId": ACME.aep_secret_id}  # no ADM key
        assert parse_account(acme) == ACME
        assert "account" not in normalized["aepDatasets"][0]
        assert normalized["aepDatasets"][2]["account"] == acme
        # The step gets the item alone: it knows the secret to ensure the dataset with.
        assert parse_aep_dataset(normalized["aepDatasets"][2]).aep_secret_id == ACME.aep_secret_id
        assert parse_config(normalized) == config
        assert parse_config(json.loads(json.dumps(normalized))) == config


def test_a_single_account_aep_config_is_unchanged() -> None:
    raw = json.loads((EXAMPLE_CONFIG.parent / "setup-config-aep.json").read_text())
    config = parse_config(raw)
    normalized = config.to_json()

    assert config.accounts == ()
    assert "accounts" not in normalized
    assert all("account" not in item for item in normalized["aepDatasets"])
    assert all(d.account is None and d.aep_secret_id is None for d in config.aep_datasets)
    assert load_config(EXAMPLE_CONFIG.parent / "setup-config-aep.json") == config


def test_every_account_mistake_of_adm_and_aep_items_is_reported_at_once() -> None:
    raw = multi_account_config()
    raw["accounts"].extend(
        [
            {"name": "acme", "aepSecretId": "adm-ingest/aep-credentials/acme"},  # AEP-only
            {"name": "blank", "aepSecretId": "  "},  # an empty secret id
            {"name": "onlyname"},  # neither ADM ids nor an AEP secret
        ]
    )
    raw["audiences"].append({"name": "acme_members", "countryCode": "US", "account": "acme"})
    raw["conversionDefinitions"][0]["account"] = "acme"
    raw["aepDatasets"] = [
        {"name": "eu_loyalty", "schema": "Loyalty", "account": "eu"},  # eu: no aepSecretId
        {"name": "acme_loyalty", "schema": "Loyalty", "account": "acme"},  # fine
        {"name": "ghost_loyalty", "schema": "Loyalty", "account": "ghost"},  # no such account
        {"name": "blank_loyalty", "schema": "Loyalty", "account": "blank"},  # its own problem
    ]

    assert problems_of(raw) == [
        "accounts[3].aepSecretId: is required and must be a non-empty string",
        "accounts[4].managerAccountId: is required and must be a non-empty string",
        "accounts[4].advertiserAccountId: is required and must be a non-empty string",
        "audiences[3].account: names an AEP-only account (no managerAccountId / "
        "advertiserAccountId): only aepDatasets may name it",
        "conversionDefinitions[0].account: names an AEP-only account (no managerAccountId / "
        "advertiserAccountId): only aepDatasets may name it",
        "aepDatasets[0].account: names an account without aepSecretId (the secret of its AEP "
        "credentials)",
        "aepDatasets[2].account: must name an account of this config (or default)",
    ]


def test_a_sharing_rule_may_not_name_an_aep_only_account() -> None:
    raw = multi_account_config()
    raw["accounts"].append({"name": "acme", "aepSecretId": "adm-ingest/aep-credentials/acme"})
    raw["sharingRules"][0]["account"] = "acme"

    found = problems_of(raw)

    assert found[0].startswith("sharingRules[0].account: names an AEP-only account")


def test_an_aep_only_config_may_not_hold_an_adm_account() -> None:
    raw = aep_accounts_config()
    raw["accounts"][0] |= {"managerAccountId": "amzn1.ads1ma1.x", "advertiserAccountId": "ADV-X"}

    # An ADM account means ADM is meant: the top-level account is then required.
    assert problems_of(raw) == [
        "accounts[0].region: must be one of NA, EU, FE",  # no top-level region to inherit
        "region: must be one of NA, EU, FE",
        "managerAccountId: is required and must be a non-empty string",
        "advertiserAccountId: is required and must be a non-empty string",
    ]


def test_a_normalized_dataset_s_account_must_have_its_aep_secret() -> None:
    item = copy.deepcopy(aep_accounts_config()["aepDatasets"][2])
    item["account"] = {
        "name": "brand2",
        "region": "NA",
        "managerAccountId": "amzn1.ads1ma1.x",
        "advertiserAccountId": "ADV-X",
    }

    with pytest.raises(ConfigError) as caught:
        parse_aep_dataset(item)

    assert caught.value.field == "aepDataset.account"
    assert "without aepSecretId" in caught.value.problem
