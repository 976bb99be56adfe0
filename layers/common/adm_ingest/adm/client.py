"""The ADM client: typed methods over the Ads data manager, DSP conversions and manager APIs.

One :class:`AdmClient` per set of credentials; it is cheap to keep across Lambda invocations
(pooled connections, cached token). Every method call gets a time budget
(:attr:`ClientSettings.call_budget`, tightened by :meth:`AdmClient.set_deadline`), authenticates
with a cached LwA token (a 401 refreshes it once and retries once), sends the OpenAPI's headers
and media types, and turns error responses into :mod:`adm_ingest.adm.errors` exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import requests

# The module, not its names: adm_ingest.adm.auth imports this package's lower layers (endpoints,
# errors, http), so importing names from it here would be circular when auth is imported first.
from adm_ingest.adm import auth as lwa
from adm_ingest.adm import operations as ops
from adm_ingest.adm.accounts import AccountRef
from adm_ingest.adm.endpoints import DEFAULT_CALL_BUDGET, ClientSettings
from adm_ingest.adm.errors import REQUEST_ID_HEADER, AuthError, RetryableError, api_error
from adm_ingest.adm.http import Deadline, RetryPolicy, Transport, TransportClient
from adm_ingest.adm.models import (
    BatchResult,
    ConversionDefinition,
    DataRoom,
    DataRoomMetadata,
    Dataset,
    DatasetMetrics,
    EventsResult,
    ManagerAccount,
    MembersResult,
    SharingRule,
    Terms,
)
from adm_ingest.adm.operations import AccountHeaders, Operation
from adm_ingest.adm.ratelimit import RateLimiter
from adm_ingest.attempts import AttemptStats

CLIENT_ID_HEADER = "Amazon-Advertising-API-ClientId"
MANAGER_ACCOUNT_HEADER = "Amazon-Ads-Manager-Account-ID"
ADVERTISER_ACCOUNT_HEADER = "Amazon-Ads-AccountId"
SCOPE_HEADER = "Amazon-Advertising-API-Scope"

Body = bytes | Mapping[str, Any]


def encode_body(body: bytes | Mapping[str, Any] | Sequence[Any]) -> bytes:
    """Request bytes: pre-serialized bytes pass through, anything else is JSON-encoded."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    return orjson.dumps(body)


def _events_replay_safe(payload: bytes) -> bool:
    # Replaying an eventData request is harmless only if every event has a clientDedupeId
    # (the API keeps the first event per id). At ≤ 100 events, parsing to check is cheap.
    try:
        events = orjson.loads(payload).get("eventData")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(events, list) and all(
        isinstance(event, Mapping) and event.get("clientDedupeId") for event in events
    )


def _json(response: requests.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    parsed = orjson.loads(response.content)
    return parsed if isinstance(parsed, dict) else {"items": parsed}


class AdmClient(TransportClient):
    """Typed access to the ADM, DSP conversions and manager-account APIs for one account.

    Construct from :class:`ClientSettings` and :class:`~adm_ingest.adm.auth.Credentials`, or with
    :meth:`from_secret`. The optional ``tokens`` and ``transport`` let callers share them.
    """

    def __init__(
        self,
        settings: ClientSettings,
        credentials: lwa.Credentials,
        tokens: lwa.TokenProvider | None = None,
        *,
        transport: Transport | None = None,
        deadline: Deadline | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self._transport = transport or Transport(
            timeouts=settings.timeouts,
            retry=settings.retry,
            pool_size=settings.pool_size,
            limiter=limiter,
        )
        self.tokens = tokens or lwa.TokenProvider(
            credentials, token_url=settings.token_url, transport=self._transport
        )
        self._deadline = deadline
        self.stats = AttemptStats()
        """Every API attempt since the last :meth:`take_stats` (token requests not included)."""

    @classmethod
    def from_secret(
        cls,
        secret_id: str,
        *,
        settings: ClientSettings | None = None,
        max_age: int | None = None,
        retry: RetryPolicy | None = None,
        call_budget: float | None = None,
        limiter_for: Callable[[lwa.Credentials], RateLimiter] | None = None,
        account: AccountRef | None = None,
        tokens_for: Callable[[ClientSettings, lwa.Credentials], lwa.TokenProvider] | None = None,
    ) -> AdmClient:
        """A client for the credentials in Secrets Manager secret ``secret_id``.

        Settings default to the credentials' region, overridden by ``ADM_API_URL`` /
        ``ADM_TOKEN_URL`` (see :meth:`ClientSettings.for_region`), with ``retry`` and
        ``call_budget`` when given. The secret read is cached for ``max_age`` seconds (default
        :data:`adm_ingest.adm.auth.DEFAULT_SECRET_MAX_AGE`). ``limiter_for`` builds the request
        pacing for the account the client acts for. ``account`` (a registry entry's) replaces
        the account ids the secret names; ``tokens_for`` hands out a shared token provider
        (one per secret, whichever account uses it), else the client makes its own.
        """
        credentials = lwa.Credentials.from_secret(
            secret_id, max_age=lwa.DEFAULT_SECRET_MAX_AGE if max_age is None else max_age
        )
        if account is not None:
            credentials = account.apply(credentials)
        if settings is None:
            settings = ClientSettings.for_region(
                credentials.region,
                retry=retry,
                call_budget=DEFAULT_CALL_BUDGET if call_budget is None else call_budget,
            )
        return cls(
            settings,
            credentials,
            tokens_for(settings, credentials) if tokens_for is not None else None,
            limiter=limiter_for(credentials) if limiter_for is not None else None,
        )

    def __repr__(self) -> str:
        return f"AdmClient(api_url={self.settings.api_url!r}, credentials={self.credentials!r})"

    # -- ADM: terms and data room ---------------------------------------------------------

    def get_terms(self) -> Terms:
        """Whether the ADM terms are accepted, and the token needed to accept them."""
        return Terms.from_api(_json(self._call(ops.GET_TERMS)))

    def accept_terms(self, agreement_token: str) -> None:
        """Accept the ADM terms (``agreement_token`` from :meth:`get_terms`)."""
        self._call(ops.SET_TERMS, body={"agreementToken": agreement_token, "hasAccepted": True})

    def get_data_room(self) -> DataRoom | None:
        """The manager account's data room, or ``None`` when it has none yet (404)."""
        response = self._call(ops.GET_DATA_ROOM, allow_not_found=True)
        return None if response.status_code == 404 else DataRoom.from_api(_json(response))

    def create_data_room(self) -> DataRoom:
        """Create the manager account's data room (one per manager account; not replayed)."""
        return DataRoom.from_api(_json(self._call(ops.CREATE_DATA_ROOM)))

    def get_data_room_metadata(self) -> DataRoomMetadata:
        """Dataset and destination counts of the data room."""
        return DataRoomMetadata.from_api(_json(self._call(ops.GET_DATA_ROOM_METADATA)))

    # -- ADM: audience datasets and members -----------------------------------------------

    def create_audience(
        self,
        name: str,
        country_code: str,
        description: str | None = None,
        id_retention: bool | None = None,
    ) -> Dataset:
        """Create an audience dataset.

        Raises :class:`~adm_ingest.adm.errors.DuplicateDatasetName` (with ``dataset_id``) when
        the name is taken, and a ``RetryableError`` on 429/5xx/timeouts (not replayed: list
        first, the dataset may exist).
        """
        body: dict[str, Any] = {"name": name, "countryCode": country_code}
        if description is not None:
            body["description"] = description
        if id_retention is not None:
            body["idRetention"] = id_retention
        return Dataset.from_api(_json(self._call(ops.CREATE_AUDIENCE, body=body)))

    def list_audiences(self, page_size: int | None = None) -> Iterator[Dataset]:
        """Every audience dataset, following ``nextToken`` page by page."""
        limit = page_size or self.settings.page_size
        for page in self._pages(
            lambda token: self._call(
                ops.LIST_AUDIENCES,
                params={"limit": limit, **({"nextToken": token} if token else {})},
            )
        ):
            yield from (Dataset.from_api(item) for item in page.get("dataSets") or ())

    def get_audience(self, data_set_id: str) -> Dataset:
        """One audience dataset (``NotFound`` when it does not exist)."""
        return Dataset.from_api(
            _json(self._call(ops.GET_AUDIENCE, path_values={"dataSetId": data_set_id}))
        )

    def ingest_members(self, data_set_id: str, body: Body) -> MembersResult:
        """Send one members request (``{"members": [...]}``, ≤ 10 MB); per-member errors.

        Replayed on transient failures: CREATE/DELETE keyed by ``externalUserId`` are
        idempotent.
        """
        response = self._call(ops.INGEST_MEMBERS, path_values={"dataSetId": data_set_id}, body=body)
        return MembersResult.from_api(_json(response))

    def delete_dataset(self, data_set_id: str) -> None:
        """Delete a dataset and its data."""
        self._call(ops.DELETE_DATASET, path_values={"dataSetId": data_set_id})

    def dataset_metrics(self, data_set_id: str) -> DatasetMetrics:
        """A dataset's metrics across all its uploads: accepted and invalid records, the
        match percentage, records resolved (``NotFound`` when the dataset does not exist).
        A read: replayed on transient failures."""
        response = self._call(ops.GET_DATASET_METRICS, path_values={"dataSetId": data_set_id})
        return DatasetMetrics.from_api(_json(response))

    def list_dataset_details(self, dataset_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        """Details (record counts, destinations…) of 1–100 datasets, as the API returns them."""
        details: list[Mapping[str, Any]] = []
        for page in self._pages(
            lambda token: self._call(
                ops.LIST_DATASET_DETAILS,
                params={"nextToken": token} if token else None,
                body={"datasetIds": list(dataset_ids)},
            )
        ):
            details.extend(page.get("datasets") or ())
        return details

    # -- ADM: sharing rules and identities ------------------------------------------------

    def create_sharing_rule(
        self,
        *,
        application: str,
        data_set_id: str,
        destination_account_id: str,
        marketplace_id: str,
        metadata: Mapping[str, Any],
        account_entity_id: str | None = None,
    ) -> SharingRule:
        """Share a dataset with a destination account (not replayed: list first on failure)."""
        body: dict[str, Any] = {
            "application": application,
            "dataSetId": data_set_id,
            "destinationAccountId": destination_account_id,
            "marketplaceId": marketplace_id,
            "metadata": dict(metadata),
        }
        if account_entity_id is not None:
            body["accountEntityId"] = account_entity_id
        return SharingRule.from_api(_json(self._call(ops.CREATE_SHARING_RULE, body=body)))

    def list_sharing_rules(
        self,
        *,
        application: str | None = None,
        dataset_ids: Sequence[str] | None = None,
        destination_account_id: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> Iterator[SharingRule]:
        """Sharing rules matching the filters (all when none), following ``nextToken``."""
        filters: dict[str, Any] = {"maxResults": min(self.settings.page_size, 100)}
        if application is not None:
            filters["application"] = application
        if dataset_ids:
            filters["datasetIds"] = list(dataset_ids)
        if destination_account_id is not None:
            filters["destinationAccountId"] = destination_account_id
        if statuses:
            filters["statuses"] = list(statuses)
        for page in self._pages(
            lambda token: self._call(
                ops.LIST_SHARING_RULES,
                body={**filters, **({"nextToken": token} if token else {})},
            )
        ):
            yield from (SharingRule.from_api(item) for item in page.get("sharingRules") or ())

    def revoke_sharing_rule(self, sharing_rule_id: str) -> None:
        """Revoke a sharing rule (stops the data flowing to its destination)."""
        self._call(ops.REVOKE_SHARING_RULE, path_values={"sharingRuleId": sharing_rule_id})

    def delete_identities(self, body: Body) -> None:
        """De-identify users (``{"targetIdentities": [...]}``, 1–1000) across the account."""
        self._call(ops.DELETE_IDENTITIES, body=body)

    # -- Manager accounts -----------------------------------------------------------------

    def list_manager_accounts(self) -> list[ManagerAccount]:
        """The manager accounts these credentials can act for, with their linked accounts."""
        body = _json(self._call(ops.LIST_MANAGER_ACCOUNTS))
        return [ManagerAccount.from_api(item) for item in body.get("managerAccounts") or ()]

    # -- DSP conversions ------------------------------------------------------------------

    def create_conversion_definitions(
        self, definitions: Sequence[Mapping[str, Any]]
    ) -> BatchResult:
        """Create 1–10 conversion definitions (207: per-item ids and errors, 0-based).

        Not replayed on transient failures: list first, some may have been created.
        """
        response = self._call(
            ops.CREATE_CONVERSION_DEFINITIONS,
            path_values={"accountId": self.credentials.advertiser_account_id},
            body=[dict(definition) for definition in definitions],
        )
        return BatchResult.from_api(_json(response))

    def list_conversion_definitions(self) -> Iterator[ConversionDefinition]:
        """Every conversion definition of the advertiser, following ``nextToken``."""
        page_size = min(self.settings.page_size, 100)
        for page in self._pages(
            lambda token: self._call(
                ops.LIST_CONVERSION_DEFINITIONS,
                path_values={"accountId": self.credentials.advertiser_account_id},
                body={"maxResults": page_size, **({"nextToken": token} if token else {})},
            )
        ):
            yield from (
                ConversionDefinition.from_api(item)
                for item in page.get("conversionDefinitions") or ()
            )

    def ingest_conversion_events(self, body: Body) -> EventsResult:
        """Import 1–100 conversion events (207: accepted and rejected positions, 0-based).

        Replayed on transient failures only when every event carries a ``clientDedupeId``.
        """
        payload = encode_body(body)
        response = self._call(
            ops.INGEST_CONVERSION_EVENTS,
            path_values={"accountId": self.credentials.advertiser_account_id},
            body=payload,
            replay_safe=_events_replay_safe(payload),
        )
        return EventsResult.from_api(_json(response))

    # -- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        operation: Operation,
        *,
        path_values: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: bytes | Mapping[str, Any] | Sequence[Any] | None = None,
        replay_safe: bool | None = None,
        allow_not_found: bool = False,
    ) -> requests.Response:
        """Send ``operation``; return a successful (or allowed 404) response, else raise."""
        url = self.settings.api_url + operation.path_for(**(path_values or {}))
        data = None if body is None else encode_body(body)
        deadline = self._transport.deadline_after(self.settings.call_budget).earliest(
            self._deadline
        )
        call_stats = AttemptStats()
        try:
            response = self._send(operation, url, deadline, replay_safe, params, data, call_stats)
        except RetryableError as error:
            # An earlier attempt of this call (before a 401 and a token refresh) may have been
            # the one that went unanswered after reaching the server.
            error.maybe_delivered = error.maybe_delivered or call_stats.maybe_delivered
            raise
        finally:
            self.stats.add(call_stats)
        if response.status_code < 400 or (allow_not_found and response.status_code == 404):
            return response
        raise api_error(
            response.status_code, response.content, response.headers.get(REQUEST_ID_HEADER)
        )

    def _send(
        self,
        operation: Operation,
        url: str,
        deadline: Deadline,
        replay_safe: bool | None,
        params: Mapping[str, Any] | None,
        data: bytes | None,
        stats: AttemptStats,
    ) -> requests.Response:
        """The response to ``operation``, after one token refresh on a 401."""
        # A 401 means the request was rejected before anything happened: refreshing the token
        # and sending it once more is safe even for creates.
        for attempt in (1, 2):
            token = self.tokens.token(deadline=deadline)
            response = self._transport.request(
                operation.method,
                url,
                deadline=deadline,
                replay_safe=operation.replay_safe if replay_safe is None else replay_safe,
                headers=self._headers(operation, token, has_body=data is not None),
                params=params,
                data=data,
                stats=stats,
            )
            if response.status_code != 401:
                break
            response.close()
            self.tokens.invalidate()
            if attempt == 2:
                raise AuthError(
                    f"{operation.method} {operation.path}: the API rejected a freshly issued "
                    f"access token (HTTP 401, request id "
                    f"{response.headers.get(REQUEST_ID_HEADER) or '-'}); check that the "
                    "application is allowed to call the Ads API for these accounts"
                )
        return response

    def _headers(self, operation: Operation, token: str, *, has_body: bool) -> dict[str, str]:
        credentials = self.credentials
        headers = {
            CLIENT_ID_HEADER: credentials.client_id,
            "Authorization": f"Bearer {token}",
            "Accept": operation.accept,
        }
        if has_body and operation.content_type is not None:
            headers["Content-Type"] = operation.content_type
        if AccountHeaders.MANAGER in operation.accounts:
            headers[MANAGER_ACCOUNT_HEADER] = credentials.manager_account_id
        if AccountHeaders.ADVERTISER in operation.accounts:
            headers[ADVERTISER_ACCOUNT_HEADER] = credentials.advertiser_account_id
        if AccountHeaders.SCOPE in operation.accounts and credentials.profile_id:
            headers[SCOPE_HEADER] = credentials.profile_id
        return headers

    @staticmethod
    def _pages(fetch: Callable[[str | None], requests.Response]) -> Iterator[dict[str, Any]]:
        """Pages from ``fetch(next_token)`` until the API stops returning a new ``nextToken``."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = _json(fetch(token))
            yield page
            token = page.get("nextToken") or None
            # A token seen before would loop forever; a well-behaved API never sends one.
            if token is None or token in seen:
                return
            seen.add(token)
