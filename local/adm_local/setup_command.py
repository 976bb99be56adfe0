"""``adm-ingest setup CONFIG [--against URL | aws]``: run the setup workflow, three ways.

* no ``--against``: the real ASL on an embedded moto against a throw-away embedded sandbox
  (``--runs 2`` shows the second run unchanged);
* ``--against http://127.0.0.1:8765``: the same local runner (real ASL, embedded moto, handlers
  in this process), with the ADM client pointed at an already running ``adm-ingest sandbox``
  (and the AEP client at ``--aep-against``), so the registry it prints is that sandbox's; an
  account's own secret (``secretId``, ``aepSecretId``) is given with ``--account-secret ID=FILE``;
* ``--against aws``: starts the deployed state machine (the stack output
  ``SetupStateMachineArn`` of ``--stack``) and follows its execution history, printing each
  step as it completes, then the result and the registry table.

Exit codes: 0 the setup succeeded, 1 it failed (the failing step, its message and what had
already been created are printed), 2 a usage or config error (every config problem, one a line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adm_ingest.setup.config import FILE_FIELD, ConfigError, SetupConfig, load_config

DEFAULT_STACK = "adm-ingest"
AGAINST_AWS = "aws"
SETUP_OUTPUT = "SetupStateMachineArn"
REGISTRY_OUTPUT = "RegistryTableName"
LOCAL_REGION = "us-east-1"
LOCAL_SECRET_ID = "adm-ingest/credentials"
LOCAL_AEP_SECRET_ID = "adm-ingest/aep-credentials"
LOCAL_REGISTRY_TABLE = "adm-ingest-registry"
_FINISHED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

if TYPE_CHECKING:
    from adm_local.setup_runner import SetupReport

Echo = Callable[[str], None]


class SetupPrintout:
    """What ``setup`` prints: as text while it runs, or (``--json``) one JSON document at the
    end — ``{"runs": [<SetupReport.to_json()>…], "registry": {…}}`` — with the progress notes
    on stderr, so stdout holds the document alone."""

    def __init__(self, echo: Echo = print, *, as_json: bool = False) -> None:
        self._echo = echo
        self._as_json = as_json
        self._runs: list[dict[str, Any]] = []
        self._registry: Mapping[str, Any] | None = None

    def note(self, text: str) -> None:
        """A progress line (a step done, the execution started…)."""
        if self._as_json:
            print(text, file=sys.stderr)
        else:
            self._echo(text)

    def run(self, title: str, report: SetupReport) -> None:
        """One execution's outcome: its title line and table, or its JSON."""
        if self._as_json:
            self._runs.append(report.to_json())
        else:
            self._echo(f"\n{title}")
            self._echo(report.format_table())

    def registry(self, label: str, snapshot: Mapping[str, Any]) -> None:
        if self._as_json:
            self._registry = snapshot
        else:
            self._echo(f"\n{label}: " + json.dumps(snapshot, indent=2))

    def finish(self) -> None:
        """With ``--json``: print the document (whatever the outcome, once something ran)."""
        if self._as_json and self._runs:
            document: dict[str, Any] = {"runs": self._runs}
            if self._registry is not None:
                document["registry"] = self._registry
            self._echo(json.dumps(document, indent=2))


class SetupCommandError(Exception):
    """A problem the operator fixes (no stack, no sandbox at the URL…): one line, exit
    ``code`` — 1, or 2 for a usage mistake (a credentials file that is missing or not one),
    as every command exits for a missing or bad file."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_parser(commands: Any) -> None:
    """Register ``setup`` on the CLI's sub-parsers."""
    setup = commands.add_parser(
        "setup",
        help="run the setup workflow (locally, against a running sandbox, or on AWS)",
        description=(
            "Run the setup state machine for CONFIG. Without --against: locally, against a "
            "throw-away sandbox. Exit codes: 0 ok, 1 the setup failed, 2 usage / config errors."
        ),
    )
    setup.add_argument("config", type=Path)
    setup.add_argument(
        "--against",
        metavar="URL|aws",
        help="an ADM sandbox already running (e.g. http://127.0.0.1:8765), or 'aws': start "
        "the deployed state machine and follow it",
    )
    setup.add_argument(
        "--aep-against",
        metavar="URL",
        help="with --against URL: the running AEP sandbox (default: $AEP_API_URL, which "
        "`adm-ingest sandbox` prints, else the URL's host, port 8766)",
    )
    setup.add_argument(
        "--credentials",
        type=Path,
        help="with --against URL: the ADM credentials JSON (default: the sandbox's seeded account)",
    )
    setup.add_argument(
        "--aep-credentials",
        type=Path,
        help="with --against URL: the AEP credentials JSON (default: the AEP sandbox's account)",
    )
    setup.add_argument(
        "--account-secret",
        action="append",
        default=[],
        type=_account_secret,
        metavar="ID=FILE",
        help="with --against URL: store the credentials JSON FILE as the secret ID, one of the "
        "config's accounts' secretId or aepSecretId (repeatable; default: the login "
        "`adm-ingest sandbox --account NAME` / `--aep-account NAME` serves the account NAME)",
    )
    setup.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document at the end: each run's status, items (kind, name, id, "
        "result) and failure, and the registry (progress goes to stderr)",
    )
    setup.add_argument(
        "--stack", default=DEFAULT_STACK, help=f"with --against aws: the stack ({DEFAULT_STACK})"
    )
    setup.add_argument(
        "--state-machine-arn", help="with --against aws: the ARN itself (no stack lookup)"
    )
    setup.add_argument("--region", help="with --against aws: the AWS region (default: boto3's)")
    setup.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for the execution"
    )
    setup.add_argument(
        "--poll", type=float, default=2.0, help="with --against aws: seconds between polls"
    )
    setup.add_argument(
        "--runs",
        type=int,
        default=None,
        help="run it this many times (default: 2 on the throw-away sandbox, to show the "
        "second run unchanged; 1 otherwise)",
    )


def run(args: argparse.Namespace, echo: Echo = print) -> int:
    """The ``setup`` command: see the module docstring for its modes and exit codes."""
    against = args.against
    if against not in (None, AGAINST_AWS) and not against.startswith(("http://", "https://")):
        return _usage(f"--against takes a sandbox URL (http://…) or 'aws', not {against!r}")
    try:
        config = load_config(args.config)
    except ConfigError as error:
        return _config_error(args.config, error)
    printout = SetupPrintout(echo, as_json=args.json)
    try:
        if args.against == AGAINST_AWS:
            code = _against_aws(args, config, printout)
        elif args.against is not None:
            code = _against_sandbox(args, config, printout)
        else:
            code = _throw_away(args, config, printout)
    except SetupCommandError as error:
        print(f"adm-ingest: error: {error}", file=sys.stderr)
        return error.code
    printout.finish()
    return code


def _config_error(path: Path, error: ConfigError) -> int:
    problems = error.problems
    if len(problems) == 1 and problems[0].field == FILE_FIELD:  # the file itself: no field
        print(f"adm-ingest: error: {path}: {problems[0].problem}", file=sys.stderr)
    elif len(problems) == 1:
        print(f"adm-ingest: error: {path}: {problems[0]}", file=sys.stderr)
    else:
        print(f"adm-ingest: error: {path}: {len(problems)} problems:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
    return 2


def _usage(message: str) -> int:
    print(f"adm-ingest: error: {message}", file=sys.stderr)
    return 2


# -- locally: a throw-away sandbox, or one already running ----------------------------------


def _throw_away(args: argparse.Namespace, config: SetupConfig, printout: SetupPrintout) -> int:
    from adm_local.local_accounts import local_stack_accounts
    from adm_local.stack import LocalStack

    printout.note(
        "Running the setup state machine (functions/setup/setup.asl.json) on a local stack: "
        "moto Step Functions + a throw-away ADM sandbox (use --against to keep its state)."
    )
    with LocalStack(**local_stack_accounts(config)) as stack:
        for run_number in range(1, (args.runs or 2) + 1):
            report = stack.setup(config)
            printout.run(f"run {run_number}: {report.status}", report)
            if not report.ok:
                return 1
        printout.registry("registry", stack.registry.snapshot())
    return 0


def _against_sandbox(args: argparse.Namespace, config: SetupConfig, printout: SetupPrintout) -> int:
    import boto3
    from moto import mock_aws

    from adm_ingest.registry import Registry
    from adm_local.aep_sandbox.ims import AepAccount
    from adm_local.sandbox.auth import SandboxAccount
    from adm_local.setup_runner import SetupEnvironment, run_setup
    from adm_local.stack import reset_powertools_caches
    from adm_local.stepfunctions import MOTO_CONFIG

    adm_url = args.against.rstrip("/")
    aep_url = (args.aep_against or _default_aep_url(adm_url)).rstrip("/")
    _reachable(adm_url, "ADM sandbox", "start one with: adm-ingest sandbox")
    if config.aep_datasets:
        _reachable(aep_url, "AEP sandbox", "give --aep-against, or start adm-ingest sandbox")
    adm_secret = _credentials(args.credentials, SandboxAccount().secret_document)
    aep_secret = _credentials(args.aep_credentials, AepAccount().secret_document)
    try:
        account_secrets = _account_secrets(config, args.account_secret)
    except ValueError as error:
        return _usage(str(error))
    printout.note(
        f"Running the setup state machine on an embedded moto against the sandbox at "
        f"{adm_url}" + (f" (AEP: {aep_url})" if config.aep_datasets else "") + "."
    )
    environment = SetupEnvironment(
        secret_id=LOCAL_SECRET_ID,
        registry_table=LOCAL_REGISTRY_TABLE,
        adm_api_url=adm_url,
        adm_token_url=f"{adm_url}/auth/o2/token",
        aep_secret_id=LOCAL_AEP_SECRET_ID,
        aep_api_url=aep_url,
        aep_ims_url=aep_url,
    )
    reset_powertools_caches()
    try:
        with _without_endpoint_override(), mock_aws(config=MOTO_CONFIG):
            secrets = boto3.client("secretsmanager", region_name=LOCAL_REGION)
            secrets.create_secret(Name=LOCAL_SECRET_ID, SecretString=json.dumps(adm_secret))
            secrets.create_secret(Name=LOCAL_AEP_SECRET_ID, SecretString=json.dumps(aep_secret))
            for secret_id, document in account_secrets.items():
                secrets.create_secret(Name=secret_id, SecretString=json.dumps(document))
            for run_number in range(1, (args.runs or 1) + 1):
                report = run_setup(
                    config, environment=environment, region=LOCAL_REGION, timeout_s=args.timeout
                )
                printout.run(f"run {run_number}: {report.status}", report)
                if not report.ok:
                    return 1
            registry = Registry(
                LOCAL_REGISTRY_TABLE,
                dynamodb=boto3.resource("dynamodb", region_name=LOCAL_REGION),
            )
            printout.registry("registry", registry.snapshot())
    finally:
        reset_powertools_caches()
    return 0


def _account_secrets(
    config: SetupConfig, given: list[tuple[str, Path]]
) -> dict[str, Mapping[str, Any]]:
    """The secrets of the config's other accounts (``secretId``, ``aepSecretId``): the
    ``--account-secret ID=FILE`` documents, else the sandbox's ``--account`` /
    ``--aep-account`` logins.

    Raises:
        ValueError: an ID no account of the config names.
    """
    from adm_local.local_accounts import account_secrets

    return account_secrets(
        config, {secret_id: _credentials(path, dict) for secret_id, path in given}
    )


def _default_aep_url(adm_url: str) -> str:
    """``$AEP_API_URL`` — the AEP sandbox's own export line, so a shell with the lines
    `adm-ingest sandbox` printed needs no ``--aep-against``, whatever its ports — else the
    ADM sandbox's host on the AEP sandbox's default port."""
    from urllib.parse import urlsplit

    from adm_ingest.aep.endpoints import AEP_API_URL_ENV
    from adm_local.sandbox_command import AEP_SANDBOX_PORT

    exported = os.environ.get(AEP_API_URL_ENV)
    if exported:
        return exported
    parts = urlsplit(adm_url)
    return f"{parts.scheme}://{parts.hostname}:{AEP_SANDBOX_PORT}"


def _reachable(url: str, what: str, hint: str) -> None:
    import requests

    try:
        requests.get(f"{url}/_sandbox/state", timeout=5).raise_for_status()
    except requests.RequestException:
        raise SetupCommandError(f"no {what} answers at {url} ({hint})") from None


def _account_secret(value: str) -> tuple[str, Path]:
    """``ID=FILE`` of ``--account-secret``."""
    secret_id, equals, path = value.partition("=")
    if not equals or not secret_id.strip() or not path:
        raise argparse.ArgumentTypeError("give ID=FILE: a secret id and a credentials JSON file")
    return secret_id.strip(), Path(path)


def _credentials(path: Path | None, default: Callable[[], dict[str, str]]) -> Mapping[str, Any]:
    if path is None:
        return default()
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise SetupCommandError(f"{path}: {error.strerror or error}", 2) from None
    except ValueError:
        raise SetupCommandError(f"{path}: not a JSON credentials document", 2) from None
    if not isinstance(document, dict):
        raise SetupCommandError(f"{path}: not a JSON credentials document", 2)
    return document


@contextmanager
def _without_endpoint_override() -> Iterator[None]:
    """An ``AWS_ENDPOINT_URL`` (a local stack's) would send the embedded moto's calls away."""
    import os

    saved = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved


# -- on AWS: start the deployed state machine and follow it ---------------------------------


def _against_aws(args: argparse.Namespace, config: SetupConfig, printout: SetupPrintout) -> int:
    import boto3
    import botocore.exceptions

    session = boto3.session.Session(region_name=args.region)
    try:
        arn, registry_table = _deployed(session, args.stack, args.state_machine_arn)
        return follow_setup(
            session.client("stepfunctions"),
            arn,
            config,
            printout=printout,
            timeout_s=args.timeout,
            poll_s=args.poll,
            registry_table=registry_table,
            dynamodb=session.resource("dynamodb") if registry_table else None,
        )
    except botocore.exceptions.NoCredentialsError:
        raise SetupCommandError(
            "no AWS credentials (set AWS_PROFILE or run aws configure)"
        ) from None
    except botocore.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        raise SetupCommandError(
            f"AWS refused: {details.get('Code', '?')}: {details.get('Message', '')}"
        ) from None


def _deployed(session: Any, stack: str, arn: str | None) -> tuple[str, str | None]:
    """The setup state machine's ARN and the registry table's name (stack outputs)."""
    import botocore.exceptions

    if arn:
        return arn, None
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in str(error):
            raise SetupCommandError(
                f"no stack {stack!r} in this account and region (give --stack or --region)"
            ) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if SETUP_OUTPUT not in outputs:
        raise SetupCommandError(f"stack {stack!r} has no {SETUP_OUTPUT} output (docs/DEPLOY.md)")
    return outputs[SETUP_OUTPUT], outputs.get(REGISTRY_OUTPUT)


def follow_setup(
    sfn: Any,
    state_machine_arn: str,
    config: SetupConfig,
    *,
    printout: SetupPrintout | None = None,
    timeout_s: float = 900.0,
    poll_s: float = 2.0,
    registry_table: str | None = None,
    dynamodb: Any = None,
) -> int:
    """Start one execution of the deployed setup and print each step as it completes.

    Returns the exit code: 0 when it succeeded, 1 otherwise (after printing the failing step,
    its message and what had been created before it).
    """
    from adm_local.setup_history import step_events
    from adm_local.setup_runner import report_of
    from adm_local.stepfunctions import Execution, history

    printout = printout or SetupPrintout()
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=f"cli-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(config.to_json()),
    )
    execution_arn = str(started["executionArn"])
    printout.note(f"started {execution_arn}")
    shown = 0
    give_up = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        events = history(sfn, execution_arn)  # read after: it holds every step of that status
        for step in step_events(events):
            if step.event_id > shown:
                printout.note(step.format())
                shown = step.event_id
        if described["status"] in _FINISHED:
            break
        if time.monotonic() > give_up:
            printout.note(f"still {described['status']} after {timeout_s:.0f} s: {execution_arn}")
            return 1
        time.sleep(poll_s)
    output = described.get("output")
    execution = Execution(
        arn=execution_arn,
        status=str(described["status"]),
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )
    report = report_of(execution, events)
    printout.run(report.status, report)
    if registry_table and dynamodb is not None:
        from adm_ingest.registry import Registry

        snapshot = Registry(registry_table, dynamodb=dynamodb).snapshot()
        printout.registry(f"registry ({registry_table})", snapshot)
    return 0 if report.ok else 1
