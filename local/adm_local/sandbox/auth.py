"""Login with Amazon, sandbox edition: seeded credentials and access tokens with an expiry.

The token endpoint follows LwA's refresh-token grant: form-encoded
``grant_type=refresh_token&refresh_token&client_id&client_secret`` in, ``{access_token,
token_type, expires_in, refresh_token}`` out, OAuth-style ``{error, error_description}`` on
failure. Access tokens are random ``Atza|…`` strings remembered with their client and expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class SandboxAccount:
    """The seeded credentials and account ids the sandbox recognises (all fake, all stable)."""

    client_id: str = "amzn1.application-oa2-client.sandbox"
    client_secret: str = "sandbox-secret"
    refresh_token: str = "Atzr|sandbox-refresh-token"
    manager_account_id: str = "amzn1.ads1ma1.sandbox"
    advertiser_account_id: str = "ADV-SANDBOX-1"
    """The DSP advertiser: ``{accountId}`` of the conversions API, a linked account."""
    profile_id: str = "1234567890"
    """Sent as ``Amazon-Advertising-API-Scope`` on DSP calls."""
    marketplace_id: str = "ATVPDKIKX0DER"
    """The US marketplace, used for the linked advertiser account."""

    @classmethod
    def named(cls, name: str) -> SandboxAccount:
        """Another manager account, its ids and login (LwA app and refresh token) all derived
        from ``name``: the same name gives the same account in every run and process, so a
        setup config or credentials file written for it stays valid. Its login is its own: a
        token granted for it acts for no other account."""
        # A 10-digit profile id like the seeded one (DSP profile ids are numbers), stable.
        digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
        return cls(
            client_id=f"{cls.client_id}-{name}",
            client_secret=f"{cls.client_secret}-{name}",
            refresh_token=f"{cls.refresh_token}-{name}",
            manager_account_id=f"{cls.manager_account_id}-{name}",
            advertiser_account_id=f"ADV-SANDBOX-{name}",
            profile_id=str(2_000_000_000 + digest % 8_000_000_000),
        )

    def secret_document(self, region: str = "NA") -> dict[str, str]:
        """The credentials secret JSON adm-ingest reads (README, "Credentials") for this
        account — what the local stack stores in Secrets Manager and tests hand the client."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "region": region,
            "manager_account_id": self.manager_account_id,
            "advertiser_account_id": self.advertiser_account_id,
            "profile_id": self.profile_id,
        }

    def __repr__(self) -> str:
        # The secret is a public sandbox value, but reprs of credential holders stay masked
        # by habit: code that prints this type will one day print a real one.
        return (
            f"SandboxAccount(client_id={self.client_id!r}, client_secret='***', "
            f"refresh_token='***', manager_account_id={self.manager_account_id!r}, "
            f"advertiser_account_id={self.advertiser_account_id!r}, "
            f"profile_id={self.profile_id!r})"
        )


class TokenError(Exception):
    """A refused token grant, in OAuth terms."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison; as bytes, because ``compare_digest`` refuses non-ASCII ``str``."""
    return secrets.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode())


@dataclass(frozen=True)
class _IssuedToken:
    client_id: str
    expires_at: float
    issued_at: float
    subject: str = ""
    """Whose grant it is, beyond the client (LwA: the refresh token's login)."""


class TokenLedger:
    """The access tokens issued so far: who they belong to, when they expire or were revoked.

    Shared by every platform's sandbox; how a token is granted is each platform's own
    (:class:`TokenIssuer` for LwA, ``adm_local.aep_sandbox.ims.ImsTokens`` for Adobe IMS).
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._tokens: dict[str, _IssuedToken] = {}
        self._revocation: float | None = None
        """Seconds after its grant each token is revoked (LwA revokes tokens whenever the user
        or Amazon decides, not at ``expires_in``); None: no revocation fault."""
        self._lock = threading.Lock()

    def issue(self, client_id: str, prefix: str, subject: str = "") -> str:
        """A new access token of ``client_id`` (and ``subject``), valid for ``ttl_seconds``."""
        token = prefix + secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._tokens[token] = _IssuedToken(client_id, now + self.ttl_seconds, now, subject)
        return token

    def client_of(self, authorization: str | None) -> str | None:
        """The client id a valid, unexpired ``Bearer`` header belongs to, else ``None``."""
        issued = self._valid(authorization)
        return issued.client_id if issued is not None else None

    def subject_of(self, authorization: str | None) -> str | None:
        """The subject of a valid, unexpired ``Bearer`` header's grant, else ``None``."""
        issued = self._valid(authorization)
        return issued.subject if issued is not None else None

    def _valid(self, authorization: str | None) -> _IssuedToken | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        now = self._clock()
        with self._lock:
            issued = self._tokens.get(token.strip())
            revocation = self._revocation
        if issued is None or issued.expires_at <= now:
            return None
        if revocation is not None and now - issued.issued_at >= revocation:
            return None  # revoked by the revocation fault: it has lived its seconds
        return issued

    def revoke_every(self, seconds: float | None) -> None:
        """Revoke every token issued so far now, and each later one ``seconds`` after it was
        issued (None: stop).

        Computed when a token is checked, not by a timer. Each token gets its own ``seconds``
        (not shared instants): a token just granted after a 401 is good for that long, as a
        real refresh is — with shared instants one could be revoked a millisecond after its
        grant, and a client rightly takes a fresh token refused for a permanent error.
        """
        now = self._clock()
        with self._lock:
            # Starting revokes every token issued so far; stopping keeps revoked what was.
            lived = self._revocation
            self._tokens = {
                token: issued
                if seconds is None and (lived is None or now - issued.issued_at < lived)
                else replace(issued, expires_at=min(issued.expires_at, now))
                for token, issued in self._tokens.items()
            }
            self._revocation = seconds

    def expire_all(self) -> None:
        """Make every token issued so far expired (new grants are unaffected)."""
        now = self._clock()
        with self._lock:
            self._tokens = {
                token: replace(issued, expires_at=min(issued.expires_at, now))
                for token, issued in self._tokens.items()
            }


class TokenIssuer(TokenLedger):
    """Grants access tokens for the refresh tokens of the seeded accounts; checks them later.

    Each token remembers the login (client and refresh token) it was granted for: it gives
    access to the accounts of that login only (:meth:`may_act_for`).
    """

    def __init__(
        self,
        account: SandboxAccount | Sequence[SandboxAccount],
        ttl_seconds: float = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(ttl_seconds, clock)
        self.accounts = (account,) if isinstance(account, SandboxAccount) else tuple(account)
        self.account = self.accounts[0]

    def account_of(self, authorization: str | None) -> SandboxAccount | None:
        """The first account of the login a valid token was granted for (for tests that check
        which credentials a request used)."""
        client_id, subject = self.client_of(authorization), self.subject_of(authorization)
        return next(
            (a for a in self.accounts if (a.client_id, a.refresh_token) == (client_id, subject)),
            None,
        )

    def may_act_for(self, authorization: str | None, account: SandboxAccount) -> bool:
        """Whether the token's login is ``account``'s (a login may hold several accounts)."""
        return (self.client_of(authorization), self.subject_of(authorization)) == (
            account.client_id,
            account.refresh_token,
        )

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a token request; raises :class:`TokenError` the way LwA refuses one."""
        missing = [
            name
            for name in ("grant_type", "refresh_token", "client_id", "client_secret")
            if not form.get(name)
        ]
        if missing:
            raise TokenError(400, "invalid_request", "missing parameter: " + ", ".join(missing))
        if form["grant_type"] != "refresh_token":
            raise TokenError(400, "invalid_request", "only grant_type=refresh_token is supported")
        clients = [
            account
            for account in self.accounts
            if _same(form["client_id"], account.client_id)
            and _same(form["client_secret"], account.client_secret)
        ]
        if not clients:
            raise TokenError(401, "invalid_client", "client authentication failed")
        login = next((a for a in clients if _same(form["refresh_token"], a.refresh_token)), None)
        if login is None:
            raise TokenError(400, "invalid_grant", "the refresh token is invalid or revoked")
        token = self.issue(login.client_id, "Atza|", subject=login.refresh_token)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.ttl_seconds),
            "refresh_token": login.refresh_token,
        }
