"""Where the client talks to: regional hosts, Login-with-Amazon token endpoints, settings.

Endpoints are settings, not constants baked into calls, so the same code runs against the real
API, the local sandbox or a test double: ``ADM_API_URL`` / ``ADM_TOKEN_URL`` in the environment
override the regional defaults.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args
from urllib.parse import urlsplit

from adm_ingest.adm.http import RetryPolicy, Timeouts

Region = Literal["NA", "EU", "FE"]
REGIONS: tuple[str, ...] = get_args(Region)

API_HOSTS: Mapping[str, str] = {
    "NA": "https://advertising-api.amazon.com",
    "EU": "https://advertising-api-eu.amazon.com",
    "FE": "https://advertising-api-fe.amazon.com",
}
TOKEN_URLS: Mapping[str, str] = {
    "NA": "https://api.amazon.com/auth/o2/token",
    "EU": "https://api.amazon.co.uk/auth/o2/token",
    "FE": "https://api.amazon.co.jp/auth/o2/token",
}

DEFAULT_CALL_BUDGET = 120.0
"""Seconds one client method call may take end to end, by default."""

API_URL_ENV = "ADM_API_URL"
TOKEN_URL_ENV = "ADM_TOKEN_URL"


def check_region(region: str) -> Region:
    """``region`` as a :data:`Region`, or ValueError naming the valid ones."""
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}: expected one of {', '.join(REGIONS)}")
    return region  # type: ignore[return-value]  # checked just above


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str) -> str:
    """``url`` without a trailing slash; refuses plain ``http`` except to this machine.

    Bearer tokens and the client secret travel on these connections: plain HTTP is only
    acceptable to a local sandbox.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"endpoint must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"refusing plain http to {parts.hostname!r}: use https")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Everything about *how* the client calls, nothing about *who* calls (see Credentials).

    ``call_budget`` bounds one client method call end to end (all attempts, backoff sleeps and
    token refreshes); a Lambda additionally sets a deadline from its remaining time.
    """

    api_url: str
    token_url: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    call_budget: float = DEFAULT_CALL_BUDGET
    pool_size: int = 10
    page_size: int = 100
    """Default page size for list calls (the APIs' maximum)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", check_endpoint(self.api_url))
        object.__setattr__(self, "token_url", check_endpoint(self.token_url))
        if self.call_budget <= 0:
            raise ValueError("call_budget must be positive")

    @classmethod
    def for_region(
        cls,
        region: str,
        *,
        environ: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        call_budget: float = DEFAULT_CALL_BUDGET,
        pool_size: int = 10,
    ) -> ClientSettings:
        """The region's hosts, overridden by ``ADM_API_URL`` / ``ADM_TOKEN_URL`` when set."""
        env = os.environ if environ is None else environ
        checked = check_region(region)
        return cls(
            api_url=env.get(API_URL_ENV) or API_HOSTS[checked],
            token_url=env.get(TOKEN_URL_ENV) or TOKEN_URLS[checked],
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            call_budget=call_budget,
            pool_size=pool_size,
        )
