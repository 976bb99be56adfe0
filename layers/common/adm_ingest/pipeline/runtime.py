"""Wiring: the pipeline's collaborators built once per Lambda container from :class:`Settings`.

Handlers ask :func:`runtime` for what they need; everything is created lazily so a cold start
pays only for what its function uses: a destination's client is built by the destination
(:meth:`~adm_ingest.destinations.Destination.connect`) the first time a step calls it, so the
splitter of an ADM file never reads the ADM credentials.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from adm_ingest.adm.ratelimit import (
    UNLIMITED,
    DynamoRateStore,
    RateConfig,
    RateLimiter,
    SharedRateLimiter,
)
from adm_ingest.clients import ClientEnvironment, ClientPool
from adm_ingest.destinations import destination_for
from adm_ingest.ledger import Ledger
from adm_ingest.notify import SnsNotifier
from adm_ingest.pipeline.delivered_rows import DeliveredRows
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.limits import FileLimits
from adm_ingest.pipeline.poller import FilePoller, PollSettings, PollStarter
from adm_ingest.pipeline.remote import RemoteLifecycle
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.pipeline.worker import ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_ingest.settings import Settings

RATE_STORE_CONFIG = Config(
    connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"}
)
"""The limiter's DynamoDB calls sit in front of every ADM request: fail fast, then fall back."""


SNS_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
)
"""A file's notification is published in the invocation that reported it: a few quick
retries, then it is logged and counted (the report is already final)."""

OVERDUE_MARGIN_SECONDS = 3600
"""How long past the poller's own limit a parked file waits before the sweep times it out."""


class Runtime:
    """Lazily built AWS clients, ledger, registry, splitter and worker."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3")

    @cached_property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    @cached_property
    def dynamodb(self) -> Any:
        return boto3.resource("dynamodb")

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_table, dynamodb=self.dynamodb)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.settings.registry_table, dynamodb=self.dynamodb)

    @cached_property
    def stepfunctions(self) -> Any:
        return boto3.client("stepfunctions")

    @cached_property
    def finalizer(self) -> Finalizer:
        return Finalizer(
            self.ledger,
            ReportWriter(self.s3, self.settings.bucket),
            lease_seconds=self.settings.finalize_lease_seconds,
            committer=self.remote.commit,
            start_poll=self.start_poll,
            # A poller that gives up records timed_out itself; past this, the sweep does.
            remote_deadline_seconds=self.settings.poll_max_seconds + OVERDUE_MARGIN_SECONDS,
            notify=self.notifier,
        )

    @cached_property
    def notifier(self) -> SnsNotifier | None:
        """Publishes each finished file's notification (none without ``FILE_REPORTS_TOPIC_ARN``)."""
        topic = self.settings.file_reports_topic_arn
        if not topic:
            return None
        return SnsNotifier(
            lambda: self.sns,  # built when a file is first reported, not at cold start
            topic,
            bucket=self.settings.bucket,
            threshold=self.settings.reject_alert_threshold,
        )

    @cached_property
    def sns(self) -> Any:
        return boto3.client("sns", config=SNS_CONFIG)

    def start_poll(self, file_id: str) -> None:
        """Start the poller for a committed file (the Step Functions client only when used)."""
        PollStarter(self.stepfunctions, self.settings.poller_state_machine_arn)(file_id)

    @cached_property
    def remote(self) -> RemoteLifecycle:
        """Commit and poll through the destination interface (a client connects only when a
        destination's hook uses it: ADM's commit does not — its poll does —, so the sweeper
        needs no secret)."""
        return RemoteLifecycle(destination_for, self.clients, DeliveredRows(self.s3))

    @cached_property
    def poller(self) -> FilePoller:
        return FilePoller(
            self.ledger,
            self.finalizer,
            self.remote,
            settings=PollSettings(
                interval_seconds=self.settings.poll_interval_seconds,
                max_seconds=self.settings.poll_max_seconds,
            ),
        )

    @cached_property
    def clients(self) -> ClientPool:
        """Each destination's client, built on first use (one per client key)."""
        return ClientPool(lambda: ClientEnvironment(self.settings, self.rate_limiter))

    def rate_limiter(self, account: str) -> RateLimiter:
        """The pacing shared by every worker of one remote account: an item of the ledger
        table (no table of its own), or none when ``ADM_RATE_LIMIT`` is off."""
        settings = self.settings
        if not settings.rate_limit:
            return UNLIMITED
        store = DynamoRateStore(
            boto3.client("dynamodb", config=RATE_STORE_CONFIG),
            settings.ledger_table,
            account=account,
        )
        return SharedRateLimiter(
            store, RateConfig(max_rps=settings.max_rps, min_rps=settings.min_rps)
        )

    @cached_property
    def splitter(self) -> Splitter:
        return Splitter(
            s3=self.s3,
            sqs=self.sqs,
            ledger=self.ledger,
            registry=self.registry,
            finalizer=self.finalizer,
            chunk_queue_url=self.settings.chunk_queue_url,
            split_queue_url=self.settings.split_queue_url,
            records_per_chunk=self.settings.records_per_chunk,
            chunk_size=lambda destination: destination.chunk_size(self.settings),
            default_country=self.settings.default_country,
            margin_seconds=self.settings.time_margin_ms / 1000,
            max_json_depth=self.settings.max_json_depth,
            clients=self.clients,
            limits=FileLimits(
                max_decompressed_bytes=self.settings.max_decompressed_bytes,
                max_records=self.settings.max_records_per_file,
                max_compression_ratio=self.settings.max_compression_ratio,
            ),
        )

    @cached_property
    def worker(self) -> ChunkWorker:
        return ChunkWorker(
            s3=self.s3,
            ledger=self.ledger,
            registry=self.registry,
            finalizer=self.finalizer,
            clients=self.clients,
            margin_seconds=self.settings.time_margin_ms / 1000,
            max_json_depth=self.settings.max_json_depth,
        )
