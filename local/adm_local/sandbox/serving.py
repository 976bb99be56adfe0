"""What the sandboxes' command lines share: the fault options both platforms take, and serving
a started sandbox until Ctrl-C (``adm-ingest sandbox``, ``adm-ingest aep-sandbox``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from .httpbase import SandboxHttpServer

S = TypeVar("S", bound=SandboxHttpServer)


def add_fault_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the injected-fault options every sandbox takes; returns their group, for more."""
    faults = parser.add_argument_group("injected faults (counted from the first API call)")
    faults.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        metavar="K",
        help="answer the next K API calls with 429",
    )
    faults.add_argument(
        "--retry-after", type=float, default=None, metavar="S", help="Retry-After of those 429s"
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
        "--latency", type=float, default=0.0, metavar="S", help="delay every API response by S s"
    )
    faults.add_argument(
        "--drop-connections",
        type=int,
        default=0,
        metavar="K",
        help="close the next K connections without answering",
    )
    faults.add_argument(
        "--revoke-tokens-every",
        type=float,
        default=None,
        metavar="S",
        help="revoke every access token issued so far each S seconds",
    )
    return faults


def fault_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Faults.set`` keywords of the options :func:`add_fault_arguments` added."""
    return {
        "rate_limit": args.rate_limit,
        "retry_after": args.retry_after,
        "server_errors": args.server_errors,
        "status": args.server_error_status,
        "latency": args.latency,
        "drop_connections": args.drop_connections,
        "revoke_tokens_every": args.revoke_tokens_every,
    }


def serve_until_interrupted(sandbox: S, banner: Callable[[S], str]) -> int:
    """Start ``sandbox``, print its ``banner`` (URLs and seeded credentials: known once it is
    bound) and serve until Ctrl-C; the exit status (0)."""
    sandbox.start()
    print(banner(sandbox), file=sys.stderr, flush=True)
    try:
        sandbox.wait()
    except KeyboardInterrupt:  # Ctrl-C is the way to stop it
        pass
    finally:
        sandbox.stop()
    return 0
