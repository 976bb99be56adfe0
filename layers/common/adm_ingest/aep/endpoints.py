"""Where the AEP client talks to: Adobe's Platform gateway and IMS hosts, as settings.

Endpoints are settings, not constants baked into calls, so the same code runs against Adobe,
the local AEP sandbox or a test double: ``AEP_API_URL`` / ``AEP_IMS_URL`` in the environment
override Adobe's hosts exactly as ``ADM_API_URL`` / ``ADM_TOKEN_URL`` do for Amazon, with the
same validation (:func:`~adm_ingest.adm.endpoints.check_endpoint`: https, or plain http only to
this machine).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from adm_ingest.adm.endpoints import DEFAULT_CALL_BUDGET, check_endpoint
from adm_ingest.adm.http import RetryPolicy, Timeouts

AEP_API_HOST = "https://platform.adobe.io"
AEP_IMS_HOST = "https://ims-na1.adobelogin.com"

AEP_API_URL_ENV = "AEP_API_URL"
AEP_IMS_URL_ENV = "AEP_IMS_URL"

IMS_TOKEN_PATH = "/ims/token/v3"
"""OAuth Server-to-Server token endpoint (``client_credentials``), relative to the IMS host."""


@dataclass(frozen=True, slots=True)
class AepSettings:
    """How the AEP client calls (hosts, timeouts, retries, budget); who calls is AepCredentials.

    ``call_budget`` bounds one client method call end to end (all attempts, backoff sleeps and
    token requests); a Lambda additionally sets a deadline from its remaining time.
    """

    api_url: str = AEP_API_HOST
    ims_url: str = AEP_IMS_HOST
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    call_budget: float = DEFAULT_CALL_BUDGET
    pool_size: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", check_endpoint(self.api_url))
        object.__setattr__(self, "ims_url", check_endpoint(self.ims_url))
        if self.call_budget <= 0:
            raise ValueError("call_budget must be positive")

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        call_budget: float = DEFAULT_CALL_BUDGET,
        pool_size: int = 10,
    ) -> AepSettings:
        """Adobe's hosts, overridden by ``AEP_API_URL`` / ``AEP_IMS_URL`` when set (non-empty)."""
        env = os.environ if environ is None else environ
        return cls(
            api_url=env.get(AEP_API_URL_ENV) or AEP_API_HOST,
            ims_url=env.get(AEP_IMS_URL_ENV) or AEP_IMS_HOST,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            call_budget=call_budget,
            pool_size=pool_size,
        )

    @property
    def token_url(self) -> str:
        """The IMS OAuth Server-to-Server token endpoint."""
        return self.ims_url + IMS_TOKEN_PATH
