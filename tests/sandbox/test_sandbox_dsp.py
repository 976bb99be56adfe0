"""DSP conversions: definitions (207, 1-based index), listing, event import."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.sandbox.sandbox_http import DEFINITION_JSON, EVENTS_JSON, Api


def definition(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "conversionType": "OFF_AMAZON_PURCHASES",
        "countingMethod": "EVERY",
        "source": "SERVER_TO_SERVER",
        "sourceType": "OFFLINE",
        "value": 19.99,
        **overrides,
    }


def event(definition_id: str, age: timedelta = timedelta(hours=1), **overrides: Any) -> dict:
    moment = datetime.now(UTC) - age
    return {
        "name": "store purchase",
        "conversionDefinitionId": definition_id,
        "countryCode": "US",
        "timestamp": moment.isoformat(timespec="seconds"),
        "matchKeys": [{"type": "EMAIL", "values": [hashlib.sha256(b"a@example.com").hexdigest()]}],
        "value": 12.34,
        "currencyCode": "USD",
        **overrides,
    }


def create_definition(api: Api, name: str = "Offline purchases") -> str:
    response = api.dsp("", [definition(name)], DEFINITION_JSON)
    assert response.status_code == 207, response.text
    return response.json()["success"][0]["conversionDefinitionId"]


def import_events(api: Api, events: list[dict[str, Any]]) -> Any:
    return api.dsp("/eventData", {"source": "SERVER_TO_SERVER", "eventData": events}, EVENTS_JSON)


def test_definitions_answer_207_with_one_based_indexes(api: Api) -> None:
    batch = [definition("Purchases"), definition("Signups", value=0.1), definition("Purchases")]

    response = api.dsp("", batch, DEFINITION_JSON)

    assert response.status_code == 207
    body = response.json()
    assert [item["index"] for item in body["success"]] == [1, 2]
    assert [(item["index"], item["code"]) for item in body["error"]] == [(3, "DUPLICATE_NAME")]
    assert len(api.sandbox.state()["conversionDefinitions"]) == 2


def test_a_schema_invalid_definition_fails_alone_at_its_index(api: Api) -> None:
    batch = [definition("Good"), definition("Bad", countingMethod="SOMETIMES", value=1.001)]

    body = api.dsp("", batch, DEFINITION_JSON).json()

    assert [item["index"] for item in body["success"]] == [1]
    [error] = body["error"]
    assert (error["index"], error["code"]) == (2, "VALIDATION_ERROR")
    assert {e["message"] for e in error["errors"]} == {
        "body[1].countingMethod: must be one of EVERY, FIRST",
        "body[1].value: violates multipleOf 0.01",
    }


def test_more_than_ten_definitions_is_400_in_the_dsp_error_shape(api: Api) -> None:
    response = api.dsp("", [definition(f"D{n}") for n in range(11)], DEFINITION_JSON)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "requestId", "errors"}
    assert body["errors"][0]["message"] == "violates maxItems 10"


def test_definitions_v2_media_type_is_not_modelled_by_the_sandbox(api: Api) -> None:
    response = api.dsp("", [definition("D")], "application/vnd.dspconversiondefinition.v2+json")

    assert response.status_code == 415
    assert "v1+json" in response.json()["message"]


def test_definitions_list_pages_with_max_results_and_filters(api: Api) -> None:
    ids = [create_definition(api, f"Definition {n}") for n in range(3)]

    first = api.dsp("/list", {"maxResults": 2}, DEFINITION_JSON).json()
    second = api.dsp(
        "/list", {"maxResults": 2, "nextToken": first["nextToken"]}, DEFINITION_JSON
    ).json()
    filtered = api.dsp(
        "/list",
        {"filters": [{"field": "CONVERSION_DEFINITION_ID", "values": [ids[1]]}]},
        DEFINITION_JSON,
    ).json()

    listed = [d["conversionDefinitionId"] for d in first["conversionDefinitions"]]
    listed += [d["conversionDefinitionId"] for d in second["conversionDefinitions"]]
    assert listed == ids
    assert "nextToken" not in second
    assert [d["name"] for d in filtered["conversionDefinitions"]] == ["Definition 1"]


def test_events_are_stored_per_definition(api: Api) -> None:
    definition_id = create_definition(api)

    response = import_events(api, [event(definition_id), event(definition_id)])

    assert response.status_code == 207
    assert [item["index"] for item in response.json()["success"]] == [1, 2]
    assert "error" not in response.json()
    assert api.sandbox.state()["conversionDefinitions"][definition_id]["eventCount"] == 2


def test_events_dedupe_on_client_dedupe_id_first_wins(api: Api) -> None:
    definition_id = create_definition(api)
    import_events(api, [event(definition_id, clientDedupeId="order-1", value=1.0)])

    response = import_events(
        api,
        [
            event(definition_id, clientDedupeId="order-1", value=2.0),
            event(definition_id, clientDedupeId="order-2", value=3.0),
            event(definition_id, clientDedupeId="order-2", value=4.0),
        ],
    )

    assert len(response.json()["success"]) == 3
    stored = api.sandbox.state()["conversionDefinitions"][definition_id]
    assert [e["value"] for e in stored["events"]] == [1.0, 3.0]
    assert stored["duplicatesIgnored"] == 2


def test_events_too_old_in_the_future_or_unhashed_are_rejected_one_by_one(api: Api) -> None:
    definition_id = create_definition(api)
    batch = [
        event(definition_id),
        event(definition_id, age=timedelta(days=7, minutes=1)),
        event(definition_id, age=-timedelta(hours=1)),
        event(definition_id, matchKeys=[{"type": "EMAIL", "values": ["jane@example.com"]}]),
        event(definition_id, matchKeys=[{"type": "MAID", "values": ["a-device-id"]}]),
        event("cd-unknown"),
        event(definition_id, timestamp="2026-01-01T10:00:00"),
    ]

    body = import_events(api, batch).json()

    assert [item["index"] for item in body["success"]] == [1, 5]
    assert {item["index"]: item["code"] for item in body["error"]} == {
        2: "TIMESTAMP_TOO_OLD",
        3: "TIMESTAMP_IN_FUTURE",
        4: "INVALID_MATCH_KEY",
        6: "CONVERSION_DEFINITION_NOT_FOUND",
        7: "VALIDATION_ERROR",  # no UTC offset: not an RFC 3339 date-time
    }
    assert body["error"][-1]["message"] == "eventData[6].timestamp: violates format 'date-time'"
    assert "jane@example.com" not in str(body)


def test_limited_data_use_events_are_accepted_but_not_processed(api: Api) -> None:
    definition_id = create_definition(api)

    body = import_events(
        api, [event(definition_id, dataProcessingOptions="LIMITED_DATA_USE")]
    ).json()

    assert [item["index"] for item in body["success"]] == [1]
    stored = api.sandbox.state()["conversionDefinitions"][definition_id]
    assert (stored["eventCount"], stored["limitedDataUseIgnored"]) == (0, 1)


@pytest.mark.parametrize("count", [0, 101])
def test_event_batches_outside_1_to_100_are_400(api: Api, count: int) -> None:
    definition_id = create_definition(api)

    response = import_events(api, [event(definition_id) for _ in range(count)])

    assert response.status_code == 400
    assert response.json()["errors"][0]["fieldName"] == "body.eventData"


def test_events_need_their_vendor_content_type(api: Api) -> None:
    response = api.dsp("/eventData", {"source": "SERVER_TO_SERVER", "eventData": []}, "text/csv")

    assert response.status_code == 415
    assert set(response.json()) == {"message", "requestId", "errors"}


def test_cents_values_pass_decimal_multiple_of(api: Api) -> None:
    definition_id = create_definition(api)

    body = import_events(
        api, [event(definition_id, value=value) for value in (19.99, 0.07, 1234567.89)]
    ).json()

    assert "error" not in body
