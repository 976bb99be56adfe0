"""Adobe IMS for the AEP sandbox: OAuth Server-to-Server (``client_credentials``) tokens.

``POST /ims/token/v3`` with a form body ``grant_type=client_credentials&client_id&client_secret
&scope`` returns ``{"access_token", "token_type": "bearer", "expires_in": <seconds>}``; unknown
credentials get 400 ``{"error": "invalid_client", ...}`` (AEP-NOTES §1). There is no refresh
token: a client asks for a new access token when its own runs out.

The sandbox may hold several orgs (:meth:`AepAccount.named`, one Developer Console credential
each): a token is issued to, and remembers, the credential whose client id and secret it was
granted for.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
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

    @classmethod
    def named(cls, name: str) -> AepAccount:
        """Another org of the sandbox, every id derived from ``name`` (stable, all fake): its
        own client, org id (24 hex digits, as Adobe's), sandbox and tenant."""
        slug = re.sub(r"[^a-z0-9]", "", name.lower())
        if not slug:
            raise ValueError("an AEP account name needs a letter or a digit")
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest().upper()
        return cls(
            client_id=f"aep-sandbox-client-{slug}",
            client_secret=f"aep-sandbox-secret-{slug}",
            org_id=f"{digest[:24]}@AdobeOrg",
            sandbox_name=f"{slug}-prod",
            tenant_id=slug,
        )

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

    def __init__(self, account: AepAccount | Sequence[AepAccount], ttl_seconds: float) -> None:
        super().__init__(ttl_seconds)
        self.accounts = (account,) if isinstance(account, AepAccount) else tuple(account)
        self.account = self.accounts[0]
        self.issued = 0
        """How many tokens were minted (Adobe throttles integrations that mint too many)."""
        self.issued_to: dict[str, int] = {}
        """Tokens minted per client id."""

    def account_of(self, authorization: str | None) -> AepAccount | None:
        """The credential a valid, unexpired ``Bearer`` header was granted to, else ``None``."""
        client_id = self.client_of(authorization)
        return next((a for a in self.accounts if a.client_id == client_id), None)

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise ImsError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        for name in ("client_id", "client_secret", "scope"):
            if not form.get(name):
                raise ImsError(400, "invalid_request", f"missing {name} parameter")
        sent = form["client_id"].encode("utf-8", "surrogatepass")
        account = next(
            (a for a in self.accounts if hmac.compare_digest(sent, a.client_id.encode())), None
        )
        if account is None:
            raise ImsError(400, "invalid_client", "invalid client_id parameter")
        secret = form["client_secret"].encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(secret, account.client_secret.encode()):
            raise ImsError(400, "invalid_client", "invalid client_secret parameter")
        token = self.issue(account.client_id, "eyJ")
        self.issued += 1
        self.issued_to[account.client_id] = self.issued_to.get(account.client_id, 0) + 1
        return {"access_token": token, "token_type": "bearer", "expires_in": int(self.ttl_seconds)}
