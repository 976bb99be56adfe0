"""The sandbox's HTTP layer: a real ``ThreadingHTTPServer`` on 127.0.0.1 speaking the ADM API.

Request pipeline, in the order a real gateway would apply it:

1. ``/_sandbox/*`` control endpoints (state, faults, reset, the OpenAPI document) bypass
   everything below.
2. Body read; more than :data:`MAX_BODY_BYTES` → 413; a malformed ``Content-Length`` or a
   chunked body → 400 / 411 (and the connection closes: the next request's start is unknown).
3. Injected faults (latency, dropped connection, 429, 5xx; accept-then-drop applies the request
   and drops the connection instead of answering).
4. ``POST /auth/o2/token`` → the LwA token grant.
5. Operation lookup (404 / 405), bearer token (401), documented headers (400 missing,
   401 client mismatch, 403 foreign manager/advertiser account), content type (415), JSON body
   (400), schema validation (400 with every violation listed).
6. The route; its reply is itself validated against the documented response schema — any
   mismatch is a sandbox bug, recorded in :attr:`SandboxServer.schema_violations`.

Every HTTP method reaches this pipeline (an undocumented one gets 405 or 404, never the standard
library's 501 page). A bug in the sandbox itself becomes a 500 in the API's error shape, logged
with its traceback and kept in :attr:`SandboxServer.internal_errors` — never a dropped
connection, which a client would retry as a network error.

Each request is logged to stderr as ``METHOD path -> status``; bodies are never logged.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from .auth import SandboxAccount, TokenError, TokenIssuer
from .faults import TOKEN_PATH, FaultKind, Faults
from .openapi import openapi_document
from .replies import ApiError, Reply, bad_request
from .routes import ROUTES, UNIMPLEMENTED_CONTENT_TYPES, ApiRequest, request_schema
from .state import SandboxState
from .validation import ApiSchema, Operation, parse_json, query_violations, violations

MAX_BODY_BYTES = 10_000_000
"""Amazon's "a request ≤ 10 MB"; the sandbox reads MB as 10^6 bytes, the stricter reading."""
DRAIN_LIMIT_BYTES = 64_000_000
"""Oversized bodies are read and discarded up to this size so the client sees the 413."""
RESPONSE_BUFFER_BYTES = 1 << 16
"""Responses up to this size (headers included) are sent in a single write."""

CONTROL_PREFIX = "/_sandbox/"
REQUEST_ID_HEADER = "Amazon-Advertising-API-RequestId"
CLIENT_ID_HEADER = "Amazon-Advertising-API-ClientId"
MANAGER_ACCOUNT_HEADER = "Amazon-Ads-Manager-Account-ID"
ADVERTISER_HEADER = "Amazon-Ads-AccountId"


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


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _error_body(operation: Operation | None, error: ApiError, request_id: str) -> dict[str, Any]:
    """Render ``error`` in the documented error shape of the operation's API family."""
    reasons = error.reasons or [(None, error.message)]
    if operation is not None and operation.is_dsp:
        return {
            "message": error.message,
            "requestId": request_id,
            "errors": [
                {"errorType": error.code, "message": message}
                | ({"fieldName": name} if name else {})
                for name, message in reasons[:100]
            ],
        }
    return {
        "code": error.code,
        "details": "; ".join(message for _, message in reasons[:5]),
        "message": error.message,
        "errors": [
            {
                "errorCode": error.status,
                "errorMessage": f"{name}: {message}" if name else message,
                "errorType": error.code,
            }
            for name, message in reasons[:100]
        ],
        **error.extra,
    }


class _Handler(BaseHTTPRequestHandler):
    """One connection's requests; all behaviour lives in :class:`SandboxServer`."""

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


def _drop(http: _Handler) -> None:
    """Close the connection without a response (the client sees a reset / empty reply)."""
    http.close_connection = True
    http.connection.shutdown(socket.SHUT_RDWR)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxServer


class SandboxServer:
    """An in-process ADM sandbox; use as a context manager (or :meth:`start` / :meth:`stop`).

    ``sb.url`` is the base URL for ADM, DSP conversions and ``/managerAccounts``;
    ``sb.token_url`` the LwA token endpoint; ``sb.account`` the seeded credentials.
    ``onboarded=True`` starts with the ADM terms accepted and the data room created.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        account: SandboxAccount | None = None,
        token_ttl: float = 3600,
        onboarded: bool = False,
        log_stream: TextIO | None = sys.stderr,
    ) -> None:
        self.account = account or SandboxAccount()
        self.tokens = TokenIssuer(self.account, token_ttl)
        self.faults = Faults(
            expire_tokens=self.tokens.expire_all, revoke_tokens_every=self.tokens.revoke_every
        )
        self._state = SandboxState(self.account, onboarded=onboarded)
        self.schema = ApiSchema.load()
        self.requests: list[RecordedRequest] = []
        self.schema_violations: list[str] = []
        """Responses the sandbox sent that break the documented schema (should stay empty)."""
        self.internal_errors: list[str] = []
        """Requests the sandbox failed on (answered 500): sandbox bugs, should stay empty."""
        self._log_stream = log_stream
        self._records_lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind and serve on a background thread; returns ``self``."""
        httpd = _HttpServer((self._host, self._port), _Handler)
        httpd.sandbox = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"adm-sandbox:{self.port}", daemon=True
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

    def __enter__(self) -> SandboxServer:
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

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    # -- inspection -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Snapshot of the account state and active faults (same as ``GET /_sandbox/state``)."""
        return {**self._state.snapshot(), "faults": self.faults.snapshot()}

    def reset(self) -> None:
        """Forget all state, faults and recorded requests (issued tokens stay valid)."""
        self._state.reset()
        self.faults.clear()
        with self._records_lock:
            self.requests.clear()
            self.schema_violations.clear()
            self.internal_errors.clear()

    def log(self, line: str) -> None:
        if self._log_stream is not None:
            self._log_stream.write(f"adm-sandbox {line}\n")
            self._log_stream.flush()

    # -- request handling -----------------------------------------------------------------

    def handle(self, http: _Handler) -> None:
        """Serve one request on ``http`` (called on a handler thread); never raises."""
        http.response_started = False
        try:
            self._handle(http)
        except (ConnectionError, TimeoutError):
            http.close_connection = True  # the client went away or stalled: nobody to answer
        except Exception as error:  # a sandbox bug: answer it, loudly, rather than hang up
            self._internal_error(http, error)

    def _handle(self, http: _Handler) -> None:
        method = http.command
        url = urlsplit(http.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._control(http, method, url.path)
            return
        request_id = str(uuid.uuid4())
        body, framing_error = self._read_body(http)
        operation, path_params, path_known = self.schema.match(method, url.path)
        decision = self.faults.decide(method, url.path)
        if decision.delay:
            time.sleep(decision.delay)
        fault = decision.fault
        if fault is not None and fault.kind is FaultKind.DROP_CONNECTION:
            self._record(http, method, url, None, fault=str(fault.kind))
            _drop(http)
            return
        http.drop_reply = fault is not None and fault.kind is FaultKind.ACCEPT_THEN_DROP
        if http.drop_reply:
            fault = None  # the request goes through; _respond drops its answer
        try:
            if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                raise ApiError(429, "TooManyRequestsException", "rate exceeded", headers=headers)
            if fault is not None and fault.kind is FaultKind.SERVER_ERROR:
                raise ApiError(fault.status, "ServerException", "injected server error")
            if framing_error is not None:
                raise framing_error
            if url.path == TOKEN_PATH:
                self._token(http, method, body, url, request_id)
                return
            if operation is None:
                if path_known:
                    allowed = ", ".join(self.schema.methods_of(url.path))
                    raise ApiError(
                        405,
                        "MethodNotAllowed",
                        "method not allowed on this path",
                        headers={"Allow": allowed},
                    )
                raise ApiError(404, "ResourceNotFoundException", "no such API path")
            reply = self._api(http, operation, path_params, url.query, body)
        except ApiError as error:
            content_type = self._content_type(operation, error.status, http)
            payload = _error_body(operation, error, request_id)
            self._respond(
                http, operation, error.status, payload, content_type, error.headers, request_id, url
            )
            return
        content_type = self._content_type(operation, reply.status, http)
        self._respond(
            http, operation, reply.status, reply.body, content_type, reply.headers, request_id, url
        )

    def _read_body(self, http: _Handler) -> tuple[bytes, ApiError | None]:
        """The request body, or the framing error to answer with instead of reading it.

        When the body's end is unknown (a malformed length, a chunked body, a drained
        oversized one) the connection closes after the answer: whatever follows on the
        socket is not the start of the next request.
        """
        declared = http.headers.get("Content-Length")
        if declared is None:
            if http.headers.get("Transfer-Encoding"):
                http.close_connection = True
                return b"", ApiError(411, "LengthRequired", "send the body with a Content-Length")
            return b"", None
        if not (declared.strip().isascii() and declared.strip().isdigit()):  # not "²", "-1"
            http.close_connection = True
            return b"", bad_request("Content-Length must be a non-negative integer")
        length = int(declared)
        if length <= MAX_BODY_BYTES:
            return http.rfile.read(length), None
        remaining = min(length, DRAIN_LIMIT_BYTES)
        while remaining > 0:
            chunk = http.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        if length > DRAIN_LIMIT_BYTES:
            http.close_connection = True
        return b"", ApiError(413, "PayloadTooLarge", "request body exceeds 10 MB")

    def _internal_error(self, http: _Handler, error: Exception) -> None:
        """Answer a request the sandbox failed on with a 500 in the API's error shape.

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
        operation = self.schema.match(http.command, url.path)[0]
        request_id = str(uuid.uuid4())
        failure = ApiError(500, "InternalServerError", "the sandbox failed on this request")
        self._respond(
            http, None, 500, _error_body(operation, failure, request_id), "application/json",
            {}, request_id, url,
        )  # fmt: skip

    def _api(
        self,
        http: _Handler,
        operation: Operation,
        path_params: Mapping[str, str],
        query_string: str,
        raw_body: bytes,
    ) -> Reply:
        headers = http.headers
        client_id = self.tokens.client_of(headers.get("Authorization"))
        if client_id is None:
            raise ApiError(
                401, "UnauthorizedRequestException", "missing, invalid or expired access token"
            )
        for parameter in operation.headers():
            if parameter.required and not headers.get(parameter.name):
                raise bad_request(f"missing required header {parameter.name}")
        if headers.get(CLIENT_ID_HEADER) != client_id:
            raise ApiError(
                401,
                "UnauthorizedRequestException",
                f"{CLIENT_ID_HEADER} does not match the access token's client",
            )
        self._state.check_manager_account(headers.get(MANAGER_ACCOUNT_HEADER))
        self._state.check_advertiser(headers.get(ADVERTISER_HEADER))
        if "accountId" in path_params:
            self._state.check_advertiser(path_params["accountId"])
        body, body_schema = self._parse_body(operation, headers.get("Content-Type"), raw_body)
        query = {name: values[0] for name, values in parse_qs(query_string).items()}
        problems = query_violations(operation.query_parameters(), query)
        if problems:
            raise ApiError(
                400,
                "BadRequestException",
                f"query parameters violate the API schema ({len(problems)} problem(s))",
                reasons=[(problem.location, problem.constraint) for problem in problems],
            )
        request = ApiRequest(operation, path_params, query, body, body_schema, client_id)
        return ROUTES[operation.key](self._state, request)

    def _parse_body(
        self, operation: Operation, content_type_header: str | None, raw_body: bytes
    ) -> tuple[Any, Mapping[str, Any] | None]:
        documented = operation.request_content_types
        if not documented:
            return None, None  # the operation takes no body; anything sent is ignored
        if not raw_body.strip():
            if operation.request_body_required:
                raise bad_request("request body is required")
            return None, None
        # Media types compare case-insensitively; the OpenAPI spells some in camelCase.
        accepted = {
            name.lower(): name for name in documented if name not in UNIMPLEMENTED_CONTENT_TYPES
        }
        media_type = accepted.get(_media_type(content_type_header))
        if media_type is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "Content-Type must be "
                + " or ".join(sorted(set(documented) - UNIMPLEMENTED_CONTENT_TYPES)),
            )
        try:
            body = parse_json(raw_body)
        except ValueError as error:
            raise ApiError(
                400,
                "BadRequestException",
                "request body is not valid JSON",
                reasons=[("body", str(error))],
            ) from None
        schema = documented[media_type]
        problems = violations(request_schema(operation, schema), body)
        if problems:
            raise ApiError(
                400,
                "BadRequestException",
                f"request body violates the API schema ({len(problems)} problem(s))",
                reasons=[(problem.location, problem.constraint) for problem in problems],
            )
        return body, schema

    def _token(self, http: _Handler, method: str, body: bytes, url: Any, request_id: str) -> None:
        try:
            if method != "POST":
                raise TokenError(400, "invalid_request", "use POST")
            if _media_type(http.headers.get("Content-Type")) != "application/x-www-form-urlencoded":
                raise TokenError(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, payload = 200, self.tokens.grant(form)
        except TokenError as error:
            status, payload = error.status, error.body
        self._respond(http, None, status, payload, "application/json", {}, request_id, url)

    def _content_type(self, operation: Operation | None, status: int, http: _Handler) -> str:
        documented = operation.response_content_types(status) if operation else {}
        requested = _media_type(http.headers.get("Content-Type"))
        for name in sorted(documented):
            if name.lower() == requested:
                return name
        return sorted(documented)[0] if documented else "application/json"

    def _respond(
        self,
        http: _Handler,
        operation: Operation | None,
        status: int,
        body: Any,
        content_type: str,
        headers: Mapping[str, str],
        request_id: str,
        url: Any,
    ) -> None:
        if operation is not None:
            self._check_response(operation, status, content_type, body)
        if http.drop_reply:
            self._record(http, http.command, url, None, fault=str(FaultKind.ACCEPT_THEN_DROP))
            _drop(http)
            return
        data = b"" if body is None else json.dumps(body).encode()
        http.send_response(status)
        http.send_header(REQUEST_ID_HEADER, request_id)
        if data:
            http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            http.send_header(name, value)
        if http.close_connection:
            http.send_header("Connection", "close")
        # Recorded before the client can see the response, so tests need not wait for it.
        self._record(http, http.command, url, status)
        http.response_started = True
        http.end_headers()
        if http.command != "HEAD":  # HEAD: the headers a GET would get, no body
            http.wfile.write(data)

    def _check_response(
        self, operation: Operation, status: int, content_type: str, body: Any
    ) -> None:
        schema = operation.response_content_types(status).get(content_type)
        if schema is None:
            return
        if body is None:
            problems = ["documented body missing"]
        else:
            problems = [str(problem) for problem in violations(schema, body)]
        if problems:
            with self._records_lock:
                self.schema_violations.extend(
                    f"{operation.key} {status}: {problem}" for problem in problems
                )
            self.log(f"SCHEMA VIOLATION in response of {operation.key} {status}")

    def _record(
        self, http: _Handler, method: str, url: Any, status: int | None, fault: str | None = None
    ) -> None:
        headers = dict(http.headers.items())
        with self._records_lock:
            self.requests.append(
                RecordedRequest(
                    method, url.path, status, headers, url.query, fault, time.monotonic()
                )
            )
        if status is None:
            self.log(f"{method} {url.path} -> connection dropped")

    # -- control endpoints ----------------------------------------------------------------

    def _control(self, http: _Handler, method: str, path: str) -> None:
        raw, framing_error = self._read_body(http)
        status, payload = 404, {"error": "unknown sandbox control endpoint"}
        try:
            if framing_error is not None:
                status, payload = framing_error.status, {"error": framing_error.message}
            elif (method, path) == ("GET", "/_sandbox/openapi.json"):
                status, payload = 200, openapi_document()
            elif (method, path) == ("GET", "/_sandbox/state"):
                status, payload = 200, self.state()
            elif (method, path) == ("POST", "/_sandbox/reset"):
                self.reset()
                status, payload = 204, None
            elif (method, path) == ("POST", "/_sandbox/faults"):
                self.faults.set_from_json(json.loads(raw or b"{}"))
                status, payload = 204, None
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
