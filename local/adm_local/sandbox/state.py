"""The sandbox's in-memory model of one manager account: ADM and DSP conversions state.

Every public method takes the lock, applies one API operation's semantics and returns a
:class:`~adm_local.sandbox.replies.Reply` (or raises :class:`ApiError`). Semantics follow the
API notes and Amazon's guides:

* ADM needs the terms accepted (``PATCH /adm/terms`` with the ``agreementToken`` from ``GET``)
  before a data room can be created, and a data room before datasets, sharing rules or identity
  deletions; one data room per manager account.
* Audience dataset names are unique (``DuplicateDatasetName`` carries the existing
  ``datasetId``). Members are keyed by ``externalUserId``; a DELETE is applied only when it
  carries ``amznUserData`` or ``amznAdStorage`` GRANTED and is otherwise silently ignored, as the
  real API does. Members whose hashed PII is not a lowercase SHA-256 hex digest, that carry no
  identifier, or that come from the UK or the EEA without any consent signal get a per-member error
  (``index`` 0-based).
* Conversion definitions answer 207 (``index`` 1-based); names are unique per advertiser.
  Events are deduplicated per definition by ``clientDedupeId`` (the first one wins); events
  older than 7 days or in the future are rejected one by one; ``LIMITED_DATA_USE`` events are
  accepted but not processed.

Members and events are stored as received — hashed values only; the sandbox never sees raw PII.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .auth import SandboxAccount
from .pagination import page
from .replies import ApiError, Reply, bad_request, forbidden, not_found

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
HASHED_MATCH_KEY_TYPES = frozenset(
    {"EMAIL", "PHONE", "FIRST_NAME", "LAST_NAME", "ADDRESS", "CITY", "STATE", "POSTAL"}
)
"""Match key types whose value must be a SHA-256 digest (MAID and RAMP_ID are sent as is)."""

CONSENT_REQUIRED_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO GB".split()
)
"""The EEA and the UK: members from there need a consent signal (TCF, GPP or Amazon's).

This is the API's rule as Amazon documents it ("UK/EEA records need a consent signal"), which
the sandbox models with its own copy rather than importing ``adm_ingest``. The library is
stricter for Switzerland on purpose (``adm_ingest.countries.CONSENT_REQUIRED_BEYOND_AMAZON``
says why), so a CH member without a signal is accepted here and never sent by the pipeline;
``tests/unit/test_countries.py`` holds the two rules to exactly that difference."""

EVENT_MAX_AGE = timedelta(days=7)
EVENT_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future an event timestamp may be before it counts as "in the future"."""

MATCH_SHARE_OF_256 = 179
"""A member resolves (Amazon "matches" it to one of its users) when the first byte of the
SHA-256 of its identity is below this: about 70 % of distinct identities, the same ones on
every run — plausible for a CRM list with emails, and deterministic for tests."""

AUDIENCES_PAGE_SIZE = 100  # "Default is 100" per the OpenAPI parameter
SHARING_RULES_PAGE_SIZE = 100
CONVERSION_DEFINITIONS_PAGE_SIZE = 10  # "default as 10" per the OpenAPI maxResults

AUDIENCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("externalUserId", "EXTERNAL_ID"),
    ("action", "ACTION"),
    ("countryCode", "COUNTRY_CODE"),
    ("ipAddress", "IP_ADDRESS"),
    ("amznAdStorage", "AMZN_AD_STORAGE"),
    ("amznUserData", "AMZN_USER_DATA"),
    ("gpp", "GPP"),
    ("tcf", "TCF"),
    ("em", "HASHED_EMAIL_ADDRESS"),
    ("ph", "HASHED_PHONE_NUMBER"),
    ("fn", "HASHED_FIRST_NAME"),
    ("ln", "HASHED_LAST_NAME"),
    ("ad", "HASHED_ADDRESS"),
    ("cty", "HASHED_CITY"),
    ("st", "HASHED_STATE"),
    ("zip", "HASHED_ZIP_CODE"),
)
"""The audience schema template's columns (``GET /adm/audiences/{id}`` returns them)."""

APPLICATION_METADATA = {
    "DSP_AUDIENCES": {"audienceMetadata"},
    "EVENTS_MANAGER": {"conversionDefinitionId", "conversionDefinitionMetadata"},
    "AMAZON_MARKETING_CLOUD": {"amcMetadata"},
}
"""Which ``metadata`` variant each sharing destination needs (GEO_LOCATIONS: any)."""


def iso(moment: datetime) -> str:
    """RFC 3339 UTC timestamp with a ``Z`` suffix, second precision."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"


@dataclass
class Dataset:
    """An audience dataset and its members."""

    dataset_id: str
    name: str
    country_code: str
    description: str | None
    id_retention: bool | None
    created_by: str
    created: datetime
    modified: datetime
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted_count: int = 0
    invalid_count: int = 0
    ignored_deletes: int = 0
    upload_count: int = 0
    """Accepted ``members`` requests."""
    resolved: set[str] = field(default_factory=set)
    """The ``externalUserId`` of each current member whose identity resolves
    (:func:`resolves`): the dataset metrics' ``recordsResolved``."""
    daily: dict[str, Counter[str]] = field(default_factory=dict)
    """Per UTC day: RECEIVED / VALID / CONSENTED / RESOLVED counts (the aggregate metrics)."""


@dataclass
class ConversionDefinition:
    """A DSP conversion definition and the events imported into it."""

    record: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    dedupe_ids: set[str] = field(default_factory=set)
    duplicates_ignored: int = 0
    limited_data_use_ignored: int = 0


class SandboxState:
    """Everything one sandbox remembers; safe to use from the server's handler threads."""

    def __init__(
        self,
        account: SandboxAccount,
        *,
        onboarded: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.account = account
        self._clock = clock
        self._lock = threading.RLock()
        self._onboarded = onboarded
        self.reset()

    def reset(self) -> None:
        """Forget everything; back to the seeded account (onboarded if configured so)."""
        with self._lock:
            self.agreement_token = "sandbox-agreement-" + uuid.uuid4().hex[:12]
            self.terms_accepted = self._onboarded
            self.data_room: dict[str, Any] | None = None
            self.datasets: dict[str, Dataset] = {}
            self.sharing_rules: dict[str, dict[str, Any]] = {}
            self.definitions: dict[str, ConversionDefinition] = {}
            self.identity_deletions: list[dict[str, Any]] = []
            if self._onboarded:
                self.data_room = self._data_room_record()

    # -- guards ---------------------------------------------------------------------------

    def check_manager_account(self, manager_account_id: str | None) -> None:
        """403 unless the header is absent or names the seeded manager account."""
        if manager_account_id is not None and manager_account_id != self.account.manager_account_id:
            raise forbidden("no access to this manager account")

    def check_advertiser(self, account_id: str | None) -> None:
        """403 unless the DSP advertiser id is absent or the seeded one."""
        if account_id is not None and account_id != self.account.advertiser_account_id:
            raise forbidden("no access to this advertiser account")

    def _require_data_room(self) -> None:
        if self.data_room is None:
            raise forbidden(
                "no data room for this manager account: POST /adm/datarooms first",
                code="DataRoomNotFound",
            )

    def _dataset(self, dataset_id: str) -> Dataset:
        self._require_data_room()
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise not_found("dataset")
        return dataset

    # -- terms and data room --------------------------------------------------------------

    def get_terms(self) -> Reply:
        with self._lock:
            body: dict[str, Any] = {"hasAccepted": self.terms_accepted}
            if not self.terms_accepted:
                body["agreementToken"] = self.agreement_token
                body["agreementContent"] = "Ads data manager terms of use (sandbox copy)."
            return Reply(200, body)

    def set_terms(self, body: Mapping[str, Any]) -> Reply:
        with self._lock:
            if body["agreementToken"] != self.agreement_token:
                raise bad_request("agreementToken does not match GET /adm/terms")
            self.terms_accepted = bool(body["hasAccepted"])
            return Reply(204)

    def _data_room_record(self) -> dict[str, Any]:
        return {
            "accountId": self.account.manager_account_id,
            "creationDateTime": iso(self._clock()),
            "region": "us-east-1",
        }

    def create_data_room(self) -> Reply:
        with self._lock:
            if not self.terms_accepted:
                raise forbidden(
                    "Ads data manager terms not accepted: PATCH /adm/terms first",
                    code="TermsNotAccepted",
                )
            if self.data_room is not None:
                raise bad_request(
                    "only one data room per manager account", code="DataRoomAlreadyExists"
                )
            self.data_room = self._data_room_record()
            return Reply(201, dict(self.data_room))

    def get_data_room(self) -> Reply:
        with self._lock:
            if self.data_room is None:
                raise not_found("data room")
            return Reply(200, dict(self.data_room))

    def data_room_metadata(self) -> Reply:
        with self._lock:
            self._require_data_room()
            active = [r for r in self.sharing_rules.values() if r["status"] == "ACTIVE"]
            return Reply(
                200,
                {
                    "activeDestinations": len(active),
                    "dataSetsInUse": len({rule["dataSetId"] for rule in active}),
                    "linkedAccounts": 1,
                    "totalDataSets": len(self.datasets),
                },
            )

    # -- audience datasets ----------------------------------------------------------------

    def _audience_view(self, dataset: Dataset) -> dict[str, Any]:
        view: dict[str, Any] = {
            "clientName": "adm-sandbox",
            "countryCode": dataset.country_code,
            "createdBy": dataset.created_by,
            "dataSetId": dataset.dataset_id,
            "dataSetType": "AUDIENCE",
            "dateCreated": iso(dataset.created),
            "lastModified": iso(dataset.modified),
            "lastModifiedBy": dataset.created_by,
            "name": dataset.name,
            "schema": [
                {"name": name, "dataType": data_type, "columnType": "DIMENSION"}
                for name, data_type in AUDIENCE_COLUMNS
            ],
        }
        if dataset.description is not None:
            view["description"] = dataset.description
        if dataset.id_retention is not None:
            view["idRetention"] = dataset.id_retention
        return view

    def create_audience(self, body: Mapping[str, Any], client_id: str) -> Reply:
        with self._lock:
            self._require_data_room()
            for existing in self.datasets.values():
                if existing.name == body["name"]:
                    raise ApiError(
                        400,
                        "DuplicateDatasetName",
                        "a dataset with this name already exists",
                        extra={"datasetId": existing.dataset_id},
                    )
            now = self._clock()
            dataset = Dataset(
                dataset_id=_new_id("amzn1.adm.dataset."),
                name=body["name"],
                country_code=body["countryCode"],
                description=body.get("description"),
                id_retention=body.get("idRetention"),
                created_by=client_id,
                created=now,
                modified=now,
            )
            self.datasets[dataset.dataset_id] = dataset
            return Reply(201, self._audience_view(dataset))

    def list_audiences(self, next_token: str | None, limit: int | None) -> Reply:
        with self._lock:
            self._require_data_room()
            size = AUDIENCES_PAGE_SIZE if limit is None else limit
            if size < 1:
                raise bad_request("limit must be at least 1")
            items, token = page(list(self.datasets.values()), "audiences", next_token, size)
            body: dict[str, Any] = {"dataSets": [self._audience_view(d) for d in items]}
            if token:
                body["nextToken"] = token
            return Reply(200, body)

    def get_audience(self, dataset_id: str) -> Reply:
        with self._lock:
            return Reply(200, self._audience_view(self._dataset(dataset_id)))

    def delete_dataset(self, dataset_id: str) -> Reply:
        with self._lock:
            self._dataset(dataset_id)
            del self.datasets[dataset_id]
            for rule in self.sharing_rules.values():
                if rule["dataSetId"] == dataset_id and rule["status"] == "ACTIVE":
                    rule["status"] = "REVOKED_BY_DATASET"
                    rule["revokedTime"] = iso(self._clock())
            return Reply(204)

    def _dataset_details(self, dataset: Dataset) -> dict[str, Any]:
        active = sum(
            1
            for rule in self.sharing_rules.values()
            if rule["dataSetId"] == dataset.dataset_id and rule["status"] == "ACTIVE"
        )
        details: dict[str, Any] = {
            "actions": [],
            "activeDestinations": active,
            "countryCode": dataset.country_code,
            "createdAt": iso(dataset.created),
            "datasetId": dataset.dataset_id,
            "lastModified": iso(dataset.modified),
            "lastModifiedBy": dataset.created_by,
            "name": dataset.name,
            "records": len(dataset.members),
            "schema": "AUDIENCE",
            "source": "API",
            "updatedAt": iso(dataset.modified),
        }
        if dataset.description is not None:
            details["description"] = dataset.description
        return details

    def list_dataset_details(
        self, dataset_ids: Sequence[str] | None, next_token: str | None, max_results: int | None
    ) -> Reply:
        with self._lock:
            self._require_data_room()
            chosen = [
                dataset
                for dataset in self.datasets.values()
                if dataset_ids is None or dataset.dataset_id in dataset_ids
            ]
            size = 100 if max_results is None else max_results
            if not 1 <= size <= 100:
                raise bad_request("maxResults must be between 1 and 100")
            items, token = page(chosen, "datasets", next_token, size)
            body: dict[str, Any] = {"datasets": [self._dataset_details(d) for d in items]}
            if token:
                body["nextToken"] = token
            return Reply(200, body)

    def dataset_metrics(self, dataset_id: str) -> Reply:
        with self._lock:
            dataset = self._dataset(dataset_id)
            view = self._audience_view(dataset)
            del view["schema"]
            members, resolved = len(dataset.members), len(dataset.resolved)
            view.update(
                description=dataset.description or "",  # required here, even when unset
                acceptedCount=dataset.accepted_count,
                recordsResolved=resolved,
                recordsWithIdentity=members,
                uploadCount=dataset.upload_count,
                invalidRecordCount=dataset.invalid_count,
                # Of the members the dataset holds now (each has an identity: one without is
                # refused), the share that resolved, in percent.
                matchRecordPercentage=round(100 * resolved / members, 2) if members else 0.0,
                dataSetSource="API",
            )
            return Reply(200, view)

    def dataset_aggregates(self, dataset_id: str, body: Mapping[str, Any]) -> Reply:
        with self._lock:
            dataset = self._dataset(dataset_id)
            start = _parse_instant(body.get("startDate")) or datetime.min.replace(tzinfo=UTC)
            end = _parse_instant(body.get("endDate")) or datetime.max.replace(tzinfo=UTC)
            wanted = body.get("metrics") or ["RECEIVED", "VALID", "CONSENTED", "RESOLVED"]
            series: dict[str, dict[str, float]] = {metric: {} for metric in wanted}
            for day, counts in sorted(dataset.daily.items()):
                moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
                if start.date() <= moment.date() <= end.date():
                    for metric in wanted:
                        series[metric][day] = float(counts[metric])
            return Reply(200, {"metrics": series})

    # -- members --------------------------------------------------------------------------

    def ingest_members(self, dataset_id: str, members: Sequence[Mapping[str, Any]]) -> Reply:
        with self._lock:
            dataset = self._dataset(dataset_id)
            today = self._clock().date().isoformat()
            counts = dataset.daily.setdefault(today, Counter())
            errors: list[dict[str, Any]] = []
            for index, member in enumerate(members):
                counts["RECEIVED"] += 1
                problem = _member_problem(member, dataset.country_code)
                if problem is not None:
                    code, details = problem
                    errors.append({"index": index, "code": code, "details": details})
                    dataset.invalid_count += 1
                    continue
                counts["VALID"] += 1
                if _has_consent(member):
                    counts["CONSENTED"] += 1
                user = member["externalUserId"]
                if member["action"] == "CREATE":
                    dataset.members[user] = dict(member)
                    if resolves(member):
                        dataset.resolved.add(user)
                        counts["RESOLVED"] += 1
                    else:
                        dataset.resolved.discard(user)
                elif _amazon_consent_granted(member):
                    dataset.members.pop(user, None)
                    dataset.resolved.discard(user)
                else:
                    # Documented: a DELETE without a GRANTED Amazon consent signal is ignored.
                    dataset.ignored_deletes += 1
                    continue
                dataset.accepted_count += 1
            dataset.modified = self._clock()
            dataset.upload_count += 1
            body: dict[str, Any] = {"ingressId": str(uuid.uuid4())}
            if errors:
                body["errors"] = errors
            return Reply(200, body)

    def delete_identities(self, targets: Sequence[Mapping[str, Any]]) -> Reply:
        with self._lock:
            self._require_data_room()
            self.identity_deletions.extend(dict(target) for target in targets)
            return Reply(200)

    # -- sharing rules --------------------------------------------------------------------

    def _response_metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        if "audienceMetadata" in metadata:
            audience_id = _new_id("aud-")
            return {
                "audienceMetadata": {
                    "audienceId": audience_id,
                    "audienceIdV2": audience_id + "-v2",
                    "audienceName": metadata["audienceMetadata"]["audienceName"],
                }
            }
        if "conversionDefinitionId" in metadata:
            definition = self.definitions.get(metadata["conversionDefinitionId"])
            if definition is None:
                raise not_found("conversion definition")
            record = definition.record
            return {
                "conversionDefinitionMetadata": {
                    "conversionDefinitionId": record["conversionDefinitionId"],
                    "conversionDefinitionName": record["name"],
                    **{
                        key: record[key]
                        for key in (
                            "conversionType", "countingMethod", "name", "source", "sourceType",
                            "value",
                        )
                    },
                }
            }  # fmt: skip
        if "conversionDefinitionMetadata" in metadata:
            inner = dict(metadata["conversionDefinitionMetadata"])
            return {
                "conversionDefinitionMetadata": {
                    **inner,
                    "conversionDefinitionId": _new_id("cd-"),
                    "conversionDefinitionName": inner["name"],
                }
            }
        return {key: dict(value) for key, value in metadata.items()}

    def create_sharing_rule(self, body: Mapping[str, Any], client_id: str) -> Reply:
        with self._lock:
            dataset = self._dataset(body["dataSetId"])
            if body["destinationAccountId"] != self.account.advertiser_account_id:
                raise forbidden("destination account is not linked to this manager account")
            needed = APPLICATION_METADATA.get(body["application"])
            if needed is not None and not needed & set(body["metadata"]):
                raise bad_request(
                    f"{body['application']} needs metadata of kind " + " or ".join(sorted(needed))
                )
            now = iso(self._clock())
            rule: dict[str, Any] = {
                "sharingRuleId": _new_id("sr-"),
                "status": "ACTIVE",
                "application": body["application"],
                "creationTime": now,
                "activationTime": now,
                "dataSetId": dataset.dataset_id,
                "dataSetName": dataset.name,
                "destinationAccountId": body["destinationAccountId"],
                "marketplaceId": body["marketplaceId"],
                "metadata": self._response_metadata(body["metadata"]),
                "createdBy": client_id,
            }
            if "accountEntityId" in body:
                rule["accountEntityId"] = body["accountEntityId"]
            self.sharing_rules[rule["sharingRuleId"]] = rule
            return Reply(200, _public_rule(rule))

    def list_sharing_rules(self, body: Mapping[str, Any]) -> Reply:
        with self._lock:
            self._require_data_room()
            activated_after = _parse_instant(body.get("activatedAfter"))
            activated_before = _parse_instant(body.get("activatedBefore"))

            def wanted(rule: Mapping[str, Any]) -> bool:
                activated = _parse_instant(rule["activationTime"])
                return (
                    body.get("application") in (None, rule["application"])
                    and ("datasetIds" not in body or rule["dataSetId"] in body["datasetIds"])
                    and body.get("destinationAccountId") in (None, rule["destinationAccountId"])
                    and ("statuses" not in body or rule["status"] in body["statuses"])
                    and (activated_after is None or activated >= activated_after)
                    and (activated_before is None or activated <= activated_before)
                )

            chosen = [rule for rule in self.sharing_rules.values() if wanted(rule)]
            size = int(body.get("maxResults", SHARING_RULES_PAGE_SIZE))
            items, token = page(chosen, "sharingRules", body.get("nextToken"), size)
            result: dict[str, Any] = {"sharingRules": [_public_rule(rule) for rule in items]}
            if token:
                result["nextToken"] = token
            return Reply(200, result)

    def revoke_sharing_rule(self, sharing_rule_id: str, client_id: str) -> Reply:
        with self._lock:
            self._require_data_room()
            rule = self.sharing_rules.get(sharing_rule_id)
            if rule is None:
                raise not_found("sharing rule")
            if rule["status"] == "ACTIVE":  # revoking twice is harmless
                rule.update(
                    status="REVOKED_BY_USER", revokedTime=iso(self._clock()), revokedBy=client_id
                )
            return Reply(204)

    # -- DSP conversions ------------------------------------------------------------------

    def create_conversion_definitions(
        self, items: Sequence[Mapping[str, Any]], item_errors: Mapping[int, list[str]]
    ) -> Reply:
        """Create definitions; ``item_errors`` holds schema violations per 0-based position."""
        with self._lock:
            success: list[dict[str, Any]] = []
            error: list[dict[str, Any]] = []
            names = {definition.record["name"] for definition in self.definitions.values()}
            for position, item in enumerate(items):
                index = position + 1  # the DSP 207 responses count from 1
                if position in item_errors:
                    error.append(_dsp_item_error(index, "VALIDATION_ERROR", item_errors[position]))
                    continue
                if item["name"] in names:
                    error.append(
                        _dsp_item_error(
                            index, "DUPLICATE_NAME", ["a conversion definition has this name"]
                        )
                    )
                    continue
                names.add(item["name"])
                now = iso(self._clock())
                record = {
                    key: item[key]
                    for key in (
                        "name", "conversionType", "countingMethod", "source", "sourceType", "value",
                    )
                }  # fmt: skip
                record.update(
                    conversionDefinitionId=_new_id("cd-"),
                    createTime=now,
                    lastUpdatedTime=now,
                    createdBy={"accountId": self.account.advertiser_account_id},
                )
                self.definitions[record["conversionDefinitionId"]] = ConversionDefinition(record)
                success.append(
                    {"conversionDefinitionId": record["conversionDefinitionId"], "index": index}
                )
            return Reply(207, _multi_status(success, error))

    def list_conversion_definitions(self, body: Mapping[str, Any]) -> Reply:
        with self._lock:
            ids: set[str] | None = None
            for condition in body.get("filters", ()):
                values = set(condition["values"])
                ids = values if ids is None else ids & values
            chosen = [
                definition.record
                for definition in self.definitions.values()
                if ids is None or definition.record["conversionDefinitionId"] in ids
            ]
            size = int(body.get("maxResults", CONVERSION_DEFINITIONS_PAGE_SIZE))
            items, token = page(chosen, "conversionDefinitions", body.get("nextToken"), size)
            result: dict[str, Any] = {
                "conversionDefinitions": [dict(record) for record in items],
                "maxResults": size,
            }
            if token:
                result["nextToken"] = token
            return Reply(200, result)

    def import_events(
        self, events: Sequence[Mapping[str, Any]], item_errors: Mapping[int, list[str]]
    ) -> Reply:
        """Import events one by one; ``item_errors`` holds schema violations by position."""
        with self._lock:
            now = self._clock()
            success: list[dict[str, Any]] = []
            error: list[dict[str, Any]] = []
            for position, event in enumerate(events):
                index = position + 1
                if position in item_errors:
                    error.append(_dsp_item_error(index, "VALIDATION_ERROR", item_errors[position]))
                    continue
                problem = self._event_problem(event, now)
                if problem is not None:
                    error.append(_dsp_item_error(index, problem[0], [problem[1]]))
                    continue
                definition = self.definitions[event["conversionDefinitionId"]]
                dedupe_id = event.get("clientDedupeId")
                if event.get("dataProcessingOptions") == "LIMITED_DATA_USE":
                    definition.limited_data_use_ignored += 1
                    message = "accepted; not processed (LIMITED_DATA_USE)"
                elif dedupe_id is not None and dedupe_id in definition.dedupe_ids:
                    definition.duplicates_ignored += 1
                    message = "accepted; duplicate clientDedupeId ignored (first one wins)"
                else:
                    if dedupe_id is not None:
                        definition.dedupe_ids.add(dedupe_id)
                    definition.events.append(dict(event))
                    message = "accepted"
                success.append({"index": index, "message": message})
            return Reply(207, _multi_status(success, error))

    def _event_problem(self, event: Mapping[str, Any], now: datetime) -> tuple[str, str] | None:
        if event["conversionDefinitionId"] not in self.definitions:
            return "CONVERSION_DEFINITION_NOT_FOUND", "unknown conversionDefinitionId"
        moment = _parse_instant(event["timestamp"])
        if moment is None:
            return "INVALID_TIMESTAMP", "timestamp must be ISO 8601 with a UTC offset"
        if moment < now - EVENT_MAX_AGE:
            return "TIMESTAMP_TOO_OLD", "timestamp is more than 7 days old"
        if moment > now + EVENT_CLOCK_SKEW:
            return "TIMESTAMP_IN_FUTURE", "timestamp is in the future"
        for position, key in enumerate(event["matchKeys"]):
            if key["type"] in HASHED_MATCH_KEY_TYPES and not SHA256_HEX.match(key["values"][0]):
                return (
                    "INVALID_MATCH_KEY",
                    f"matchKeys[{position}] ({key['type']}) is not a lowercase SHA-256 hex digest",
                )
        return None

    # -- inspection -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the whole state, for tests and ``GET /_sandbox/state``."""
        with self._lock:
            return {
                "terms": {"hasAccepted": self.terms_accepted},
                "dataRoom": dict(self.data_room) if self.data_room else None,
                "datasets": {
                    dataset.dataset_id: {
                        "name": dataset.name,
                        "countryCode": dataset.country_code,
                        "memberCount": len(dataset.members),
                        "acceptedCount": dataset.accepted_count,
                        "invalidCount": dataset.invalid_count,
                        "ignoredDeletes": dataset.ignored_deletes,
                        "members": {key: dict(value) for key, value in dataset.members.items()},
                    }
                    for dataset in self.datasets.values()
                },
                "sharingRules": {key: dict(rule) for key, rule in self.sharing_rules.items()},
                "conversionDefinitions": {
                    key: {
                        **definition.record,
                        "eventCount": len(definition.events),
                        "duplicatesIgnored": definition.duplicates_ignored,
                        "limitedDataUseIgnored": definition.limited_data_use_ignored,
                        "events": [dict(event) for event in definition.events],
                    }
                    for key, definition in self.definitions.items()
                },
                "identityDeletions": [dict(target) for target in self.identity_deletions],
            }


def resolves(member: Mapping[str, Any]) -> bool:
    """Whether the sandbox "matches" a member to an Amazon user: by its identity (its hashed
    PII and external identities, else its ``externalUserId``), about
    ``MATCH_SHARE_OF_256 / 256`` of them, always the same ones."""
    identity = member.get("userIdentity") or {}
    material = repr(
        [sorted(pii.items()) for pii in identity.get("hashedPiis") or () if isinstance(pii, dict)]
        + [
            sorted(ext.items())
            for ext in identity.get("externalIdentities") or ()
            if isinstance(ext, dict)
        ]
    )
    if material == "[]":
        material = str(member.get("externalUserId"))
    return hashlib.sha256(material.encode()).digest()[0] < MATCH_SHARE_OF_256


def _public_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A sharing rule as the API shows it (the sandbox's ``createdBy`` bookkeeping removed)."""
    return {key: value for key, value in rule.items() if key != "createdBy"}


def _parse_instant(text: Any) -> datetime | None:
    """An ISO 8601 timestamp *with* an offset, or ``None`` (absent, unparsable or naive)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _amazon_consent_granted(member: Mapping[str, Any]) -> bool:
    amzn = member.get("userConsent", {}).get("consent", {}).get("amzn", {})
    return "GRANTED" in (amzn.get("amznUserData"), amzn.get("amznAdStorage"))


def _has_consent(member: Mapping[str, Any]) -> bool:
    consent = member.get("userConsent", {}).get("consent", {})
    return bool(consent.get("tcf") or consent.get("gpp") or consent.get("amzn"))


def _member_problem(member: Mapping[str, Any], dataset_country: str) -> tuple[str, str] | None:
    """Why the API would refuse this member, as (code, details); ``None`` when acceptable."""
    identity = member["userIdentity"]
    pii_sets = identity.get("hashedPiis", [])
    for set_index, pii_set in enumerate(pii_sets):
        for key, value in sorted(pii_set.items()):
            # Undocumented keys pass the schema with any value (``null`` too): check the type.
            if not (isinstance(value, str) and SHA256_HEX.match(value)):
                return (
                    "INVALID_HASHED_PII",
                    f"userIdentity.hashedPiis[{set_index}].{key} is not a lowercase SHA-256 "
                    "hex digest",
                )
    if member["action"] == "CREATE" and not (
        any(pii_sets) or any(identity.get("externalIdentities", []))
    ):
        return "MISSING_IDENTITY", "a CREATE member needs hashedPiis or externalIdentities"
    country = member.get("userConsent", {}).get("geo", {}).get("countryCode") or dataset_country
    if country in CONSENT_REQUIRED_COUNTRIES and not _has_consent(member):
        return (
            "MISSING_CONSENT",
            "members from the UK or the EEA need a TCF, GPP or Amazon consent signal",
        )
    return None


def _dsp_item_error(index: int, code: str, messages: Sequence[str]) -> dict[str, Any]:
    return {
        "index": index,
        "code": code,
        "message": messages[0],
        "errors": [{"errorType": code, "message": message} for message in messages],
    }


def _multi_status(success: list[dict[str, Any]], error: list[dict[str, Any]]) -> dict[str, Any]:
    """A 207 body; empty lists are left out (the eventData schema requires minItems 1)."""
    body: dict[str, Any] = {}
    if success:
        body["success"] = success
    if error:
        body["error"] = error
    return body
