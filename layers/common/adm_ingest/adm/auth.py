"""Login with Amazon (LwA): credentials from Secrets Manager and cached access tokens.

The application's long-lived secrets (client secret, refresh token) live in one Secrets Manager
secret, a JSON object::

    {"client_id": "amzn1.application-oa2-client.…", "client_secret": "…",
     "refresh_token": "Atzr|…", "region": "NA", "manager_account_id": "amzn1.ads1ma1.…",
     "advertiser_account_id": "…", "profile_id": "…"}            # profile_id optional

:class:`TokenProvider` trades the refresh token for a short-lived access token (the OAuth
refresh-token grant) and caches it until shortly before it expires. A refused grant
(``invalid_grant``, ``invalid_client``…) is permanent — only a human re-authorizing the app
fixes it — so it raises :class:`AuthError` once and remembers it instead of hammering LwA.

Secrets and tokens never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from adm_ingest.adm.endpoints import TOKEN_URLS, Region, check_endpoint, check_region
from adm_ingest.adm.errors import AuthError, parse_error_body
from adm_ingest.adm.http import Clock, Deadline, Transport
from adm_ingest.secrets import CachedToken, read_json_secret, scrub

logger = logging.getLogger(__name__)

DEFAULT_SECRET_MAX_AGE = 300
"""Seconds a secret read stays cached (a rotated secret is picked up within this time)."""

_REQUIRED_FIELDS = (
    "client_id",
    "client_secret",
    "refresh_token",
    "region",
    "manager_account_id",
    "advertiser_account_id",
)

# OAuth errors that mean "these credentials will never work": re-authorization is needed.
_REAUTHORIZE_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """Who calls the API: the LwA application, its refresh token and the accounts it acts for."""

    client_id: str
    client_secret: str
    refresh_token: str
    region: Region
    manager_account_id: str
    advertiser_account_id: str
    profile_id: str | None = None

    def __post_init__(self) -> None:
        check_region(self.region)

    def __repr__(self) -> str:
        return (
            f"Credentials(client_id={self.client_id!r}, client_secret='***', "
            f"refresh_token='***', region={self.region!r}, "
            f"manager_account_id={self.manager_account_id!r}, "
            f"advertiser_account_id={self.advertiser_account_id!r}, "
            f"profile_id={self.profile_id!r})"
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Credentials:
        """Credentials from the secret's JSON object; ValueError names missing fields only."""
        if not isinstance(values, Mapping):  # a file or secret holding a list, a string…
            raise ValueError("credentials secret is not a JSON object")
        missing = [name for name in _REQUIRED_FIELDS if not values.get(name)]
        if missing:
            raise ValueError(f"credentials secret lacks field(s): {', '.join(missing)}")
        profile_id = values.get("profile_id")
        return cls(
            client_id=str(values["client_id"]),
            client_secret=str(values["client_secret"]),
            refresh_token=str(values["refresh_token"]),
            region=check_region(str(values["region"]).upper()),
            manager_account_id=str(values["manager_account_id"]),
            advertiser_account_id=str(values["advertiser_account_id"]),
            profile_id=str(profile_id) if profile_id not in (None, "") else None,
        )

    @classmethod
    def from_secret(cls, secret_id: str, *, max_age: int = DEFAULT_SECRET_MAX_AGE) -> Credentials:
        """Read the secret through Powertools Parameters (cached for ``max_age`` seconds)."""
        return cls.from_mapping(read_json_secret(secret_id, max_age=max_age))

    @property
    def token_url(self) -> str:
        """The LwA token endpoint of this account's region."""
        return TOKEN_URLS[self.region]


class TokenProvider:
    """Access tokens for one set of credentials, refreshed only when needed.

    Thread-safe: concurrent callers share one refresh. ``refresh_margin`` seconds before
    ``expires_in`` elapses the token counts as expired (at most half its lifetime, so short-lived
    tokens are still reused).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        token_url: str | None = None,
        transport: Transport | None = None,
        refresh_margin: float = 60.0,
        token_budget: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._token_url = check_endpoint(token_url or credentials.token_url)
        self._transport = transport or Transport()
        self._refresh_margin = refresh_margin
        self._token_budget = token_budget
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: CachedToken | None = None
        self._refused: AuthError | None = None
        self.refresh_count = 0
        """How many token requests this provider made (for metrics and tests)."""

    def __repr__(self) -> str:
        return f"TokenProvider(client_id={self._credentials.client_id!r}, url={self._token_url!r})"

    @property
    def client_id(self) -> str:
        return self._credentials.client_id

    def token(self, *, deadline: Deadline | None = None) -> str:
        """A valid access token, from the cache or a fresh refresh-token grant.

        Raises :class:`AuthError` when LwA refuses the credentials (and keeps raising it without
        calling LwA again), :class:`~adm_ingest.adm.errors.RetryableError` when LwA is
        unreachable or failing within the deadline.
        """
        with self._lock:
            if self._refused is not None:
                raise AuthError(str(self._refused))
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            self._cached = self._refresh(deadline)
            return self._cached.value

    def invalidate(self) -> None:
        """Forget the cached token (the API answered 401): the next call refreshes."""
        with self._lock:
            self._cached = None

    def _refresh(self, deadline: Deadline | None) -> CachedToken:
        budget = self._transport.deadline_after(self._token_budget).earliest(deadline)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._credentials.refresh_token,
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
        }
        # The grant is safe to replay: it has no side effect beyond issuing a token.
        response = self._transport.request(
            "POST",
            self._token_url,
            deadline=budget,
            replay_safe=True,
            headers={"Accept": "application/json"},
            data=form,
            paced=False,  # LwA is not the ADM API: its answers must not move the ADM rate
        )
        self.refresh_count += 1
        if response.status_code != 200:
            raise self._refusal(response.status_code, response.content)
        try:
            body = orjson.loads(response.content)
            access_token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # "from None": the parse error's message could quote the body, token included.
            raise AuthError(
                f"Login with Amazon returned an unusable token response ({type(exc).__name__})"
            ) from None
        lifetime = max(0.0, expires_in - min(self._refresh_margin, expires_in / 2.0))
        logger.info("access token refreshed", extra={"expires_in": expires_in})
        return CachedToken(access_token, self._clock() + lifetime)

    def _refusal(self, status: int, content: bytes) -> AuthError:
        body = parse_error_body(content)
        code = str(body.get("error") or f"HTTP_{status}")[:64]
        description = scrub(
            str(body.get("error_description") or ""),
            (self._credentials.client_secret, self._credentials.refresh_token),
        )
        if code in _REAUTHORIZE_ERRORS:
            advice = (
                "re-authorize the application: a new refresh token (and, for invalid_client, "
                "the right client id and secret) must be stored in the credentials secret"
            )
        else:
            advice = "check the credentials secret and the token endpoint setting"
        error = AuthError(
            f"Login with Amazon refused the refresh-token grant "
            f"(HTTP {status} {code}{': ' + description if description else ''}); {advice}"
        )
        # Every refusal of the grant is permanent for these credentials (5xx/429 were retried
        # by the transport): remember it so a warm Lambda does not call LwA for every chunk.
        self._refused = error
        return error
