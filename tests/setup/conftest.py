"""Fixtures for the setup workflow tests: the ADM sandbox, moto with Step Functions execution,
the credentials secret, and a runner executing the real ``functions/setup/setup.asl.json``;
for the AEP part, the AEP sandbox, its secret and a runner whose environment names it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_ingest.adm import AdmClient, ClientSettings, RetryPolicy, Timeouts
from adm_ingest.adm.auth import Credentials
from adm_ingest.aep import AepClient, AepCredentials, AepSettings
from adm_ingest.registry import Registry
from adm_local.aep_sandbox import AepSandboxServer
from adm_local.sandbox import SandboxServer
from adm_local.setup_runner import SetupEnvironment, SetupReport, run_setup
from adm_local.stepfunctions import MOTO_CONFIG, LambdaRouter
from tests.setup.setup_support import (
    AEP_SECRET_ID,
    EXAMPLE_CONFIG,
    REGION,
    REGISTRY_TABLE,
    SECRET_ID,
    Runner,
    credentials_document,
)


@pytest.fixture
def example_config() -> dict[str, Any]:
    """A fresh copy of the example config in events/ (tests may edit it)."""
    return copy.deepcopy(json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8")))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A brand-new ADM account: terms not accepted, no data room, nothing else."""
    with SandboxServer(port=0, log_stream=None) as server:
        yield server


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> Iterator[None]:
    """moto (executing state machines, Docker-free Lambda) holding the credentials secret."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config=MOTO_CONFIG):
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET_ID, SecretString=json.dumps(credentials_document(sandbox))
        )
        yield


@pytest.fixture
def environment(sandbox: SandboxServer) -> SetupEnvironment:
    return SetupEnvironment(SECRET_ID, REGISTRY_TABLE, sandbox.url, sandbox.token_url)


@pytest.fixture
def failure_queue(aws: None) -> tuple[str, str]:
    """(topic ARN, queue URL): an SQS queue subscribed to the failure topic, to read alerts."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="setup-failures")["TopicArn"]
    queue = sqs.create_queue(QueueName="setup-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


@pytest.fixture
def run(aws: None, environment: SetupEnvironment, failure_queue: tuple[str, str]) -> Runner:
    """Run the setup state machine (tiny retry intervals) and return its report."""

    def runner(config: Any, *, router: LambdaRouter | None = None, **options: Any) -> SetupReport:
        options.setdefault("retry_interval_seconds", 1)
        options.setdefault("retry_max_attempts", 2)
        return run_setup(
            config,
            environment=environment,
            region=REGION,
            failure_topic_arn=failure_queue[0],
            router=router,
            timeout_s=60,
            **options,
        )

    return runner


@pytest.fixture
def registry(aws: None) -> Registry:
    return Registry(REGISTRY_TABLE, dynamodb=boto3.resource("dynamodb", region_name=REGION))


@pytest.fixture
def adm(sandbox: SandboxServer) -> Iterator[AdmClient]:
    """A client straight to the sandbox (to pre-seed or inspect the account), fast retries."""
    settings = ClientSettings(
        api_url=sandbox.url,
        token_url=sandbox.token_url,
        retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2),
        timeouts=Timeouts(connect=2.0, read=5.0),
        call_budget=10.0,
    )
    with AdmClient(settings, Credentials.from_mapping(credentials_document(sandbox))) as client:
        yield client


@pytest.fixture
def aep_sandbox() -> Iterator[AepSandboxServer]:
    """A fresh AEP sandbox (its seeded Profile and ExperienceEvent schemas, no datasets)."""
    with AepSandboxServer(port=0, log_stream=None) as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
def aep_client(aep_sandbox: AepSandboxServer) -> Iterator[AepClient]:
    """An AEP client straight to the sandbox, fast retries."""
    settings = AepSettings(
        api_url=aep_sandbox.url,
        ims_url=aep_sandbox.url,
        retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2),
        timeouts=Timeouts(connect=2.0, read=5.0),
        call_budget=10.0,
    )
    credentials = AepCredentials.from_mapping(aep_sandbox.account.secret_document())
    with AepClient(credentials, settings) as client:
        yield client


@pytest.fixture
def run_with_aep(
    aws: None,
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    failure_queue: tuple[str, str],
) -> Runner:
    """Like ``run``, with the AEP secret in moto and the AEP sandbox in the environment."""
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=AEP_SECRET_ID, SecretString=json.dumps(aep_sandbox.account.secret_document())
    )
    environment = SetupEnvironment(
        SECRET_ID,
        REGISTRY_TABLE,
        sandbox.url,
        sandbox.token_url,
        aep_secret_id=AEP_SECRET_ID,
        aep_api_url=aep_sandbox.url,
        aep_ims_url=aep_sandbox.url,
    )

    def runner(config: Any, **options: Any) -> SetupReport:
        options.setdefault("retry_interval_seconds", 1)
        options.setdefault("retry_max_attempts", 2)
        return run_setup(
            config,
            environment=environment,
            region=REGION,
            failure_topic_arn=failure_queue[0],
            timeout_s=60,
            **options,
        )

    return runner
