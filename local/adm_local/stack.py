"""The local stack: the whole pipeline on an embedded AWS (moto server) and the ADM sandbox.

:class:`LocalStack` starts both servers on loopback ports, creates the resources template.yaml
declares (bucket with versioning and S3 → SQS notifications, chunk queue + DLQ, split queue,
ledger / idempotency / registry tables, the credentials secret), and delivers queue messages to
the **real** Lambda handlers in ``functions/`` — the S3 event to the splitter, chunk batches to
the worker with partial batch responses, dead letters to the recorder — exactly as the Lambda
event source mappings would. ``make demo`` and the end-to-end tests run on it.

The only stand-ins are those AWS itself provides: Lambda's event source mappings (the
:meth:`LocalStack.pump`) and the Lambda context object.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import requests

from adm_ingest import registry as names
from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_ingest.report import rejects_key, report_key
from adm_local import resources
from adm_local.functions import load_function
from adm_local.sandbox import SandboxServer
from adm_local.stepfunctions import LocalLambdaContext

REGION = "us-east-1"
INPUT_PREFIXES = ("audiences/", "conversions/", "deletions/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class StackNames:
    """Resource names (template.yaml's logical resources, for one local stack)."""

    bucket: str = "adm-ingest-local"
    s3_events_queue: str = "adm-ingest-s3-events"
    chunk_queue: str = "adm-ingest-chunks"
    chunk_dlq: str = "adm-ingest-chunks-dlq"
    split_queue: str = "adm-ingest-split"
    ledger_table: str = "adm-ingest-ledger"
    idempotency_table: str = "adm-ingest-idempotency"
    registry_table: str = "adm-ingest-registry"
    secret_id: str = "adm-ingest/credentials"


@dataclass(slots=True)
class PumpStats:
    """What a :meth:`LocalStack.pump` delivered."""

    s3_events: int = 0
    s3_events_ignored: int = 0
    """Events for keys the splitter skips (its own outputs, folder markers)."""
    continuations: int = 0
    worker_invocations: int = 0
    chunk_messages: int = 0
    chunk_retries: int = 0
    dead_letters: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class _Queues:
    urls: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)


class LocalStack:
    """Context manager: moto server + sandbox + resources + handlers, torn down on exit.

    Args:
        records_per_chunk: the splitter's chunk size (small values make many chunks).
        max_receive_count: deliveries of a chunk before SQS moves it to the DLQ.
        visibility_timeout: seconds before a failed chunk is delivered again.
        worker_batch_size: chunk messages per worker invocation (the event source's BatchSize).
        quiet: silence the sandbox's request log and the functions' JSON logs.
    """

    def __init__(
        self,
        *,
        records_per_chunk: int = 5000,
        max_receive_count: int = 3,
        visibility_timeout: int = 1,
        worker_batch_size: int = 5,
        worker_timeout_s: float = 300.0,
        quiet: bool = True,
        sandbox_kwargs: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.names = StackNames()
        self.records_per_chunk = records_per_chunk
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.worker_batch_size = worker_batch_size
        self.worker_timeout_s = worker_timeout_s
        self.quiet = quiet
        self._extra_env = dict(environment or {})
        self._sandbox_kwargs = dict(sandbox_kwargs or {})
        self._saved_env: dict[str, str | None] = {}
        self._queues = _Queues()
        self.endpoint = ""
        self.environment: dict[str, str] = {}
        """The variables that point a process at this stack (set in this one while it runs)."""
        self.sandbox: SandboxServer
        self.functions: dict[str, ModuleType] = {}
        self.delivered: dict[str, list[str]] = {"s3": [], "chunks": []}
        """Bodies of the S3 events and chunk messages delivered so far (to replay them)."""

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        from adm_local.motoserver import AtomicMotoServer

        if self.quiet:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
            warnings.filterwarnings("ignore", message="No application metrics to publish")
        port = free_port()
        self._moto = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto's backends are per process, shared by every server (and mock) in it: start clean.
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        sandbox_kwargs = {"log_stream": None} if self.quiet else {}
        self.sandbox = SandboxServer(port=0, **{**sandbox_kwargs, **self._sandbox_kwargs})
        self.sandbox.__enter__()
        self._set_env(self._environment())
        _reset_powertools_caches()
        self._provision()
        self.functions = {
            name: load_function(name) for name in ("splitter", "worker", "deadletter")
        }
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sandbox.__exit__(None, None, None)
            self._moto.stop()
        finally:
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _reset_powertools_caches()

    def _environment(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "MOTO_PORT": self.endpoint.rsplit(":", 1)[1],
            "BUCKET": self.names.bucket,
            "LEDGER_TABLE": self.names.ledger_table,
            "IDEMPOTENCY_TABLE": self.names.idempotency_table,
            "REGISTRY_TABLE": self.names.registry_table,
            "ADM_SECRET_ID": self.names.secret_id,
            API_URL_ENV: self.sandbox.url,
            TOKEN_URL_ENV: self.sandbox.token_url,
            "RECORDS_PER_CHUNK": str(self.records_per_chunk),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "adm-ingest",
            "POWERTOOLS_METRICS_NAMESPACE": "adm-ingest",
        }
        if self.quiet:
            env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
            env["POWERTOOLS_METRICS_DISABLED"] = "true"
        return env | self._extra_env

    def _set_env(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
            self.environment[name] = value

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    # -- resources (what template.yaml declares) ------------------------------------------------

    def _provision(self) -> None:
        n = self.names
        sqs = self.client("sqs")

        def queue(name: str, **attributes: str) -> None:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self._queues.urls[name] = url
            self._queues.arns[name] = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]

        queue(n.s3_events_queue)
        queue(n.chunk_dlq, MessageRetentionPeriod="1209600")
        redrive = {
            "deadLetterTargetArn": self._queues.arns[n.chunk_dlq],
            "maxReceiveCount": str(self.max_receive_count),
        }
        queue(
            n.chunk_queue,
            VisibilityTimeout=str(self.visibility_timeout),
            RedrivePolicy=json.dumps(redrive),
        )
        queue(n.split_queue, VisibilityTimeout=str(self.visibility_timeout))
        self._set_env(
            {
                "CHUNK_QUEUE_URL": self._queues.urls[n.chunk_queue],
                "SPLIT_QUEUE_URL": self._queues.urls[n.split_queue],
            }
        )

        s3 = self.client("s3")
        s3.create_bucket(Bucket=n.bucket)
        s3.put_bucket_versioning(Bucket=n.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=n.bucket,
            NotificationConfiguration={
                # As template.yaml: one notification per input prefix.
                "QueueConfigurations": [
                    {
                        "QueueArn": self._queues.arns[n.s3_events_queue],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                    for prefix in INPUT_PREFIXES
                ]
            },
        )

        dynamodb = self.client("dynamodb")
        resources.create_ledger_table(dynamodb, n.ledger_table)
        resources.create_idempotency_table(dynamodb, n.idempotency_table)
        resources.create_registry_table(dynamodb, n.registry_table)

        self.client("secretsmanager").create_secret(
            Name=n.secret_id, SecretString=json.dumps(self.sandbox.account.secret_document())
        )

    # -- operations ----------------------------------------------------------------------------

    @property
    def registry(self) -> names.Registry:
        return names.Registry(
            self.names.registry_table,
            dynamodb=boto3.resource("dynamodb", region_name=REGION, endpoint_url=self.endpoint),
        )

    def setup(self, config: Any, **kwargs: Any) -> Any:
        """Run the real setup state machine (ASL on moto's Step Functions) for ``config``."""
        from adm_local.setup_runner import SetupEnvironment, run_setup

        environment = SetupEnvironment(
            secret_id=self.names.secret_id,
            registry_table=self.names.registry_table,
            adm_api_url=self.sandbox.url,
            adm_token_url=self.sandbox.token_url,
        )
        return run_setup(config, environment=environment, endpoint_url=self.endpoint, **kwargs)

    def drop(self, key: str, data: bytes | str | Path) -> dict[str, Any]:
        """Put a file into the bucket (the S3 event follows, as on AWS)."""
        body = data.read_bytes() if isinstance(data, Path) else data
        if isinstance(body, str):
            body = body.encode()
        return dict(self.client("s3").put_object(Bucket=self.names.bucket, Key=key, Body=body))

    def report(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.client("s3").get_object(Bucket=self.names.bucket, Key=report_key(key))
        except self.client("s3").exceptions.NoSuchKey:
            return None
        return dict(json.loads(body["Body"].read()))

    def rejects(self, key: str) -> list[tuple[int, str, str]]:
        """The rejects file's rows as ``(line, outcome, reason)``."""
        s3 = self.client("s3")
        try:
            body = s3.get_object(Bucket=self.names.bucket, Key=rejects_key(key))["Body"].read()
        except s3.exceptions.NoSuchKey:
            return []
        rows = []
        for row in body.decode().splitlines()[1:]:
            line, outcome, reason = row.split(",", 2)
            rows.append((int(line), outcome, reason))
        return rows

    def queue_url(self, name: str) -> str:
        return self._queues.urls[name]

    def queue_arn(self, name: str) -> str:
        return self._queues.arns[name]

    def send_message(self, queue: str, body: str) -> None:
        """Put a message on one of the stack's queues by hand (to replay a delivery)."""
        self.client("sqs").send_message(QueueUrl=self._queues.urls[queue], MessageBody=body)

    # -- the event source mappings ---------------------------------------------------------------

    def pump(
        self,
        *,
        timeout: float = 300.0,
        progress: Callable[[LocalStack], None] | None = None,
        settle: float = 0.3,
        deliver_chunks: bool = True,
    ) -> PumpStats:
        """Deliver queued messages to the handlers until every queue is empty and nothing is
        in flight. Raises TimeoutError after ``timeout`` seconds.

        This pump is one poller: it invokes one worker at a time. With ``deliver_chunks=False``
        it leaves the chunk queue to other consumers (concurrent worker processes, as the
        ``throttle`` benchmark runs) and still waits for it to drain."""
        n = self.names
        sqs = self.client("sqs")
        stats = PumpStats()
        started = time.monotonic()
        while True:
            busy = False
            busy |= self._drain(sqs, n.s3_events_queue, 10, self._deliver_s3_events, stats)
            busy |= self._drain(sqs, n.split_queue, 1, self._deliver_continuations, stats)
            if deliver_chunks:
                busy |= self._drain(
                    sqs, n.chunk_queue, self.worker_batch_size, self._deliver_chunks, stats
                )
            busy |= self._drain(sqs, n.chunk_dlq, 10, self._deliver_dead_letters, stats)
            if progress is not None:
                progress(self)
            if busy:
                continue
            if self._idle(sqs):
                stats.seconds = time.monotonic() - started
                return stats
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"pipeline still busy after {timeout:.0f}s")
            time.sleep(settle)

    def _idle(self, sqs: Any) -> bool:
        for url in self._queues.urls.values():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]) or int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            ):
                return False
        return True

    def _drain(
        self,
        sqs: Any,
        queue: str,
        batch: int,
        deliver: Callable[[Any, str, list[dict[str, Any]], PumpStats], None],
        stats: PumpStats,
    ) -> bool:
        url = self._queues.urls[queue]
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=batch,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return False
        deliver(sqs, queue, messages, stats)
        return True

    def _invoke(self, function: str, event: Mapping[str, Any], timeout_s: float) -> Any:
        context = LocalLambdaContext(
            function_name=f"adm-ingest-{function}",
            timeout_s=timeout_s,
            memory_limit_in_mb=1024,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function}",
        )
        return self.functions[function].lambda_handler(dict(event), context)

    def _deliver_s3_events(
        self, sqs: Any, queue: str, messages: list[dict[str, Any]], stats: PumpStats
    ) -> None:
        # On AWS the bucket notifies the splitter function directly with this same event.
        for message in messages:
            self.delivered["s3"].append(message["Body"])
            event = json.loads(message["Body"])
            result = self._invoke("splitter", event, timeout_s=900) or {}
            stats.s3_events += 1
            files = result.get("files", [])
            if not files or all(f.get("status") == "ignored" for f in files):
                stats.s3_events_ignored += 1
            sqs.delete_message(
                QueueUrl=self._queues.urls[queue], ReceiptHandle=message["ReceiptHandle"]
            )

    def _deliver_continuations(
        self, sqs: Any, queue: str, messages: list[dict[str, Any]], stats: PumpStats
    ) -> None:
        self._invoke("splitter", _sqs_event(messages, self._queues.arns[queue]), timeout_s=900)
        stats.continuations += len(messages)
        for message in messages:
            sqs.delete_message(
                QueueUrl=self._queues.urls[queue], ReceiptHandle=message["ReceiptHandle"]
            )

    def _deliver_chunks(
        self, sqs: Any, queue: str, messages: list[dict[str, Any]], stats: PumpStats
    ) -> None:
        event = _sqs_event(messages, self._queues.arns[queue])
        self.delivered["chunks"].extend(message["Body"] for message in messages)
        stats.worker_invocations += 1
        stats.chunk_messages += len(messages)
        try:
            response = self._invoke("worker", event, timeout_s=self.worker_timeout_s) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # every record failed (BatchProcessingError) or the handler crashed
            failed = {message["MessageId"] for message in messages}
        stats.chunk_retries += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(
                    QueueUrl=self._queues.urls[queue], ReceiptHandle=message["ReceiptHandle"]
                )

    def _deliver_dead_letters(
        self, sqs: Any, queue: str, messages: list[dict[str, Any]], stats: PumpStats
    ) -> None:
        self._invoke("deadletter", _sqs_event(messages, self._queues.arns[queue]), timeout_s=300)
        stats.dead_letters += len(messages)
        for message in messages:
            sqs.delete_message(
                QueueUrl=self._queues.urls[queue], ReceiptHandle=message["ReceiptHandle"]
            )


def _sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping would pass for ``messages``."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message.get("Attributes", {}).get(
                        "ApproximateReceiveCount", "1"
                    ),
                    "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", "0"),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": "0",
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


sqs_event = _sqs_event
"""For other consumers of the stack's queues (the ``throttle`` benchmark's worker processes)."""


def _reset_powertools_caches() -> None:
    """Powertools caches its Parameters providers (and their boto3 clients) per process."""
    from aws_lambda_powertools.utilities import parameters

    parameters.base.DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
