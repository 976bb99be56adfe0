"""The local stack: the whole pipeline on an embedded AWS (moto server) and the sandboxes.

:class:`LocalStack` starts the moto server, the ADM sandbox and the AEP sandbox on loopback
ports, creates the resources template.yaml declares (bucket with versioning and S3 → SQS
notifications, chunk queue + DLQ, split queue, ledger / idempotency / registry tables, the ADM
and AEP credentials secrets, seeded with each sandbox's credentials — and one more AEP secret
per extra org of the AEP sandbox (:meth:`StackNames.aep_account_secret_id`) — the file reports
topic with an SQS subscriber: :meth:`LocalStack.notifications`), points the functions at
the sandboxes (``ADM_API_URL`` / ``ADM_TOKEN_URL``, ``AEP_API_URL`` / ``AEP_IMS_URL``), and
delivers queue messages to the **real** Lambda handlers in ``functions/`` — the S3 event to the
splitter, chunk batches to the worker and dead letters to the recorder, both with partial batch
responses — exactly as the Lambda event source mappings would. ``make demo`` and the
end-to-end tests run on it.
:meth:`LocalStack.sweep` runs the sweeper as its EventBridge schedule would (the pump never
needs it: it only finishes finalizations a failure left claimed). The poller state machine
(``functions/poller/poller.asl.json``) runs on moto's Step Functions with its task in this
process (:mod:`adm_local.poller`), polling every ``POLL_INTERVAL_SECONDS`` (1 here); the pump
also waits for its executions.

The only stand-ins are those AWS itself provides: Lambda's event source mappings (the
:meth:`LocalStack.pump`), the schedule (:meth:`LocalStack.sweep`) and the Lambda context
object. For the fault matrix, :attr:`crashes` makes worker invocations die at named points
(:mod:`adm_local.crashes`), and :meth:`LocalStack.worker_container` /
:meth:`LocalStack.deliver_chunks` let a test run two worker "containers" on the same messages at
once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import requests

from adm_ingest import registry as names
from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_ingest.aep.endpoints import AEP_API_URL_ENV, AEP_IMS_URL_ENV
from adm_ingest.pipeline.routing import INPUT_PREFIXES
from adm_ingest.report import rejects_key, report_key
from adm_local import resources
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.crashes import Crashes, SimulatedCrash
from adm_local.emf import MetricsSink
from adm_local.functions import load_function
from adm_local.poller import deploy_poller, poller_router, running_executions
from adm_local.sandbox import SandboxServer
from adm_local.stepfunctions import LocalLambdaContext, configure_moto_server

REGION = "us-east-1"


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
    aep_secret_id: str = "adm-ingest/aep-credentials"
    file_reports_topic: str = "adm-ingest-file-reports"
    file_reports_queue: str = "adm-ingest-file-reports-subscriber"
    """Subscribed to the topic; not one of the pipeline's queues (the pump never waits on it)."""

    def aep_account_secret_id(self, tenant_id: str) -> str:
        """The AEP credentials secret of an extra org of the AEP sandbox (by its tenant): what a
        setup-config account names as ``aepSecretId``."""
        return f"{self.aep_secret_id}/{tenant_id}"


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
    worker_crashes: int = 0
    """Invocations that died at an armed crash point (their messages all came back)."""
    dead_letters: int = 0
    dead_letter_retries: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class FileNotification:
    """One message of the file reports topic, as its SQS subscriber received it."""

    subject: str
    message: dict[str, Any]
    """The JSON document (adm_ingest/notify.py, the README's "File notifications")."""
    attributes: dict[str, str]
    """The message attributes subscription filters match on (``severity``, ``status``, ``kind``)."""

    @property
    def key(self) -> str:
        return str(self.message["key"])

    def line(self) -> str:
        """One line for a terminal."""
        m = self.message
        counts = m["counts"]
        return (
            f"{m['severity']:<7} {m['status']:<22} {m['key']}  read {counts['read']}, "
            f"rejected {counts['rejected']} ({m['reject_share']:.1%}), failed {counts['failed']}"
            f"  → {m['report']['s3_uri']}"
        )


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
        quiet: silence the sandboxes' request logs and the functions' JSON logs.
        sandbox_kwargs: options of the ADM sandbox (:class:`SandboxServer`).
        aep_sandbox_kwargs: options of the AEP sandbox (:class:`AepSandboxServer`), e.g. its
            ``processing_delay`` (how long a completed batch stays ``processing``).
        metrics_log: a file the functions' CloudWatch EMF metric documents are appended to
            (one JSON line each). Quiet or not, they never reach the terminal: they are
            collected in :attr:`metrics` (see :mod:`adm_local.emf`).
        secrets: more Secrets Manager secrets (name → JSON document) besides the two the
            stack seeds: a setup config's ``accounts[].secretId``
            (:func:`adm_local.local_accounts.local_stack_accounts`).
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
        aep_sandbox_kwargs: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
        metrics_log: Path | None = None,
        secrets: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.names = StackNames()
        self.metrics = MetricsSink(metrics_log)
        """The EMF metric documents the functions published (what CloudWatch would extract)."""
        self.records_per_chunk = records_per_chunk
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.worker_batch_size = worker_batch_size
        self.worker_timeout_s = worker_timeout_s
        self.quiet = quiet
        self._extra_env = dict(environment or {})
        self._sandbox_kwargs = dict(sandbox_kwargs or {})
        self._aep_sandbox_kwargs = dict(aep_sandbox_kwargs or {})
        self._secrets = dict(secrets or {})
        self._saved_env: dict[str, str | None] = {}
        self._queues = _Queues()
        self.endpoint = ""
        self.environment: dict[str, str] = {}
        """The variables that point a process at this stack (set in this one while it runs)."""
        self.sandbox: SandboxServer
        self.aep_sandbox: AepSandboxServer
        self.functions: dict[str, ModuleType] = {}
        self.delivered: dict[str, list[str]] = {"s3": [], "chunks": []}
        """Bodies of the S3 events and chunk messages delivered so far (to replay them)."""
        self.crashes = Crashes()
        """Crash points armed in every worker container (none unless a test arms one)."""
        self._sqs_client: Any = None
        self._exits = ExitStack()
        self.poller_arn = ""
        """The poller state machine (POLLER_STATE_MACHINE_ARN of the finalizing functions)."""
        self.file_reports_topic_arn = ""
        self._file_reports_queue_url = ""
        self._notifications: list[FileNotification] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        from adm_local.motoserver import AtomicMotoServer

        if self.quiet:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            from adm_local.setup_runner import quiet_loggers

            # moto's Step Functions interpreter logs each caught state error (the poller's
            # Retry/Catch paths) with its parsed state tree.
            self._exits.enter_context(quiet_loggers())
        self._exits.enter_context(self.metrics.installed())
        port = free_port()
        self._moto = AtomicMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        # moto's backends are per process, shared by every server (and mock) in it: start clean.
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        sandbox_kwargs = {"log_stream": None} if self.quiet else {}
        self.sandbox = SandboxServer(port=0, **{**sandbox_kwargs, **self._sandbox_kwargs})
        self.sandbox.__enter__()
        self.aep_sandbox = AepSandboxServer(
            port=0, **{**sandbox_kwargs, **self._aep_sandbox_kwargs}
        )
        self.aep_sandbox.__enter__()
        self._set_env(self._environment())
        reset_powertools_caches()
        self._provision()
        self._deploy_poller()
        self.functions = {
            name: load_function(name) for name in ("splitter", "deadletter", "sweeper")
        }
        self.functions["worker"] = self.worker_container()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._exits.close()
            self.aep_sandbox.__exit__(None, None, None)
            self.sandbox.__exit__(None, None, None)
            self._moto.stop()
        finally:
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_powertools_caches()

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
            "AEP_SECRET_ID": self.names.aep_secret_id,
            # One host serves the platform and IMS (the client appends /ims/token/v3).
            AEP_API_URL_ENV: self.aep_sandbox.url,
            AEP_IMS_URL_ENV: self.aep_sandbox.url,
            "RECORDS_PER_CHUNK": str(self.records_per_chunk),
            "POLL_INTERVAL_SECONDS": "1",
            # The sandbox matches members as it takes them: a second is time enough (AWS: 900).
            "MATCH_RATE_DELAY_SECONDS": "1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "adm-ingest",
            "POWERTOOLS_METRICS_NAMESPACE": "adm-ingest",
        }
        if self.quiet:
            env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        return env | self._extra_env

    def _set_env(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
            self.environment[name] = value

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def _sqs(self) -> Any:
        """One SQS client for the pump's deletes (boto3 clients are thread-safe)."""
        if self._sqs_client is None:
            self._sqs_client = self.client("sqs")
        return self._sqs_client

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
        queue(
            n.chunk_dlq,
            MessageRetentionPeriod="1209600",
            VisibilityTimeout=str(self.visibility_timeout),  # a failed dead letter comes back
        )
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

        self.file_reports_topic_arn, self._file_reports_queue_url = (
            resources.create_file_reports_topic(
                self.client("sns"), sqs, n.file_reports_topic, n.file_reports_queue
            )
        )
        self._set_env({"FILE_REPORTS_TOPIC_ARN": self.file_reports_topic_arn})

        secrets = self.client("secretsmanager")
        secrets.create_secret(
            Name=n.secret_id, SecretString=json.dumps(self.sandbox.account.secret_document())
        )
        secrets.create_secret(
            Name=n.aep_secret_id,
            SecretString=json.dumps(self.aep_sandbox.account.secret_document()),
        )
        for secret_id, document in self._secrets.items():
            secrets.create_secret(Name=secret_id, SecretString=json.dumps(document))
        for account in self.aep_sandbox.accounts[1:]:  # the sandbox's other orgs
            if n.aep_account_secret_id(account.tenant_id) in self._secrets:
                continue  # a config's aepSecretId of that very name: created just above
            secrets.create_secret(
                Name=n.aep_account_secret_id(account.tenant_id),
                SecretString=json.dumps(account.secret_document()),
            )

    def _deploy_poller(self) -> None:
        """The poller state machine on moto, its task routed to the poller handler (loaded
        after the environment is complete) for as long as the stack runs."""
        configure_moto_server(self.endpoint)
        account = self.client("sts").get_caller_identity()["Account"]
        self.poller_arn = deploy_poller(
            self.client("stepfunctions"), region=REGION, account_id=account
        )
        self._set_env({"POLLER_STATE_MACHINE_ARN": self.poller_arn})
        self._exits.enter_context(poller_router().installed())

    def polls_running(self) -> int:
        """Poller executions still running (files committed, their remote state not final)."""
        return running_executions(self.client("stepfunctions"), self.poller_arn)

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
            aep_secret_id=self.names.aep_secret_id,
            aep_api_url=self.aep_sandbox.url,
            aep_ims_url=self.aep_sandbox.url,
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
        rows = csv.reader(io.StringIO(body.decode(), newline=""))
        next(rows, None)  # the header row
        return [(int(line), outcome, reason) for line, outcome, reason in rows]

    def notifications(self) -> list[FileNotification]:
        """Every message the file reports topic sent so far, oldest first (read off its SQS
        subscriber and kept: each call returns the earlier ones too)."""
        sqs = self._sqs()
        while True:
            messages = sqs.receive_message(
                QueueUrl=self._file_reports_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                self._notifications.append(
                    FileNotification(
                        subject=str(envelope.get("Subject") or ""),
                        message=json.loads(envelope["Message"]),
                        attributes={
                            name: str(value["Value"])
                            for name, value in (envelope.get("MessageAttributes") or {}).items()
                        },
                    )
                )
                sqs.delete_message(
                    QueueUrl=self._file_reports_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self._notifications.sort(key=lambda n: str(n.message.get("finished_at") or ""))
        return list(self._notifications)

    def sweep(self) -> dict[str, int]:
        """One run of the sweeper (what its schedule does every few minutes): finishes the
        finalizations whose lease (``FINALIZE_LEASE_SECONDS``) expired unfinished."""
        event = {
            "version": "0",
            "id": "local-sweep",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:123456789012:rule/sweep"],
            "detail": {},
        }
        return dict(self._invoke("sweeper", event, timeout_s=300))

    def queue_url(self, name: str) -> str:
        return self._queues.urls[name]

    def queue_arn(self, name: str) -> str:
        return self._queues.arns[name]

    def send_message(self, queue: str, body: str) -> None:
        """Put a message on one of the stack's queues by hand (to replay a delivery)."""
        self.client("sqs").send_message(QueueUrl=self._queues.urls[queue], MessageBody=body)

    def receive(self, queue: str, max_messages: int = 10) -> list[dict[str, Any]]:
        """Take up to ``max_messages`` visible messages off a queue (they stay in flight
        until deleted or their visibility timeout passes), as an event source would."""
        return list(
            self.client("sqs")
            .receive_message(
                QueueUrl=self._queues.urls[queue],
                MaxNumberOfMessages=max_messages,
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            .get("Messages", [])
        )

    def worker_container(self) -> ModuleType:
        """A fresh worker function module — another Lambda execution environment, with its own
        clients, token cache and BatchProcessor — with :attr:`crashes` hooked in."""
        module = load_function("worker")
        self.crashes.install(module)
        return module

    # -- the event source mappings ---------------------------------------------------------------

    def pump(
        self,
        *,
        timeout: float = 300.0,
        progress: Callable[[LocalStack], None] | None = None,
        settle: float = 0.3,
        hold: Collection[str] = (),
        deliver_chunks: bool = True,
    ) -> PumpStats:
        """Deliver queued messages to the handlers until every queue is empty and nothing is
        in flight. Queues named in ``hold`` are neither delivered nor waited for (their
        messages stay put, e.g. to gather dead letters into one batch). Raises TimeoutError
        after ``timeout`` seconds.

        This pump is one poller: it invokes one worker at a time. With ``deliver_chunks=False``
        it leaves the chunk queue to other consumers (concurrent worker processes, as the
        ``throttle`` benchmark runs) and still waits for it to drain."""
        n = self.names
        sqs = self.client("sqs")
        stats = PumpStats()
        started = time.monotonic()
        consumers: list[tuple[str, int, Callable[..., None]]] = [
            (n.s3_events_queue, 10, self._deliver_s3_events),
            (n.split_queue, 1, self._deliver_continuations),
            (n.chunk_queue, self.worker_batch_size, self._deliver_chunks),
            (n.chunk_dlq, 10, self._deliver_dead_letters),
        ]
        while True:
            busy = False
            for queue, batch, deliver in consumers:
                if queue in hold or (queue == n.chunk_queue and not deliver_chunks):
                    continue
                busy |= self._drain(sqs, queue, batch, deliver, stats)
            if progress is not None:
                progress(self)
            if busy:
                continue
            if self._idle(sqs, hold) and not self.polls_running():
                stats.seconds = time.monotonic() - started
                return stats
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"pipeline still busy after {timeout:.0f}s")
            time.sleep(settle)

    def split(self, *, timeout: float = 60.0) -> PumpStats:
        """Deliver S3 events and split continuations only, leaving the chunk messages queued."""
        n = self.names
        sqs = self.client("sqs")
        stats = PumpStats()
        started = time.monotonic()
        while True:
            busy = self._drain(sqs, n.s3_events_queue, 10, self._deliver_s3_events, stats)
            busy |= self._drain(sqs, n.split_queue, 1, self._deliver_continuations, stats)
            if not busy and self._idle(sqs, queues=(n.s3_events_queue, n.split_queue)):
                stats.seconds = time.monotonic() - started
                return stats
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"split still busy after {timeout:.0f}s")
            if not busy:
                time.sleep(0.1)

    def _idle(
        self, sqs: Any, hold: Collection[str] = (), queues: tuple[str, ...] | None = None
    ) -> bool:
        names = queues if queues is not None else tuple(self._queues.urls)
        for url in (self._queues.urls[name] for name in names if name not in hold):
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

    def _invoke(
        self,
        function: str,
        event: Mapping[str, Any],
        timeout_s: float,
        module: ModuleType | None = None,
    ) -> Any:
        context = LocalLambdaContext(
            function_name=f"adm-ingest-{function}",
            timeout_s=timeout_s,
            memory_limit_in_mb=1024,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function}",
        )
        handler = (module or self.functions[function]).lambda_handler
        return handler(dict(event), context)

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
        self.deliver_chunks(messages, stats=stats)

    def deliver_chunks(
        self,
        messages: list[dict[str, Any]],
        *,
        container: ModuleType | None = None,
        stats: PumpStats | None = None,
    ) -> set[str]:
        """Invoke a worker (the stack's, or ``container``) on chunk messages received from the
        chunk queue and delete those it did not report failed, as the event source mapping
        does. Returns the ids of the messages left for redelivery."""
        queue = self.names.chunk_queue
        stats = stats if stats is not None else PumpStats()
        event = _sqs_event(messages, self._queues.arns[queue])
        self.delivered["chunks"].extend(message["Body"] for message in messages)
        stats.worker_invocations += 1
        stats.chunk_messages += len(messages)
        try:
            response = (
                self._invoke("worker", event, timeout_s=self.worker_timeout_s, module=container)
                or {}
            )
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except SimulatedCrash:
            # The execution environment died: no response, every message comes back, and the
            # next invocation starts in a new environment (cold start), as on Lambda.
            failed = {message["MessageId"] for message in messages}
            stats.worker_crashes += 1
            if container is None:
                self.functions["worker"] = self.worker_container()
        except Exception:  # every record failed (BatchProcessingError) or the handler crashed
            failed = {message["MessageId"] for message in messages}
        stats.chunk_retries += len(failed)
        sqs = self._sqs()
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(
                    QueueUrl=self._queues.urls[queue], ReceiptHandle=message["ReceiptHandle"]
                )
        return failed

    def _deliver_dead_letters(
        self, sqs: Any, queue: str, messages: list[dict[str, Any]], stats: PumpStats
    ) -> None:
        event = _sqs_event(messages, self._queues.arns[queue])
        stats.dead_letters += len(messages)
        try:
            response = self._invoke("deadletter", event, timeout_s=300) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # every record failed (BatchProcessingError) or the handler crashed
            failed = {message["MessageId"] for message in messages}
        stats.dead_letter_retries += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
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


def reset_powertools_caches() -> None:
    """Powertools caches its Parameters providers (and their boto3 clients) per process."""
    from aws_lambda_powertools.utilities import parameters

    parameters.base.DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
