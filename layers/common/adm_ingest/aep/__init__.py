"""Adobe Experience Platform: credentials, IMS access tokens, the Platform endpoints, the
mapping of records to XDM rows (:mod:`adm_ingest.aep.xdm_records`) and the XDM validator that
checks rows before upload (:mod:`adm_ingest.aep.xdm_validation`).

Usage::

    from adm_ingest.aep import AepClient  # the typed Platform client (adm_ingest.aep.client)

    with AepClient.from_secret("adm-ingest/aep-credentials") as aep:
        batch = aep.create_batch(dataset_id, external_id="…")
        with open(part_path, "rb") as part:
            aep.put_file(batch.id, dataset_id, "part-0.json", part)  # streamed
        aep.complete_batch(batch.id)

Errors: :class:`AepAuthError` / :class:`AepTokenRejected` (permanent: fix the credential);
:class:`~adm_ingest.adm.errors.RetryableError` (429, 5xx, IMS or Platform unreachable: try
later); :class:`AepApiError` (Adobe refused the request).
"""

from adm_ingest.aep.auth import AepAuthError, AepCredentials, ImsTokenProvider
from adm_ingest.aep.client import AepClient, ContentRange
from adm_ingest.aep.endpoints import (
    AEP_API_HOST,
    AEP_API_URL_ENV,
    AEP_IMS_HOST,
    AEP_IMS_URL_ENV,
    IMS_TOKEN_PATH,
    AepSettings,
)
from adm_ingest.aep.errors import (
    AepApiError,
    AepNotFound,
    AepServerError,
    AepThrottled,
    AepTokenRejected,
)
from adm_ingest.aep.models import (
    Batch,
    BatchError,
    BatchMetrics,
    Dataset,
    MetaFile,
    RowError,
    SchemaSummary,
)

__all__ = [
    "AEP_API_HOST",
    "AEP_API_URL_ENV",
    "AEP_IMS_HOST",
    "AEP_IMS_URL_ENV",
    "IMS_TOKEN_PATH",
    "AepApiError",
    "AepAuthError",
    "AepClient",
    "AepCredentials",
    "AepNotFound",
    "AepServerError",
    "AepSettings",
    "AepThrottled",
    "AepTokenRejected",
    "Batch",
    "BatchError",
    "BatchMetrics",
    "ContentRange",
    "Dataset",
    "ImsTokenProvider",
    "MetaFile",
    "RowError",
    "SchemaSummary",
]
