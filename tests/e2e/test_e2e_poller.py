"""End to end: a destination whose commit is pending gets a ``committed`` report, then — after
the real poller state machine ran on the local stack — its final report.

No shipped destination is pending yet (AEP will be), so the test registers one: ADM's audience
members with a commit that opens a remote "batch" and a poll that answers ``processing`` twice,
then ``success``. The registry (``adm_ingest.destinations.DESTINATIONS``) is read on every
lookup, so the in-process handlers — splitter, worker, poller — all see it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from adm_ingest import destinations
from adm_ingest.destinations.base import Commit, CommitState, FileContext, RemoteState
from adm_ingest.destinations.members import AudienceMembers
from adm_ingest.pipeline.poller import execution_name
from adm_ingest.report import report_key
from adm_local.stack import LocalStack
from adm_local.stepfunctions import history

pytestmark = pytest.mark.e2e

AUDIENCE = "e2e_pending"
CSV = (
    "external_id,email,phone,country\n"
    "p-1,ann.lee@example.com,(206) 555-0101,US\n"
    "p-2,bo.chan@example.com,,US\n"
)
NOT_FINAL_POLLS = 2


class PendingMembers(AudienceMembers):
    """Audience members, delivered as usual, then committed as one remote batch that takes a
    few polls to settle (the shape of AEP's batches)."""

    polls: ClassVar[Counter[str]] = Counter()

    def _commit(self, client: Any, file: FileContext, session: Mapping[str, str]) -> Commit:
        return Commit(CommitState.PENDING, {"batch_id": f"B-{file.file_id[:8]}"})

    def _poll(self, client: Any, file: FileContext, session: Mapping[str, str]) -> RemoteState:
        PendingMembers.polls[file.file_id] += 1
        if PendingMembers.polls[file.file_id] <= NOT_FINAL_POLLS:
            return RemoteState(terminal=False, status="processing")
        facts = {"batch_id": session["batch_id"], "records_written": file.records}
        return RemoteState(terminal=True, status="success", succeeded=True, facts=facts)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            destinations,
            "DESTINATIONS",
            tuple(
                PendingMembers if cls is AudienceMembers else cls
                for cls in destinations.DESTINATIONS
            ),
        )
        with LocalStack(visibility_timeout=1, worker_timeout_s=30) as local:
            config = {
                "region": "NA",
                "managerAccountId": "amzn1.ads1ma1.sandbox",
                "advertiserAccountId": "ADV-SANDBOX-1",
                "audiences": [{"name": AUDIENCE, "countryCode": "US"}],
                "conversionDefinitions": [],
                "sharingRules": [],
            }
            assert local.setup(config).ok
            yield local


def report_versions(stack: LocalStack, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report's latest version and the earlier ones."""
    s3 = stack.client("s3")
    listed = s3.list_object_versions(Bucket=stack.names.bucket, Prefix=report_key(key))
    latest, earlier = None, []
    for version in listed.get("Versions", []):
        body = s3.get_object(
            Bucket=stack.names.bucket, Key=version["Key"], VersionId=version["VersionId"]
        )["Body"].read()
        if version["IsLatest"]:
            latest = json.loads(body)
        else:
            earlier.append(json.loads(body))
    assert latest is not None
    return latest, earlier


def test_a_pending_commit_is_reported_committed_then_final_after_the_poller_ran(
    stack: LocalStack,
) -> None:
    key = f"audiences/{AUDIENCE}/crm.csv"
    stack.drop(key, CSV)

    stack.pump(timeout=120)  # the pump waits for the poller's executions too

    final, earlier = report_versions(stack, key)
    (committed,) = earlier
    assert committed["status"] == "committed"
    assert committed["remote"]["status"] == "pending"
    assert committed["accepted"] == 2 and committed["balanced"]
    batch = committed["remote"]["session"]["batch_id"]

    assert final["status"] == "complete"
    assert (final["records_read"], final["accepted"], final["balanced"]) == (2, 2, True)
    assert final["remote"]["status"] == "success" and final["remote"]["succeeded"] is True
    assert final["remote"]["facts"] == {"batch_id": batch, "records_written": 2}
    assert final["remote"]["session"] == {"batch_id": batch}

    sfn = stack.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=stack.poller_arn)["executions"]
    file_id = execution["name"].removeprefix("poll-")
    assert execution["name"] == execution_name(file_id)
    assert execution["status"] == "SUCCEEDED"
    assert PendingMembers.polls[file_id] == NOT_FINAL_POLLS + 1
    events = history(sfn, execution["executionArn"])
    assert sum(e["type"] == "WaitStateEntered" for e in events) == NOT_FINAL_POLLS


def test_a_redelivered_event_for_a_committed_file_starts_no_second_poll(
    stack: LocalStack,
) -> None:
    key = f"audiences/{AUDIENCE}/again.csv"
    stack.drop(key, CSV)
    stack.pump(timeout=120)
    for body in stack.delivered["s3"][-1:]:
        stack.send_message(stack.names.s3_events_queue, body)

    stack.pump(timeout=60)

    final, earlier = report_versions(stack, key)
    assert final["status"] == "complete" and len(earlier) == 1
    sfn = stack.client("stepfunctions")
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=stack.poller_arn)["executions"]]
    assert len(names) == len(set(names)) == 2  # one per file, across both tests
