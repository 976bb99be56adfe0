"""Typed results of the client's calls: small frozen dataclasses built from the API's JSON.

Field names are the OpenAPI names in snake_case. Where callers may need more than the typed
fields, ``raw`` keeps the whole response object (excluded from equality and repr).
Indexes in :class:`ItemError`, :class:`BatchResult` and :class:`EventsResult` are **0-based**
positions in the request's list, whatever the API's own convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Raw = Mapping[str, Any]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


@dataclass(frozen=True, slots=True)
class ItemError:
    """One rejected item of a batch request: its 0-based position, a code and a message."""

    index: int
    code: str
    message: str

    @classmethod
    def from_api(cls, item: Raw, *, index_base: int) -> ItemError:
        """From an API error item whose ``index`` counts from ``index_base`` (0 or 1)."""
        nested = item.get("errors")
        first: Raw = {}
        if isinstance(nested, list) and nested and isinstance(nested[0], Mapping):
            first = nested[0]
        message = (
            item.get("message")
            or item.get("details")
            or first.get("errorMessage")
            or first.get("message")
            or ""
        )
        code = item.get("code") or first.get("errorType") or "UNKNOWN"
        return cls(
            index=int(item.get("index", index_base)) - index_base,
            code=str(code),
            message=str(message),
        )


@dataclass(frozen=True, slots=True)
class Terms:
    """ADM terms and conditions status; ``agreement_token`` is needed to accept them."""

    has_accepted: bool
    agreement_token: str | None

    @classmethod
    def from_api(cls, body: Raw) -> Terms:
        return cls(bool(body.get("hasAccepted")), _str_or_none(body.get("agreementToken")))


@dataclass(frozen=True, slots=True)
class DataRoom:
    """The manager account's data room (one per manager account)."""

    account_id: str
    creation_date_time: str
    region: str | None = None
    assigned_to_account_id: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Raw) -> DataRoom:
        return cls(
            account_id=str(body.get("accountId", "")),
            creation_date_time=str(body.get("creationDateTime", "")),
            region=_str_or_none(body.get("region")),
            assigned_to_account_id=_str_or_none(body.get("assignedToAccountId")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class DataRoomMetadata:
    """Counts about the data room's datasets."""

    active_destinations: int
    data_sets_in_use: int
    linked_accounts: int
    total_data_sets: int

    @classmethod
    def from_api(cls, body: Raw) -> DataRoomMetadata:
        return cls(
            active_destinations=_int(body.get("activeDestinations")),
            data_sets_in_use=_int(body.get("dataSetsInUse")),
            linked_accounts=_int(body.get("linkedAccounts")),
            total_data_sets=_int(body.get("totalDataSets")),
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """An ADM audience dataset."""

    data_set_id: str
    name: str
    country_code: str | None = None
    description: str | None = None
    id_retention: bool | None = None
    data_set_type: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Raw) -> Dataset:
        retention = body.get("idRetention")
        return cls(
            data_set_id=str(body.get("dataSetId") or body.get("datasetId") or ""),
            name=str(body.get("name", "")),
            country_code=_str_or_none(body.get("countryCode")),
            description=_str_or_none(body.get("description")),
            id_retention=None if retention is None else bool(retention),
            data_set_type=_str_or_none(body.get("dataSetType")),
            raw=body,
        )


def _count_or_none(value: Any) -> int | None:
    """A count the API sends as a JSON number (``type: number``), or None when absent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class DatasetMetrics:
    """A dataset's metrics across all its uploads (``GET /adm/datasets/{id}/metrics``).

    Amazon's names (OpenAPI ``GetDataSetMetricsResponseContent``): ``acceptedCount``,
    ``invalidRecordCount``, ``matchRecordPercentage`` (the percentage, 0–100, of the dataset's
    records Amazon matched), ``recordsResolved`` (records resolved to an Amazon identity),
    ``recordsWithIdentity``, ``uploadCount``, ``lastModified``. Counts are ``None`` when the
    answer leaves them out (the schema requires them; a lenient reading costs nothing)."""

    data_set_id: str
    accepted_count: int | None = None
    invalid_record_count: int | None = None
    match_record_percentage: float | None = None
    records_resolved: int | None = None
    records_with_identity: int | None = None
    upload_count: int | None = None
    last_modified: str | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @property
    def matched(self) -> int | None:
        """How many of the dataset's records Amazon matched: ``recordsResolved`` (Amazon's own
        count), else ``acceptedCount`` × ``matchRecordPercentage`` when only those are given."""
        if self.records_resolved is not None:
            return self.records_resolved
        if self.accepted_count is None or self.match_record_percentage is None:
            return None
        return round(self.accepted_count * self.match_record_percentage / 100)

    @classmethod
    def from_api(cls, body: Raw) -> DatasetMetrics:
        return cls(
            data_set_id=str(body.get("dataSetId") or ""),
            accepted_count=_count_or_none(body.get("acceptedCount")),
            invalid_record_count=_count_or_none(body.get("invalidRecordCount")),
            match_record_percentage=_float_or_none(body.get("matchRecordPercentage")),
            records_resolved=_count_or_none(body.get("recordsResolved")),
            records_with_identity=_count_or_none(body.get("recordsWithIdentity")),
            upload_count=_count_or_none(body.get("uploadCount")),
            last_modified=_str_or_none(body.get("lastModified")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class MembersResult:
    """Outcome of one members request: the ingress id and the members it rejected."""

    ingress_id: str | None
    errors: list[ItemError]

    @classmethod
    def from_api(cls, body: Raw) -> MembersResult:
        # ADM's ValidationError.index is the member's position in the request list (0-based).
        errors = [ItemError.from_api(item, index_base=0) for item in body.get("errors") or ()]
        return cls(_str_or_none(body.get("ingressId")), errors)


@dataclass(frozen=True, slots=True)
class SharingRule:
    """A rule sharing a dataset with a destination account (e.g. a DSP advertiser)."""

    sharing_rule_id: str
    status: str
    application: str
    data_set_id: str
    destination_account_id: str
    marketplace_id: str
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Raw) -> SharingRule:
        return cls(
            sharing_rule_id=str(body.get("sharingRuleId", "")),
            status=str(body.get("status", "")),
            application=str(body.get("application", "")),
            data_set_id=str(body.get("dataSetId", "")),
            destination_account_id=str(body.get("destinationAccountId", "")),
            marketplace_id=str(body.get("marketplaceId", "")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """An advertising account linked to a manager account."""

    account_id: str
    account_type: str | None = None
    account_name: str | None = None
    dsp_advertiser_id: str | None = None
    marketplace_id: str | None = None
    profile_id: str | None = None

    @classmethod
    def from_api(cls, body: Raw) -> LinkedAccount:
        return cls(
            account_id=str(body.get("accountId", "")),
            account_type=_str_or_none(body.get("accountType")),
            account_name=_str_or_none(body.get("accountName")),
            dsp_advertiser_id=_str_or_none(body.get("dspAdvertiserId")),
            marketplace_id=_str_or_none(body.get("marketplaceId")),
            profile_id=_str_or_none(body.get("profileId")),
        )


@dataclass(frozen=True, slots=True)
class ManagerAccount:
    """A manager account the credentials can act for, with its linked accounts."""

    manager_account_id: str
    manager_account_name: str | None
    linked_accounts: tuple[LinkedAccount, ...]

    @classmethod
    def from_api(cls, body: Raw) -> ManagerAccount:
        return cls(
            manager_account_id=str(body.get("managerAccountId", "")),
            manager_account_name=_str_or_none(body.get("managerAccountName")),
            linked_accounts=tuple(
                LinkedAccount.from_api(item) for item in body.get("linkedAccounts") or ()
            ),
        )


@dataclass(frozen=True, slots=True)
class ConversionDefinition:
    """A DSP conversion definition (offline conversions are imported into one)."""

    conversion_definition_id: str
    name: str
    conversion_type: str | None = None
    counting_method: str | None = None
    source: str | None = None
    source_type: str | None = None
    value: float | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Raw) -> ConversionDefinition:
        value = body.get("value")
        return cls(
            conversion_definition_id=str(body.get("conversionDefinitionId", "")),
            name=str(body.get("name", "")),
            conversion_type=_str_or_none(body.get("conversionType")),
            counting_method=_str_or_none(body.get("countingMethod")),
            source=_str_or_none(body.get("source")),
            source_type=_str_or_none(body.get("sourceType")),
            value=None if value is None else float(value),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outcome of a DSP batch create (207): ``(index, id)`` per created item, errors per failed."""

    success: list[tuple[int, str]]
    errors: list[ItemError]

    @classmethod
    def from_api(cls, body: Raw) -> BatchResult:
        # DSP multi-status indexes count from 1.
        success = sorted(
            (int(item["index"]) - 1, str(item.get("conversionDefinitionId", "")))
            for item in body.get("success") or ()
        )
        errors = [ItemError.from_api(item, index_base=1) for item in body.get("error") or ()]
        return cls(success, sorted(errors, key=lambda error: error.index))


@dataclass(frozen=True, slots=True)
class EventsResult:
    """Outcome of a conversion events import (207): accepted and rejected event positions."""

    succeeded: list[int]
    errors: list[ItemError]

    @classmethod
    def from_api(cls, body: Raw) -> EventsResult:
        # DSP multi-status indexes count from 1.
        succeeded = sorted(int(item["index"]) - 1 for item in body.get("success") or ())
        errors = [ItemError.from_api(item, index_base=1) for item in body.get("error") or ()]
        return cls(succeeded, sorted(errors, key=lambda error: error.index))
