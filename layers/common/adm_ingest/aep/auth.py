"""Adobe IMS OAuth Server-to-Server: AEP credentials from Secrets Manager, cached access tokens.

The integration's secret lives in one Secrets Manager secret, a JSON object::

    {"client_id": "…", "client_secret": "p8e-…", "scopes": "openid,AdobeID,…",
     "org_id": "…@AdobeOrg", "sandbox_name": "prod", "tenant_id": "acme"}

(``scopes`` may also be a JSON list). :class:`ImsTokenProvider` trades the client credentials
for an access token (``client_credentials`` on ``/ims/token/v3``, form-encoded: the body, not the
query string, so the secret is never in a URL) and caches it until shortly before
``expires_in`` — *seconds* in the v3 flow — runs out: Adobe throttles integrations that mint too
many tokens. There is no refresh token; an expired or rejected token is replaced by a new grant.

Failures are classified: IMS refusing the credentials (``invalid_client``, ``invalid_scope``…,
any 4xx) is permanent — a human must fix the secret — so it raises :class:`AepAuthError` once and
remembers it instead of hammering IMS. 429/5xx and dropped connections are retried by the
transport and surface as :class:`~adm_ingest.adm.errors.RetryableError`, as does an unusable
200 answer or a 408.

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

from adm_ingest.adm.errors import AuthError, RetryableError, parse_error_body
from adm_ingest.adm.http import Clock, Deadline, Transport
from adm_ingest.aep.endpoints import AepSettings
from adm_ingest.secrets import CachedToken, read_json_secret, scrub

logger = logging.getLogger(__name__)

AEP_SECRET_ATTRIBUTE = "aep_secret_id"
"""The registry attribute of an ``aep_dataset`` entry of a non-default account: the secret
with that account's credentials (absent: the deployment's ``AEP_SECRET_ID``)."""

DEFAULT_SECRET_MAX_AGE = 300
"""Seconds a secret read stays cached (a rotated secret is picked up within this time)."""

_REQUIRED_FIELDS = ("client_id", "client_secret", "scopes", "org_id", "sandbox_name", "tenant_id")

_TRANSIENT_STATUSES = frozenset({408, 425})
"""Non-5xx answers that say "try again" rather than "these credentials are wrong"."""

_ADVICE = {
    "invalid_client": (
        "the client id or client secret in the AEP credentials secret is wrong or was revoked: "
        "copy both from the OAuth Server-to-Server credential in the Adobe Developer Console"
    ),
    "invalid_scope": (
        "the scopes in the AEP credentials secret are not granted to this credential: copy them "
        "from the Adobe Developer Console"
    ),
    "unauthorized_client": (
        "this credential may not use the client_credentials grant: it must be an OAuth "
        "Server-to-Server credential"
    ),
}
_DEFAULT_ADVICE = "check the AEP credentials secret and the AEP_IMS_URL setting"


class AepAuthError(AuthError):
    """Adobe IMS refused the credentials: permanent until a human fixes the secret.

    A subclass of :class:`~adm_ingest.adm.errors.AuthError`, so the pipeline's handling of
    unusable credentials (report, do not retry) applies to AEP as it does to Amazon. ``code`` is
    IMS's OAuth error code (``invalid_client``…) or ``HTTP_<status>``.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class AepSecretUnreadable(AepAuthError):
    """The credentials secret cannot be read for good: missing, not granted to the function,
    not a JSON object or lacking a field. Permanent until a human fixes the secret or the
    grant; the message names the secret id (never a value)."""

    def __init__(self, secret_id: str, problem: str) -> None:
        super().__init__(
            f"cannot read the AEP credentials secret {secret_id!r}: {problem}",
            code="secret_unreadable",
        )
        self.secret_id = secret_id


_PERMANENT_SECRET_ERRORS = (
    "ResourceNotFoundException",
    "AccessDeniedException",
    "DecryptionFailure",
    "InvalidRequestException",
)
"""Secrets Manager error codes no retry cures (throttling or an outage is retried)."""


def read_credentials(secret_id: str, *, max_age: int = DEFAULT_SECRET_MAX_AGE) -> AepCredentials:
    """:meth:`AepCredentials.from_secret` with its failures classified: a secret that cannot be
    read for good is :class:`AepSecretUnreadable`; a failing Secrets Manager is retryable."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return AepCredentials.from_secret(secret_id, max_age=max_age)
    except GetParameterError as error:
        code = next((c for c in _PERMANENT_SECRET_ERRORS if c in str(error)), None)
        if code is None:
            raise RetryableError(
                f"Secrets Manager did not answer for the AEP credentials secret {secret_id!r}"
            ) from None
        raise AepSecretUnreadable(secret_id, code) from None
    except ValueError as error:  # not a JSON object, or fields missing (named, no value)
        raise AepSecretUnreadable(secret_id, str(error)) from None


def _scopes(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(scope for scope in (str(item).strip() for item in items) if scope)


@dataclass(frozen=True, slots=True, repr=False)
class AepCredentials:
    """Who calls AEP: the Developer Console OAuth Server-to-Server credential and its org."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    org_id: str
    sandbox_name: str
    tenant_id: str

    def __post_init__(self) -> None:
        if not self.scopes:
            raise ValueError("AEP credentials need at least one scope")

    def __repr__(self) -> str:
        return (
            f"AepCredentials(client_id={self.client_id!r}, client_secret='***', "
            f"scopes={self.scopes!r}, org_id={self.org_id!r}, "
            f"sandbox_name={self.sandbox_name!r}, tenant_id={self.tenant_id!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AepCredentials:
        """Credentials from the secret's JSON object; ValueError names missing fields only."""
        if not isinstance(values, Mapping):  # a file or secret holding a list, a string…
            raise ValueError("AEP credentials secret is not a JSON object")
        missing = [name for name in _REQUIRED_FIELDS if not values.get(name)]
        if missing:
            raise ValueError(f"AEP credentials secret lacks field(s): {', '.join(missing)}")
        scopes = _scopes(values["scopes"])
        if not scopes:
            raise ValueError("AEP credentials secret lacks field(s): scopes")
        return cls(
            client_id=str(values["client_id"]),
            client_secret=str(values["client_secret"]),
            scopes=scopes,
            org_id=str(values["org_id"]),
            # Adobe: "the all-lowercase name of the sandbox".
            sandbox_name=str(values["sandbox_name"]).lower(),
            tenant_id=str(values["tenant_id"]),
        )

    @classmethod
    def from_secret(
        cls, secret_id: str, *, max_age: int = DEFAULT_SECRET_MAX_AGE
    ) -> AepCredentials:
        """Read the secret through Powertools Parameters (cached for ``max_age`` seconds)."""
        return cls.from_mapping(read_json_secret(secret_id, max_age=max_age))


class ImsTokenProvider:
    """IMS access tokens for one credential, requested only when needed.

    Thread-safe: concurrent callers share one token request. ``refresh_margin`` seconds before
    ``expires_in`` elapses the token counts as expired (at most half its lifetime, so short-lived
    tokens are still reused). ``transport`` defaults to one built from ``settings``; pass the AEP
    client's own to share its connection pool.
    """

    def __init__(
        self,
        credentials: AepCredentials,
        settings: AepSettings,
        transport: Transport | None = None,
        *,
        refresh_margin: float = 300.0,
        token_budget: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._token_url = settings.token_url
        self._transport = transport or Transport(
            timeouts=settings.timeouts, retry=settings.retry, pool_size=settings.pool_size
        )
        self._refresh_margin = refresh_margin
        self._token_budget = token_budget
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: CachedToken | None = None
        self._refused: AepAuthError | None = None
        self.token_requests = 0
        """How many token grants this provider requested (for metrics and tests)."""

    def __repr__(self) -> str:
        return (
            f"ImsTokenProvider(client_id={self._credentials.client_id!r}, url={self._token_url!r})"
        )

    def token(self, *, deadline: Deadline | None = None) -> str:
        """A valid access token, from the cache or a fresh ``client_credentials`` grant.

        Raises :class:`AepAuthError` when IMS refuses the credentials (and keeps raising it
        without calling IMS again), :class:`~adm_ingest.adm.errors.RetryableError` when IMS is
        unreachable or failing within the deadline.
        """
        with self._lock:
            if self._refused is not None:
                raise AepAuthError(str(self._refused), code=self._refused.code)
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            self._cached = self._request_token(deadline)
            return self._cached.value

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the cached token (the gateway answered ``401013``): the next call gets a new one.

        Pass the token the gateway ``rejected``: when several threads see the same rejection,
        only the first forgets it, so the integration mints exactly one replacement.
        """
        with self._lock:
            if self._cached is not None and rejected in (None, self._cached.value):
                self._cached = None

    def headers(self, *, deadline: Deadline | None = None) -> dict[str, str]:
        """The identity headers every Platform call carries (token from :meth:`token`)."""
        return {
            "Authorization": f"Bearer {self.token(deadline=deadline)}",
            "x-api-key": self._credentials.client_id,
            "x-gw-ims-org-id": self._credentials.org_id,
            "x-sandbox-name": self._credentials.sandbox_name,
        }

    def _request_token(self, deadline: Deadline | None) -> CachedToken:
        budget = self._transport.deadline_after(self._token_budget).earliest(deadline)
        form = {
            "grant_type": "client_credentials",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
            "scope": ",".join(self._credentials.scopes),
        }
        # The grant is safe to replay: it has no side effect beyond issuing a token.
        response = self._transport.request(
            "POST",
            self._token_url,
            deadline=budget,
            replay_safe=True,
            headers={"Accept": "application/json"},
            data=form,
            paced=False,  # IMS is not the Platform gateway: its answers must not pace AEP calls
        )
        self.token_requests += 1
        if response.status_code in _TRANSIENT_STATUSES:
            raise RetryableError(f"Adobe IMS answered HTTP {response.status_code}; try again")
        if response.status_code != 200:
            raise self._refusal(response.status_code, response.content)
        try:
            body = orjson.loads(response.content)
            access_token = str(body["access_token"])
            expires_in = float(body["expires_in"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # "from None": the parse error's message could quote the body, token included.
            raise RetryableError(
                f"Adobe IMS returned an unusable token response ({type(exc).__name__})"
            ) from None
        if not access_token or not expires_in > 0:
            raise RetryableError("Adobe IMS returned an empty or already expired token")
        lifetime = max(0.0, expires_in - min(self._refresh_margin, expires_in / 2.0))
        logger.info("AEP access token issued", extra={"expires_in": expires_in})
        return CachedToken(access_token, self._clock() + lifetime)

    def _refusal(self, status: int, content: bytes) -> AepAuthError:
        body = parse_error_body(content)
        code = str(body.get("error") or f"HTTP_{status}")[:64]
        description = scrub(
            str(body.get("error_description") or ""), (self._credentials.client_secret,)
        )
        advice = _ADVICE.get(code, _DEFAULT_ADVICE)
        error = AepAuthError(
            f"Adobe IMS refused the client_credentials grant for client id "
            f"{self._credentials.client_id!r} (HTTP {status} {code}"
            f"{': ' + description if description else ''}); {advice}",
            code=code,
        )
        # A 4xx refusal is permanent for these credentials (5xx/429 were retried by the
        # transport): remember it so a warm Lambda does not call IMS for every chunk.
        self._refused = error
        return error
