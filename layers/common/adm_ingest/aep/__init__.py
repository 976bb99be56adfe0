"""Adobe Experience Platform: credentials, IMS access tokens, the Platform endpoints, the
mapping of records to XDM rows (:mod:`adm_ingest.aep.xdm_records`) and the XDM validator that
checks rows before upload (:mod:`adm_ingest.aep.xdm_validation`).

Usage::

    from adm_ingest.aep import AepCredentials, AepSettings, ImsTokenProvider

    credentials = AepCredentials.from_secret("adm-ingest/aep-credentials")
    tokens = ImsTokenProvider(credentials, AepSettings.from_environ())
    headers = tokens.headers()  # Authorization, x-api-key, x-gw-ims-org-id, x-sandbox-name

Errors: :class:`AepAuthError` (permanent: fix the secret);
:class:`~adm_ingest.adm.errors.RetryableError` (IMS unreachable or failing: try later).
"""

from adm_ingest.aep.auth import AepAuthError, AepCredentials, ImsTokenProvider
from adm_ingest.aep.endpoints import (
    AEP_API_HOST,
    AEP_API_URL_ENV,
    AEP_IMS_HOST,
    AEP_IMS_URL_ENV,
    IMS_TOKEN_PATH,
    AepSettings,
)

__all__ = [
    "AEP_API_HOST",
    "AEP_API_URL_ENV",
    "AEP_IMS_HOST",
    "AEP_IMS_URL_ENV",
    "IMS_TOKEN_PATH",
    "AepAuthError",
    "AepCredentials",
    "AepSettings",
    "ImsTokenProvider",
]
