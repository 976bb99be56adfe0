"""The catalog of API operations the client calls: one place for each call's HTTP contract.

Each :class:`Operation` states, from Amazon's OpenAPI files, the method and path, the request
and response media types, which account headers the call takes, and whether the transport may
replay it after a timeout or a 429/5xx (``replay_safe``). Creates are not replay-safe: the
first attempt may have been applied, and a replay could create a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Flag, auto
from urllib.parse import quote

JSON = "application/json"
AUDIENCES_V1 = "application/vnd.admAudiences.v1+json"
DATA_DELETION_V1 = "application/vnd.admDataDeletion.v1+json"
ADM_METRICS_V1 = "application/vnd.admmetrics.v1+json"
CONVERSION_DEFINITION_V1 = "application/vnd.dspconversiondefinition.v1+json"
CONVERSION_EVENT_IMPORT_V1 = "application/vnd.dspconversioneventimport.v1+json"
MANAGER_ACCOUNTS_V1 = "application/vnd.getmanageraccountsresponse.v1+json"


class AccountHeaders(Flag):
    """Which account-scoping headers a call sends (per the OpenAPI parameters of the call)."""

    NONE = 0
    MANAGER = auto()
    """``Amazon-Ads-Manager-Account-ID``."""
    ADVERTISER = auto()
    """``Amazon-Ads-AccountId`` (the DSP advertiser)."""
    SCOPE = auto()
    """``Amazon-Advertising-API-Scope`` (the profile id, DSP calls, when one is configured)."""


_ADM = AccountHeaders.MANAGER
_ADM_ADVERTISER = AccountHeaders.MANAGER | AccountHeaders.ADVERTISER
_DSP = AccountHeaders.ADVERTISER | AccountHeaders.SCOPE


@dataclass(frozen=True, slots=True)
class Operation:
    """One API call's HTTP contract."""

    name: str
    method: str
    path: str
    """Path template with ``{name}`` placeholders, filled (URL-quoted) by :meth:`path_for`."""
    accounts: AccountHeaders
    replay_safe: bool
    content_type: str | None = None
    """Media type of the request body; ``None`` for calls without a body."""
    accept: str = JSON

    def path_for(self, **values: str) -> str:
        """The path with its placeholders filled; each value is quoted as one path segment."""
        quoted = {key: quote(str(value), safe="") for key, value in values.items()}
        return self.path.format(**quoted)


GET_TERMS = Operation("GetTerms", "GET", "/adm/terms", _ADM_ADVERTISER, True)
SET_TERMS = Operation("SetTermsAcceptance", "PATCH", "/adm/terms", _ADM_ADVERTISER, True, JSON)
GET_DATA_ROOM = Operation("GetDataroom", "GET", "/adm/datarooms", _ADM_ADVERTISER, True)
CREATE_DATA_ROOM = Operation("CreateDataroom", "POST", "/adm/datarooms", _ADM, False)
GET_DATA_ROOM_METADATA = Operation(
    "GetDataroomMetadata",
    "GET",
    "/adm/datarooms/metadata",
    _ADM_ADVERTISER,
    True,
    accept=ADM_METRICS_V1,
)
CREATE_AUDIENCE = Operation("CreateAudienceDataset", "POST", "/adm/audiences", _ADM, False, JSON)
LIST_AUDIENCES = Operation("ListAudienceDatasets", "GET", "/adm/audiences", _ADM, True)
GET_AUDIENCE = Operation("GetAudienceDataset", "GET", "/adm/audiences/{dataSetId}", _ADM, True)
# Members CREATE/DELETE are keyed by externalUserId: applying a batch twice is harmless.
INGEST_MEMBERS = Operation(
    "IngestAudiences",
    "POST",
    "/adm/audiences/{dataSetId}/members",
    _ADM_ADVERTISER,
    True,
    AUDIENCES_V1,
    AUDIENCES_V1,
)
DELETE_DATASET = Operation("DeleteDataset", "DELETE", "/adm/datasets/{dataSetId}", _ADM, True)
LIST_DATASET_DETAILS = Operation(
    "ListDatasetDetails",
    "POST",
    "/adm/datasets/list",
    _ADM_ADVERTISER,
    True,
    ADM_METRICS_V1,
    ADM_METRICS_V1,
)
GET_DATASET_METRICS = Operation(
    "GetDataSetMetrics",
    "GET",
    "/adm/datasets/{dataSetId}/metrics",
    _ADM_ADVERTISER,
    True,
    accept=ADM_METRICS_V1,
)
CREATE_SHARING_RULE = Operation(
    "CreateSharingRule", "POST", "/adm/sharingRules", _ADM_ADVERTISER, False, JSON
)
LIST_SHARING_RULES = Operation(
    "ListSharingRules", "POST", "/adm/sharingRules/list", _ADM_ADVERTISER, True, JSON
)
REVOKE_SHARING_RULE = Operation(
    "RevokeSharingRule", "PATCH", "/adm/sharingRules/{sharingRuleId}/revoke", _ADM, True
)
DELETE_IDENTITIES = Operation(
    "DeleteIdentity", "POST", "/adm/identities/delete", _ADM, True, DATA_DELETION_V1
)
LIST_MANAGER_ACCOUNTS = Operation(
    "getManagerAccountsForUser",
    "GET",
    "/managerAccounts",
    AccountHeaders.NONE,
    True,
    accept=MANAGER_ACCOUNTS_V1,
)
CREATE_CONVERSION_DEFINITIONS = Operation(
    "dspAmazonCreateConversionDefinitions",
    "POST",
    "/accounts/{accountId}/dsp/conversionDefinitions",
    _DSP | AccountHeaders.MANAGER,
    False,
    CONVERSION_DEFINITION_V1,
    CONVERSION_DEFINITION_V1,
)
LIST_CONVERSION_DEFINITIONS = Operation(
    "dspAmazonListConversionDefinitions",
    "POST",
    "/accounts/{accountId}/dsp/conversionDefinitions/list",
    _DSP,
    True,
    CONVERSION_DEFINITION_V1,
    CONVERSION_DEFINITION_V1,
)
# Replay-safe only when every event carries a clientDedupeId (first one wins); the client
# checks the body and downgrades to not-replayable otherwise.
INGEST_CONVERSION_EVENTS = Operation(
    "dspAmazonIngestConversionData",
    "POST",
    "/accounts/{accountId}/dsp/conversionDefinitions/eventData",
    _DSP,
    True,
    CONVERSION_EVENT_IMPORT_V1,
    CONVERSION_EVENT_IMPORT_V1,
)
