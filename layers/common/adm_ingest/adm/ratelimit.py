"""A request rate shared by every worker of one ADM account: AIMD pacing through DynamoDB.

ADM throttles per account, and its limits are dynamic. Left alone, each concurrent worker
retries its own 429s, the pipeline keeps pushing at the same pace, and a sustained throttle
ends in exhausted retries and dead-lettered chunks. Instead the workers pace themselves at one
shared rate that they all adapt (additive increase, multiplicative decrease):

* **acquire** — before each request a worker claims the next send slot of a shared schedule:
  one ``UpdateItem`` that advances the item's ``next_at`` by ``1 / rate`` and returns it.
  N workers interleave without a central server, because each ADD claims a distinct interval.
  A schedule that fell behind the clock (the pipeline was idle) restarts at *now* under a
  condition, so an idle period never turns into a burst.
* **observe** — a 429 multiplies the shared rate by :attr:`RateConfig.decrease` (once per
  *epoch*: the concurrent 429s of requests sent at the old rate do not compound) and pauses
  every worker until ``Retry-After``. The rate then grows by :attr:`RateConfig.increase`
  req/s per second without a 429, up to :attr:`RateConfig.max_rps`. Growth is a function of
  the time since the last decrease, stored in the item, so successes cost no write at all.

Per request that is one DynamoDB call (two after an idle gap; one more per 429). If the item
cannot be read or written (throttled table, network, permissions), the worker logs it once and
paces locally with the same AIMD rules for :attr:`RateConfig.fallback_seconds`, then tries the
shared item again: the limiter may slow delivery, never block it.

Times in the item are wall-clock seconds (``time.time``): they are compared across Lambda
containers, whose clocks are NTP-synchronized.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from adm_ingest.adm.errors import DeadlineExceeded
from adm_ingest.adm.http import Deadline

if TYPE_CHECKING:  # dev-only stubs: the layer does not ship them
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemOutputTypeDef

logger = logging.getLogger(__name__)

THROTTLED = 429
MAX_RECLAIMS = 2
"""How often one acquire may give up a slot that a pause overtook and claim another."""

ITEM_TTL_SECONDS = 7 * 24 * 3600
"""An account's rate item expires after a week without requests (the ledger's TTL attribute)."""


class RateLimiter(Protocol):
    """What the transport calls around every paced request."""

    def acquire(self, deadline: Deadline) -> None:
        """Wait for this worker's next send slot; raise DeadlineExceeded if it comes too late."""

    def observe(self, status: int, retry_after: float | None) -> None:
        """Learn from a response: a 429 slows everyone down; other statuses change nothing."""


class Unlimited:
    """No pacing (the limiter is disabled, or a caller that is not the pipeline)."""

    def acquire(self, deadline: Deadline) -> None:
        return None

    def observe(self, status: int, retry_after: float | None) -> None:
        return None


UNLIMITED = Unlimited()


@dataclass(frozen=True, slots=True)
class RateConfig:
    """The AIMD parameters. Defaults: ``ADM_MAX_RPS`` 10, ``ADM_MIN_RPS`` 0.5.

    ``decrease`` 0.7 and ``increase`` 0.1 req/s per second were chosen on a model of a token
    bucket limit of 5–10 req/s (1 s of burst, ``Retry-After: 1``) and confirmed by ``python -m
    bench throttle``: halving (0.5) loses 10–15 % of the limit to the sawtooth below it; a
    faster increase or a gentler decrease finds the limit again sooner and draws more 429s
    (0.25/s: ≈ 3 % of requests at 5 req/s). The price is a slow recovery — 30 s from 7 back
    to 10 req/s — which a bulk pipeline can afford.
    """

    max_rps: float = 10.0
    """The rate a fresh account starts at, and the most it ever grows to."""
    min_rps: float = 0.5
    """The floor: however often ADM throttles, a worker may still send this often."""
    decrease: float = 0.7
    increase: float = 0.1
    """Requests per second added per second without a 429."""
    default_pause: float = 1.0
    """Seconds everyone waits after a 429 without ``Retry-After``."""
    max_pause: float = 60.0
    """A ``Retry-After`` longer than this is capped (the worker's deadline still applies)."""
    fallback_seconds: float = 30.0
    """How long a worker paces locally after the shared item failed before trying it again."""
    recheck_after: float = 0.25
    """After waiting this long for a slot, read the item once: did a pause start meanwhile?"""

    def __post_init__(self) -> None:
        if not 0 < self.min_rps <= self.max_rps:
            raise ValueError("rates must satisfy 0 < min_rps <= max_rps")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if self.increase < 0 or self.default_pause < 0 or self.max_pause < 0:
            raise ValueError("increase and pauses must not be negative")


@dataclass(frozen=True, slots=True)
class RateState:
    """One account's pacing state, as stored in its item.

    ``base_rps`` was set at ``base_at`` (the last decrease); the rate in force at ``t`` is
    ``base_rps + increase * (t - base_at)`` within the configured bounds. ``epoch`` counts
    decreases. ``next_at`` is where the next send slot begins, ``pause_until`` the end of the
    last ``Retry-After``.
    """

    base_rps: float
    base_at: float
    epoch: int
    next_at: float
    pause_until: float

    @classmethod
    def fresh(cls, config: RateConfig, now: float) -> RateState:
        return cls(config.max_rps, now, 0, now, 0.0)

    def rate(self, config: RateConfig, now: float) -> float:
        grown = self.base_rps + config.increase * max(0.0, now - self.base_at)
        return min(config.max_rps, max(config.min_rps, grown))

    def decreased(self, config: RateConfig, now: float, pause: float) -> RateState:
        """The state after a 429 at ``now`` (a new epoch)."""
        return replace(
            self,
            base_rps=max(config.min_rps, self.rate(config, now) * config.decrease),
            base_at=now,
            epoch=self.epoch + 1,
            pause_until=max(self.pause_until, now + pause),
        )


class RateStore(Protocol):
    """Where the shared state lives (:class:`DynamoRateStore`; tests may use another)."""

    def claim(self, interval: float, now: float, fresh: RateState) -> RateState:
        """Advance ``next_at`` by ``interval`` (creating the item from ``fresh`` if missing);
        return the state after the advance: the claimed slot is ``[next_at - interval,
        next_at)``."""

    def read(self) -> RateState | None:
        """The current state (a consistent read), None when there is none yet."""

    def restart(self, start: float, interval: float, seen_next: float) -> bool:
        """Set ``next_at = start + interval`` if it is still before ``start`` or still
        ``seen_next``; True if done."""

    def decrease(self, seen_epoch: int, new: RateState) -> bool:
        """Store ``new``'s rate, epoch and pause if the epoch is still ``seen_epoch``."""


class StoreUnavailable(Exception):
    """The shared state could not be read or written (the caller falls back to local pacing)."""


Clock = Callable[[], float]


class SharedRateLimiter:
    """Paces one worker's requests at its account's shared AIMD rate (see the module doc).

    Thread-safe; one instance per process (it is kept by the ADM client across invocations).
    """

    def __init__(
        self,
        store: RateStore,
        config: RateConfig | None = None,
        *,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or RateConfig()
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._state = RateState.fresh(self.config, clock())
        self._local_until = 0.0
        """While the clock is before this, pace locally (the shared item failed)."""
        self._slot_epoch = threading.local()

    @property
    def state(self) -> RateState:
        """The last state seen (the shared item's, or the local fallback's)."""
        return self._state

    @property
    def local(self) -> bool:
        """Whether this worker is pacing on its own after a failure of the shared item."""
        return self._clock() < self._local_until

    def rate(self) -> float:
        """The rate in force now, as this worker last saw it."""
        return self._state.rate(self.config, self._clock())

    # -- acquire ------------------------------------------------------------------------------

    def acquire(self, deadline: Deadline) -> None:
        for _ in range(MAX_RECLAIMS + 1):
            slot = self._claim_slot()
            wait = slot - self._clock()
            if wait <= 0:
                return
            if wait > deadline.remaining():
                raise DeadlineExceeded(
                    f"rate limiter: the next send slot is {wait:.1f} s away, past the time budget"
                )
            self._sleep(wait)
            if wait < self.config.recheck_after or not self._paused_meanwhile():
                return

    def _paused_meanwhile(self) -> bool:
        """Did another worker's 429 start a pause while this one slept towards its slot?

        Slots claimed before a 429 would otherwise all fire into the pause, draining what the
        API refills during it and drawing 429s of their own. Checked only after long waits
        (one read; at high rates waits are short and nothing is read).
        """
        if self.local:
            return False
        seen = getattr(self._slot_epoch, "value", self._state.epoch)
        try:
            state = self._store.read()
        except StoreUnavailable as error:
            self._fall_back(self._clock(), error)
            return False
        if state is None:
            return False
        with self._lock:
            self._state = state
        return state.epoch != seen and state.pause_until > self._clock()

    def _claim_slot(self) -> float:
        now = self._clock()
        if not self.local:
            try:
                return self._claim_shared(now)
            except StoreUnavailable as error:
                self._fall_back(now, error)
        return self._claim_local(now)

    def _claim_shared(self, now: float) -> float:
        # The slot is sized by the rate this worker last saw; the item's answer brings a newer
        # rate (another worker's decrease) for its next claim.
        interval = 1.0 / self._state.rate(self.config, now)
        state = self._store.claim(interval, now, RateState.fresh(self.config, now))
        slot = state.next_at - interval
        interval = 1.0 / state.rate(self.config, now)
        start = max(now, state.pause_until)
        horizon = start + self._longest_wait(state, now)
        if slot < start - interval or slot > horizon:
            # Behind the clock (idle, or a pause that just ended): restart the schedule at
            # start rather than let everyone spend past slots at once. Beyond any plausible
            # queue (a skewed clock wrote it): restart it too.
            if slot > horizon:
                logger.warning("rate limiter: shared schedule implausibly far ahead; restarting")
            if self._store.restart(start, interval, state.next_at):
                slot, state = start, replace(state, next_at=start + interval)
            else:  # someone else moved it first: take a slot on their schedule
                state = self._store.claim(interval, now, RateState.fresh(self.config, now))
                slot = state.next_at - interval
        with self._lock:
            self._state = state
        self._slot_epoch.value = state.epoch
        return min(max(slot, state.pause_until), horizon)

    def _longest_wait(self, state: RateState, now: float) -> float:
        # A queue of a few hundred slots at the floor rate is plausible; more is a broken item.
        return self.config.max_pause + 300.0 / state.rate(self.config, now)

    def _claim_local(self, now: float) -> float:
        with self._lock:
            state = self._state
            interval = 1.0 / state.rate(self.config, now)
            slot = max(state.next_at, now, state.pause_until)
            self._state = replace(state, next_at=slot + interval)
            self._slot_epoch.value = state.epoch
        return slot

    # -- observe ------------------------------------------------------------------------------

    def observe(self, status: int, retry_after: float | None) -> None:
        if status != THROTTLED:
            return
        now = self._clock()
        pause = min(
            self.config.max_pause,
            self.config.default_pause if retry_after is None else max(0.0, retry_after),
        )
        seen = getattr(self._slot_epoch, "value", self._state.epoch)
        with self._lock:
            if seen != self._state.epoch:
                return  # this request went out at a rate that was already decreased
            new = self._state.decreased(self.config, now, pause)
            self._state = new
        if not self.local:
            try:
                if not self._store.decrease(seen, new):
                    return  # another worker decreased first; its pause holds for everyone
            except StoreUnavailable as error:
                self._fall_back(now, error)
        logger.info(
            "throttled: request rate lowered to %.2f/s, pausing %.1f s",
            new.base_rps,
            pause,
            extra={"rate_rps": round(new.base_rps, 3), "pause_s": round(pause, 3)},
        )

    def _fall_back(self, now: float, error: StoreUnavailable) -> None:
        with self._lock:
            first = now >= self._local_until
            self._local_until = now + self.config.fallback_seconds
        if first:
            logger.warning(
                "rate limiter: shared rate unavailable (%s); pacing locally for %.0f s",
                error,
                self.config.fallback_seconds,
                extra={"fallback_s": self.config.fallback_seconds},
            )


class DynamoRateStore:
    """The shared state as one item of an existing table (the ledger's ``pk``/``sk`` schema).

    Key ``pk = "rate#<account>"``, ``sk = "rate"``; the item carries the table's TTL attribute
    ``expires_at``. ``client`` is a low-level boto3 DynamoDB client, ideally with short
    timeouts and few retries: a slow limiter call delays a request, it must not hold it.
    """

    def __init__(self, client: DynamoDBClient, table: str, account: str) -> None:
        self._client = client
        self._table = table
        self._key: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": f"rate#{account}"},
            "sk": {"S": "rate"},
        }

    def claim(self, interval: float, now: float, fresh: RateState) -> RateState:
        response = self._update(
            UpdateExpression=(
                "SET next_at = if_not_exists(next_at, :now) + :interval, "
                "base_rps = if_not_exists(base_rps, :rate), "
                "base_at = if_not_exists(base_at, :now), "
                "epoch = if_not_exists(epoch, :zero), "
                "pause_until = if_not_exists(pause_until, :zero), expires_at = :ttl"
            ),
            ExpressionAttributeValues={
                ":now": _n(now),
                ":interval": _n(interval),
                ":rate": _n(fresh.base_rps),
                ":zero": _n(0),
                ":ttl": _n(int(now) + ITEM_TTL_SECONDS),
            },
            ReturnValues="ALL_NEW",
        )
        return _state_of(response["Attributes"])

    def read(self) -> RateState | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=self._key, ConsistentRead=True
            )
        except Exception as error:  # as in _update: any failure of the store
            raise _unavailable(error) from error
        item = response.get("Item")
        return _state_of(item) if item else None

    def restart(self, start: float, interval: float, seen_next: float) -> bool:
        return self._conditional(
            UpdateExpression="SET next_at = :next",
            ConditionExpression="next_at < :start OR next_at = :seen",
            ExpressionAttributeValues={
                ":next": _n(start + interval),
                ":start": _n(start),
                ":seen": _n(seen_next),
            },
        )

    def decrease(self, seen_epoch: int, new: RateState) -> bool:
        return self._conditional(
            UpdateExpression=(
                "SET base_rps = :rate, base_at = :at, epoch = :epoch, pause_until = :pause"
            ),
            ConditionExpression="epoch = :seen",
            ExpressionAttributeValues={
                ":rate": _n(new.base_rps),
                ":at": _n(new.base_at),
                ":epoch": _n(new.epoch),
                ":pause": _n(new.pause_until),
                ":seen": _n(seen_epoch),
            },
        )

    def _conditional(self, **request: Any) -> bool:
        try:
            self._update(**request)
        except StoreUnavailable as error:
            if error.args and error.args[0] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(self, **request: Any) -> UpdateItemOutputTypeDef:
        try:
            return self._client.update_item(TableName=self._table, Key=self._key, **request)
        except Exception as error:  # any failure of the store: the limiter falls back
            raise _unavailable(error) from error


def _unavailable(error: Exception) -> StoreUnavailable:
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return StoreUnavailable(code or type(error).__name__)


def _n(value: float) -> AttributeValueTypeDef:
    # Times in milliseconds: a 13-digit decimal survives the float round trip exactly, so a
    # value read back can be compared for equality in a condition (``next_at = :seen``).
    return {"N": str(value) if isinstance(value, int) else f"{value:.3f}"}


def _state_of(item: Mapping[str, AttributeValueTypeDef]) -> RateState:
    return RateState(
        base_rps=float(item["base_rps"]["N"]),
        base_at=float(item["base_at"]["N"]),
        epoch=int(float(item["epoch"]["N"])),
        next_at=float(item["next_at"]["N"]),
        pause_until=float(item["pause_until"]["N"]),
    )
