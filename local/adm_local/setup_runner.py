"""``adm-ingest setup CONFIG`` locally: the real setup state machine on moto + the ADM sandbox.

:func:`run_setup` validates the config (nothing is called when it is invalid), renders
``functions/setup/setup.asl.json`` with the same DefinitionSubstitutions template.yaml passes,
deploys it to moto's Step Functions, executes it with the config as input while moto's Lambda
invocations run the handlers of ``functions/setup/app.py`` in this process, and returns a
:class:`SetupReport` of what each item's step did (``created`` / ``unchanged``…).

Call it inside ``mock_aws(config=MOTO_CONFIG)`` or against a moto server in this process
(``endpoint_url``). The ADM and AEP endpoints (normally the sandboxes) come from
``SetupEnvironment``; a config without ``aepDatasets`` needs no AEP secret.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_ingest.aep import AEP_API_URL_ENV, AEP_IMS_URL_ENV
from adm_ingest.setup.config import SetupConfig, load_config
from adm_ingest.setup.steps import ItemKind, ItemResult, Outcome
from adm_local.functions import FUNCTIONS, load_function
from adm_local.resources import create_registry_table
from adm_local.setup_history import clear_message, completed_items
from adm_local.stepfunctions import (
    Execution,
    LambdaRouter,
    configure_moto_server,
    deploy_state_machine,
    history,
    render_definition,
    run_execution,
)

SETUP_DIR = FUNCTIONS / "setup"
ASL_PATH = SETUP_DIR / "setup.asl.json"

# Step name → handler function of functions/setup/app.py; the ASL substitution for the step's
# function ARN is "<Step>FunctionArn".
STEP_HANDLERS: Mapping[str, str] = {
    "AcceptTerms": "accept_terms",
    "EnsureDataRoom": "ensure_data_room",
    "EnsureAccount": "ensure_account",
    "EnsureAudience": "ensure_audience",
    "EnsureConversionDefinitions": "ensure_conversion_definitions",
    "EnsureSharingRule": "ensure_sharing_rule",
    "SaveRegistry": "save_registry",
    "EnsureAepDataset": "ensure_aep_dataset",
}
FUNCTION_PREFIX = "adm-ingest-setup-"
DEFAULT_STATE_MACHINE = "adm-ingest-setup"
DEFAULT_FAILURE_TOPIC = "adm-ingest-setup-failures"

NOISY_LOGGERS = ("moto", "werkzeug", "botocore", "urllib3")
"""Libraries whose warnings are about their own machinery: moto's Step Functions interpreter
logs every caught state error with its whole parsed state tree (kilobytes per failure)."""


@dataclass(frozen=True, slots=True)
class SetupEnvironment:
    """What the setup functions read from their environment (as template.yaml sets it)."""

    secret_id: str
    registry_table: str
    adm_api_url: str | None = None
    adm_token_url: str | None = None
    aep_secret_id: str | None = None
    """The AEP credentials secret (``AEP_SECRET_ID``); only a config with ``aepDatasets``
    needs it."""
    aep_api_url: str | None = None
    aep_ims_url: str | None = None

    def variables(self) -> dict[str, str]:
        values = {"ADM_SECRET_ID": self.secret_id, "REGISTRY_TABLE": self.registry_table}
        optional = {
            API_URL_ENV: self.adm_api_url,
            TOKEN_URL_ENV: self.adm_token_url,
            "AEP_SECRET_ID": self.aep_secret_id,
            AEP_API_URL_ENV: self.aep_api_url,
            AEP_IMS_URL_ENV: self.aep_ims_url,
        }
        values.update({name: value for name, value in optional.items() if value})
        return values


@dataclass(frozen=True)
class SetupReport:
    """The outcome of one setup execution.

    ``items`` holds one result per terms / data room / audience / conversion definition /
    sharing rule, then one per registry entry, then per AEP dataset its result and its registry
    entry's. On failure, ``items`` holds what the steps had finished before it (read from the
    execution history: already created, so a re-run finds them), ``failed_step`` names the
    state machine step that failed, ``error`` its error name and ``cause`` its cause as the
    execution reports it (:attr:`message`: the handler's own text).
    """

    execution_arn: str
    status: str
    items: tuple[ItemResult, ...] = ()
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None
    output: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def message(self) -> str:
        """The failing handler's message, without the Lambda error JSON around it."""
        return clear_message(self.cause)

    def of(self, kind: ItemKind) -> list[ItemResult]:
        return [item for item in self.items if item.kind is kind]

    def outcomes(self, kind: ItemKind) -> dict[str, Outcome]:
        """``{name: outcome}`` for one kind of item."""
        return {item.name: item.outcome for item in self.of(kind)}

    @property
    def changed(self) -> list[ItemResult]:
        """Items a step created, updated or revoked (empty on a re-run of the same config)."""
        return [item for item in self.items if item.outcome is not Outcome.UNCHANGED]

    def to_json(self) -> dict[str, Any]:
        """The report as ``setup --json`` prints it: status, the items (kind, name, id,
        result) and, on failure, the step, the error and its clear message (never the
        execution's raw cause)."""
        document: dict[str, Any] = {
            "execution_arn": self.execution_arn,
            "status": self.status,
            "ok": self.ok,
            "items": [
                {
                    "kind": item.kind.value,
                    "name": item.name,
                    "id": item.id,
                    "result": item.outcome.value,
                }
                for item in self.items
            ],
        }
        if not self.ok:
            document["failure"] = {
                "step": self.failed_step,
                "error": self.error,
                "message": self.message,
            }
        return document

    def format_table(self) -> str:
        """A fixed-width table (kind, name, id, outcome) plus the failure, if any.

        A failed run's table is what had been done before the failure, and its last line
        ``FAILED at <step>: <error>: <message>``.
        """
        if not self.ok and not self.items:
            return (
                "nothing was created before the failure\n"
                f"FAILED at {self.failed_step or '?'}: {self.error}: {self.message}"
            )
        rows = [("KIND", "NAME", "ID", "RESULT")] + [
            (item.kind.value, item.name, item.id, item.outcome.value) for item in self.items
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
            for row in rows
        ]
        if not self.ok:
            lines.insert(0, "done before the failure (a re-run finds these and continues):")
            lines.append(f"FAILED at {self.failed_step or '?'}: {self.error}: {self.message}")
        return "\n".join(lines)


def load_handlers() -> ModuleType:
    """``functions/setup/app.py``, imported once."""
    return load_function("setup", fresh=False)


def setup_router(*, timeout_s: float = 60.0) -> LambdaRouter:
    """A router from the setup function names (``adm-ingest-setup-<Step>``) to the handlers."""
    app = load_handlers()
    return LambdaRouter(
        {FUNCTION_PREFIX + step: getattr(app, handler) for step, handler in STEP_HANDLERS.items()},
        timeout_s=timeout_s,
    )


def substitutions(
    *,
    region: str,
    account_id: str,
    failure_topic_arn: str,
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
) -> dict[str, str]:
    """The DefinitionSubstitutions template.yaml passes, for the local function names."""
    function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{FUNCTION_PREFIX}"
    values = {f"{step}FunctionArn": function_arn + step for step in STEP_HANDLERS}
    values["FailureTopicArn"] = failure_topic_arn
    values["RetryIntervalSeconds"] = str(retry_interval_seconds)
    values["RetryMaxAttempts"] = str(retry_max_attempts)
    return values


def run_setup(
    config: str | Path | Mapping[str, Any] | SetupConfig,
    *,
    environment: SetupEnvironment,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    failure_topic_arn: str | None = None,
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
    state_machine_name: str = DEFAULT_STATE_MACHINE,
    timeout_s: float = 300.0,
    router: LambdaRouter | None = None,
    echo: Callable[[str], None] | None = None,
) -> SetupReport:
    """Run the setup state machine for ``config`` on moto and report per-item results.

    Raises:
        ConfigError: the config is invalid (raised before any AWS or ADM call).
    """
    setup_config = config if isinstance(config, SetupConfig) else load_config(config)
    if endpoint_url:
        configure_moto_server(endpoint_url)
    client_kwargs: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        client_kwargs["endpoint_url"] = endpoint_url
    sfn = boto3.client("stepfunctions", **client_kwargs)
    arn = deploy_setup(
        client_kwargs,
        registry_table=environment.registry_table,
        failure_topic_arn=failure_topic_arn,
        retry_interval_seconds=retry_interval_seconds,
        retry_max_attempts=retry_max_attempts,
        state_machine_name=state_machine_name,
    )
    variables = environment.variables() | {"AWS_DEFAULT_REGION": region}
    if endpoint_url:
        # The handlers' own boto3 calls (registry table) must reach the same moto server.
        variables.setdefault("AWS_ENDPOINT_URL", os.environ.get("AWS_ENDPOINT_URL", endpoint_url))
    with quiet_loggers(), (router or setup_router()).installed(), _environment(variables):
        execution = run_execution(sfn, arn, setup_config.to_json(), timeout_s=timeout_s)
    report = report_of(execution, () if execution.succeeded else history(sfn, execution.arn))
    if echo is not None:
        echo(report.format_table())
    return report


def deploy_setup(
    client_kwargs: Mapping[str, Any],
    *,
    registry_table: str,
    failure_topic_arn: str | None = None,
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
    state_machine_name: str = DEFAULT_STATE_MACHINE,
) -> str:
    """What ``sam deploy`` creates for the setup, on moto: the registry table, the failure
    topic (unless given) and the state machine from the real ASL. Returns the machine's ARN."""
    sfn = boto3.client("stepfunctions", **client_kwargs)
    account_id = boto3.client("sts", **client_kwargs).get_caller_identity()["Account"]
    region = str(client_kwargs.get("region_name") or sfn.meta.region_name)
    create_registry_table(boto3.client("dynamodb", **client_kwargs), registry_table)
    if failure_topic_arn is None:
        topic = boto3.client("sns", **client_kwargs).create_topic(Name=DEFAULT_FAILURE_TOPIC)
        failure_topic_arn = str(topic["TopicArn"])
    definition = render_definition(
        ASL_PATH,
        substitutions(
            region=region,
            account_id=account_id,
            failure_topic_arn=failure_topic_arn,
            retry_interval_seconds=retry_interval_seconds,
            retry_max_attempts=retry_max_attempts,
        ),
    )
    return deploy_state_machine(
        sfn,
        name=state_machine_name,
        definition=definition,
        role_arn=f"arn:aws:iam::{account_id}:role/{state_machine_name}",
    )


def report_of(execution: Execution, events: Sequence[Mapping[str, Any]] = ()) -> SetupReport:
    """Turn a finished execution (its output, or its Fail state's error) into a report.

    ``events`` (the execution's history) gives a failed run's items: what its steps finished.
    """
    if not execution.succeeded:
        step, cause = None, execution.cause
        try:
            shaped = json.loads(execution.cause or "")
        except json.JSONDecodeError:
            shaped = None
        if isinstance(shaped, dict):
            step, cause = shaped.get("step"), shaped.get("cause")
        return SetupReport(
            execution.arn,
            execution.status,
            completed_items(events),
            step,
            execution.error,
            cause,
            output={},
        )
    output = execution.output or {}
    results = output.get("results", {})
    # An AEP-only config skips the ADM steps: no terms, no data room.
    raw_items: list[Mapping[str, Any]] = [
        results[key] for key in ("terms", "dataRoom") if key in results
    ]
    for account in results.get("accounts") or []:  # the other accounts': terms, data room
        if "terms" in account:  # an AEP-only account has neither
            raw_items.extend((account["terms"], account["dataRoom"]))
    for key in ("audiences", "conversionDefinitions", "sharingRules", "registry"):
        raw_items.extend(results.get(key) or [])
    for dataset in results.get("aepDatasets") or []:
        raw_items.extend((dataset["dataset"], dataset["registry"]))
    items = tuple(ItemResult.from_json(raw) for raw in raw_items)
    return SetupReport(execution.arn, execution.status, items, output=output)


@contextmanager
def quiet_loggers(names: Sequence[str] = NOISY_LOGGERS) -> Iterator[None]:
    """Silence the :data:`NOISY_LOGGERS` (their levels restored after): what a person sees
    of a failed setup is the report's failing step and message, not an interpreter's trace."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the in-process handlers; restore the old values after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
