"""``adm-ingest``: the command line.

=====================  ===========================================================
``dry-run FILE``       what would be sent for a local file (no network)
``demo``               the whole pipeline locally (moto + ADM sandbox) on events/
``setup CONFIG``       the setup workflow: locally, ``--against`` a sandbox URL or ``aws``
``sandbox``            the ADM and AEP sandboxes; prints the client's ``export`` lines
``aep-sandbox``        run the Adobe Experience Platform sandbox server (with its faults)
``aep-status BATCH``   an AEP batch's status, metrics and error codes (real API)
``register``           write a name → id registry entry (before the setup workflow)
``inventory``          list datasets, sharing rules, conversion definitions (real API)
``status``             a file's status and match rate (``--report KEY``), or a dataset's (API)
``revoke RULE_ID``     revoke a sharing rule (real API)
``delete-dataset ID``  delete a dataset and its data (real API; needs ``--yes``)
``progress KEY``       a file's progress from the ledger (AWS or a local stack; ``--watch``)
``redrive [KEY]``      send dead-lettered chunks back to the chunk queue; the report is rewritten
``report KEY``         a file's report (text, ``--json``, ``--html [--open]``)
``local run FILE``     the local pipeline on your own file (``--prefix <route>/<name>/``)
``completion SHELL``   a shell completion script (bash, zsh, tcsh)
=====================  ===========================================================

Exit codes: 0 ok · 1 file-level error (not found, failed, refused) · 2 usage ·
3 rejects above ``--fail-on-rejects PCT``. A user's mistake is one line on stderr
(:class:`~adm_local.operator.exits.CliError`), never a traceback. Commands with options of their
own live in their own module (``dryrun_command``, ``setup_command``, ``sandbox_command``,
``status_command``, ``operator/``), only registered here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from adm_local import status_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adm-ingest",
        description="Get first-party data into Amazon Ads data manager without glue code.",
        epilog="exit codes: 0 ok, 1 file-level error, 2 usage, "
        "3 rejects above --fail-on-rejects PCT",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from adm_local import dryrun_command

    dryrun_command.add_parser(commands)

    demo = commands.add_parser("demo", help="run the whole pipeline locally on events/ samples")
    demo.add_argument("--config", type=Path, default=None, help="setup config (default: events/)")
    demo.add_argument("--verbose", action="store_true", help="show the functions' JSON logs")

    from adm_local import setup_command

    setup_command.add_parser(commands)

    from adm_local import sandbox_command

    sandbox_command.add_parser(commands)

    aep_sandbox = commands.add_parser("aep-sandbox", help="run the AEP sandbox server")
    from adm_local.aep_sandbox.cli import build_parser as aep_sandbox_parser

    aep_sandbox_parser(aep_sandbox)

    aep_status = commands.add_parser(
        "aep-status", help="an Adobe Experience Platform batch: status, metrics, errors"
    )
    aep_status.add_argument("batch_id")
    aep_credentials = aep_status.add_mutually_exclusive_group()
    aep_credentials.add_argument(
        "--secret",
        help="Secrets Manager secret id with the AEP credentials (default: $AEP_SECRET_ID)",
    )
    aep_credentials.add_argument(
        "--secret-file",
        type=Path,
        help="the AEP credentials as a JSON file (default: $AEP_CREDENTIALS_FILE, which "
        "`adm-ingest sandbox` prints)",
    )
    aep_status.add_argument(
        "--json", action="store_true", help="print JSON (label → value, a list if repeated)"
    )

    register = commands.add_parser("register", help="write a registry entry (name → ADM id)")
    register.add_argument("namespace", choices=["audience", "conversion", "mapping"])
    register.add_argument("name")
    register.add_argument("id", help="ADM id (for mapping: a JSON mapping config file)")
    register.add_argument("--country", help="audience default country")
    register.add_argument("--table", required=True, help="registry DynamoDB table name")

    for name, help_text in (
        ("inventory", "list what exists in the ADM account"),
        ("revoke", "revoke a sharing rule"),
        ("delete-dataset", "delete a dataset and all its data"),
    ):
        op = commands.add_parser(name, help=help_text)
        if name != "inventory":
            op.add_argument("id")
        if name == "delete-dataset":
            op.add_argument("--yes", action="store_true", help="confirm the irreversible delete")
        source = op.add_mutually_exclusive_group()
        source.add_argument(
            "--secret",
            help="Secrets Manager secret id with the credentials (default: $ADM_SECRET_ID)",
        )
        source.add_argument(
            "--credentials",
            type=Path,
            help="credentials JSON file (default: $ADM_CREDENTIALS_FILE, which "
            "`adm-ingest sandbox` prints)",
        )
        if name == "inventory":
            op.add_argument("--json", action="store_true", help="print JSON")
    status_command.add_parser(commands)

    from adm_local.operator import completion, local_run, progress, redrive, report

    for command in (progress, redrive, report, local_run, completion):
        command.add_parser(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adm-ingest")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from adm_local.operator import completion, local_run, progress, redrive, report
    from adm_local.operator.aws import aws_message
    from adm_local.operator.exits import CliError

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {
        "dry-run": _dry_run,
        "demo": _demo,
        "setup": _setup,
        "sandbox": _sandbox,
        "aep-sandbox": _aep_sandbox,
        "aep-status": _aep_status,
        "register": _register,
        "inventory": _operation,
        "status": status_command.run,
        "revoke": _operation,
        "delete-dataset": _operation,
        "progress": progress.run,
        "redrive": redrive.run,
        "report": report.run,
        "local": local_run.run,
        "completion": lambda a: completion.run(a, parser),
    }[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `adm-ingest … | head`: the reader has what it wanted
        return 0
    except CliError as error:
        return _fail(str(error), error.code)
    except (BotoCoreError, ClientError) as error:  # bad credentials, no such table…: one line
        return _fail(aws_message(error), 1)


def _fail(message: str, code: int = 2) -> int:
    print(f"adm-ingest: error: {message}", file=sys.stderr)
    return code


def _dry_run(args: argparse.Namespace) -> int:
    from adm_local.dryrun_command import run

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    from adm_local.demo import run_demo

    return run_demo(config=args.config, verbose=args.verbose)


def _setup(args: argparse.Namespace) -> int:
    from adm_local.setup_command import run

    return run(args)


def _sandbox(args: argparse.Namespace) -> int:
    from adm_local.sandbox.httpbase import CannotListen
    from adm_local.sandbox_command import run

    try:
        return run(args)
    except CannotListen as error:  # a port in use: one line, not the socket's traceback
        return _fail(str(error.strerror), 1)


def _aep_sandbox(args: argparse.Namespace) -> int:
    from adm_local.aep_sandbox.cli import run
    from adm_local.sandbox.httpbase import CannotListen

    try:
        return run(args)
    except CannotListen as error:
        return _fail(str(error.strerror), 1)


def _aep_status(args: argparse.Namespace) -> int:
    import os

    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from adm_ingest.adm.errors import AdmError
    from adm_ingest.aep import AepClient
    from adm_ingest.aep.auth import AepCredentials
    from adm_ingest.aep.endpoints import AepSettings
    from adm_ingest.aep.status import batch_status
    from adm_local.sandbox_command import AEP_CREDENTIALS_FILE_ENV

    secret_id = ""
    if args.secret_file is None and args.secret is None:
        # A file first: `adm-ingest sandbox` exports one for its seeded account.
        secret_file = os.environ.get(AEP_CREDENTIALS_FILE_ENV)
        args.secret_file = Path(secret_file) if secret_file else None
    try:
        if args.secret_file is not None:
            credentials = AepCredentials.from_mapping(json.loads(args.secret_file.read_bytes()))
        else:
            secret_id = args.secret or os.environ.get("AEP_SECRET_ID")
            if not secret_id:
                return _fail(
                    f"give --secret-file or --secret, or set {AEP_CREDENTIALS_FILE_ENV} "
                    "or AEP_SECRET_ID"
                )
            credentials = AepCredentials.from_secret(secret_id)
    except OSError as error:
        return _fail(f"{args.secret_file}: {error.strerror or error}")
    except GetParameterError:  # Powertools' wrapper of the Secrets Manager error
        return _fail(f"could not read the secret {secret_id!r} from Secrets Manager")
    except ValueError as error:  # not JSON, or fields missing (named, never a value)
        return _fail(f"{args.secret_file}: {error}" if args.secret_file else str(error))
    try:
        with AepClient(credentials, AepSettings.from_environ()) as client:
            status = batch_status(client, args.batch_id)
    except AdmError as error:  # the AEP client's errors extend ADM's: Adobe's code and text
        return _fail(str(error), 1)
    if args.json:
        grouped: dict[str, list[str]] = {}
        for label, value in status.rows():
            grouped.setdefault(label, []).append(value)
        shown = {
            label: values[0] if len(values) == 1 else values for label, values in grouped.items()
        }
        print(json.dumps(shown, indent=2))
    else:
        print(status.format())
    return 0


def _register(args: argparse.Namespace) -> int:
    from adm_ingest import registry

    names = registry.Registry(args.table)
    if args.namespace == "mapping":
        from adm_ingest.mapping import MappingConfig, MappingError

        try:
            text = Path(args.id).read_text()
            MappingConfig.from_json(text)  # validate before registering
        except (MappingError, OSError) as error:
            return _fail(str(error))
        names.put(registry.MAPPING, args.name, args.name, config=text)
    else:
        attributes = {"country": args.country} if args.country else {}
        names.put(args.namespace, args.name, args.id, **attributes)
    print(f"registered {args.namespace} {args.name!r}")
    return 0


def _operation(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from adm_ingest.adm import AdmError
    from adm_ingest.setup import operations
    from adm_local.adm_credentials import CredentialsUnavailable, adm_client

    try:
        client = adm_client(args.credentials, args.secret)
    except CredentialsUnavailable as unavailable:
        return _fail(str(unavailable), unavailable.code)
    try:
        with client:
            if args.command == "inventory":
                rows = operations.inventory(client)
                if args.json:
                    print(json.dumps([asdict(row) for row in rows], indent=2))
                else:
                    print(operations.format_table(rows))
            elif args.command == "revoke":
                operations.revoke_sharing_rule(client, args.id)
                print(f"sharing rule {args.id} revoked")
            else:
                operations.delete_dataset(client, args.id, confirm=args.yes)
                print(f"dataset {args.id} deleted")
    except operations.ConfirmationRequired as error:
        return _fail(str(error))
    except AdmError as error:
        return _fail(str(error), 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
