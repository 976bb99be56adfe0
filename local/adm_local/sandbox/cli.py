"""Command line of the ADM sandbox (``adm-ingest sandbox`` / ``python -m adm_local.sandbox``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .auth import SandboxAccount
from .server import SandboxServer
from .serving import add_fault_arguments, fault_settings, serve_until_interrupted


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
        "--account",
        action="append",
        default=[],
        metavar="NAME",
        help="also serve the manager account NAME, with ids and a login of its own derived "
        "from NAME (repeatable; a setup config's account name)",
    )
    parser.add_argument(
        "--onboarded",
        action="store_true",
        help="start with ADM terms accepted and the data room created",
    )
    faults = add_fault_arguments(parser)
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
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


class AccountNameError(ValueError):
    """An ``--account`` name a setup config could not use: the one line the user sees."""


def extra_accounts(names: Sequence[str]) -> tuple[SandboxAccount, ...]:
    """The accounts of the ``--account`` options, in their order (:meth:`SandboxAccount.named`).

    Raises:
        AccountNameError: a name the setup config's ``accounts[].name`` rule refuses, or one
            given twice (the config's names are unique).
    """
    # The accounts exist to be named in a setup config: its rule, from its one home.
    from adm_ingest.setup.config import account_name_problem

    for index, name in enumerate(names):
        problem = account_name_problem(name)
        if problem is not None:
            raise AccountNameError(f"--account {name!r}: {problem}")
        if name in names[:index]:
            raise AccountNameError(f"--account {name!r} is given twice")
    return tuple(SandboxAccount.named(name) for name in names)


def run(args: argparse.Namespace, *, ready: Callable[[SandboxServer], None] | None = None) -> int:
    """Start a sandbox from parsed options and serve until interrupted.

    ``ready`` is called once the sandbox listens (its URL known), before its banner.

    Raises:
        AccountNameError: an ``--account`` name is not usable (nothing started).
    """
    sandbox = SandboxServer(
        args.port,
        host=args.host,
        accounts=extra_accounts(args.account),
        token_ttl=args.token_ttl,
        onboarded=args.onboarded,
        log_stream=None if args.quiet else sys.stderr,
    )
    sandbox.faults.set(
        **fault_settings(args),
        accept_then_drop=args.accept_then_drop,
        rate_limit_share=args.rate_limit_share,
        server_error_share=args.server_error_share,
        drop_connection_share=args.drop_connection_share,
        accept_then_drop_share=args.accept_then_drop_share,
        seed=args.seed,
        requests_per_second=args.requests_per_second,
        burst=args.burst,
    )

    def banner(bound: SandboxServer) -> str:
        if ready is not None:
            ready(bound)
        return _banner(bound)

    return serve_until_interrupted(sandbox, banner)


def _banner(sandbox: SandboxServer) -> str:
    lines = [f"ADM sandbox listening on {sandbox.url} (LwA token endpoint {sandbox.token_url})"]
    for index, account in enumerate(sandbox.accounts):
        if index:  # the --account ones, after the seeded account
            lines.append("  another manager account (a login of its own):")
        lines += [
            f"  client_id={account.client_id} client_secret={account.client_secret}",
            f"  refresh_token={account.refresh_token}",
            f"  manager account={account.manager_account_id} "
            f"advertiser={account.advertiser_account_id} profile={account.profile_id}",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the sandbox."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        extra_accounts(args.account)
    except AccountNameError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return run(args)
