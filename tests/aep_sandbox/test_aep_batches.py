"""The batch lifecycle: loading → COMPLETE → processing → success, files PUT (and replaced),
the single-PUT limit and the large-file path, COMPLETE's idempotence and ABORT's rules."""

from __future__ import annotations

import time

import pytest

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import CATALOG, IMPORT, Aep, authenticated_session, jsonl
from tests.aep_sandbox.conftest import PUT_LIMIT


def _profile(n: int) -> dict[str, object]:
    return {
        "personalEmail": {"address": f"user{n}@example.com"},
        "identityMap": {"Email": [{"id": f"user{n}@example.com", "primary": True}]},
    }


@pytest.fixture
def dataset(aep: Aep, profile_schema_id: str) -> str:
    return aep.create_dataset("Loyalty", profile_schema_id)


def test_create_answers_a_loading_batch(aep: Aep, dataset: str) -> None:
    reply = aep.call(
        "POST",
        f"{IMPORT}/batches",
        json={
            "datasetId": dataset,
            "inputFormat": {"format": "json"},
            "enableErrorDiagnostics": True,
            "partialIngestionPercent": 5,
            "externalId": "file-abc",
        },
    )

    assert reply.status_code == 201
    batch = reply.json()
    assert batch["status"] == "loading"
    assert batch["externalId"] == "file-abc"
    assert batch["relatedObjects"] == [{"type": "dataSet", "id": dataset}]
    assert batch["tags"]["acp_partialIngestionPercent"] == 5


def test_create_refuses_an_unknown_dataset_or_format(aep: Aep, dataset: str) -> None:
    for body in (
        {"datasetId": "nope", "inputFormat": {"format": "json"}},
        {"datasetId": dataset},
        {"datasetId": dataset, "inputFormat": {"format": "avro"}},
        {"datasetId": dataset, "inputFormat": {"format": "json"}, "partialIngestionPercent": 101},
    ):
        assert aep.call("POST", f"{IMPORT}/batches", json=body).status_code in (400, 404)


def test_lifecycle_put_replace_complete_twice_success_with_metrics(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)
    assert (
        aep.put(batch_id, dataset, "part-0.json", jsonl(_profile(1), _profile(2))).status_code
        == 200
    )
    assert aep.put(batch_id, dataset, "part-1.json", jsonl(_profile(3))).status_code == 200
    # A redelivered chunk re-PUTs the same name: it replaces the file, it does not add to it.
    assert aep.put(batch_id, dataset, "part-1.json", jsonl(_profile(3), _profile(4))).ok

    first = aep.action(batch_id, "COMPLETE")
    again = aep.action(batch_id, "COMPLETE")

    assert (first.status_code, again.status_code) == (200, 200)
    batch = aep.batch(batch_id)
    assert batch["status"] == "success"
    assert batch["metrics"] | {"inputByteSize": 0} == {
        "inputByteSize": 0,
        "inputFileCount": 2,
        "inputRecordCount": 4,
        "outputRecordCount": 4,
        "failedRecordCount": 0,
    }
    assert "errors" not in batch
    assert aep.action(batch_id, "COMPLETE").status_code == 200  # still safe once final


def test_a_completed_batch_is_processing_until_the_delay_has_passed() -> None:
    with (
        AepSandboxServer(processing_delay=0.4, log_stream=None) as sandbox,
        authenticated_session(sandbox) as session,
    ):
        aep = Aep(sandbox, session)
        dataset = aep.create_dataset("Loyalty", sandbox.schemas[0].id)
        batch_id = aep.create_batch(dataset)
        aep.put(batch_id, dataset, "part-0.json", jsonl(_profile(1)))
        aep.action(batch_id, "COMPLETE")

        seen = [aep.batch(batch_id)["status"]]
        assert aep.action(batch_id, "COMPLETE").status_code == 200
        time.sleep(0.5)
        seen.append(aep.batch(batch_id)["status"])

    assert seen == ["processing", "success"]


def test_batches_are_listed_by_external_id_keyed_by_id(aep: Aep, dataset: str) -> None:
    mine = aep.create_batch(dataset, externalId="s3://bucket/aep/Loyalty/a.csv#v1")
    aep.create_batch(dataset, externalId="other")

    reply = aep.call(
        "GET", f"{CATALOG}/batches", params={"externalId": "s3://bucket/aep/Loyalty/a.csv#v1"}
    )

    assert list(reply.json()) == [mine]
    assert reply.json()[mine]["status"] == "loading"
    assert len(aep.call("GET", f"{CATALOG}/batches", params={"dataSet": dataset}).json()) == 2
    assert aep.call("GET", f"{CATALOG}/batches/nope").status_code == 404


def test_a_put_over_the_limit_is_refused_and_files_need_octet_stream(
    aep: Aep, dataset: str
) -> None:
    batch_id = aep.create_batch(dataset)

    too_big = aep.put(batch_id, dataset, "part-0.json", b"x" * (PUT_LIMIT + 1))
    as_json = aep.call("PUT", aep.file_path(batch_id, dataset, "part-0.json"), json=_profile(1))

    assert too_big.status_code == 413
    assert "INITIALIZE" in too_big.json()["detail"]
    assert as_json.status_code == 415
    assert aep.put(batch_id, dataset, "part-0.json", b"x" * PUT_LIMIT).status_code == 200


def test_the_large_file_path_initialize_patch_ranges_complete(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)
    path = aep.file_path(batch_id, dataset, "big.json")
    data = jsonl(*(_profile(n) for n in range(30)))
    assert len(data) > PUT_LIMIT
    octets = {"Content-Type": "application/octet-stream"}

    assert aep.call("POST", path, params={"action": "INITIALIZE"}).status_code == 201
    for start in range(0, len(data), 1000):
        part = data[start : start + 1000]
        reply = aep.call(
            "PATCH",
            path,
            data=part,
            headers=octets
            | {"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"},
        )
        assert reply.status_code == 200
    received = aep.call("HEAD", path)
    assert received.headers["Range"] == f"bytes=0-{len(data) - 1}"
    assert aep.call("POST", path, params={"action": "COMPLETE"}).status_code == 200
    assert aep.action(batch_id, "COMPLETE").status_code == 200

    assert aep.batch(batch_id)["metrics"]["inputRecordCount"] == 30


def test_a_large_file_with_a_gap_or_left_open_is_refused(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)
    path = aep.file_path(batch_id, dataset, "big.json")
    aep.call("POST", path, params={"action": "INITIALIZE"})
    aep.call(
        "PATCH",
        path,
        data=b"abc",
        headers={"Content-Type": "application/octet-stream", "Content-Range": "bytes 5-7"},
    )

    assert aep.action(batch_id, "COMPLETE").status_code == 400  # the upload is still open
    assert aep.call("POST", path, params={"action": "COMPLETE"}).status_code == 400  # gap 0-4


def test_complete_needs_files_and_files_cannot_change_after_it(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)
    assert aep.action(batch_id, "COMPLETE").status_code == 400  # no file yet
    aep.put(batch_id, dataset, "part-0.json", jsonl(_profile(1)))
    aep.action(batch_id, "COMPLETE")

    assert aep.put(batch_id, dataset, "part-1.json", jsonl(_profile(2))).status_code == 400
    assert aep.put(aep.create_batch(dataset), "other", "p.json", b"{}").status_code == 400


def test_abort_only_before_the_batch_is_final(aep: Aep, dataset: str) -> None:
    open_batch = aep.create_batch(dataset)
    aep.put(open_batch, dataset, "part-0.json", jsonl(_profile(1)))
    done = aep.create_batch(dataset)
    aep.put(done, dataset, "part-0.json", jsonl(_profile(1)))
    aep.action(done, "COMPLETE")

    assert aep.action(open_batch, "ABORT").status_code == 200
    assert aep.action(open_batch, "ABORT").status_code == 200  # already aborted: same answer
    assert aep.batch(open_batch)["status"] == "aborted"
    assert aep.action(open_batch, "COMPLETE").status_code == 400
    assert aep.action(done, "ABORT").status_code == 400
    assert aep.batch(done)["status"] == "success"


def test_a_batch_of_blank_files_fails_with_106(aep: Aep, dataset: str) -> None:
    batch_id = aep.create_batch(dataset)
    aep.put(batch_id, dataset, "part-0.json", b"\n\n")
    aep.action(batch_id, "COMPLETE")

    batch = aep.batch(batch_id)

    assert batch["status"] == "failed"
    assert [error["code"] for error in batch["errors"]] == ["106"]


def test_a_batch_left_loading_is_abandoned_and_can_no_longer_complete() -> None:
    with (
        AepSandboxServer(abandon_after=0.2, log_stream=None) as sandbox,
        authenticated_session(sandbox) as session,
    ):
        aep = Aep(sandbox, session)
        dataset = aep.create_dataset("Loyalty", sandbox.schemas[0].id)
        batch_id = aep.create_batch(dataset)
        aep.put(batch_id, dataset, "part-0.json", jsonl(_profile(1)))
        time.sleep(0.25)

        status = aep.batch(batch_id)["status"]
        complete = aep.action(batch_id, "COMPLETE")

    assert status == "abandoned"
    assert complete.status_code == 400
