"""The AEP destination's lifecycle against the AEP sandbox over HTTP: one batch per file found
again by ``externalId``, one part file per chunk (PUT, or the large-file upload), COMPLETE or
ABORT, and a poll whose refusals locate the refused rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from adm_ingest.aep import AepClient
from adm_ingest.aep.auth import AepCredentials
from adm_ingest.aep.endpoints import AepSettings
from adm_ingest.aep.xdm_validation import compile_schema
from adm_ingest.batching import Batch
from adm_ingest.destinations import (
    AepBatches,
    BatchPosition,
    ChunkRefusal,
    DeliveryTarget,
    FileContext,
    RowRefusal,
)
from adm_ingest.destinations.aep import SESSION_BATCHES, batch_ids, part_name
from adm_ingest.mapping_config import MappingConfig
from adm_local.aep_sandbox import AepSandboxServer

FILE_ID = "f" * 32
KEY = "aep/loyalty/crm.csv"
HEADER = ("Email", "First Name", "Last Name", "Postal Code")
XDM = {"identities": [{"column": "Email", "namespace": "Email", "primary": True}]}


@pytest.fixture
def client(sandbox: AepSandboxServer) -> Iterator[AepClient]:
    settings = AepSettings(api_url=sandbox.url, ims_url=sandbox.url)
    with AepClient(AepCredentials.from_mapping(sandbox.account.secret_document()), settings) as aep:
        yield aep


@pytest.fixture
def destination(client: AepClient, profile_schema_id: str) -> AepBatches:
    dataset_id = client.create_dataset("loyalty", profile_schema_id)
    schema = client.get_schema(profile_schema_id)
    target = DeliveryTarget(
        "aep",
        "loyalty",
        dataset_id,
        {"dataset_class": "profile", "validator": compile_schema(schema).to_json()},
    )
    return AepBatches(target)


def part(destination: AepBatches, *rows: list[str]) -> Batch:
    """One chunk's rows through the destination's own record path, spooled."""
    encoder = destination.row_encoder(MappingConfig.from_dict({"xdm": XDM}))
    encoder.layout_for(HEADER)
    batcher = destination.batcher()
    for line, fields in enumerate(rows, start=2):
        item = encoder.encode_row(line, fields)
        assert isinstance(item, bytes), item
        assert batcher.add(item, line) is None
    batch = batcher.flush()
    assert batch is not None
    return batch


def file(
    destination: AepBatches, *, failed: int = 0, on_chunk_failure: str = "abort"
) -> FileContext:
    config = MappingConfig.from_dict({"xdm": XDM, "on_chunk_failure": on_chunk_failure})
    return FileContext(FILE_ID, KEY, destination.target, failed=failed, mapping=config)


GOOD = ["ana@example.com", "Ana", "Lima", "10115"]
ALSO_GOOD = ["bo@example.com", "Bo", "Berg", "94103"]


def test_opening_a_file_twice_finds_its_batch_instead_of_creating_another(
    destination: AepBatches, client: AepClient
) -> None:
    first = destination.open_file(client, file(destination))
    again = destination.open_file(client, file(destination))

    assert first == again and len(batch_ids(first)) == 1
    assert [b.id for b in client.list_batches(dataset_id=destination.target.id)] == batch_ids(first)


def test_a_completed_batch_is_polled_to_success_with_aeps_counts(
    destination: AepBatches, client: AepClient, sandbox: AepSandboxServer
) -> None:
    session = destination.open_file(client, file(destination))
    destination.deliver(client, part(destination, GOOD, ALSO_GOOD), session, BatchPosition(0))
    destination.deliver(client, part(destination, GOOD), session, BatchPosition(1))

    commit = destination.commit(client, file(destination), session)
    state = destination.poll(client, file(destination), commit.session)

    assert commit.pending and commit.session["outcome"] == "completed"
    assert sandbox_files(sandbox, session) == [part_name(0), part_name(1)]
    assert state.terminal and state.succeeded and state.status == "success"
    assert state.facts["input_records"] == 3 and state.facts["output_records"] == 3
    assert state.refusals == () and state.refused_chunks == ()


def test_a_redelivered_chunk_replaces_its_part_file(
    destination: AepBatches, client: AepClient, sandbox: AepSandboxServer
) -> None:
    session = destination.open_file(client, file(destination))
    destination.deliver(client, part(destination, GOOD, ALSO_GOOD), session, BatchPosition(0))
    destination.deliver(client, part(destination, GOOD, ALSO_GOOD), session, BatchPosition(0))
    commit = destination.commit(client, file(destination), session)

    state = destination.poll(client, file(destination), commit.session)

    assert sandbox_files(sandbox, session) == [part_name(0)]
    assert state.facts["input_records"] == 2


def test_a_part_over_the_threshold_takes_the_large_file_upload(
    destination: AepBatches, client: AepClient, sandbox: AepSandboxServer
) -> None:
    destination.large_file_bytes = 64
    session = destination.open_file(client, file(destination))
    destination.deliver(client, part(destination, GOOD, ALSO_GOOD), session, BatchPosition(0))
    commit = destination.commit(client, file(destination), session)

    state = destination.poll(client, file(destination), commit.session)

    assert any("action=INITIALIZE" in r.query for r in sandbox.requests)
    assert any(r.method == "PATCH" for r in sandbox.requests)
    assert state.succeeded and state.facts["input_records"] == 2


def test_failed_records_abort_the_batch_by_default_and_every_part_is_refused(
    destination: AepBatches, client: AepClient
) -> None:
    session = destination.open_file(client, file(destination))
    destination.deliver(client, part(destination, GOOD), session, BatchPosition(0))

    commit = destination.commit(client, file(destination, failed=1), session)
    state = destination.poll(client, file(destination), commit.session)

    assert commit.session["outcome"] == "aborted"
    assert state.terminal and not state.succeeded and state.status == "aborted"
    assert state.refused_chunks == (ChunkRefusal(0, None, "aep_aborted"),)


def test_failed_records_complete_what_is_there_when_the_mapping_says_so(
    destination: AepBatches, client: AepClient
) -> None:
    session = destination.open_file(client, file(destination))
    destination.deliver(client, part(destination, GOOD), session, BatchPosition(0))
    context = file(destination, failed=1, on_chunk_failure="complete")

    state = destination.poll(client, context, destination.commit(client, context, session).session)

    assert state.succeeded and state.facts["commit"] == "completed"


def corrupt_part(destination: AepBatches, client: AepClient, session: dict[str, str]) -> None:
    """Part 3: two good rows around a line AEP cannot parse (our validator never sees it)."""
    good = part(destination, GOOD, ALSO_GOOD).body.read()  # type: ignore[union-attr]  # spooled
    first, second = good.splitlines()
    body = first + b"\n{not json\n" + second + b"\n"
    client.put_file(session[SESSION_BATCHES], destination.target.id, part_name(3), body)


def test_rows_aep_refuses_come_back_located_by_part_and_row(
    destination: AepBatches, client: AepClient
) -> None:
    destination = AepBatches(
        replace(
            destination.target,
            attributes={**destination.target.attributes, "partial_ingestion_percent": "50"},
        )
    )
    session = destination.open_file(client, file(destination))
    corrupt_part(destination, client, session)

    commit = destination.commit(client, file(destination), session)
    state = destination.poll(client, file(destination), commit.session)

    assert state.succeeded and state.facts["failed_records"] == 1
    assert state.refusals == (RowRefusal(3, 1, "aep_1401"),)


def test_a_failed_batch_refuses_every_part_with_its_error(
    destination: AepBatches, client: AepClient
) -> None:
    session = destination.open_file(client, file(destination))
    corrupt_part(destination, client, session)

    state = destination.poll(
        client, file(destination), destination.commit(client, file(destination), session).session
    )

    assert state.terminal and not state.succeeded and state.status == "failed"
    assert state.refused_chunks == (ChunkRefusal(0, None, "aep_INGEST-1212-400"),)
    assert "INGEST-1212-400" in str(state.facts["errors"])


def sandbox_files(sandbox: AepSandboxServer, session: dict[str, str]) -> list[str]:
    """The part files uploaded into the session's batch."""
    batch = session[SESSION_BATCHES]
    return sorted(
        {
            r.path.rsplit("/", 1)[-1]
            for r in sandbox.requests
            if r.method in ("PUT", "PATCH") and f"/batches/{batch}/" in r.path
        }
    )
