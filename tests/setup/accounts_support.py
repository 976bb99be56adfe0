"""Two more sandbox accounts and a setup config using them, for the multi-account tests (a
uniquely named module: the setup and end-to-end tests both use it)."""

from __future__ import annotations

import copy
from typing import Any

from adm_local.sandbox import SandboxAccount

SEEDED = SandboxAccount()
EU = SandboxAccount(
    client_id="amzn1.application-oa2-client.sandbox-eu",
    client_secret="sandbox-secret-eu",
    refresh_token="Atzr|sandbox-refresh-token-eu",
    manager_account_id="amzn1.ads1ma1.sandbox-eu",
    advertiser_account_id="ADV-SANDBOX-EU",
    profile_id="2234567890",
)
"""An account with a login (LwA app and refresh token) of its own: its own secret."""
BRAND2 = SandboxAccount(
    manager_account_id="amzn1.ads1ma1.sandbox-brand2",
    advertiser_account_id="ADV-SANDBOX-BRAND2",
    profile_id="3234567890",
)
"""A second manager account of the seeded login: the deployment's secret acts for it."""
EU_SECRET_ID = "adm-ingest/test-credentials-eu"

ACCOUNTS: list[dict[str, Any]] = [
    {
        "name": "eu",
        "region": "EU",
        "managerAccountId": EU.manager_account_id,
        "advertiserAccountId": EU.advertiser_account_id,
        "profileId": EU.profile_id,
        "secretId": EU_SECRET_ID,
    },
    {
        "name": "brand2",
        "managerAccountId": BRAND2.manager_account_id,
        "advertiserAccountId": BRAND2.advertiser_account_id,
        "profileId": BRAND2.profile_id,
    },
]

DEFINITION: dict[str, Any] = {
    "conversionType": "OFF_AMAZON_PURCHASES",
    "countingMethod": "EVERY",
    "source": "SERVER_TO_SERVER",
    "sourceType": "OFFLINE",
    "value": 1,
}


def multi_account_config() -> dict[str, Any]:
    """Audiences and definitions in the default account, ``eu`` and ``brand2``, and one
    sharing rule in ``eu`` (its account inherited from its dataset)."""
    return copy.deepcopy(
        {
            "region": "NA",
            "managerAccountId": SEEDED.manager_account_id,
            "advertiserAccountId": SEEDED.advertiser_account_id,
            "accounts": ACCOUNTS,
            "audiences": [
                {"name": "home_members", "countryCode": "US"},
                {"name": "eu_members", "countryCode": "US", "account": "eu"},
                {"name": "brand2_members", "countryCode": "US", "account": "brand2"},
            ],
            "conversionDefinitions": [
                {"name": "home_orders", **DEFINITION},
                {"name": "eu_orders", **DEFINITION, "account": "eu"},
                {"name": "brand2_orders", **DEFINITION, "account": "brand2"},
            ],
            "sharingRules": [
                {
                    "dataset": "eu_members",
                    "application": "DSP_AUDIENCES",
                    "destinationAccountId": EU.advertiser_account_id,
                    "marketplaceId": EU.marketplace_id,
                    "metadata": {"audienceMetadata": {"audienceName": "EU members audience"}},
                }
            ],
        }
    )
