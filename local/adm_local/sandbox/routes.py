"""Operation → state: what each documented operation does with a checked request.

The HTTP layer has already authenticated the caller, checked the documented headers and
content type, parsed the JSON body and validated it against the operation's schema (for batch
endpoints with 207 answers, only the envelope: their items are validated here, one by one, so
one bad item is reported at its index instead of failing the whole batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .replies import Reply, bad_request
from .state import SandboxState
from .validation import Operation, envelope_and_items, violations

CONVERSION_DEFINITIONS = "POST /accounts/{accountId}/dsp/conversionDefinitions"
EVENT_DATA = "POST /accounts/{accountId}/dsp/conversionDefinitions/eventData"

ITEMIZED_BODIES: dict[str, str | None] = {CONVERSION_DEFINITIONS: None, EVENT_DATA: "eventData"}
"""Batch operations validated item by item: operation key → array property (None: the root)."""

UNIMPLEMENTED_CONTENT_TYPES = frozenset({"application/vnd.dspconversiondefinition.v2+json"})
"""Documented media types the sandbox does not model (it implements the v1 definitions)."""


@dataclass(frozen=True)
class ApiRequest:
    """A request that passed the HTTP layer's checks."""

    operation: Operation
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    """Parsed JSON body, ``None`` when there is none."""
    body_schema: Mapping[str, Any] | None
    """The full documented schema of the body (items included)."""
    client_id: str


def request_schema(operation: Operation, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema the HTTP layer validates a body against (the envelope for batch bodies)."""
    if operation.key in ITEMIZED_BODIES:
        return envelope_and_items(schema, ITEMIZED_BODIES[operation.key])[0]
    return schema


def _item_errors(request: ApiRequest, items: Sequence[Any]) -> dict[int, list[str]]:
    assert request.body_schema is not None
    array_property = ITEMIZED_BODIES[request.operation.key]
    item_schema = envelope_and_items(request.body_schema, array_property)[1]
    found: dict[int, list[str]] = {}
    for position, item in enumerate(items):
        problems = violations(item_schema, item, root=f"{array_property or 'body'}[{position}]")
        if problems:
            found[position] = [str(problem) for problem in problems]
    return found


def _int_query(request: ApiRequest, name: str) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return int(float(text))  # the OpenAPI types ``limit`` as number
    except (ValueError, OverflowError):  # "abc", "nan"; "inf", "1e400"
        raise bad_request(f"query parameter {name} must be a number") from None


def _body(request: ApiRequest) -> Mapping[str, Any]:
    return request.body if isinstance(request.body, Mapping) else {}


def _required_body(request: ApiRequest) -> Any:
    """The body of an operation the OpenAPI marks optional but that means nothing without one."""
    if request.body is None:
        raise bad_request("request body is required")
    return request.body


Route = Callable[[SandboxState, ApiRequest], Reply]

ROUTES: dict[str, Route] = {
    "GET /adm/terms": lambda state, _: state.get_terms(),
    "PATCH /adm/terms": lambda state, request: state.set_terms(request.body),
    "POST /adm/datarooms": lambda state, _: state.create_data_room(),
    "GET /adm/datarooms": lambda state, _: state.get_data_room(),
    "GET /adm/datarooms/metadata": lambda state, _: state.data_room_metadata(),
    "POST /adm/audiences": lambda state, request: state.create_audience(
        request.body, request.client_id
    ),
    "GET /adm/audiences": lambda state, request: state.list_audiences(
        request.query.get("nextToken"), _int_query(request, "limit")
    ),
    "GET /adm/audiences/{dataSetId}": lambda state, request: state.get_audience(
        request.path_params["dataSetId"]
    ),
    "POST /adm/audiences/{dataSetId}/members": lambda state, request: state.ingest_members(
        request.path_params["dataSetId"], request.body["members"]
    ),
    "DELETE /adm/datasets/{dataSetId}": lambda state, request: state.delete_dataset(
        request.path_params["dataSetId"]
    ),
    "POST /adm/datasets/list": lambda state, request: state.list_dataset_details(
        _body(request).get("datasetIds"),
        request.query.get("nextToken"),
        _int_query(request, "maxResults"),
    ),
    "GET /adm/datasets/{dataSetId}/metrics": lambda state, request: state.dataset_metrics(
        request.path_params["dataSetId"]
    ),
    "POST /adm/datasets/{dataSetId}/metrics/aggregates": (
        lambda state, request: state.dataset_aggregates(
            request.path_params["dataSetId"], _body(request)
        )
    ),
    "POST /adm/sharingRules": lambda state, request: state.create_sharing_rule(
        request.body, request.client_id
    ),
    "POST /adm/sharingRules/list": lambda state, request: state.list_sharing_rules(_body(request)),
    "PATCH /adm/sharingRules/{sharingRuleId}/revoke": (
        lambda state, request: state.revoke_sharing_rule(
            request.path_params["sharingRuleId"], request.client_id
        )
    ),
    "POST /adm/identities/delete": lambda state, request: state.delete_identities(
        request.body["targetIdentities"]
    ),
    CONVERSION_DEFINITIONS: lambda state, request: state.create_conversion_definitions(
        _required_body(request), _item_errors(request, _required_body(request))
    ),
    "POST /accounts/{accountId}/dsp/conversionDefinitions/list": (
        lambda state, request: state.list_conversion_definitions(_body(request))
    ),
    EVENT_DATA: lambda state, request: state.import_events(
        request.body["eventData"], _item_errors(request, request.body["eventData"])
    ),
    "GET /managerAccounts": lambda state, _: Reply(200, manager_accounts(state)),
}
"""Every operation of ``api-schema.json`` the sandbox serves."""


def manager_accounts(state: SandboxState) -> dict[str, Any]:
    """The ``GET /managerAccounts`` body: the seeded manager account and its advertiser."""
    account = state.account
    return {
        "managerAccounts": [
            {
                "managerAccountId": account.manager_account_id,
                "managerAccountName": "ADM Sandbox Manager Account",
                "linkedAccounts": [
                    {
                        "accountId": account.advertiser_account_id,
                        "accountName": "ADM Sandbox Advertiser",
                        "accountType": "DSP_ADVERTISING_ACCOUNT",
                        "dspAdvertiserId": account.advertiser_account_id,
                        "marketplaceId": account.marketplace_id,
                        "profileId": account.profile_id,
                    }
                ],
            }
        ]
    }
