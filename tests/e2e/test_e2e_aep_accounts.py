"""AEP datasets of several advertisers from one deployment, end to end (issue 13, item 6): the
real setup state machine ensures a dataset in each of three orgs of the AEP sandbox (the
default ``AEP_SECRET_ID`` and two account secrets the local stack stores), and a file under
each ``aep/<dataset>/`` prefix is split, uploaded, committed and polled with its dataset's
credentials: each org receives exactly its own rows. A dataset whose account secret cannot be
read fails its file with a clear reason — no crash loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from adm_ingest import registry as names
from adm_ingest.aep.auth import AEP_SECRET_ATTRIBUTE
from adm_ingest.aep.xdm_validation import compile_schema
from adm_ingest.ledger import Ledger
from adm_ingest.ledger_records import FileRecord
from adm_local.aep_sandbox.ims import AepAccount
from adm_local.stack import LocalStack
from tests.e2e.test_e2e_aep import settings
from tests.setup.aep_accounts_support import (
    ACME_AEP,
    BRAND2_AEP,
    DATASET_ORGS,
    SEEDED_AEP,
    aep_accounts_config,
    aep_secret_id,
    profile_xdm,
)

pytestmark = pytest.mark.e2e

HEADER = "customer_id,email,points"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        max_receive_count=2,
        visibility_timeout=1,
        worker_timeout_s=30,
        environment={"TIME_MARGIN_MS": "5000", "MATCH_RATE_DELAY_SECONDS": "0"},
        aep_sandbox_kwargs={"processing_delay": 0.2, "accounts": (BRAND2_AEP, ACME_AEP)},
    ) as local:
        report = local.setup(aep_accounts_config())
        assert report.ok, report.format_table()
        yield local


def rows_of(stack: LocalStack, account: AepAccount) -> dict[str, list[dict[str, Any]]]:
    """The rows each batch of ``account``'s org received, by batch id."""
    sandbox = stack.aep_sandbox
    batches = sandbox.state_of(account.org_id)["batches"]
    received = {}
    for batch_id in batches:
        files = sandbox.batch_files(batch_id, account)
        received[batch_id] = [
            json.loads(line) for name in sorted(files) for line in files[name].splitlines() if line
        ]
    return received


def file_item(stack: LocalStack, key: str) -> FileRecord:
    """The ledger's file item of ``key`` (the only file of that key here)."""
    table = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url=stack.endpoint).Table(
        stack.names.ledger_table
    )
    items = table.scan(FilterExpression=Attr("sk").eq("file") & Attr("key").eq(key))["Items"]
    (item,) = items
    found = Ledger(stack.names.ledger_table).get_file(str(item["pk"]).removeprefix("file#"))
    assert found is not None
    return found


def test_the_stack_stores_a_secret_per_extra_org(stack: LocalStack) -> None:
    secrets = stack.client("secretsmanager")
    for account in (BRAND2_AEP, ACME_AEP):
        stored = secrets.get_secret_value(SecretId=aep_secret_id(account))
        assert json.loads(stored["SecretString"]) == account.secret_document()
    assert stack.names.aep_account_secret_id("acme") == aep_secret_id(ACME_AEP)


def test_each_dataset_s_file_reaches_its_org_with_exactly_its_rows(stack: LocalStack) -> None:
    sandbox = stack.aep_sandbox
    tokens_before = dict(sandbox.tokens.issued_to)
    keys = {}
    for offset, name in enumerate(DATASET_ORGS):
        people = [f"c-{offset}-{i},{name}.{i}@example.com,{i}" for i in range(5)]
        keys[name] = f"aep/{name}/loyalty.csv"
        stack.drop(keys[name], ("\n".join([HEADER, *people]) + "\n").encode())
    stack.pump(timeout=120)
    assert sandbox.internal_errors == []

    for name, org in DATASET_ORGS.items():
        report = stack.report(keys[name])
        assert report is not None, name
        assert (report["status"], report["accepted"], report["rejected"]) == ("complete", 5, 0)
        assert report["remote"]["status"] == "success", name  # polled in its own org
        entry = stack.registry.get(names.AEP_DATASET, name)
        assert entry is not None
        (batch,) = rows_of(stack, org).values()  # one file, one batch, in its org
        assert sorted(r["personalEmail"]["address"] for r in batch) == [
            f"{name}.{i}@example.com" for i in range(5)
        ]
        assert all(r[f"_{org.tenant_id}"]["loyalty"]["points"] in range(5) for r in batch)
        held = sandbox.state_of(org.org_id)
        (batch_doc,) = held["batches"].values()
        assert batch_doc["relatedObjects"][0]["id"] == entry.id
        assert batch_doc["status"] == "success"
        # The file item pinned the entry's secret: the ledger knows whose file it was.
        pinned = file_item(stack, keys[name]).target_attributes
        assert pinned.get(AEP_SECRET_ATTRIBUTE) == (
            None if org == SEEDED_AEP else aep_secret_id(org)
        )

    # Each org's credential was granted tokens; the warm containers reuse theirs.
    grants = {
        client: count - tokens_before.get(client, 0)
        for client, count in sandbox.tokens.issued_to.items()
    }
    assert set(grants) == {a.client_id for a in sandbox.accounts}


def test_a_file_of_several_batches_opens_every_batch_in_its_dataset_s_org(
    stack: LocalStack,
) -> None:
    """Small parts, two per batch: the splitter's ``open_chunk`` opens the later batches — with
    brand2's client too — and the commit and polls find each of them there."""
    sandbox = stack.aep_sandbox
    before = set(sandbox.state_of(BRAND2_AEP.org_id)["batches"])
    people = [f"c-b-{i},brand2.big.{i}@example.com,{i}" for i in range(60)]
    key = "aep/brand2_loyalty/big.csv"
    with settings(stack, AEP_PART_BYTES="300", AEP_PARTS_PER_BATCH="2"):
        stack.drop(key, ("\n".join([HEADER, *people]) + "\n").encode())
        stack.pump(timeout=120)

    report = stack.report(key)
    assert report is not None
    assert (report["status"], report["accepted"]) == ("complete", 60)
    new = set(sandbox.state_of(BRAND2_AEP.org_id)["batches"]) - before
    assert len(new) >= 2
    assert sorted(report["remote"]["facts"]["batches"].split(",")) == sorted(new)
    received = {b: r for b, r in rows_of(stack, BRAND2_AEP).items() if b in new}
    assert sum(len(rows) for rows in received.values()) == 60
    for other in (SEEDED_AEP, ACME_AEP):  # nothing of it anywhere else
        assert not new & set(sandbox.state_of(other.org_id)["batches"])


def test_a_dataset_whose_account_secret_is_unreadable_fails_its_file_not_the_pipeline(
    stack: LocalStack,
) -> None:
    """An entry naming a secret nobody stored (deleted, or not granted): the split opens no
    batch, the file ends with one clear error, nothing is retried for ever."""
    sandbox = stack.aep_sandbox
    schema_id = sandbox.schemas_of(ACME_AEP)[0].id
    validator = compile_schema(sandbox.schemas_of(ACME_AEP)[0].full(with_text=True))
    stack.registry.put(
        names.AEP_DATASET,
        "ghost_loyalty",
        "ds-ghost",
        schema_id=schema_id,
        dataset_class="profile",
        validator=validator.to_json(),
        partial_ingestion_percent="0",
        profile_enabled="false",
        **{AEP_SECRET_ATTRIBUTE: "adm-ingest/aep-credentials/ghost"},
    )
    mapping = {"xdm": profile_xdm(ACME_AEP)}
    stack.registry.put(
        names.MAPPING, "aep/ghost_loyalty", "m-ghost", config=json.dumps(mapping, sort_keys=True)
    )
    batches_before = {
        a.org_id: len(sandbox.state_of(a.org_id)["batches"]) for a in sandbox.accounts
    }
    key = "aep/ghost_loyalty/loyalty.csv"
    stack.drop(key, f"{HEADER}\nc-1,ghost.1@example.com,1\n".encode())
    stats = stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None
    assert report["status"] == "error"
    assert report["error"] == "aep could not open the file: aep_credentials_unreadable"
    assert stats.dead_letters == 0 and stats.chunk_messages == 0
    assert {
        a.org_id: len(sandbox.state_of(a.org_id)["batches"]) for a in sandbox.accounts
    } == batches_before
    assert "ghost.1@example.com" not in json.dumps(report)
