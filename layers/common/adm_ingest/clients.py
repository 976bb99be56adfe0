"""Destination clients: built by each destination from the deployment's settings, on first use.

Each destination builds its own client (:meth:`Destination.connect_for`) from a
:class:`ClientEnvironment` and the file's target. A :class:`ClientPool` keeps one client per
:meth:`Destination.client_key_for` key and container — ADM's three destinations share one per
account — and hands out :class:`LazyClient` proxies, so a step whose destination never calls
its client (ADM's ``open_file``, ``commit``) costs no credentials read and no connection.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from adm_ingest.settings import Settings

if TYPE_CHECKING:
    from adm_ingest.adm.ratelimit import RateLimiter
    from adm_ingest.destinations.base import DeliveryTarget, Destination

ClientProvider = Callable[["type[Destination]", "DeliveryTarget"], Any]
"""The client for a destination and a file's target (what the splitter, worker, finalizer and
poller are given): the target's attributes may name the account it belongs to."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ClientEnvironment:
    settings: Settings
    rate_limiter: Callable[[str], RateLimiter]
    """The request pacing shared by every worker of one remote account (by account id)."""
    _shared: dict[Hashable, Any] = field(default_factory=dict)

    def shared(self, key: Hashable, build: Callable[[], _T]) -> _T:
        """One object per key and container, built on first use (e.g. a token provider per
        credentials secret, shared by the clients of every account using that secret)."""
        if key not in self._shared:
            self._shared[key] = build()
        value: _T = self._shared[key]
        return value


class LazyClient:
    """Stands for a client that is built on first attribute access."""

    __slots__ = ("_client", "_connect")

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._client: Any = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._connect()
        return getattr(self._client, name)


class ClientPool:
    """One lazily built client per client key, from ``environment`` (called once, on the
    first connection; the environment is kept, with what the clients share)."""

    def __init__(self, environment: Callable[[], ClientEnvironment]) -> None:
        self._make_environment = environment
        self._environment: ClientEnvironment | None = None
        self._clients: dict[str, LazyClient] = {}
        self._deadline: Any = None

    def __call__(self, destination: type[Destination], target: DeliveryTarget) -> Any:
        key = destination.client_key_for(target)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = LazyClient(lambda: self._connect(destination, target))
        return client

    def set_deadline(self, deadline: Any) -> None:
        """Bound every client's calls by this invocation's deadline (an
        :class:`~adm_ingest.adm.http.Deadline`): the clients built so far, and those built
        later in the invocation."""
        self._deadline = deadline
        for client in self._clients.values():
            if client.connected:
                _set_deadline(client, deadline)

    def _connect(self, destination: type[Destination], target: DeliveryTarget) -> Any:
        if self._environment is None:
            self._environment = self._make_environment()
        client = destination.connect_for(self._environment, target)
        if self._deadline is not None:
            _set_deadline(client, self._deadline)
        return client


def _set_deadline(client: Any, deadline: Any) -> None:
    set_deadline = getattr(client, "set_deadline", None)
    if set_deadline is not None:
        set_deadline(deadline)


class NoClient:
    """For a component built without clients (a test, the dry-run): any use is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this component was built without destination clients")


def no_clients(destination: type[Destination], target: DeliveryTarget) -> Any:
    """The provider of a component built without clients."""
    return NoClient()
