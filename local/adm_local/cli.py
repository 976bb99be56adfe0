"""``adm-ingest``: the command line.

=====================  ===========================================================
``dry-run FILE``       what would be sent for a local file (no network)
``demo``               the whole pipeline locally (moto + ADM sandbox) on events/
``setup CONFIG``       the setup state machine locally (real ASL on moto + sandbox)
``sandbox``            run the ADM sandbox server, and the AEP sandbox beside it
``aep-sandbox``        run the Adobe Experience Platform sandbox server (with its faults)
``aep-status BATCH``   an AEP batch's status, metrics and error codes (real API)
``register``           write a name → id registry entry (before the setup workflow)
``inventory``          list datasets, sharing rules, conversion definitions (real API)
``status DATASET_ID``  upload status of an audience dataset (real API)
``revoke RULE_ID``     revoke a sharing rule (real API)
``delete-dataset ID``  delete a dataset and its data (real API; needs ``--yes``)
``progress KEY``       a file's progress from the ledger (AWS or a local stack; ``--watch``)
``redrive [KEY]``      send dead-lettered chunks back to the chunk queue; the report is rewritten
``report KEY``         a file's report (text, ``--json``, ``--html [--open]``)
``local run FILE``     the local pipeline on your own file (``--prefix <route>/<name>/``)
``completion SHELL``   a shell completion script (bash, zsh, tcsh)
=====================  ===========================================================

Exit codes: 0 ok · 1 file-level error (not found, failed, refused) · 2 usage ·
3 the report's rejects are above ``--fail-on-rejects PCT``. A user's mistake is one line on
stderr (:class:`~adm_local.operator.exits.CliError`), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from adm_ingest.destinations import DEFAULT_DESTINATION, DESTINATIONS

AEP_SANDBOX_PORT = 8766
"""Where ``adm-ingest sandbox`` serves AEP by default (``adm-ingest aep-sandbox``'s port too)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adm-ingest",
        description="Get first-party data into Amazon Ads data manager without glue code.",
        epilog="exit codes: 0 ok, 1 file-level error, 2 usage, "
        "3 rejects above --fail-on-rejects PCT",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dry = commands.add_parser("dry-run", help="write the exact request bodies for a local file")
    dry.add_argument("file", type=Path)
    dry.add_argument(
        "--destination",
        "--kind",
        dest="destination",
        choices=[destination.name for destination in DESTINATIONS],
        default=DEFAULT_DESTINATION,
        help=f"where the file's records would go (default: {DEFAULT_DESTINATION})",
    )
    dry.add_argument(
        "--schema",
        type=Path,
        help="the target's schema as its platform returns it (e.g. an XDM schema, xed-full "
        "JSON), for destinations that validate records against one",
    )
    dry.add_argument(
        "--country",
        help="the audience's country (ISO 3166 alpha-2), for records without their own; "
        "default: the deployment default, US",
    )
    dry.add_argument("--mapping", type=Path, help="column mapping config (JSON)")
    dry.add_argument("--out", type=Path, default=Path("out/dry-run"), help="output folder")
    dry.add_argument("--target-name", default="dry-run", help="audience / definition name")
    dry.add_argument("--target-id", default="DRY-RUN-TARGET", help="dataSetId / definition id")

    demo = commands.add_parser("demo", help="run the whole pipeline locally on events/ samples")
    demo.add_argument("--config", type=Path, default=None, help="setup config (default: events/)")
    demo.add_argument("--verbose", action="store_true", help="show the functions' JSON logs")

    setup = commands.add_parser("setup", help="run the setup workflow locally (moto + sandbox)")
    setup.add_argument("config", type=Path)
    setup.add_argument(
        "--runs", type=int, default=2, help="run it this many times (the second shows idempotency)"
    )

    sandbox = commands.add_parser(
        "sandbox", help="run the ADM sandbox server and the AEP sandbox beside it"
    )
    from adm_local.sandbox.cli import build_parser as sandbox_parser

    sandbox_parser(sandbox)
    sandbox.add_argument(
        "--aep-port",
        type=int,
        default=AEP_SANDBOX_PORT,
        help="port of the AEP sandbox (0: any free port; the fault options apply to ADM only, "
        "`adm-ingest aep-sandbox` injects AEP faults)",
    )

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
        "--secret-file", type=Path, help="the AEP credentials as a JSON file"
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
        ("status", "upload status of an audience dataset"),
        ("revoke", "revoke a sharing rule"),
        ("delete-dataset", "delete a dataset and all its data"),
    ):
        op = commands.add_parser(name, help=help_text)
        if name != "inventory":
            op.add_argument("id")
        if name == "delete-dataset":
            op.add_argument("--yes", action="store_true", help="confirm the irreversible delete")
        source = op.add_mutually_exclusive_group(required=True)
        source.add_argument("--secret", help="Secrets Manager secret id with the credentials")
        source.add_argument("--credentials", type=Path, help="credentials JSON file")
        if name in ("inventory", "status"):
            op.add_argument("--json", action="store_true", help="print JSON")

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
        "status": _operation,
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
    from adm_ingest.consent import ConsentError
    from adm_ingest.destinations import DeliveryTarget, destination_class
    from adm_ingest.mapping import MappingError
    from adm_ingest.readers import FileFormatError
    from adm_local.dryrun import ForeignDataError, dry_run, summary_text

    if not args.file.is_file():
        return _fail(f"{args.file}: no such file")
    kind = destination_class(args.destination)
    target_id = args.target_id if kind.namespace is not None else ""
    attributes: dict[str, str] = {}
    if args.schema is not None:
        try:
            schema = json.loads(args.schema.read_bytes())
            if not isinstance(schema, dict):
                return _fail(f"{args.schema}: not a schema (expected a JSON object)")
            attributes = kind.attributes_from_schema(schema)
        except OSError as error:
            return _fail(f"{args.schema}: {error.strerror or error}")
        except ValueError as error:  # not JSON, or a schema the destination can't use
            return _fail(f"{args.schema}: {error}")
    try:
        result = dry_run(
            args.file,
            destination=args.destination,
            out_dir=args.out,
            country=args.country,
            mapping=args.mapping,
            target=DeliveryTarget(args.destination, args.target_name, target_id, attributes),
        )
    except FileFormatError as error:
        return _fail(f"{args.file}: {error}")
    except (MappingError, ConsentError, ForeignDataError, OSError) as error:
        return _fail(str(error))
    print(summary_text(result))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from adm_local.demo import run_demo

    return run_demo(config=args.config, verbose=args.verbose)


def _setup(args: argparse.Namespace) -> int:
    from adm_ingest.setup.config import ConfigError, load_config
    from adm_local.stack import LocalStack

    try:
        config = load_config(args.config)
    except (ConfigError, OSError, ValueError) as error:
        return _fail(str(error))
    print(
        "Running the setup state machine (functions/setup/setup.asl.json) on a local stack: "
        "moto Step Functions + the ADM sandbox.",
        flush=True,
    )
    with LocalStack() as stack:
        for run in range(1, args.runs + 1):
            report = stack.setup(config)
            print(f"\nrun {run}: {report.status}")
            print(report.format_table())
            if not report.ok:
                return 1
        print("\nregistry:", json.dumps(stack.registry.snapshot(), indent=2))
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    """The ADM sandbox in the foreground, the AEP sandbox beside it for as long as it runs."""
    from adm_local.aep_sandbox import AepSandboxServer
    from adm_local.aep_sandbox.cli import build_parser as aep_sandbox_parser
    from adm_local.sandbox.cli import run

    # The AEP sandbox as its own command starts it by default (processing delay, PUT limit…).
    aep = aep_sandbox_parser().parse_args([])
    with AepSandboxServer(
        args.aep_port,
        host=args.host,
        token_ttl=aep.token_ttl,
        processing_delay=aep.processing_delay,
        abandon_after=aep.abandon_after,
        put_limit_bytes=aep.put_limit,
        log_stream=None if args.quiet else sys.stderr,
    ) as sandbox:
        account = sandbox.account
        print(
            f"AEP sandbox listening on {sandbox.url} (AEP_API_URL and AEP_IMS_URL)\n"
            f"  client_id={account.client_id} client_secret={account.client_secret}\n"
            f"  org_id={account.org_id} sandbox_name={account.sandbox_name} "
            f"tenant_id={account.tenant_id}",
            file=sys.stderr,
            flush=True,
        )
        return run(args)


def _aep_sandbox(args: argparse.Namespace) -> int:
    from adm_local.aep_sandbox.cli import run

    return run(args)


def _aep_status(args: argparse.Namespace) -> int:
    import os

    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from adm_ingest.adm.errors import AdmError
    from adm_ingest.aep import AepClient
    from adm_ingest.aep.auth import AepCredentials
    from adm_ingest.aep.endpoints import AepSettings
    from adm_ingest.aep.status import batch_status

    secret_id = ""
    try:
        if args.secret_file is not None:
            credentials = AepCredentials.from_mapping(json.loads(args.secret_file.read_bytes()))
        else:
            secret_id = args.secret or os.environ.get("AEP_SECRET_ID")
            if not secret_id:
                return _fail("give --secret-file or --secret, or set AEP_SECRET_ID")
            credentials = AepCredentials.from_secret(secret_id)
    except OSError as error:
        return _fail(f"{args.secret_file}: {error.strerror or error}")
    except GetParameterError:  # Powertools' wrapper of the Secrets Manager error
        return _fail(f"could not read the secret {secret_id!r} from Secrets Manager")
    except ValueError as error:  # names missing fields only, never a value
        return _fail(str(error))
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

    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from adm_ingest.adm import AdmClient, AdmError, ClientSettings
    from adm_ingest.adm.auth import Credentials
    from adm_ingest.setup import operations

    try:
        if args.credentials:
            credentials = Credentials.from_mapping(json.loads(args.credentials.read_text()))
            client = AdmClient(ClientSettings.for_region(credentials.region), credentials)
        else:
            client = AdmClient.from_secret(args.secret)
    except OSError as error:
        return _fail(f"{args.credentials}: {error.strerror or error}")
    except GetParameterError:  # Powertools' wrapper of the Secrets Manager error
        return _fail(f"could not read the secret {args.secret!r} from Secrets Manager", 1)
    except (ValueError, KeyError) as error:  # not JSON, or fields missing (names, not values)
        return _fail(f"{args.credentials or args.secret}: not usable credentials ({error})")
    try:
        with client:
            if args.command == "inventory":
                rows = operations.inventory(client)
                if args.json:
                    print(json.dumps([asdict(row) for row in rows], indent=2))
                else:
                    print(operations.format_table(rows))
            elif args.command == "status":
                status = operations.audience_status(client, args.id)
                if args.json:
                    print(json.dumps(dict(status.rows()), indent=2))
                else:
                    print("\n".join(f"{name:<16} {value}" for name, value in status.rows()))
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
