"""The AEP sandbox command (``adm-ingest aep-sandbox``, ``python -m adm_local.aep_sandbox``).

``adm-ingest sandbox`` also serves it beside ADM (``--aep-port``), with these defaults; this
command is where its own options are (the two platforms share no option beyond host and port:
IMS vs LwA credentials, batch processing delay, PUT limit, AEP faults).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adm_local.sandbox.serving import add_fault_arguments, fault_settings, serve_until_interrupted
from adm_local.sandbox_command import named_orgs, org_name

from .ims import AepAccount
from .server import PUT_LIMIT_BYTES, AepSandboxServer


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the AEP sandbox options to ``parser`` (a fresh one by default) and return it."""
    parser = parser or argparse.ArgumentParser(
        prog="aep-sandbox", description="Run the local Adobe Experience Platform sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8766, help="port (0: any free port)")
    parser.add_argument(
        "--token-ttl", type=float, default=86399, metavar="S", help="IMS token lifetime (seconds)"
    )
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=2.0,
        metavar="S",
        help="seconds a completed batch stays 'processing' before success/failed",
    )
    parser.add_argument(
        "--abandon-after",
        type=float,
        default=None,
        metavar="S",
        help="seconds a batch may stay 'loading' before it is 'abandoned' (default: never)",
    )
    parser.add_argument(
        "--put-limit",
        type=int,
        default=PUT_LIMIT_BYTES,
        metavar="BYTES",
        help="largest single-PUT file (above it: the large-file path)",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        type=org_name,
        metavar="NAME",
        help="add an org (its client, org id, sandbox and tenant derived from NAME: "
        "`adm-ingest sandbox --aep-account NAME` serves the same); repeatable",
    )
    add_fault_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    """Start an AEP sandbox from parsed options and serve until interrupted."""
    sandbox = AepSandboxServer(
        args.port,
        host=args.host,
        token_ttl=args.token_ttl,
        processing_delay=args.processing_delay,
        abandon_after=args.abandon_after,
        put_limit_bytes=args.put_limit,
        accounts=named_orgs(args.account),
        log_stream=None if args.quiet else sys.stderr,
    )
    sandbox.faults.set(**fault_settings(args))
    return serve_until_interrupted(sandbox, _banner)


def _banner(sandbox: AepSandboxServer) -> str:
    return (
        f"AEP sandbox listening on {sandbox.url} (AEP_API_URL and AEP_IMS_URL; "
        f"IMS token endpoint {sandbox.token_url})"
        + "".join(f"\n{org_lines(account)}" for account in sandbox.accounts)
    )


def org_lines(account: AepAccount) -> str:
    """An org's credentials and ids, as the banners print them."""
    return (
        f"  client_id={account.client_id} client_secret={account.client_secret}\n"
        f"  org_id={account.org_id} sandbox_name={account.sandbox_name} "
        f"tenant_id={account.tenant_id}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
