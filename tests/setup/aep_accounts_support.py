"""Two more AEP orgs of the sandbox and a setup config whose datasets live in three orgs, for
the AEP multi-account tests (a uniquely named module: the setup and end-to-end tests use it)."""

from __future__ import annotations

import copy
from typing import Any

from adm_local.aep_sandbox.ims import AepAccount
from adm_local.stack import StackNames

SEEDED_AEP = AepAccount()
BRAND2_AEP = AepAccount.named("brand2")
"""An advertiser with ADM ids of its own too (in the mixed config) and its own AEP org."""
ACME_AEP = AepAccount.named("acme")
"""An AEP-only advertiser: no ADM account at all."""
PROFILE_SCHEMA = "adm-ingest Loyalty Profiles"
"""The seeded Profile schema's title: the same in every tenant, a different ``$id`` in each."""

DATASET_ORGS = {"home_loyalty": SEEDED_AEP, "brand2_loyalty": BRAND2_AEP, "acme_loyalty": ACME_AEP}
"""Each configured dataset and the org it belongs to."""


def aep_secret_id(account: AepAccount) -> str:
    """The secret of an extra org, as the local stack names it (the tests store it so too)."""
    return StackNames().aep_account_secret_id(account.tenant_id)


def profile_xdm(account: AepAccount) -> dict[str, Any]:
    """The loyalty file's XDM mapping in ``account``'s tenant."""
    return {
        "class": "profile",
        "tenant": account.tenant_id,
        "columns": {"points": "_{tenant}.loyalty.points"},
        "identities": [{"column": "email", "namespace": "Email", "primary": True}],
        "ignore": ["customer_id"],
    }


def aep_accounts_config(*, adm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Datasets in the default org, brand2's and acme's. With ``adm`` (an ADM config: its
    account keys and items), brand2 is an ADM account too; without, the config is AEP-only."""
    brand2: dict[str, Any] = {"name": "brand2", "aepSecretId": aep_secret_id(BRAND2_AEP)}
    if adm is not None:
        brand2 |= {
            "managerAccountId": "amzn1.ads1ma1.sandbox-brand2",
            "advertiserAccountId": "ADV-SANDBOX-BRAND2",
        }
    config: dict[str, Any] = copy.deepcopy(adm or {})
    config["accounts"] = [brand2, {"name": "acme", "aepSecretId": aep_secret_id(ACME_AEP)}]
    config["aepDatasets"] = [
        {"name": "home_loyalty", "schema": PROFILE_SCHEMA},
        {"name": "brand2_loyalty", "schema": PROFILE_SCHEMA, "account": "brand2"},
        {"name": "acme_loyalty", "schema": PROFILE_SCHEMA, "account": "acme"},
    ]
    config.setdefault("mappings", {}).update(
        {f"aep/{name}": {"xdm": profile_xdm(org)} for name, org in DATASET_ORGS.items()}
    )
    return config
