"""What the attempts of a request did: counts by outcome, time spent waiting, and whether an
attempt that got no answer may still have reached the server.

A request that got an HTTP answer is settled: the status says what the server did (a 429 or a
5xx means it did not take the request). A request that got *no* answer is settled only when it
provably never left this machine — the connection could not be opened (refused, name not
resolved, connect timeout, a certificate refused in the TLS handshake). Any other failure —
a read timeout, the server closing the connection after the body went out
(``RemoteDisconnected``), a response cut off mid-body (``ChunkedEncodingError``) — may have
come after the server accepted the request: its outcome is *unconfirmed*.

Attempt outcomes are counted under the HTTP status (``"200"``, ``"429"``, ``"503"``…),
:data:`DROPPED` (no answer, may have reached the server) or :data:`UNREACHABLE` (no answer,
never sent).
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

DROPPED = "dropped"
"""An attempt that got no answer after the request may have reached the server."""
UNREACHABLE = "unreachable"
"""An attempt whose connection could not be opened: nothing was sent."""

_NOT_SENT: tuple[type[BaseException], ...] = (
    requests.ConnectTimeout,
    # urllib3's NewConnectionError (refused) and NameResolutionError are ConnectTimeoutErrors.
    ConnectTimeoutError,
    ssl.SSLCertVerificationError,  # refused in the handshake, before any request byte
)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: requests puts urllib3's error in ``args``, urllib3's
    MaxRetryError its cause in ``reason``; Python chains ``__cause__`` / ``__context__``."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < 16:  # bounded: chains are a few links long
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, MaxRetryError) and current.reason is not None:
            pending.append(current.reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def may_have_reached_server(error: BaseException) -> bool:
    """Whether a request that failed with ``error`` (no HTTP answer) may have been received —
    and so applied — by the server. False only when the connection provably never opened."""
    return not any(isinstance(cause, _NOT_SENT) for cause in _causes(error))


@dataclass(slots=True)
class AttemptStats:
    """Attempts of requests, by outcome, and the seconds spent waiting between them.

    The transport records into one of these per client call; the client adds each call's into
    the stats a caller takes (:meth:`take`) after a unit of work, e.g. one batch.
    """

    by_outcome: Counter[str] = field(default_factory=Counter)
    """Attempts by HTTP status (``"429"``), :data:`DROPPED` or :data:`UNREACHABLE`."""
    retry_wait_seconds: float = 0.0
    """Time slept before retries (``Retry-After`` or backoff)."""

    def answered(self, status: int) -> None:
        self.by_outcome[str(status)] += 1

    def unanswered(self, *, maybe_delivered: bool) -> None:
        self.by_outcome[DROPPED if maybe_delivered else UNREACHABLE] += 1

    def waited(self, seconds: float) -> None:
        self.retry_wait_seconds += seconds

    @property
    def attempts(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def maybe_delivered(self) -> bool:
        """Whether some attempt got no answer after the request may have reached the server."""
        return self.by_outcome[DROPPED] > 0

    def add(self, other: AttemptStats) -> None:
        self.by_outcome.update(other.by_outcome)
        self.retry_wait_seconds += other.retry_wait_seconds

    def take(self) -> AttemptStats:
        """A copy of what was recorded so far; this object starts over empty."""
        taken = AttemptStats(Counter(self.by_outcome), self.retry_wait_seconds)
        self.by_outcome.clear()
        self.retry_wait_seconds = 0.0
        return taken

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"by_outcome": {...}, "retry_wait_ms": n}`` (whole milliseconds, as
        the ledger stores numbers)."""
        return {
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "retry_wait_ms": round(self.retry_wait_seconds * 1000),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AttemptStats:
        outcomes = data.get("by_outcome") or {}
        wait_ms = data.get("retry_wait_ms") or 0
        return cls(
            Counter({str(k): int(v) for k, v in dict(outcomes).items()}),  # type: ignore[call-overload]
            int(wait_ms) / 1000.0,  # type: ignore[call-overload]
        )
