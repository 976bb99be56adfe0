"""Wiring: the pipeline's collaborators built once per Lambda container from :class:`Settings`.

Handlers ask :func:`runtime` for what they need; everything is created lazily so a cold start
pays only for what its function uses (the splitter never builds an ADM client).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3

from adm_ingest.adm import AdmClient
from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.limits import FileLimits
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.pipeline.worker import ChunkWorker
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_ingest.settings import Settings


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
    def finalizer(self) -> Finalizer:
        return Finalizer(self.ledger, ReportWriter(self.s3, self.settings.bucket))

    @cached_property
    def client(self) -> AdmClient:
        return AdmClient.from_secret(self.settings.secret_id)

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
            default_country=self.settings.default_country,
            margin_seconds=self.settings.time_margin_ms / 1000,
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
            client=lambda: self.client,
            margin_seconds=self.settings.time_margin_ms / 1000,
        )
