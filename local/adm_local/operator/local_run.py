"""``adm-ingest local run FILE --prefix <prefix>/``: the local pipeline (moto + the sandboxes,
the real handlers) on the user's own file, set up from a setup config, and its report."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from adm_ingest.pipeline.routing import RoutingError, route
from adm_ingest.setup.config import ConfigError, load_config
from adm_local.functions import REPO_ROOT
from adm_local.operator.exits import FILE_ERROR, USAGE, CliError
from adm_local.operator.report import add_fail_on_rejects, finish, summary

DEFAULT_SETUP = REPO_ROOT / "events" / "setup-config.json"


def add_parser(commands: Any) -> None:
    local = commands.add_parser("local", help="run the local pipeline (moto + sandboxes)")
    actions = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    run_parser = actions.add_parser("run", help="run the local pipeline on your own file")
    run_parser.add_argument("file", type=Path)
    run_parser.add_argument(
        "--prefix", required=True, help="where the file is dropped, e.g. audiences/<name>/"
    )
    run_parser.add_argument(
        "--setup",
        type=Path,
        default=DEFAULT_SETUP,
        help="setup config of the local account (default: events/setup-config.json)",
    )
    run_parser.add_argument(
        "--mapping",
        type=Path,
        help="the file's column mapping (JSON, as a setup config's `mappings` entry), set up for "
        "the prefix's route (e.g. aep/<dataset>); replaces the setup config's own for it",
    )
    run_parser.add_argument("--json", action="store_true", help="print the report's JSON")
    run_parser.add_argument(
        "--out",
        type=Path,
        help="folder to copy the report (JSON and HTML) and the rejects file into",
    )
    run_parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the report"
    )
    add_fail_on_rejects(run_parser)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file", USAGE)
    key = args.prefix.rstrip("/") + "/" + args.file.name
    try:
        found = route(key)
    except RoutingError as error:
        raise CliError(f"--prefix {args.prefix}: {error}", USAGE) from None
    raw = _json_file(args.setup)
    if args.mapping is not None:
        mapping = _json_file(args.mapping)
        if not isinstance(raw, dict) or not isinstance(mapping, dict):
            raise CliError(f"{args.setup} and {args.mapping} must each hold a JSON object", USAGE)
        raw["mappings"] = {**(raw.get("mappings") or {}), found.prefix: mapping}
    try:
        config = load_config(raw)
    except ConfigError as error:
        problems = "; ".join(str(problem) for problem in error.problems)
        raise CliError(f"{args.setup}: {problems}", USAGE) from None

    from adm_local.demo import save_outputs
    from adm_local.local_accounts import local_stack_accounts
    from adm_local.stack import LocalStack

    print("starting the local stack (moto + sandboxes)…", file=sys.stderr, flush=True)
    # The functions log (JSON lines) to stdout, as on Lambda: here stdout is the report's.
    # The config's other accounts are the sandbox's too, their secrets in its Secrets Manager.
    stack_accounts = local_stack_accounts(config)
    with contextlib.redirect_stdout(sys.stderr), LocalStack(**stack_accounts) as stack:
        setup = stack.setup(config)
        if not setup.ok:
            print(setup.format_table(), file=sys.stderr)
            raise CliError(f"the setup of {args.setup} failed")
        namespace = found.destination.namespace
        if namespace is not None and stack.registry.get(namespace, found.name) is None:
            raise CliError(
                f"{found.name!r} is not in {args.setup}: add it there, or give --setup CONFIG",
                USAGE,
            )
        print(f"dropping {args.file} as s3://{stack.names.bucket}/{key}", file=sys.stderr)
        stack.drop(key, args.file)
        try:
            stack.pump(timeout=args.timeout)
        except TimeoutError as error:
            raise CliError(str(error)) from None
        report = stack.report(key)
        # The stack and its bucket go away on exit: what a person opens must be copied out.
        saved = save_outputs(stack, [key], args.out, clear=False) if args.out else []
    for path in saved:
        print(f"saved {path}", file=sys.stderr)
    if report is not None and not saved:
        print("(give --out DIR to keep the HTML report and the rejects file)", file=sys.stderr)
    if report is None:
        raise CliError(f"{key}: no report was written", FILE_ERROR)
    print(json.dumps(report, indent=2) if args.json else summary(report), file=out)
    return finish(report, args.fail_on_rejects)


def _json_file(path: Path) -> Any:
    """The JSON document in ``path``; a missing or unreadable file, or one that is not JSON, is
    a usage error (one line)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(f"{path}: {error.strerror or error}", USAGE) from None
    except ValueError as error:
        raise CliError(f"{path}: not JSON ({error})", USAGE) from None
