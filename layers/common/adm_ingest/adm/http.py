"""HTTP transport: one pooled ``requests.Session``, timeouts, retries with backoff, a deadline.

The transport retries only what the caller declares safe to replay (``replay_safe=True``):
a create that timed out may have been applied, so for creates a 429/5xx/connection failure is
raised at once as a :class:`~adm_ingest.adm.errors.RetryableError` and the caller lists before
creating again. Retries use exponential backoff with full jitter, or the server's
``Retry-After`` when present, and never sleep past the :class:`Deadline`.

Every attempt is logged with method, path, status, latency and the request id (Amazon's
header by default; see :class:`Transport`'s parameters for another API) — never
bodies, query strings or headers (they carry tokens and secrets) — and counted in the caller's
:class:`~adm_ingest.attempts.AttemptStats` (by status, dropped, unreachable; time waited).
A connection failure after the request may have gone out marks the eventual
:class:`RetryableError` ``maybe_delivered``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError

from adm_ingest.adm.errors import (
    REQUEST_ID_HEADER,
    ApiError,
    DeadlineExceeded,
    RetryableError,
    api_error,
)
from adm_ingest.attempts import AttemptStats, may_have_reached_server

if TYPE_CHECKING:
    from adm_ingest.adm.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


class ErrorFactory(Protocol):
    """Builds the exception for an error response (``api_error``'s signature)."""

    def __call__(
        self, status: int, content: bytes, request_id: str | None, *, retry_after: float | None
    ) -> ApiError: ...


RequestBody = bytes | Mapping[str, str] | IO[bytes]
"""A request body: bytes, a form, or a binary file object streamed from its current position."""


def _rewind_point(stream: IO[bytes] | None) -> int | None:
    """Where a file body starts, when it can be sent again (seekable); None otherwise."""
    if stream is None:
        return None
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


class LambdaContextLike(Protocol):
    """The part of the Lambda context object a deadline needs."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in (monotonic) time after which no call may still be waiting or sleeping."""

    at: float
    clock: Clock = field(default=time.monotonic, repr=False, compare=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(clock() + seconds, clock)

    @classmethod
    def from_lambda_context(
        cls, context: LambdaContextLike, *, margin_seconds: float = 10.0
    ) -> Deadline:
        """The Lambda's own timeout minus ``margin_seconds`` (time left to report the outcome)."""
        remaining = context.get_remaining_time_in_millis() / 1000.0
        return cls.after(max(0.0, remaining - margin_seconds))

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - self.clock())

    def earliest(self, other: Deadline | None) -> Deadline:
        """Whichever of the two deadlines comes first."""
        if other is None or self.at <= other.at:
            return self
        return other


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a replay-safe request.

    ``max_attempts`` counts every attempt including the first. The n-th retry sleeps a uniformly
    random time in ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter": many workers
    throttled at once spread out instead of retrying in lockstep), unless the server sent
    ``Retry-After``, which is obeyed as given.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    min_attempt_seconds: float = 0.05
    """Don't start an attempt with less time than this left: it could not complete."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff_ceiling(self, retry_number: int) -> float:
        """Upper bound of the sleep before retry number ``retry_number`` (1-based)."""
        exponent = min(max(retry_number - 1, 0), 62)  # bounded: 2**63 would overflow a float
        return min(self.max_delay, self.base_delay * (2.0**exponent))

    def backoff(
        self, retry_number: int, *, uniform: Callable[[float, float], float] = random.uniform
    ) -> float:
        """A full-jitter sleep before retry number ``retry_number`` (1-based)."""
        return uniform(0.0, self.backoff_ceiling(retry_number))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Returns ``None`` when the header is absent or unparseable, ``0.0`` for a date in the past.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # float() accepts "nan"/"inf"; neither is a usable delay.
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less parse means GMT
        when = when.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-attempt socket timeouts in seconds (each also capped by the deadline)."""

    connect: float = 3.05
    read: float = 30.0


def _retryable_failure(
    response: requests.Response,
    request_id: str | None,
    retry_after: float | None,
    error_for: ErrorFactory = api_error,
) -> RetryableError:
    error = error_for(response.status_code, response.content, request_id, retry_after=retry_after)
    if isinstance(error, RetryableError):  # Throttled (429) or ServerError (5xx)
        return error
    # A retry status outside 429/5xx (a custom RetryPolicy): still a transient failure.
    return RetryableError(str(error), retry_after=retry_after)


def _throttle_delay(response: requests.Response) -> float | None:
    # Only a 429's Retry-After is a pacing signal (a 503's is about that one request).
    if response.status_code != 429:
        return None
    return parse_retry_after(response.headers.get("Retry-After"))


def _path_of(url: str) -> str:
    # Log the path only: query strings carry pagination tokens and are noise.
    return urlsplit(url).path or "/"


class Transport:
    """Sends requests through one pooled session, retrying what is safe to replay."""

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = time.monotonic,
        limiter: RateLimiter | None = None,
        request_id_header: str = REQUEST_ID_HEADER,
        log_prefix: str = "adm",
        error_for: ErrorFactory = api_error,
    ) -> None:
        # The defaults are Amazon's; another API (AEP) passes its request-id header, the prefix
        # of its log keys (``<prefix>_method``…) and the exceptions its error bodies map to.
        self.request_id_header = request_id_header
        self._log_prefix = log_prefix
        self._error_for = error_for
        self.timeouts = timeouts or Timeouts()
        self.limiter = limiter
        """Paces every attempt of a ``paced`` request (see :mod:`adm_ingest.adm.ratelimit`)."""
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._session = session or self._new_session(pool_size)

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        # max_retries=0: urllib3 must not retry behind our back (it would replay creates).
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.trust_env = False  # no ~/.netrc credentials or proxy surprises
        return session

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def deadline_after(self, seconds: float) -> Deadline:
        """A deadline on this transport's clock."""
        return Deadline.after(seconds, clock=self._clock)

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: Deadline,
        replay_safe: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        data: RequestBody | None = None,
        stats: AttemptStats | None = None,
        paced: bool = True,
    ) -> requests.Response:
        """Send a request; return the response unless its status is retryable.

        A response with a status outside :attr:`RetryPolicy.retry_statuses` (success or a
        non-retryable error) is returned as is. A retryable status or connection failure is
        retried when ``replay_safe`` — within ``max_attempts`` and the ``deadline`` — and
        raised as a :class:`RetryableError` subclass when it is not or when retries run out;
        its ``maybe_delivered`` says whether an unanswered attempt may have reached the server.
        Every attempt's outcome and every wait is recorded into ``stats`` when given.
        ``paced=False`` bypasses the :attr:`limiter` (the token endpoint is not the ADM API).
        A file object ``data`` is streamed (never read whole) from its current position, and
        rewound there for each retry; one that cannot seek is sent once (not replay-safe).
        """
        limiter = self.limiter if paced else None
        stream = None if data is None or isinstance(data, bytes | Mapping) else data
        rewind_to = _rewind_point(stream)
        if stream is not None and rewind_to is None:
            replay_safe = False  # a consumed stream cannot be sent again
        prefix = self._log_prefix
        path = _path_of(url)
        stats = stats if stats is not None else AttemptStats()
        retries = 0
        maybe_delivered = False
        """Whether an attempt so far went unanswered after it may have reached the server."""
        while True:
            try:
                if limiter is not None:
                    limiter.acquire(deadline)
                timeout = self._attempt_timeout(method, path, deadline)
            except DeadlineExceeded as exc:
                exc.maybe_delivered = maybe_delivered
                raise
            started = self._clock()
            failure: RetryableError
            if stream is not None and rewind_to is not None and retries:
                stream.seek(rewind_to)
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    params=params,
                    data=data,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
                reached = may_have_reached_server(exc)
                maybe_delivered = maybe_delivered or reached
                stats.unanswered(maybe_delivered=reached)
                self._log(method, path, None, started, None, retries + 1, type(exc).__name__)
                failure = RetryableError(
                    f"{method} {path}: {type(exc).__name__} (no response"
                    f"{', the request may have been received' if reached else ''}) "
                    f"after {retries + 1} attempt(s)",
                    maybe_delivered=maybe_delivered,
                )
                failure.__cause__ = exc
                server_delay = None
            else:
                stats.answered(response.status_code)
                request_id = response.headers.get(self.request_id_header)
                self._log(method, path, response.status_code, started, request_id, retries + 1)
                if limiter is not None:
                    limiter.observe(response.status_code, _throttle_delay(response))
                if response.status_code not in self.retry.retry_statuses:
                    return response
                server_delay = parse_retry_after(response.headers.get("Retry-After"))
                failure = _retryable_failure(response, request_id, server_delay, self._error_for)
                failure.maybe_delivered = maybe_delivered
                response.close()
            if not replay_safe:
                raise failure  # no blind replay: the caller lists before creating again
            retries += 1
            if retries >= self.retry.max_attempts:
                raise failure
            delay = server_delay if server_delay is not None else self.retry.backoff(retries)
            if delay + self.retry.min_attempt_seconds > deadline.remaining():
                # Sleeping would cross the deadline: give up now, leaving the time to the caller.
                raise failure
            logger.info(
                "retrying %s %s in %.3f s (retry %d)",
                method,
                path,
                delay,
                retries,
                extra={
                    f"{prefix}_method": method,
                    f"{prefix}_path": path,
                    "delay_s": round(delay, 3),
                },
            )
            stats.waited(delay)
            self._sleep(delay)

    def _attempt_timeout(self, method: str, path: str, deadline: Deadline) -> tuple[float, float]:
        remaining = deadline.remaining()
        if remaining < self.retry.min_attempt_seconds:
            raise DeadlineExceeded(f"{method} {path}: time budget exhausted before the request")
        return (min(self.timeouts.connect, remaining), min(self.timeouts.read, remaining))

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        request_id: str | None,
        attempt: int,
        failure: str | None = None,
    ) -> None:
        latency_ms = round((self._clock() - started) * 1000.0, 1)
        outcome = str(status) if status is not None else (failure or "no response")
        # Expected 4xx answers (404 on a lookup, a duplicate name) are not worth a warning.
        retryable = status is None or status in self.retry.retry_statuses
        level = logging.WARNING if retryable else logging.INFO
        logger.log(
            level,
            "%s %s -> %s in %.1f ms (request id %s, attempt %d)",
            method,
            path,
            outcome,
            latency_ms,
            request_id or "-",
            attempt,
            extra={
                f"{self._log_prefix}_method": method,
                f"{self._log_prefix}_path": path,
                f"{self._log_prefix}_status": status,
                "latency_ms": latency_ms,
                "request_id": request_id,
                "attempt": attempt,
            },
        )


class TransportClient:
    """What every typed API client over a :class:`Transport` shares: the deadline that bounds
    its calls, the attempts it made (taken by the pipeline per batch), its pooled connections'
    lifetime. Subclasses set ``_transport``, ``_deadline`` and ``stats`` in their constructor."""

    _transport: Transport
    _deadline: Deadline | None
    stats: AttemptStats

    def set_deadline(self, deadline: Deadline | None) -> None:
        """Bound every following call by ``deadline`` (e.g. the Lambda's remaining time)."""
        self._deadline = deadline

    def take_stats(self) -> AttemptStats:
        """The attempts of every call since the last time this was called (and reset)."""
        return self.stats.take()

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
