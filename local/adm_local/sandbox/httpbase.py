"""What every local platform sandbox (ADM, AEP) does the same way over HTTP.

A real ``ThreadingHTTPServer`` on a background thread, and the plumbing around a request that
does not depend on the platform it imitates: the lifecycle (:meth:`SandboxHttpServer.start`,
``stop``, ``url``, the context manager), the body read with its framing and size limits, the
injected faults (latency, dropped connection, accept-then-drop; 429 and 5xx are handed back to
the platform, which answers them in its own error shape), the reply on the wire, the recorded
requests, the 500 for a sandbox bug and the ``/_sandbox/*`` control endpoints.

A platform subclasses :class:`SandboxHttpServer` and implements :meth:`~SandboxHttpServer.serve`
(its gateway and routes), :meth:`~SandboxHttpServer.internal_error_reply` and
:meth:`~SandboxHttpServer.state`. Bodies are never logged nor recorded; requests are logged as
``METHOD path -> status``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TextIO
from urllib.parse import SplitResult, parse_qs, urlsplit

from .faults import FaultKind, FaultRule, Faults

RESPONSE_BUFFER_BYTES = 1 << 16
"""Responses up to this size (headers included) are sent in a single write."""
CONTROL_PREFIX = "/_sandbox/"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox received (control endpoints excluded); bodies are not kept."""

    method: str
    path: str
    status: int | None
    """``None`` when the connection was dropped by an injected fault."""
    headers: dict[str, str] = field(repr=False)
    query: str = ""
    fault: str | None = None
    """The injected fault that answered (or dropped) the request, if any."""
    at: float = field(default=0.0, compare=False)
    """``time.monotonic()`` when it was answered (for rates over time)."""


class Handler(BaseHTTPRequestHandler):
    """One connection's requests; all behaviour lives in the :class:`SandboxHttpServer`."""

    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions expect
    timeout = 60
    # Status line, headers and body leave in one write when the handler returns (the buffer is
    # flushed per request): written separately, the small body waited ~40 ms for the client's
    # delayed ACK (Nagle). TCP_NODELAY covers bodies larger than the buffer.
    wbufsize = RESPONSE_BUFFER_BYTES
    disable_nagle_algorithm = True
    server: _HttpServer
    drop_reply = False
    """Set per request by an accept-then-drop fault: do the work, send nothing back."""
    response_started = False
    """Set per request once the status line is written (too late then for an error reply)."""

    def do_GET(self) -> None:
        self.server.sandbox.handle(self)

    def __getattr__(self, name: str) -> Any:
        # ``BaseHTTPRequestHandler`` dispatches METHOD to ``do_METHOD`` and answers 501 when
        # there is none. Every method goes to the sandbox, which answers 405 / 404 like the API.
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.sandbox.log(f"{self.command} {urlsplit(self.path).path} -> {code}")

    def log_message(self, format: str, *args: Any) -> None:
        # BaseHTTPRequestHandler's own messages (bad request lines, timeouts): keep them short.
        self.server.sandbox.log(format % args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxHttpServer


class CannotListen(OSError):
    """The sandbox could not bind its address (a port in use, a privileged port): the message
    names the address, so the CLI shows it as its one error line."""


class ConnectionDropped(Exception):
    """An injected fault closed the connection: there is nobody left to answer."""


def drop_connection(http: Handler) -> None:
    """Close the connection without a response (the client sees a reset / empty reply)."""
    http.close_connection = True
    http.connection.shutdown(socket.SHUT_RDWR)


def media_type(header: str | None) -> str:
    """The media type of a ``Content-Type`` / ``Accept`` value, parameters dropped, lowercase."""
    return (header or "").split(";", 1)[0].strip().lower()


def query_values(query_string: str) -> dict[str, str]:
    """A query string's parameters, the first value of each."""
    return {name: values[0] for name, values in parse_qs(query_string).items()}


def form_fields(http: Handler, body: bytes) -> dict[str, str] | None:
    """A token request's form fields; ``None`` when it is not form-encoded (both IdPs refuse)."""
    if media_type(http.headers.get("Content-Type")) != FORM_MEDIA_TYPE:
        return None
    return query_values(body.decode("utf-8", "replace"))


def retry_after_headers(fault: FaultRule) -> dict[str, str]:
    """The ``Retry-After`` header an injected 429 carries, when it has one."""
    return {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}


@dataclass
class BodyError(Exception):
    """The request's body cannot be read as sent; each platform words the answer itself."""

    status: int
    """411 (chunked, no length), 400 (malformed ``Content-Length``) or 413 (too large)."""
    message: str


def read_body(http: Handler, limit: int, drain_limit: int, too_large: str) -> bytes:
    """The request body, at most ``limit`` bytes, or :class:`BodyError`.

    A refused body up to ``drain_limit`` bytes is read and discarded so the client sees the
    answer; when the body's end is unknown (a malformed length, a chunked body, one too large
    to drain) the connection closes after the answer: whatever follows on the socket is not
    the start of the next request.
    """
    declared = http.headers.get("Content-Length")
    if declared is None:
        if http.headers.get("Transfer-Encoding"):
            http.close_connection = True
            raise BodyError(411, "send the body with a Content-Length")
        return b""
    if not (declared.strip().isascii() and declared.strip().isdigit()):  # not "²", "-1"
        http.close_connection = True
        raise BodyError(400, "Content-Length must be a non-negative integer")
    length = int(declared)
    if length <= limit:
        return http.rfile.read(length)
    if length > drain_limit:
        http.close_connection = True  # not worth reading: the stream is out of step
    else:
        remaining = length
        while remaining > 0:
            chunk = http.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
    raise BodyError(413, too_large)


class SandboxHttpServer:
    """The HTTP server of one platform sandbox; use as a context manager (or start / stop)."""

    NAME: ClassVar[str]
    """Prefix of its log lines and its serving thread's name (``adm-sandbox``…)."""
    REQUEST_ID_HEADER: ClassVar[str]
    """The platform's request id response header."""
    CONTROL_BODY_LIMIT: ClassVar[int] = 10_000_000

    def __init__(self, port: int, host: str, faults: Faults, log_stream: TextIO | None) -> None:
        self.faults = faults
        self.requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        """Requests the sandbox failed on (answered 500): sandbox bugs, should stay empty."""
        self._log_stream = log_stream
        self._records_lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve on a background thread; returns ``self``."""
        try:
            httpd = _HttpServer((self._host, self._port), Handler)
        except OSError as error:
            raise CannotListen(
                error.errno,
                f"{self.NAME} cannot listen on {self._host}:{self._port}: {error.strerror} "
                "(another sandbox running? give another --port)",
            ) from None
        httpd.sandbox = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"{self.NAME}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until the server stops (the command line waits here for Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    @property
    def port(self) -> int:
        """The bound port (the requested one before :meth:`start`)."""
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # -- inspection -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` answers."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget faults and recorded requests (a platform forgets its state too)."""
        self.faults.clear()
        with self._records_lock:
            self.requests.clear()
            self.internal_errors.clear()

    def log(self, line: str) -> None:
        if self._log_stream is not None:
            self._log_stream.write(f"{self.NAME} {line}\n")
            self._log_stream.flush()

    # -- request handling -----------------------------------------------------------------

    def handle(self, http: Handler) -> None:
        """Serve one request on ``http`` (called on a handler thread); never raises."""
        http.response_started = False
        http.drop_reply = False
        try:
            url = urlsplit(http.path)
            if url.path.startswith(CONTROL_PREFIX):
                self._control(http, http.command, url.path)
            else:
                self.serve(http, url)
        except ConnectionDropped:
            pass
        except (ConnectionError, TimeoutError):
            http.close_connection = True  # the client went away or stalled: nobody to answer
        except Exception as error:  # a sandbox bug: answer it, loudly, rather than hang up
            self._internal_error(http, error)

    def serve(self, http: Handler, url: SplitResult) -> None:
        """Answer one platform request (everything but the control endpoints)."""
        raise NotImplementedError

    def internal_error_reply(self, http: Handler, url: SplitResult) -> None:
        """Answer 500 in the platform's error shape (the sandbox failed on this request)."""
        raise NotImplementedError

    def injected_fault(self, http: Handler, url: SplitResult) -> FaultRule | None:
        """Apply the request's injected fault: the fault the platform must answer with (429,
        5xx), or ``None``.

        Sleeps the injected latency first; a dropped connection is recorded, closed and raises
        :class:`ConnectionDropped`; accept-then-drop lets the request through and marks the
        reply to be dropped instead of sent (:meth:`send`).
        """
        decision = self.faults.decide(http.command, url.path)
        if decision.delay:
            time.sleep(decision.delay)
        fault = decision.fault
        if fault is not None and fault.kind is FaultKind.DROP_CONNECTION:
            self._record(http, url, None, fault=str(fault.kind))
            drop_connection(http)
            raise ConnectionDropped
        http.drop_reply = fault is not None and fault.kind is FaultKind.ACCEPT_THEN_DROP
        return None if http.drop_reply else fault

    def send(
        self,
        http: Handler,
        url: SplitResult,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str],
        request_id: str,
    ) -> None:
        """Write the reply (or drop it, for accept-then-drop) and record the request."""
        if http.drop_reply:
            self._record(http, url, None, fault=str(FaultKind.ACCEPT_THEN_DROP))
            drop_connection(http)
            return
        http.send_response(status)
        http.send_header(self.REQUEST_ID_HEADER, request_id)
        if data:
            http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            http.send_header(name, value)
        if http.close_connection:
            http.send_header("Connection", "close")
        # Recorded before the client can see the response, so tests need not wait for it.
        self._record(http, url, status)
        http.response_started = True
        http.end_headers()
        if http.command != "HEAD":  # HEAD: the headers a GET would get, no body
            http.wfile.write(data)

    def _record(
        self, http: Handler, url: SplitResult, status: int | None, fault: str | None = None
    ) -> None:
        headers = dict(http.headers.items())
        with self._records_lock:
            self.requests.append(
                RecordedRequest(
                    http.command, url.path, status, headers, url.query, fault, time.monotonic()
                )
            )
        if status is None:
            self.log(f"{http.command} {url.path} -> connection dropped")

    def _internal_error(self, http: Handler, error: Exception) -> None:
        """Answer a request the sandbox failed on with a 500.

        Logged with the exception type and the traceback's frames but not the exception's
        message, which may quote a request value (PII, in a buggy client's request).
        """
        url = urlsplit(http.path)
        frames = traceback.extract_tb(error.__traceback__)
        where = frames[-1] if frames else None
        summary = f"{http.command} {url.path}: {type(error).__name__}" + (
            f" at {Path(where.filename).name}:{where.lineno} in {where.name}" if where else ""
        )
        with self._records_lock:
            self.internal_errors.append(summary)
        self.log(f"INTERNAL ERROR {summary}")
        for frame in frames:
            self.log(f"    {Path(frame.filename).name}:{frame.lineno} in {frame.name}")
        http.close_connection = True  # the body may be unread: the stream is out of step
        if http.response_started:
            return  # too late for a status line; closing is all that is left
        self.internal_error_reply(http, url)

    # -- control endpoints ----------------------------------------------------------------

    def control_document(self, path: str) -> Any | None:
        """A platform's extra ``GET /_sandbox/…`` document (``None``: there is none)."""
        return None

    def _control(self, http: Handler, method: str, path: str) -> None:
        status: int = 404
        payload: Any = {"error": "unknown sandbox control endpoint"}
        try:
            limit = self.CONTROL_BODY_LIMIT
            raw = read_body(http, limit, limit, "request body too large")
            document = self.control_document(path) if method == "GET" else None
            if document is not None:
                status, payload = 200, document
            elif (method, path) == ("GET", "/_sandbox/state"):
                status, payload = 200, self.state()
            elif (method, path) == ("POST", "/_sandbox/reset"):
                self.reset()
                status, payload = 204, None
            elif (method, path) == ("POST", "/_sandbox/faults"):
                self.faults.set_from_json(json.loads(raw or b"{}"))
                status, payload = 204, None
        except BodyError as error:
            status, payload = error.status, {"error": error.message}
        except (ValueError, TypeError, AttributeError) as error:
            status, payload = 400, {"error": str(error)}
        data = b"" if payload is None else json.dumps(payload).encode()
        http.send_response(status)
        if data:
            http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(data)))
        if http.close_connection:
            http.send_header("Connection", "close")
        http.end_headers()
        http.wfile.write(data)
