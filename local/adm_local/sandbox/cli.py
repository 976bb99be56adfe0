"""Command line of the ADM sandbox (``adm-ingest sandbox`` / ``python -m adm_local.sandbox``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .server import SandboxServer


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the sandbox options to ``parser`` (a fresh one by default) and return it.

    The team CLI passes its ``sandbox`` sub-parser here so both entry points stay identical.
    """
    parser = parser or argparse.ArgumentParser(
        prog="adm-sandbox", description="Run the local ADM / DSP conversions / LwA sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=3600,
        metavar="S",
        help="access token lifetime in seconds",
    )
    parser.add_argument(
        "--onboarded",
        action="store_true",
        help="start with ADM terms accepted and the data room created",
    )
    faults = parser.add_argument_group("injected faults (counted from the first API call)")
    faults.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        metavar="K",
        help="answer the next K API calls with 429",
    )
    faults.add_argument(
        "--retry-after",
        type=float,
        default=None,
        metavar="S",
        help="Retry-After seconds sent with those 429s (and --requests-per-second's)",
    )
    faults.add_argument(
        "--requests-per-second",
        type=float,
        default=0.0,
        metavar="R",
        help="a sustained limit: answer 429 above R API calls per second (token bucket)",
    )
    faults.add_argument(
        "--burst",
        type=float,
        default=None,
        metavar="N",
        help="requests the --requests-per-second bucket holds (default: R, one second's worth)",
    )
    faults.add_argument(
        "--server-errors",
        type=int,
        default=0,
        metavar="K",
        help="answer the next K API calls with a 5xx",
    )
    faults.add_argument("--server-error-status", type=int, default=500, metavar="CODE")
    faults.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="S",
        help="delay every API response by S seconds",
    )
    faults.add_argument(
        "--drop-connections",
        type=int,
        default=0,
        metavar="K",
        help="close the next K connections without answering",
    )
    faults.add_argument(
        "--accept-then-drop",
        type=int,
        default=0,
        metavar="K",
        help="apply the next K API calls, then close the connection without answering",
    )
    for kind, what in (
        ("rate-limit", "with 429"),
        ("server-error", "with a 5xx"),
        ("drop-connection", "by closing the connection"),
        ("accept-then-drop", "by applying them and closing the connection"),
    ):
        faults.add_argument(
            f"--{kind}-share",
            type=float,
            default=0.0,
            metavar="F",
            help=f"answer a random fraction F (0-1) of the API calls {what}",
        )
    faults.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    faults.add_argument(
        "--revoke-tokens-every",
        type=float,
        default=None,
        metavar="S",
        help="revoke every access token issued so far each S seconds",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    """Start a sandbox from parsed options and serve until interrupted."""
    sandbox = SandboxServer(
        args.port,
        host=args.host,
        token_ttl=args.token_ttl,
        onboarded=args.onboarded,
        log_stream=None if args.quiet else sys.stderr,
    )
    sandbox.faults.set(
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        server_errors=args.server_errors,
        status=args.server_error_status,
        latency=args.latency,
        drop_connections=args.drop_connections,
        accept_then_drop=args.accept_then_drop,
        rate_limit_share=args.rate_limit_share,
        server_error_share=args.server_error_share,
        drop_connection_share=args.drop_connection_share,
        accept_then_drop_share=args.accept_then_drop_share,
        seed=args.seed,
        revoke_tokens_every=args.revoke_tokens_every,
        requests_per_second=args.requests_per_second,
        burst=args.burst,
    )
    sandbox.start()
    account = sandbox.account
    print(
        f"ADM sandbox listening on {sandbox.url} (LwA token endpoint {sandbox.token_url})\n"
        f"  client_id={account.client_id} client_secret={account.client_secret}\n"
        f"  refresh_token={account.refresh_token}\n"
        f"  manager account={account.manager_account_id} "
        f"advertiser={account.advertiser_account_id} profile={account.profile_id}",
        file=sys.stderr,
        flush=True,
    )
    try:
        sandbox.wait()
    except KeyboardInterrupt:  # Ctrl-C is the way to stop it
        pass
    finally:
        sandbox.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the sandbox."""
    return run(build_parser().parse_args(argv))
