"""Injected failures: throttling, server errors, latency, dropped connections, token expiry.

Counted faults (``rate_limit``, ``server_errors``, ``drop_connections``, ``accept_then_drop``)
hit the next *K* matching requests and are then used up; ``latency`` delays every matching
response until cleared. Shares (``rate_limit_share``, ``server_error_share``,
``drop_connection_share``, ``accept_then_drop_share``) hit that fraction of the matching
requests at random until cleared — one draw per request, so 10 % + 5 % means 15 % of the
requests are faulted, never two faults at once; ``seed`` makes the draws repeatable.
``accept_then_drop`` applies the request (the state changes, as if the API did its work) and
then closes the socket without answering: the client cannot know it landed.
``revoke_tokens_every`` revokes every access token issued so far, then each new one S seconds
after its grant, until cleared;
``expire_tokens`` does it once, now. ``requests_per_second`` is a sustained limit, as ADM's
own: a token bucket of ``burst`` requests (default: one second's worth) refilled at that rate; a
request finding it empty is answered 429 with ``Retry-After`` (the given ``retry_after``, else
the whole seconds until a token is back).

A fault set without ``path`` applies to every API call but not to the token endpoint
(so "the next 3 calls are throttled" does not also break authentication); give
``path="/auth/o2/token"`` to fault the token endpoint itself. ``methods`` narrows a fault to
some HTTP methods. Each :meth:`Faults.set` call adds rules; :meth:`Faults.clear` removes all.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

TOKEN_PATH = "/auth/o2/token"


class FaultKind(StrEnum):
    """What a fault does to a request."""

    RATE_LIMIT = "rate_limit"
    """Answer 429, with ``Retry-After`` when a ``retry_after`` was given."""
    SERVER_ERROR = "server_error"
    """Answer 5xx (``status``, default 500)."""
    DROP_CONNECTION = "drop_connection"
    """Close the socket without sending a response (the request is not applied)."""
    ACCEPT_THEN_DROP = "accept_then_drop"
    """Apply the request, then close the socket without sending the response."""


@dataclass(frozen=True)
class FaultRule:
    """One counted fault with its scope."""

    kind: FaultKind
    remaining: int
    path: str | None = None
    methods: frozenset[str] | None = None
    status: int = 500
    retry_after: float | None = None

    def applies_to(self, method: str, path: str) -> bool:
        """Does this rule's scope cover ``method path``?"""
        if self.methods is not None and method not in self.methods:
            return False
        if self.path is None:
            return path != TOKEN_PATH
        return path.startswith(self.path)


@dataclass(frozen=True)
class ShareRule:
    """A fault that hits a random ``share`` of the matching requests until cleared."""

    kind: FaultKind
    share: float
    path: str | None = None
    methods: frozenset[str] | None = None
    status: int = 500
    retry_after: float | None = None

    def applies_to(self, method: str, path: str) -> bool:
        return self.as_counted().applies_to(method, path)

    def as_counted(self) -> FaultRule:
        """The same fault as a one-off rule (what :class:`Decision` carries)."""
        return FaultRule(
            self.kind, 1, self.path, self.methods, status=self.status, retry_after=self.retry_after
        )


@dataclass(frozen=True)
class LatencyRule:
    """Extra delay before answering matching requests."""

    seconds: float
    path: str | None = None
    methods: frozenset[str] | None = None

    def applies_to(self, method: str, path: str) -> bool:
        return FaultRule(FaultKind.RATE_LIMIT, 1, self.path, self.methods).applies_to(method, path)


class Throttle:
    """A token bucket: ``rate`` requests per second sustained, bursts of up to ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        retry_after: float | None = None,
        path: str | None = None,
        methods: frozenset[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("requests_per_second must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self.retry_after = retry_after
        self.scope = FaultRule(FaultKind.RATE_LIMIT, 1, path, methods)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self.admitted = 0
        self.throttled = 0

    def admit(self) -> float | None:
        """Take a token: ``None`` when admitted, else the ``Retry-After`` seconds to send."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.admitted += 1
            return None
        self.throttled += 1
        if self.retry_after is not None:
            return self.retry_after
        return float(max(1, math.ceil((1.0 - self._tokens) / self.rate)))

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_per_second": self.rate,
            "burst": self.burst,
            "admitted": self.admitted,
            "throttled": self.throttled,
        }


@dataclass(frozen=True)
class Decision:
    """What the fault layer decided for one request."""

    delay: float = 0.0
    fault: FaultRule | None = None


FAULT_KEYS = frozenset(
    {
        "rate_limit", "retry_after", "server_errors", "status", "latency", "drop_connections",
        "accept_then_drop", "rate_limit_share", "server_error_share", "drop_connection_share",
        "accept_then_drop_share", "seed", "expire_tokens", "revoke_tokens_every", "path",
        "methods", "requests_per_second", "burst",
    }
)  # fmt: skip
"""The keyword arguments :meth:`Faults.set` (and ``POST /_sandbox/faults``) accept."""


class Faults:
    """Thread-safe fault configuration of one sandbox."""

    def __init__(
        self,
        expire_tokens: Callable[[], None],
        revoke_tokens_every: Callable[[float | None], None] | None = None,
        token_path: str = TOKEN_PATH,
    ) -> None:
        # Another platform's sandbox (AEP: IMS) has its token endpoint elsewhere; rules are
        # kept in this module's terms, so that path is read as TOKEN_PATH on the way in.
        self._token_path = token_path
        self._expire_tokens = expire_tokens
        self._revoke_tokens_every = revoke_tokens_every
        self._rules: list[FaultRule] = []
        self._shares: list[ShareRule] = []
        self._latencies: list[LatencyRule] = []
        self._random = random.Random()
        self._throttles: list[Throttle] = []
        self._lock = threading.Lock()

    def set(
        self,
        *,
        rate_limit: int = 0,
        retry_after: float | None = None,
        server_errors: int = 0,
        status: int = 500,
        latency: float = 0.0,
        drop_connections: int = 0,
        accept_then_drop: int = 0,
        rate_limit_share: float = 0.0,
        server_error_share: float = 0.0,
        drop_connection_share: float = 0.0,
        accept_then_drop_share: float = 0.0,
        seed: int | None = None,
        expire_tokens: bool = False,
        revoke_tokens_every: float | None = None,
        path: str | None = None,
        methods: Collection[str] | None = None,
        requests_per_second: float = 0.0,
        burst: float | None = None,
    ) -> None:
        """Add faults; see the module docstring for their meaning and scope."""
        if not 500 <= status <= 599:
            raise ValueError("server error status must be 5xx")
        shares = {
            FaultKind.RATE_LIMIT: rate_limit_share,
            FaultKind.SERVER_ERROR: server_error_share,
            FaultKind.DROP_CONNECTION: drop_connection_share,
            FaultKind.ACCEPT_THEN_DROP: accept_then_drop_share,
        }
        if any(not 0.0 <= share <= 1.0 for share in shares.values()):
            raise ValueError("fault shares must be between 0 and 1")
        if sum(shares.values()) > 1.0:
            raise ValueError("fault shares must add up to at most 1")
        if revoke_tokens_every is not None and revoke_tokens_every <= 0:
            raise ValueError("revoke_tokens_every must be a positive number of seconds")
        if revoke_tokens_every is not None and self._revoke_tokens_every is None:
            raise ValueError("this sandbox cannot revoke tokens periodically")
        if path is not None and path == self._token_path:
            path = TOKEN_PATH
        scope = {
            "path": path,
            "methods": frozenset(m.upper() for m in methods) if methods else None,
        }
        new_rules = [
            FaultRule(kind, count, **scope, status=status, retry_after=retry_after)
            for kind, count in (
                (FaultKind.RATE_LIMIT, rate_limit),
                (FaultKind.SERVER_ERROR, server_errors),
                (FaultKind.DROP_CONNECTION, drop_connections),
                (FaultKind.ACCEPT_THEN_DROP, accept_then_drop),
            )
            if count > 0
        ]
        new_shares = [
            ShareRule(kind, share, **scope, status=status, retry_after=retry_after)
            for kind, share in shares.items()
            if share > 0
        ]
        with self._lock:
            self._rules.extend(new_rules)
            self._shares.extend(new_shares)
            if seed is not None:
                self._random.seed(seed)
            if latency > 0:
                self._latencies.append(LatencyRule(latency, **scope))
            if requests_per_second > 0:
                self._throttles.append(
                    Throttle(requests_per_second, burst, retry_after=retry_after, **scope)
                )
        if expire_tokens:
            self._expire_tokens()
        if revoke_tokens_every is not None and self._revoke_tokens_every is not None:
            self._revoke_tokens_every(revoke_tokens_every)

    def set_from_json(self, document: Mapping[str, Any]) -> None:
        """:meth:`set` from a JSON object (the ``POST /_sandbox/faults`` body)."""
        unknown = set(document) - FAULT_KEYS - {"clear"}
        if unknown:
            raise ValueError("unknown fault keys: " + ", ".join(sorted(unknown)))
        settings = dict(document)
        if settings.pop("clear", False):
            self.clear()
        self.set(**settings)

    def clear(self) -> None:
        """Remove every fault and stop periodic revocation (revoked tokens stay revoked)."""
        with self._lock:
            self._rules.clear()
            self._shares.clear()
            self._latencies.clear()
            self._throttles.clear()
        if self._revoke_tokens_every is not None:
            self._revoke_tokens_every(None)

    def decide(self, method: str, path: str) -> Decision:
        """Consume the first matching counted fault, if any, else draw from the shares; and
        compute the latency."""
        if path == self._token_path:
            path = TOKEN_PATH
        with self._lock:
            delay = max(
                (rule.seconds for rule in self._latencies if rule.applies_to(method, path)),
                default=0.0,
            )
            for position, rule in enumerate(self._rules):
                if rule.remaining > 0 and rule.applies_to(method, path):
                    self._rules[position] = replace(rule, remaining=rule.remaining - 1)
                    return Decision(delay, rule)
            for throttle in self._throttles:
                if throttle.scope.applies_to(method, path):
                    wait = throttle.admit()
                    if wait is not None:
                        limited = FaultRule(FaultKind.RATE_LIMIT, 0, retry_after=wait)
                        return Decision(delay, limited)
            matching = [share for share in self._shares if share.applies_to(method, path)]
            if matching:
                draw = self._random.random()
                for share in matching:
                    if draw < share.share:
                        return Decision(delay, share.as_counted())
                    draw -= share.share
            return Decision(delay)

    def snapshot(self) -> dict[str, Any]:
        """The active faults, JSON-ready (for ``GET /_sandbox/state``)."""
        with self._lock:
            return {
                "counted": [
                    {
                        "kind": str(rule.kind),
                        "remaining": rule.remaining,
                        "path": rule.path,
                        "methods": sorted(rule.methods) if rule.methods else None,
                    }
                    for rule in self._rules
                    if rule.remaining > 0
                ],
                "shares": [
                    {"kind": str(rule.kind), "share": rule.share, "path": rule.path}
                    for rule in self._shares
                ],
                "latency": [
                    {"seconds": rule.seconds, "path": rule.path} for rule in self._latencies
                ],
                "throttle": [throttle.snapshot() for throttle in self._throttles],
            }
