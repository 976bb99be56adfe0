"""The finalizer's ``notify`` hook: called once per file, after it is marked reported, never for
the ``committed`` report of a pending commit; a failed publish leaves the report as it is
(moto, in-process — SNS → SQS as a subscription would receive it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from adm_ingest.ledger import FileRecord
from adm_ingest.notify import PUBLISH_FAILED_METRIC, SnsNotifier
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.report import ReportWriter
from tests.unit.test_finalize import (
    BUCKET,
    FILE_ID,
    KEY,
    LEASE,
    World,
    assert_reported_once,
    complete_file,
)
from tests.unit.test_finalize import world as world  # the fixture, shared
from tests.unit.test_finalize_commit import Remote, terminal

REGION = "us-east-1"


class Calls:
    """A notify hook that records its calls (and can fail)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[FileRecord, dict[str, Any]]] = []
        self.error = error

    def __call__(self, file: FileRecord, report: dict[str, Any]) -> None:
        self.calls.append((file, report))
        if self.error is not None:
            raise self.error


def finalizer(world: World, notify: Any) -> Finalizer:
    return Finalizer(
        world.ledger,
        ReportWriter(world.s3, BUCKET),
        lease_seconds=LEASE,
        clock=world.clock,
        notify=notify,
    )


@pytest.fixture
def topic(world: World) -> Iterator[tuple[str, Any, str]]:
    """A topic with an SQS subscription (envelopes, as the local stack subscribes)."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="file-reports")["TopicArn"]
    url = sqs.create_queue(QueueName="file-reports")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    yield arn, sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_reported_file_is_notified_once_with_its_final_report(world: World) -> None:
    complete_file(world)
    notify = Calls()
    report = finalizer(world, notify).finalize_if_complete(FILE_ID)
    assert finalizer(world, notify).finalize_if_complete(FILE_ID) is None  # a redelivery
    world.clock.now += 10 * LEASE
    assert finalizer(world, notify).sweep().stale == 0

    ((file, notified),) = notify.calls
    assert notified == report == world.stored_report()
    assert file.file_id == FILE_ID
    assert_reported_once(world)


def test_a_failed_finalization_step_notifies_only_when_the_retry_reports(world: World) -> None:
    complete_file(world)
    world.faults.fail("UpdateItem", lambda p: "reported_at = :now" in p["UpdateExpression"])
    notify = Calls()
    with pytest.raises(Exception, match="injected"):
        finalizer(world, notify).finalize_if_complete(FILE_ID)
    assert notify.calls == []
    finalizer(world, notify).finalize_if_complete(FILE_ID)
    assert len(notify.calls) == 1
    assert_reported_once(world)


def test_a_pending_commit_notifies_its_final_report_not_the_committed_one(world: World) -> None:
    complete_file(world)
    remote = Remote(world)
    notify = Calls()

    def pending_finalizer() -> Finalizer:
        built = remote.finalizer()
        built.notify = notify
        return built

    committed = pending_finalizer().finalize_if_complete(FILE_ID)
    assert committed is not None and committed["status"] == "committed"
    assert notify.calls == []
    world.clock.now += 300
    assert terminal(world)
    final = pending_finalizer().finalize_if_complete(FILE_ID)
    assert pending_finalizer().finalize_if_complete(FILE_ID) is None

    ((_, notified),) = notify.calls
    assert notified == final and notified["status"] == "complete_with_failures"


def test_the_sns_notifier_publishes_the_message_a_subscription_receives(
    world: World, topic: tuple[str, Any, str]
) -> None:
    arn, sqs, url = topic
    complete_file(world)
    notify = SnsNotifier(
        lambda: boto3.client("sns", region_name=REGION), arn, bucket=BUCKET, threshold=0.05
    )
    finalizer(world, notify).finalize_if_complete(FILE_ID)

    (envelope,) = received(sqs, url)
    assert (
        envelope["Subject"] == "adm-ingest WARNING complete_with_failures: crm.csv (25.0% rejected)"
    )
    assert envelope["MessageAttributes"]["severity"] == {"Type": "String", "Value": "warning"}
    message = json.loads(envelope["Message"])
    assert (message["status"], message["key"], message["file_id"]) == (
        "complete_with_failures",
        KEY,
        FILE_ID,
    )
    assert message["counts"] == {"read": 8, "accepted": 5, "rejected": 2, "failed": 1}
    assert message["report"]["s3_uri"] == f"s3://{BUCKET}/reports/{KEY}.json"
    assert "?region=us-east-1&" in message["report"]["console_url"]  # the topic's region


def test_a_failed_publish_leaves_the_report_intact_logs_and_counts_it(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "adm-ingest")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    complete_file(world)
    missing = f"arn:aws:sns:{REGION}:123456789012:no-such-topic"
    sns = boto3.client("sns", region_name=REGION)
    notify = SnsNotifier(lambda: sns, missing, bucket=BUCKET, threshold=0)

    report = finalizer(world, notify).finalize_if_complete(FILE_ID)

    assert report is not None and report == world.stored_report()  # returned, not raised
    assert_reported_once(world)
    assert finalizer(world, notify).finalize_if_complete(FILE_ID) is None  # nothing to redo
    (failure,) = [r for r in caplog.records if r.getMessage().startswith("file notification")]
    assert failure.getMessage() == "file notification failed; the report stands"
    assert failure.__dict__["reason"] == "NotFoundException:NotFound"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [m[PUBLISH_FAILED_METRIC] for m in metrics] == [[1.0]]  # EMF: a list of values


def test_the_runtime_wires_the_topic_and_no_topic_means_no_notification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from adm_ingest.pipeline.runtime import Runtime
    from adm_ingest.settings import Settings

    assert Runtime(Settings(file_reports_topic_arn="")).notifier is None
    assert Runtime(Settings(file_reports_topic_arn="")).finalizer.notify is None
    arn = "arn:aws:sns:eu-west-1:123456789012:file-reports"
    runtime = Runtime(Settings(file_reports_topic_arn=arn, bucket=BUCKET))
    notifier = runtime.notifier
    assert isinstance(notifier, SnsNotifier)
    assert runtime.finalizer.notify is notifier
    assert "sns" not in vars(runtime)  # no client until a file is reported


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "5%"])
def test_a_threshold_outside_zero_to_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from adm_ingest.settings import Settings

    monkeypatch.setenv("REJECT_ALERT_THRESHOLD", value)
    with pytest.raises(ValueError, match="REJECT_ALERT_THRESHOLD must be a number from 0 to 1"):
        Settings()
