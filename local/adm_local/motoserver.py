"""moto's threaded server, with DynamoDB's single-item atomicity restored.

moto applies an ``UpdateItem`` as read-modify-write without a lock, so concurrent clients lose
updates that DynamoDB never loses (two workers' ``ADD chunks_done :1`` on one file item count
once; two limiters' ``SET next_at = next_at + :i`` claim the same slot). One process pumping
the handlers never noticed; concurrent worker processes (``python -m bench throttle``) do. This
server serializes DynamoDB requests — only those: S3 and SQS keep their concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialize_dynamodb(app: Wsgi) -> Wsgi:
    """``app`` with DynamoDB requests (``X-Amz-Target: DynamoDB_…``) handled one at a time."""
    lock = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))  # the body is built under the lock

    return wrapped


class AtomicMotoServer(ThreadedMotoServer):
    """:class:`ThreadedMotoServer` serving :func:`serialize_dynamodb` of moto's application."""

    def _server_entry(self) -> None:
        app = serialize_dynamodb(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
