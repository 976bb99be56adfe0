"""Typed client for Amazon Ads data manager (ADM), DSP conversions and manager-account APIs.

Usage::

    from adm_ingest.adm import AdmClient, Deadline

    client = AdmClient.from_secret("adm-ingest/credentials")
    client.set_deadline(Deadline.from_lambda_context(context, margin_seconds=10))
    result = client.ingest_members(dataset_id, batch_bytes)

Errors: :class:`RetryableError` (try later; for creates, list first), :class:`AuthError`
(re-authorize), :class:`ApiError` and its subclasses (the request must change).
"""

from adm_ingest.adm.accounts import ACCOUNT_ATTRIBUTES, AccountRef
from adm_ingest.adm.client import AdmClient
from adm_ingest.adm.endpoints import (
    API_HOSTS,
    API_URL_ENV,
    TOKEN_URL_ENV,
    TOKEN_URLS,
    ClientSettings,
    Region,
)
from adm_ingest.adm.errors import (
    AdmError,
    ApiError,
    AuthError,
    BadRequest,
    Conflict,
    DeadlineExceeded,
    DuplicateDatasetName,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RetryableError,
    ServerError,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
)
from adm_ingest.adm.http import Deadline, RetryPolicy, Timeouts, Transport, parse_retry_after
from adm_ingest.adm.models import (
    BatchResult,
    ConversionDefinition,
    DataRoom,
    DataRoomMetadata,
    Dataset,
    DatasetMetrics,
    EventsResult,
    ItemError,
    LinkedAccount,
    ManagerAccount,
    MembersResult,
    SharingRule,
    Terms,
)

__all__ = [
    "ACCOUNT_ATTRIBUTES",
    "API_HOSTS",
    "API_URL_ENV",
    "TOKEN_URLS",
    "TOKEN_URL_ENV",
    "AccountRef",
    "AdmClient",
    "AdmError",
    "ApiError",
    "AuthError",
    "BadRequest",
    "BatchResult",
    "ClientSettings",
    "Conflict",
    "ConversionDefinition",
    "DataRoom",
    "DataRoomMetadata",
    "Dataset",
    "DatasetMetrics",
    "Deadline",
    "DeadlineExceeded",
    "DuplicateDatasetName",
    "EventsResult",
    "Forbidden",
    "ItemError",
    "LinkedAccount",
    "ManagerAccount",
    "MembersResult",
    "NotFound",
    "PayloadTooLarge",
    "Region",
    "RetryPolicy",
    "RetryableError",
    "ServerError",
    "SharingRule",
    "Terms",
    "Throttled",
    "Timeouts",
    "Transport",
    "Unauthorized",
    "UnsupportedMediaType",
    "parse_retry_after",
]
