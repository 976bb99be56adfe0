"""Adobe IMS for the AEP sandbox: OAuth Server-to-Server (``client_credentials``) tokens.

``POST /ims/token/v3`` with a form body ``grant_type=client_credentials&client_id&client_secret
&scope`` returns ``{"access_token", "token_type": "bearer", "expires_in": <seconds>}``; unknown
credentials get 400 ``{"error": "invalid_client", ...}`` (AEP-NOTES §1). There is no refresh
token: a client asks for a new access token when its own runs out.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adm_local.sandbox.auth import TokenLedger

IMS_TOKEN_PATH = "/ims/token/v3"


@dataclass(frozen=True)
class AepAccount:
    """The seeded Developer Console credential and the org / sandbox / tenant it belongs to."""

    client_id: str = "aep-sandbox-client"
    client_secret: str = field(default="aep-sandbox-secret", repr=False)
    org_id: str = "0123456789ABCDEF01234567@AdobeOrg"
    sandbox_name: str = "prod"
    tenant_id: str = "admingest"
    scopes: str = "openid,AdobeID,read_organizations,additional_info.projectedProductContext"

    def secret_document(self) -> dict[str, str]:
        """The ``AepCredentialsSecret`` JSON a deployment would hold for this account."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": self.scopes,
            "org_id": self.org_id,
            "sandbox_name": self.sandbox_name,
            "tenant_id": self.tenant_id,
        }


class ImsError(Exception):
    """An IMS refusal: HTTP status and the OAuth-style ``{error, error_description}`` body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, "error_description": description}


class ImsTokens(TokenLedger):
    """Grants IMS access tokens; the ADM sandbox's ledger checks, expires and revokes them."""

    def __init__(self, account: AepAccount, ttl_seconds: float) -> None:
        super().__init__(ttl_seconds)
        self.account = account
        self.issued = 0
        """How many tokens were minted (Adobe throttles integrations that mint too many)."""

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise ImsError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        for name in ("client_id", "client_secret", "scope"):
            if not form.get(name):
                raise ImsError(400, "invalid_request", f"missing {name} parameter")
        if not hmac.compare_digest(form["client_id"], self.account.client_id):
            raise ImsError(400, "invalid_client", "invalid client_id parameter")
        if not hmac.compare_digest(form["client_secret"], self.account.client_secret):
            raise ImsError(400, "invalid_client", "invalid client_secret parameter")
        token = self.issue(self.account.client_id, "eyJ")
        self.issued += 1
        return {"access_token": token, "token_type": "bearer", "expires_in": int(self.ttl_seconds)}
