"""Promotion validates every row against the dataset's XDM schema: metrics, ``INGEST-…``
errors and ``row_errors`` files (Data Access), and ``partialIngestionPercent`` decides the fate."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import EXPORT, Aep, jsonl

GOOD = {
    "person": {"name": {"firstName": "Ana", "lastName": "Diaz"}},
    "personalEmail": {"address": "ana@example.com"},
    "homeAddress": {"postalCode": "28001", "countryCode": "ES"},
    "identityMap": {"Email": [{"id": "ana@example.com", "primary": True}]},
    "_admingest": {"loyalty": {"points": 120, "tier": "gold"}},
}
NO_IDENTITY = {"personalEmail": {"address": "bob@example.com"}}  # identityMap is required
LONG_POSTCODE = GOOD | {"homeAddress": {"postalCode": "12345678901"}}  # maxLength 10
CORRUPT = "{not json"


def _upload(aep: Aep, schema_id: str, **batch_fields: Any) -> str:
    dataset = aep.create_dataset("Loyalty", schema_id)
    batch_id = aep.create_batch(dataset, **batch_fields)
    good_rows = jsonl(*[GOOD] * 3)  # two files of them: within the sandbox's 1 KiB PUT limit
    bad_rows = jsonl(NO_IDENTITY) + (CORRUPT + "\n").encode() + jsonl(LONG_POSTCODE)
    for name, data in (("part-0.json", good_rows), ("part-1.json", jsonl(GOOD) + bad_rows)):
        assert aep.put(batch_id, dataset, name, data).status_code == 200
    assert aep.put(batch_id, dataset, "part-2.json", good_rows).status_code == 200
    assert aep.action(batch_id, "COMPLETE").status_code == 200
    return batch_id


def _meta(aep: Aep, batch_id: str, path: str) -> Any:
    reply = aep.call("GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": path})
    assert reply.status_code == 200, reply.text
    return reply


def test_within_the_partial_threshold_the_batch_succeeds_with_row_errors(
    aep: Aep, sandbox: AepSandboxServer
) -> None:
    batch_id = _upload(
        aep, sandbox.schemas[0].id, enableErrorDiagnostics=True, partialIngestionPercent=30
    )

    batch = aep.batch(batch_id)
    assert batch["status"] == "success"
    assert batch["metrics"]["inputRecordCount"] == 10
    assert batch["metrics"]["outputRecordCount"] == 7
    assert batch["metrics"]["failedRecordCount"] == 3
    codes = {error["code"]: error.get("recordCount") for error in batch["errors"]}
    assert codes == {
        "INGEST-1212-400": None,
        "INGEST-1401-400": 1,
        "INGEST-1555-400": 1,
        "INGEST-1556-400": 1,
    }

    listing = _meta(aep, batch_id, "row_errors").json()
    names = [entry["name"] for entry in listing["data"]]
    assert names == ["conversion_errors_0.json", "parsing_errors_0.json"]
    assert listing["_page"]["count"] == 2
    href = listing["data"][0]["_links"]["self"]["href"]
    assert href.endswith("path=" + quote("row_errors/conversion_errors_0.json", safe=""))

    parsing = [
        json.loads(line)
        for line in _meta(aep, batch_id, "row_errors/parsing_errors_0.json").text.splitlines()
    ]
    conversion = [
        json.loads(line)
        for line in _meta(aep, batch_id, "row_errors/conversion_errors_0.json").text.splitlines()
    ]
    assert parsing == [
        {
            "_corrupt_record": CORRUPT,
            "_errors": [{"code": "1401", "message": parsing[0]["_errors"][0]["message"]}],
            "_filename": "parsing_errors_0.json",
            "_input_file": "part-1.json",
            "_input_line": 3,
        }
    ]
    assert [(row["_input_file"], row["_input_line"]) for row in conversion] == [
        ("part-1.json", 2),
        ("part-1.json", 4),
    ]
    assert conversion[0]["_errors"] == [
        {"code": "1555", "message": "identityMap: required", "path": "identityMap"}
    ]
    assert conversion[1]["_errors"] == [
        {
            "code": "1556",
            "message": "homeAddress.postalCode: maxLength",
            "path": "homeAddress.postalCode",
        }
    ]
    assert "ana@example.com" not in json.dumps(conversion)  # values are never quoted


def test_above_the_threshold_the_batch_fails_without_metrics(
    aep: Aep, sandbox: AepSandboxServer
) -> None:
    batch_id = _upload(
        aep, sandbox.schemas[0].id, enableErrorDiagnostics=True, partialIngestionPercent=5
    )

    batch = aep.batch(batch_id)
    assert batch["status"] == "failed"
    assert "metrics" not in batch
    assert batch["errors"][0]["code"] == "INGEST-1212-400"
    assert "threshold" in batch["errors"][0]["description"]
    assert len(_meta(aep, batch_id, "row_errors").json()["data"]) == 2


def test_without_partial_ingestion_or_diagnostics_one_bad_row_fails_the_batch(
    aep: Aep, sandbox: AepSandboxServer
) -> None:
    batch_id = _upload(aep, sandbox.schemas[0].id)

    batch = aep.batch(batch_id)
    assert batch["status"] == "failed"
    assert [error["code"] for error in batch["errors"]] == ["INGEST-1211-400"]
    assert _meta(aep, batch_id, "row_errors").json()["data"] == []


def test_experience_events_need_id_and_an_rfc3339_timestamp(
    aep: Aep, sandbox: AepSandboxServer
) -> None:
    dataset = aep.create_dataset("Orders", sandbox.schemas[1].id)
    batch_id = aep.create_batch(dataset, enableErrorDiagnostics=True, partialIngestionPercent=80)
    rows = [
        {"_id": "e1", "timestamp": "2026-11-30T10:00:00Z", "_admingest": {"order": {"total": 9.5}}},
        {"_id": "e2", "timestamp": 1764496800000},  # epoch milliseconds convert
        {"_id": "e3"},
        {"_id": "e4", "timestamp": "2026-13-40T10:00:00Z"},
        {"_id": "", "timestamp": "2026-11-30T10:00:00+01:00"},
    ]
    aep.put(batch_id, dataset, "part-0.json", jsonl(*rows))
    aep.action(batch_id, "COMPLETE")

    conversion = _meta(aep, batch_id, "row_errors/conversion_errors_0.json").text.splitlines()
    found = [
        (json.loads(line)["_input_line"], [e["message"] for e in json.loads(line)["_errors"]])
        for line in conversion
    ]
    assert found == [
        (3, ["timestamp: required"]),
        (4, ["timestamp: format date-time"]),
        (5, ["_id: null or empty value"]),
    ]
    assert aep.batch(batch_id)["metrics"]["outputRecordCount"] == 2


def test_meta_of_an_unknown_path_or_batch_is_404(aep: Aep, sandbox: AepSandboxServer) -> None:
    batch_id = _upload(aep, sandbox.schemas[0].id, partialIngestionPercent=50)

    unknown_path = aep.call(
        "GET", f"{EXPORT}/batches/{batch_id}/meta", params={"path": "row_errors/x.json"}
    )
    unknown_batch = aep.call("GET", f"{EXPORT}/batches/nope/meta", params={"path": "row_errors"})
    inputs = _meta(aep, batch_id, "input_files").json()["data"]

    assert (unknown_path.status_code, unknown_batch.status_code) == (404, 404)
    assert [entry["name"] for entry in inputs] == ["part-0.json", "part-1.json", "part-2.json"]


def test_a_multi_line_json_file_is_one_array_of_rows(aep: Aep, sandbox: AepSandboxServer) -> None:
    dataset = aep.create_dataset("Loyalty", sandbox.schemas[0].id)
    batch_id = aep.create_batch(
        dataset,
        inputFormat={"format": "json", "isMultiLineJson": True},
        enableErrorDiagnostics=True,
        partialIngestionPercent=50,
    )
    document = json.dumps([GOOD, NO_IDENTITY], indent=2).encode()
    assert aep.put(batch_id, dataset, "part-0.json", document).status_code == 200
    aep.action(batch_id, "COMPLETE")

    batch = aep.batch(batch_id)
    conversion = _meta(aep, batch_id, "row_errors/conversion_errors_0.json").json()

    assert batch["metrics"]["inputRecordCount"] == 2
    assert batch["metrics"]["failedRecordCount"] == 1
    assert conversion["_input_line"] == 2  # the array's second element
