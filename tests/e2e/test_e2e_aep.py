"""End to end on AEP: a file dropped under ``aep/<dataset>/`` goes through the real handlers on
the local stack (moto + the AEP sandbox over HTTP) — split, one batch opened per file, chunks
validated and uploaded as part files, COMPLETE (or ABORT), the poller until the batch is final —
and its report and rejects say what happened to every row.

The datasets are created in the sandbox with the AEP client and registered as the setup step
registers them (``aep_dataset`` entry: the id, the class, the validator compiled from the
schema the Schema Registry serves; the ``mapping`` entry ``aep/<dataset>``), each test with a
dataset of its own so its batches are easy to tell apart.

Rows AEP refuses after upload are made by a validator compiled from a *looser* copy of the
schema (``postalCode`` without its ``maxLength``): what a schema changed in AEP after setup
looks like. Our validator lets a long postal code through, the sandbox refuses the row on
COMPLETE, and the refusal comes back through the row_errors diagnostics to the source line.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from adm_ingest import registry as names
from adm_ingest.aep import AepClient
from adm_ingest.aep.xdm_validation import compile_schema
from adm_ingest.destinations.base import DeliveryFailed, FailureClass
from adm_local.aep_sandbox.ims import AepAccount
from adm_local.functions import load_function
from adm_local.poller import poller_router
from adm_local.stack import LocalStack
from adm_local.stepfunctions import history

pytestmark = pytest.mark.e2e

TENANT = AepAccount().tenant_id
IMPORT = "/data/foundation/import/batches"
HEADER = "customer_id,email,first_name,last_name,zip,country,points,tier"
PROFILE_XDM: dict[str, Any] = {
    "class": "profile",
    "tenant": TENANT,
    "columns": {"points": "_{tenant}.loyalty.points", "tier": "_{tenant}.loyalty.tier"},
    "identities": [{"column": "email", "namespace": "Email", "primary": True}],
    "ignore": ["customer_id"],
}
EVENT_XDM: dict[str, Any] = {
    "class": "experience_event",
    "tenant": TENANT,
    "columns": {"order_id": "_{tenant}.order.orderId", "total": "_{tenant}.order.total"},
    "identities": [{"column": "email", "namespace": "Email", "primary": True}],
    "id_column": "event_id",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        max_receive_count=2,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={"TIME_MARGIN_MS": "5000"},
        aep_sandbox_kwargs={"processing_delay": 0.2},
    ) as local:
        yield local


# -- datasets, as the setup step registers them -------------------------------------------------


def _loose(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as it was at setup, before AEP's copy gained ``postalCode``'s maxLength."""
    loose = copy.deepcopy(dict(schema))
    del loose["properties"]["homeAddress"]["properties"]["postalCode"]["maxLength"]
    return loose


def register_dataset(
    stack: LocalStack,
    name: str,
    *,
    event: bool = False,
    percent: str = "0",
    loose: bool = False,
    on_chunk_failure: str | None = None,
) -> str:
    """Create dataset ``name`` in the sandbox and register it (and its mapping); its id."""
    profile_schema, event_schema = stack.aep_sandbox.schemas
    seeded = event_schema if event else profile_schema
    with AepClient.from_secret(os.environ["AEP_SECRET_ID"]) as client:
        schema = client.get_schema(seeded.id)
        dataset_id = client.create_dataset(name, seeded.id)
    validator = compile_schema(_loose(schema) if loose else schema)
    stack.registry.put(
        names.AEP_DATASET,
        name,
        dataset_id,
        dataset_class="experience_event" if event else "profile",
        validator=validator.to_json(),
        schema_id=str(schema["$id"]),
        partial_ingestion_percent=percent,
        profile_enabled="false",
    )
    mapping: dict[str, Any] = {"xdm": EVENT_XDM if event else PROFILE_XDM}
    if on_chunk_failure is not None:
        mapping["on_chunk_failure"] = on_chunk_failure
    stack.registry.put(
        names.MAPPING, f"aep/{name}", f"m-{name}", config=json.dumps(mapping, sort_keys=True)
    )
    return dataset_id


@contextmanager
def settings(stack: LocalStack, **env: str) -> Iterator[None]:
    """Run the functions with ``env`` on top of the stack's environment: each function loads
    its settings once per container, so fresh containers are loaded (and the poller routed to
    a fresh one), as a redeploy with new settings would; the old ones come back after."""
    saved_env = {name: os.environ.get(name) for name in env}
    saved_functions = dict(stack.functions)
    os.environ.update(env)
    try:
        for name in ("splitter", "deadletter", "sweeper"):
            stack.functions[name] = load_function(name)
        stack.functions["worker"] = stack.worker_container()
        with poller_router().installed():
            yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stack.functions.clear()
        stack.functions.update(saved_functions)


# -- what the sandbox holds ----------------------------------------------------------------------


def batches_of(stack: LocalStack, dataset_id: str) -> list[dict[str, Any]]:
    """The dataset's batches as Catalog lists them."""
    listed = stack.aep_sandbox.state()["batches"]
    return [b for b in listed.values() if b["relatedObjects"][0]["id"] == dataset_id]


def files_of(stack: LocalStack, batch_id: str) -> dict[str, bytes]:
    """The part files the sandbox holds for a batch (its own state: Data Access does not
    serve a batch's input files back)."""
    return dict(stack.aep_sandbox._state._batches[batch_id].files)


def uploaded_rows(stack: LocalStack, batch_id: str) -> list[dict[str, Any]]:
    files = files_of(stack, batch_id)
    return [json.loads(line) for name in sorted(files) for line in files[name].splitlines() if line]


def requests_to(stack: LocalStack, method: str, fragment: str) -> list[Any]:
    return [
        r
        for r in stack.aep_sandbox.requests
        if r.method == method and fragment in r.path + "?" + (r.query or "")
    ]


def row(i: int, *, zip_code: str | None = None, tier: str = "gold", points: str = "") -> str:
    return ",".join(
        [
            f"c-{i}",
            f"person.{i}@example.com",
            "Alex",
            f"Tester{i}",
            zip_code if zip_code is not None else f"{98000 + i % 1000:05d}",
            "US",
            points or str(i * 10),
            tier,
        ]
    )


def csv_file(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def pump(stack: LocalStack, key: str, data: bytes, timeout: float = 60) -> dict[str, Any]:
    stack.drop(key, data)
    stack.pump(timeout=timeout)
    report = stack.report(key)
    assert report is not None
    assert stack.aep_sandbox.internal_errors == []
    return report


# -- good and bad rows --------------------------------------------------------------------------


def test_good_and_bad_rows_pre_upload_rejects_and_aep_row_errors_reach_the_rejects_file(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_mixed", percent="50", loose=True)
    rows = [
        row(1),  # line 2
        row(2, tier="platinum"),  # line 3: not in the enum — rejected before upload
        row(3),  # line 4
        row(4, zip_code="98101-12345"),  # line 5: passes our (loose) validator, AEP refuses
        row(5, points="lots"),  # line 6: not an integer — rejected before upload
        row(6),  # line 7
    ]
    key = "aep/e2e_mixed/crm.csv"
    report = pump(stack, key, csv_file(rows))

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "success"
    uploaded = uploaded_rows(stack, batch["id"])
    assert [r["personalEmail"]["address"] for r in uploaded] == [
        f"person.{i}@example.com" for i in (1, 3, 4, 6)
    ]  # rejected rows never travel
    assert uploaded[0]["identityMap"] == {
        "Email": [{"id": "person.1@example.com", "primary": True}]
    }
    assert uploaded[0][f"_{TENANT}"]["loyalty"] == {"points": 10, "tier": "gold"}

    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        6,
        3,
        2,
        1,
    )
    assert report["balanced"] is True
    assert report["status"] == "complete_with_failures"
    # Counted by code; the rejects file says where (the path and rule, never the value).
    assert report["rejected_by_reason"] == {"invalid_value": 1, "invalid_xdm": 1}
    remote = report["remote"]
    assert remote["status"] == "success" and remote["succeeded"] is True
    facts = remote["facts"]
    assert facts["batches"] == batch["id"]
    assert facts["batch_statuses"] == "success"
    assert facts["commit"] == "completed"
    assert (facts["input_records"], facts["output_records"], facts["failed_records"]) == (4, 3, 1)
    assert "INGEST-1212-400" in facts["errors"]
    assert report["failed_by_reason"] == remote["failed_by_reason"] == {"aep_1556": 1}
    assert sorted(stack.rejects(key)) == [
        (3, "rejected", f"invalid_xdm: _{TENANT}.loyalty.tier enum"),
        (5, "failed", "aep_1556"),
        (6, "rejected", f"invalid_value: _{TENANT}.loyalty.points: not a number"),
    ]


# -- input shapes --------------------------------------------------------------------------------


def test_a_gzip_csv_is_one_batch_and_a_schema_rule_rejects_with_its_path(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_gzip")
    rows = [row(1), row(2, zip_code="98101-123456"), row(3)]
    key = "aep/e2e_gzip/export.csv.gz"
    report = pump(stack, key, gzip.compress(csv_file(rows)))

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "success"
    assert [r["person"]["name"]["lastName"] for r in uploaded_rows(stack, batch["id"])] == [
        "Tester1",
        "Tester3",
    ]
    assert (report["records_read"], report["accepted"], report["rejected"]) == (3, 2, 1)
    assert report["status"] == "complete" and report["balanced"]
    assert stack.rejects(key) == [(3, "rejected", "invalid_xdm: homeAddress.postalCode maxLength")]
    assert report["remote"]["facts"]["output_records"] == 2


def test_a_json_array_of_events_becomes_experience_events(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_events", event=True)
    events = [
        {
            "event_id": "ev-1",
            "email": "ann.lee@example.com",
            "timestamp": "2026-11-30T09:15:00Z",
            "order_id": "o-1",
            "total": "12.50",
        },
        {  # no timestamp: an ExperienceEvent requires one
            "event_id": "ev-2",
            "email": "bo.chan@example.com",
            "order_id": "o-2",
            "total": "3",
        },
        {
            "event_id": "ev-3",
            "email": "cy.diaz@example.com",
            "timestamp": "2026-11-29T10:00:00+01:00",
            "order_id": "o-3",
            "total": "7.25",
        },
    ]
    key = "aep/e2e_events/orders.json"
    report = pump(stack, key, json.dumps(events, indent=2).encode())

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "success"
    uploaded = uploaded_rows(stack, batch["id"])
    assert [(r["_id"], r["timestamp"]) for r in uploaded] == [
        ("ev-1", "2026-11-30T09:15:00Z"),
        ("ev-3", "2026-11-29T09:00:00Z"),
    ]
    assert uploaded[0][f"_{TENANT}"]["order"] == {"orderId": "o-1", "total": 12.5}
    assert (report["records_read"], report["accepted"], report["rejected"]) == (3, 2, 1)
    assert report["rejected_by_reason"] == {"missing_timestamp": 1}
    ((line, outcome, _),) = stack.rejects(key)
    assert (line, outcome) == (2, "rejected")  # a JSON array's records: its elements, from 1
    assert report["remote"]["status"] == "success"


# -- sizes: part files, the large-file upload, several batches -----------------------------------


def test_a_file_spanning_several_part_files_is_one_batch_and_row_errors_find_their_lines(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_parts", percent="10", loose=True)
    # Rows 7 and 33 (lines 8 and 34, in different parts) are refused by AEP after upload.
    rows = [row(i, zip_code="98101-123456" if i in (7, 33) else None) for i in range(1, 41)]
    key = "aep/e2e_parts/big.csv"
    with settings(stack, AEP_PART_BYTES="600"):
        report = pump(stack, key, csv_file(rows))

    (batch,) = batches_of(stack, dataset_id)
    files = files_of(stack, batch["id"])
    assert report["chunks"] == len(files) >= 4
    assert sorted(files) == [f"part-{n:06d}.json" for n in range(len(files))]
    uploaded = uploaded_rows(stack, batch["id"])
    assert sorted(r["person"]["name"]["lastName"] for r in uploaded) == sorted(
        f"Tester{i}" for i in range(1, 41)
    )
    assert not requests_to(stack, "PATCH", batch["id"])  # small parts: plain PUTs
    assert batch["status"] == "success"
    assert (report["records_read"], report["accepted"], report["failed"]) == (40, 38, 2)
    assert report["status"] == "complete_with_failures" and report["balanced"]
    facts = report["remote"]["facts"]
    assert (facts["input_records"], facts["failed_records"]) == (40, 2)
    # Located by part file and row, mapped back through each part's line index.
    assert stack.rejects(key) == [(8, "failed", "aep_1556"), (34, "failed", "aep_1556")]


def test_a_part_above_the_large_file_threshold_takes_the_large_file_upload(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_large")
    data = csv_file([row(i) for i in range(1, 31)])
    with settings(stack, AEP_PART_BYTES="800", AEP_LARGE_FILE_BYTES="1000"):
        report = pump(stack, "aep/e2e_large/big.csv", data)

    (batch,) = batches_of(stack, dataset_id)
    files = files_of(stack, batch["id"])
    assert len(files) == report["chunks"] >= 2
    large = {name for name, data in files.items() if len(data) > 1000}
    assert large and len(large) >= len(files) - 1  # every part but perhaps the last, smaller one
    initialized = {
        r.path.rsplit("/", 1)[1]
        for r in requests_to(stack, "POST", "action=INITIALIZE")
        if batch["id"] in r.path and r.status == 201
    }
    completed = {
        r.path.rsplit("/", 1)[1]
        for r in requests_to(stack, "POST", "action=COMPLETE")
        if "/files/" in r.path and batch["id"] in r.path and r.status == 200
    }
    patched = {r.path.rsplit("/", 1)[1] for r in requests_to(stack, "PATCH", batch["id"])}
    put = {
        r.path.rsplit("/", 1)[1] for r in requests_to(stack, "PUT", batch["id"]) if r.status == 200
    }
    # A part over 1000 bytes of XDM is never PUT whole: INITIALIZE → PATCH → COMPLETE, and the
    # sandbox assembled what was sent; a part under the threshold is one PUT.
    assert initialized == patched == completed == large
    assert put == set(files) - large
    assert len(uploaded_rows(stack, batch["id"])) == 30
    assert (report["accepted"], report["status"], batch["status"]) == (30, "complete", "success")


def test_a_file_spanning_several_batches_lists_them_all(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_batches")
    data = csv_file([row(i) for i in range(1, 41)])
    with settings(stack, AEP_PART_BYTES="600", AEP_PARTS_PER_BATCH="2"):
        report = pump(stack, "aep/e2e_batches/big.csv", data)

    batches = batches_of(stack, dataset_id)
    assert len(batches) >= 2
    assert {b["status"] for b in batches} == {"success"}
    facts = report["remote"]["facts"]
    assert sorted(facts["batches"].split(",")) == sorted(b["id"] for b in batches)
    assert facts["batch_statuses"] == ",".join(["success"] * len(batches))
    assert max(len(files_of(stack, b["id"])) for b in batches) <= 2
    assert sum(len(uploaded_rows(stack, b["id"])) for b in batches) == 40
    assert (facts["input_records"], facts["output_records"]) == (40, 40)
    assert (report["accepted"], report["status"], report["balanced"]) == (40, "complete", True)
    # One externalId per batch of the file, all derived from the file's identity.
    externals = {b["externalId"] for b in batches}
    assert len(externals) == len(batches)
    assert len({e.rsplit("-", 1)[0] for e in externals}) == 1


def test_a_gzip_file_spanning_several_batches_keeps_the_parts_per_batch(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_gzip_batches")
    data = gzip.compress(csv_file([row(i) for i in range(1, 41)]))
    with settings(stack, AEP_PART_BYTES="600", AEP_PARTS_PER_BATCH="2"):
        report = pump(stack, "aep/e2e_gzip_batches/big.csv.gz", data)

    assert (report["accepted"], report["status"]) == (40, "complete")
    batches = batches_of(stack, dataset_id)
    assert report["chunks"] >= 4
    assert max(len(files_of(stack, b["id"])) for b in batches) <= 2


def test_a_failed_batch_among_several_fails_only_the_rows_it_holds(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_batches_failed", loose=True)
    rows = [row(i, zip_code="98101-123456" if i == 2 else None) for i in range(1, 41)]
    key = "aep/e2e_batches_failed/big.csv"
    with settings(stack, AEP_PART_BYTES="600", AEP_PARTS_PER_BATCH="2"):
        report = pump(stack, key, csv_file(rows))

    batches = batches_of(stack, dataset_id)
    statuses = {b["externalId"].rsplit("-", 1)[1]: b["status"] for b in batches}
    assert statuses["0"] == "failed"  # row 2 is in the first batch's first part
    assert {status for number, status in statuses.items() if number != "0"} == {"success"}
    in_first = len(uploaded_rows(stack, next(b for b in batches if b["status"] == "failed")["id"]))
    assert report["status"] == "remote_failed" and report["remote"]["succeeded"] is False
    assert report["remote"]["facts"]["batch_statuses"].split(",")[0] == "failed"
    assert (report["accepted"], report["failed"], report["balanced"]) == (
        40 - in_first,
        in_first,
        True,
    )
    assert report["failed_by_reason"] == {"aep_INGEST-1212-400": in_first}
    assert [line for line, _, _ in stack.rejects(key)] == list(range(2, 2 + in_first))


# -- redeliveries: one batch per file ------------------------------------------------------------


def test_a_duplicate_s3_event_finds_the_file_s_batch_and_makes_no_second_one(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_dup_event")
    key = "aep/e2e_dup_event/crm.csv"
    first = pump(stack, key, csv_file([row(i) for i in range(1, 6)]))
    event = stack.delivered["s3"][-1]

    stack.send_message(stack.names.s3_events_queue, event)  # S3 delivers it again
    stack.pump(timeout=60)

    (batch,) = batches_of(stack, dataset_id)
    assert sorted(files_of(stack, batch["id"])) == ["part-000000.json"]
    assert len(uploaded_rows(stack, batch["id"])) == 5
    assert len(requests_to(stack, "POST", "action=COMPLETE")) >= 1
    assert stack.report(key) == first  # the file was reported once


def test_a_duplicate_s3_event_while_the_file_is_in_flight_opens_no_second_batch(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_dup_event_early")
    key = "aep/e2e_dup_event_early/crm.csv"
    with settings(stack, AEP_PART_BYTES="600"):
        stack.drop(key, csv_file([row(i) for i in range(1, 21)]))
        stack.split()  # the batch is open, the chunks are queued, nothing is uploaded yet
        stack.send_message(stack.names.s3_events_queue, stack.delivered["s3"][-1])
        stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    (batch,) = batches_of(stack, dataset_id)
    files = files_of(stack, batch["id"])
    assert sorted(files) == [f"part-{n:06d}.json" for n in range(report["chunks"])]
    assert len(uploaded_rows(stack, batch["id"])) == 20
    assert (report["records_read"], report["accepted"], report["status"]) == (20, 20, "complete")


def test_a_duplicate_sqs_delivery_of_a_chunk_replaces_its_part_file(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_dup_chunk")
    key = "aep/e2e_dup_chunk/crm.csv"
    with settings(stack, AEP_PART_BYTES="600"):
        stack.drop(key, csv_file([row(i) for i in range(1, 21)]))
        stack.split()
        # Every chunk message twice on the queue (SQS is at-least-once): the copies are
        # delivered too, some while the originals are in flight.
        for message in stack.receive(stack.names.chunk_queue):
            stack.send_message(stack.names.chunk_queue, message["Body"])
        stats = stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    (batch,) = batches_of(stack, dataset_id)
    files = files_of(stack, batch["id"])
    assert stats.chunk_messages > report["chunks"]  # the duplicates really were delivered
    assert sorted(files) == [f"part-{n:06d}.json" for n in range(report["chunks"])]
    assert len(uploaded_rows(stack, batch["id"])) == 20
    assert (report["records_read"], report["accepted"], report["balanced"]) == (20, 20, True)
    assert report["remote"]["facts"]["input_records"] == 20


# -- the batch lifecycle under faults ------------------------------------------------------------


def test_complete_is_retried_through_errors_and_a_lost_answer(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_complete")
    key = "aep/e2e_complete/crm.csv"
    stack.drop(key, csv_file([row(i) for i in range(1, 4)]))
    stack.split()
    (batch,) = batches_of(stack, dataset_id)
    faults = stack.aep_sandbox.faults
    # COMPLETE: first a 503, then accepted with its answer lost (a retry meets a processing batch).
    faults.set(server_errors=1, status=503, path=f"{IMPORT}/{batch['id']}", methods=["POST"])
    faults.set(accept_then_drop=1, path=f"{IMPORT}/{batch['id']}", methods=["POST"])
    try:
        stack.pump(timeout=60)
    finally:
        faults.clear()

    report = stack.report(key)
    assert report is not None
    completes = [r for r in requests_to(stack, "POST", "action=COMPLETE") if batch["id"] in r.path]
    assert [r.status for r in completes][:2] == [503, None]
    assert len(completes) >= 3
    assert report["status"] == "complete" and report["accepted"] == 3
    assert report["remote"]["facts"]["batch_statuses"] == "success"


def test_a_failed_batch_fails_every_uploaded_row_with_the_batch_s_error(
    stack: LocalStack,
) -> None:
    # partialIngestionPercent 0: one row AEP refuses fails the whole batch.
    dataset_id = register_dataset(stack, "e2e_failed", loose=True)
    rows = [row(1), row(2, zip_code="98101-123456"), row(3, tier="platinum"), row(4)]
    key = "aep/e2e_failed/crm.csv"
    report = pump(stack, key, csv_file(rows))

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "failed"
    assert report["status"] == "remote_failed"
    assert (report["records_read"], report["accepted"], report["rejected"], report["failed"]) == (
        4,
        0,
        1,
        3,
    )
    assert report["balanced"] is True
    assert report["failed_by_reason"] == {"aep_INGEST-1212-400": 3}
    remote = report["remote"]
    assert (remote["status"], remote["succeeded"]) == ("failed", False)
    assert remote["facts"]["batches"] == batch["id"]
    assert remote["facts"]["batch_statuses"] == "failed"
    assert "INGEST-1212-400" in remote["facts"]["errors"].split(",")
    assert sorted(stack.rejects(key)) == [
        (2, "failed", "aep_INGEST-1212-400"),
        (3, "failed", "aep_INGEST-1212-400"),
        (4, "rejected", f"invalid_xdm: _{TENANT}.loyalty.tier enum"),
        (5, "failed", "aep_INGEST-1212-400"),
    ]


def test_an_expired_token_mid_file_is_replaced_once_and_the_file_completes(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_token")
    key = "aep/e2e_token/crm.csv"
    sandbox = stack.aep_sandbox
    expired: list[int] = []
    start = len(sandbox.requests)

    def expire_after_the_first_part(_: LocalStack) -> None:
        # The pump calls this between deliveries: once this file's first part is in, every
        # token the functions hold expires (their containers keep theirs across invocations).
        puts = [r for r in sandbox.requests[start:] if r.method == "PUT" and r.status == 200]
        if not expired and puts:
            expired.append(sandbox.tokens.issued)
            sandbox.faults.set(expire_tokens=True)

    batch_size = stack.worker_batch_size
    stack.worker_batch_size = 1  # one chunk per worker invocation: the pump can act between
    try:
        with settings(stack, AEP_PART_BYTES="600"):
            stack.drop(key, csv_file([row(i) for i in range(1, 31)]))
            stack.pump(timeout=60, progress=expire_after_the_first_part)
    finally:
        stack.worker_batch_size = batch_size

    report = stack.report(key)
    assert report is not None and expired
    refused = [r for r in sandbox.requests[start:] if r.status == 401]
    # The next part's upload met the expired token (401013) …
    assert refused and refused[0].method == "PUT" and "/files/part-" in refused[0].path
    assert sandbox.tokens.issued > expired[0]  # … and a new one was minted
    (batch,) = batches_of(stack, dataset_id)
    assert len(uploaded_rows(stack, batch["id"])) == 30
    assert (report["accepted"], report["status"]) == (30, "complete")
    assert report["failed"] == 0


# -- polls that never see a final state ---------------------------------------------------------


@contextmanager
def sandbox_timing(
    stack: LocalStack, *, processing_delay: float | None = None, abandon_after: float | None = None
) -> Iterator[None]:
    """The sandbox's batch timings for one test (its state's own knobs)."""
    state = stack.aep_sandbox._state
    saved = (state.processing_delay, state.abandon_after)
    if processing_delay is not None:
        state.processing_delay = processing_delay
    state.abandon_after = abandon_after
    try:
        yield
    finally:
        state.processing_delay, state.abandon_after = saved


def test_a_batch_still_processing_at_the_poller_s_deadline_is_reported_timed_out(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_slow")
    key = "aep/e2e_slow/crm.csv"
    with sandbox_timing(stack, processing_delay=600), settings(stack, POLL_MAX_SECONDS="2"):
        report = pump(stack, key, csv_file([row(i) for i in range(1, 4)]))
        (batch,) = batches_of(stack, dataset_id)
        assert batch["status"] == "processing"  # AEP may still finish it: nobody waits

    assert report["status"] == "remote_failed"
    assert report["remote"]["status"] == "timed_out"
    assert report["remote"]["session"]["batches"] == batch["id"]
    # None of the rows is known to have been ingested: each is failed, none silently accepted.
    assert (report["accepted"], report["failed"], report["balanced"]) == (0, 3, True)
    assert report["failed_by_reason"] == {"remote_timed_out": 3}
    assert [line for line, _, _ in stack.rejects(key)] == [2, 3, 4]


def test_a_batch_abandoned_while_loading_is_reported_abandoned(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_abandoned")
    key = "aep/e2e_abandoned/crm.csv"
    with sandbox_timing(stack, abandon_after=0.5):
        stack.drop(key, csv_file([row(i) for i in range(1, 4)]))
        stack.split()
        (batch,) = batches_of(stack, dataset_id)
        time.sleep(1)  # the chunk waits in the queue past AEP's loading timeout
        stack.pump(timeout=90)

    report = stack.report(key)
    assert report is not None
    assert batches_of(stack, dataset_id)[0]["status"] == "abandoned"
    assert report["status"] == "remote_failed"
    assert report["remote"]["status"] == "abandoned"
    assert report["remote"]["facts"]["batches"] == batch["id"]
    # The part was refused (the batch no longer takes files): failed once, with that refusal —
    # the abandoned batch's verdict does not fail the same rows again.
    assert (report["accepted"], report["failed"], report["balanced"]) == (0, 3, True)
    assert report["failed_by_reason"] == {"aep_400_BadRequestError": 3}
    assert report["remote"]["failed_by_reason"] == {}


# -- a chunk in the dead-letter queue ------------------------------------------------------------


def _poisoned_part(stack: LocalStack, dataset: str, rows: int) -> tuple[str, dict[str, Any]]:
    """Drop a file of two parts whose second part AEP never takes (429 until the dead-letter
    queue); its key and report."""
    dataset_id = stack.registry.id_of(names.AEP_DATASET, dataset)
    assert dataset_id is not None
    key = f"aep/{dataset}/crm.csv"
    with settings(stack, AEP_PART_BYTES="600"):
        stack.drop(key, csv_file([row(i) for i in range(1, rows + 1)]))
        stack.split()
        (batch,) = batches_of(stack, dataset_id)
        path = f"{IMPORT}/{batch['id']}/datasets/{dataset_id}/files/part-000001.json"
        # Throttled for good (a short Retry-After keeps the worker's retries quick).
        stack.aep_sandbox.faults.set(rate_limit=10_000, retry_after=0.01, path=path)
        try:
            stats = stack.pump(timeout=120)
        finally:
            stack.aep_sandbox.faults.clear()
    assert stats.dead_letters == 1
    report = stack.report(key)
    assert report is not None
    return key, report


def test_a_dead_lettered_chunk_aborts_the_batch_by_default(stack: LocalStack) -> None:
    dataset_id = register_dataset(stack, "e2e_dlq_abort")
    key, report = _poisoned_part(stack, "e2e_dlq_abort", rows=12)

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "aborted"
    assert not requests_to(stack, "POST", f"{batch['id']}?action=COMPLETE")
    assert report["status"] == "remote_failed"
    assert report["remote"]["facts"]["commit"] == "aborted"
    assert report["remote"]["status"] == "aborted"
    assert (report["records_read"], report["accepted"], report["balanced"]) == (12, 0, True)
    failed = report["failed_by_reason"]
    assert set(failed) == {"not_delivered", "aep_aborted"} and sum(failed.values()) == 12
    assert sorted(line for line, _, _ in stack.rejects(key)) == list(range(2, 14))


def test_a_dead_lettered_chunk_with_on_chunk_failure_complete_ingests_the_rest(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_dlq_complete", on_chunk_failure="complete")
    key, report = _poisoned_part(stack, "e2e_dlq_complete", rows=12)

    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "success"
    assert sorted(files_of(stack, batch["id"])) == ["part-000000.json"]
    delivered = len(uploaded_rows(stack, batch["id"]))
    assert 0 < delivered < 12
    assert report["status"] == "complete_with_failures"
    assert report["remote"]["facts"]["commit"] == "completed"
    assert report["remote"]["facts"]["output_records"] == delivered
    assert (report["accepted"], report["failed"], report["balanced"]) == (
        delivered,
        12 - delivered,
        True,
    )
    assert report["failed_by_reason"] == {"not_delivered": 12 - delivered}
    assert {outcome for _, outcome, _ in stack.rejects(key)} == {"failed"}


# -- privacy --------------------------------------------------------------------------------------

PII = [
    "zelda.quartermaine@example.com",
    "Zelda",
    "Quartermaine",
    "gwendolyn.pfefferkorn@example.org",
    "Gwendolyn",
    "Pfefferkorn",
    "98101-999999",
    "ignatius.reilly@example.net",
    "Ignatius",
]
PII_FILE = (
    HEADER + "\n"
    "p-1,zelda.quartermaine@example.com,Zelda,Quartermaine,98101,US,10,gold\n"
    # AEP refuses it after upload (postalCode maxLength): its row error must not echo it.
    "p-2,gwendolyn.pfefferkorn@example.org,Gwendolyn,Pfefferkorn,98101-999999,US,20,silver\n"
    # Rejected before upload (tier enum), and an email AEP's schema would refuse.
    "p-3,ignatius.reilly@example.net,Ignatius,Reilly,98101,US,30,platinum\n"
    "p-4,not-an-email@,Ignatius,Reilly,98101,US,30,gold\n"
)


def test_no_raw_pii_in_logs_messages_ledger_report_or_rejects(
    stack: LocalStack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    register_dataset(stack, "e2e_privacy", percent="50", loose=True)
    key = "aep/e2e_privacy/pii.csv"
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    chunks_before, events_before = len(stack.delivered["chunks"]), len(stack.delivered["s3"])
    with settings(stack, POWERTOOLS_LOG_LEVEL="DEBUG", LOG_LEVEL="DEBUG"):
        report = pump(stack, key, PII_FILE.encode())

    assert report["balanced"] and report["rejected"] == 2 and report["failed"] == 1
    assert report["accepted"] == 1
    s3 = stack.client("s3")
    rejects = s3.get_object(Bucket=stack.names.bucket, Key=report["rejects_file"])["Body"]
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.poller_arn)["executions"]
    dynamodb = stack.client("dynamodb")
    artefacts = {
        "report": json.dumps(report),
        "rejects": rejects.read().decode(),
        "sqs chunk messages": "\n".join(stack.delivered["chunks"][chunks_before:]),
        "sqs s3 events": "\n".join(stack.delivered["s3"][events_before:]),
        "ledger": json.dumps(dynamodb.scan(TableName=stack.names.ledger_table)["Items"]),
        "idempotency records": json.dumps(
            dynamodb.scan(TableName=stack.names.idempotency_table)["Items"]
        ),
        "poller executions": json.dumps(
            [history(sfn, e["executionArn"]) for e in executions], default=str
        ),
    }
    out, err = capfd.readouterr()
    artefacts["stdout (logs)"] = out
    artefacts["stderr"] = err
    artefacts["log records"] = "\n".join(
        json.dumps(vars(record), default=str) for record in caplog.records
    )
    # The logs were really captured, every record with all its attributes (a log's extras are
    # where a value would hide).
    assert "batch delivered" in artefacts["log records"]
    assert "remote state final" in artefacts["log records"]  # the poller's too
    for where, text in artefacts.items():
        lowered = text.lower()
        for value in PII:
            assert value.lower() not in lowered, f"raw PII {value!r} found in {where}"
    # What the customer's own AEP received does hold them (over TLS, in the part files).
    (batch,) = batches_of(stack, stack.registry.id_of(names.AEP_DATASET, "e2e_privacy") or "")
    assert b"zelda.quartermaine@example.com" in b"".join(files_of(stack, batch["id"]).values())


def test_a_split_retried_after_a_lost_create_answer_finds_the_batch_by_external_id(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_lost_create")
    key = "aep/e2e_lost_create/crm.csv"
    stack.drop(key, csv_file([row(i) for i in range(1, 4)]))
    sqs, events_url = stack.client("sqs"), stack.queue_url(stack.names.s3_events_queue)
    (message, *others) = sorted(
        stack.receive(stack.names.s3_events_queue), key=lambda m: '"Records"' not in m["Body"]
    )
    for other in others:  # S3's test event: back on the queue, for the pump
        sqs.change_message_visibility(
            QueueUrl=events_url, ReceiptHandle=other["ReceiptHandle"], VisibilityTimeout=0
        )
    # AEP creates the batch, its answer never arrives: the split fails (not replayed blindly:
    # a create is not idempotent) …
    stack.aep_sandbox.faults.set(accept_then_drop=1, path=IMPORT, methods=["POST"])
    try:
        with pytest.raises(DeliveryFailed) as failed:
            stack._invoke("splitter", json.loads(message["Body"]), timeout_s=60)
    finally:
        stack.aep_sandbox.faults.clear()
    assert failed.value.failure is FailureClass.TRANSIENT
    sqs.delete_message(QueueUrl=events_url, ReceiptHandle=message["ReceiptHandle"])
    # … and Lambda invokes the splitter again with the same event.
    stack.send_message(stack.names.s3_events_queue, message["Body"])
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    (batch,) = batches_of(stack, dataset_id)  # found by its externalId, not created again
    assert batch["status"] == "success"
    creates = [r for r in stack.aep_sandbox.requests if r.method == "POST" and r.path == IMPORT]
    assert [r.status for r in creates[-1:]] == [None]  # one create, its answer lost
    assert (report["accepted"], report["status"]) == (3, "complete")


def test_a_file_whose_every_row_is_rejected_before_upload_gets_a_final_report(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_all_rejected")
    key = "aep/e2e_all_rejected/crm.csv"
    report = pump(stack, key, csv_file([row(1, tier="platinum"), row(2, points="many")]))

    assert (report["records_read"], report["accepted"], report["rejected"]) == (2, 0, 2)
    assert report["balanced"] and report["status"] == "complete"
    assert [line for line, _, _ in stack.rejects(key)] == [2, 3]
    # Nothing was uploaded: AEP refuses to COMPLETE an empty batch, so it is aborted, and
    # that is no failure of the file.
    (batch,) = batches_of(stack, dataset_id)
    assert batch["status"] == "aborted"
    remote = report["remote"]
    assert (remote["status"], remote["succeeded"]) == ("empty", True)
    assert remote["facts"]["empty_batches"] == batch["id"]


def test_a_throttled_poll_is_retried_by_the_poller_and_the_report_is_final(
    stack: LocalStack,
) -> None:
    dataset_id = register_dataset(stack, "e2e_poll_throttled")
    key = "aep/e2e_poll_throttled/crm.csv"
    stack.drop(key, csv_file([row(i) for i in range(1, 4)]))
    stack.split()
    (batch,) = batches_of(stack, dataset_id)
    # More 429s than one poll's retries: the poll fails transiently, the state machine retries.
    stack.aep_sandbox.faults.set(
        rate_limit=7, retry_after=0.01, path=f"/data/foundation/catalog/batches/{batch['id']}"
    )
    try:
        stack.pump(timeout=60)
    finally:
        stack.aep_sandbox.faults.clear()

    report = stack.report(key)
    assert report is not None
    throttled = [r for r in stack.aep_sandbox.requests if r.status == 429]
    assert len(throttled) >= 7
    assert (report["status"], report["accepted"]) == ("complete", 3)
    assert report["remote"]["status"] == "success"
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.poller_arn)["executions"]
    latest = max(executions, key=lambda e: e["startDate"])
    failures = [
        event["lambdaFunctionFailedEventDetails"]["error"]
        for event in history(sfn, latest["executionArn"])
        if event["type"] == "LambdaFunctionFailed"
    ]
    assert failures == ["TransientPollError"]  # one poll failed, the state machine retried it
