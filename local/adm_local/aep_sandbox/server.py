"""The AEP sandbox's HTTP layer: a real ``ThreadingHTTPServer`` on 127.0.0.1.

It shares the ADM sandbox's connection handling (its request handler and server classes,
which hand every request to ``handle``) and its fault machinery; what differs is Adobe's
pipeline, in the order a request meets it:

1. ``/_sandbox/*`` control endpoints (state, faults, reset) bypass everything below.
2. Route lookup (404 / 405), then the body: a file PUT over ``put_limit_bytes`` (256 MB, the
   single-PUT limit) → 413, pointing at the large-file path; a PATCH part over
   ``part_limit_bytes``, or a JSON body over 10 MB → 413 too.
3. Injected faults (latency, dropped connection, 429 with ``Retry-After``, 5xx).
4. ``POST /ims/token/v3`` → the IMS token grant.
5. The gateway: ``Authorization`` (403010 missing, 401013 invalid / expired), ``x-api-key``
   (403000 missing, 403003 not the token's client), ``x-gw-ims-org-id`` (400003 missing,
   403025 another org), ``x-sandbox-name`` (400003 missing, 403025 another sandbox: what AEP
   answers there is not documented). Then the content type of a body, and the route.

A bug in the sandbox becomes a 500 (kept in :attr:`AepSandboxServer.internal_errors`), never a
dropped connection. Requests are logged as ``METHOD path -> status``; bodies never are.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from adm_local.sandbox.faults import FaultKind, Faults

# The ADM sandbox's connection plumbing: its handler dispatches every method to
# ``server.sandbox.handle`` and logs through ``server.sandbox.log``, which this server provides.
from adm_local.sandbox.server import RecordedRequest, _drop, _Handler, _HttpServer

from .errors import AepError, bad_request, gateway_error, problem
from .ims import IMS_TOKEN_PATH, AepAccount, ImsError, ImsTokens
from .routes import AepRequest, Reply, Route, match
from .schemas import SeededSchema
from .state import AepState

PUT_LIMIT_BYTES = 256 * 1024 * 1024
"""Batch Ingestion's single-PUT threshold ("256MB"; read as MiB, the larger reading)."""
PART_LIMIT_BYTES = 512_000_000
"""The large-file path's accepted PATCH range (0–512000000 bytes)."""
JSON_LIMIT_BYTES = 10_000_000
DRAIN_SLACK_BYTES = 64_000_000
"""Refused bodies up to this much over their limit are read so the client sees the 413."""
CONTROL_PREFIX = "/_sandbox/"
REQUEST_ID_HEADER = "x-request-id"

_JSON_TYPES = {"json": "application/json", "json-patch": "application/json-patch+json"}


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


class AepSandboxServer:
    """An in-process AEP sandbox; use as a context manager (or :meth:`start` / :meth:`stop`).

    ``sb.url`` is the base for both ``AEP_API_URL`` and ``AEP_IMS_URL`` (one host serves the
    platform and IMS); ``sb.account`` holds the seeded credentials, org, sandbox and tenant.
    ``processing_delay`` is how long a completed batch stays ``processing``; ``abandon_after``
    how long an uncompleted one stays ``loading`` before it is ``abandoned``.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        account: AepAccount | None = None,
        token_ttl: float = 86399,
        processing_delay: float = 0.0,
        abandon_after: float | None = None,
        put_limit_bytes: int = PUT_LIMIT_BYTES,
        part_limit_bytes: int = PART_LIMIT_BYTES,
        log_stream: TextIO | None = sys.stderr,
    ) -> None:
        self.account = account or AepAccount()
        self.tokens = ImsTokens(self.account, token_ttl)
        self.faults = Faults(
            expire_tokens=self.tokens.expire_all,
            revoke_tokens_every=self.tokens.revoke_every,
            token_path=IMS_TOKEN_PATH,
        )
        self._state = AepState(self.account, processing_delay, abandon_after)
        self.put_limit_bytes = put_limit_bytes
        self.part_limit_bytes = part_limit_bytes
        self.requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        """Requests the sandbox failed on (answered 500): sandbox bugs, should stay empty."""
        self._log_stream = log_stream
        self._records_lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> AepSandboxServer:
        httpd = _HttpServer((self._host, self._port), _Handler)
        httpd.sandbox = self  # type: ignore[assignment]  # duck-typed: handle() and log()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"aep-sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AepSandboxServer:
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
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + IMS_TOKEN_PATH

    @property
    def schemas(self) -> list[SeededSchema]:
        """The seeded schemas: the Individual Profile one, then the ExperienceEvent one."""
        return list(self._state.schemas)

    def add_schema(self, schema: SeededSchema) -> None:
        """Add a schema to the tenant's Schema Registry (e.g. one the validator cannot read)."""
        self._state.add_schema(schema)

    def state(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` answers."""
        return {
            "datasets": self._state.list_datasets({"limit": "100"}),
            "batches": self._state.list_batches({"limit": "100"}),
            "tokens_issued": self.tokens.issued,
            "faults": self.faults.snapshot(),
        }

    def reset(self) -> None:
        """Forget datasets, batches, faults and recorded requests (tokens stay valid)."""
        self._state.reset()
        self.faults.clear()
        with self._records_lock:
            self.requests.clear()
            self.internal_errors.clear()

    def log(self, line: str) -> None:
        if self._log_stream is not None:
            self._log_stream.write(f"aep-sandbox {line}\n")
            self._log_stream.flush()

    # -- request handling -----------------------------------------------------------------

    def handle(self, http: _Handler) -> None:
        """Serve one request on ``http`` (called on a handler thread); never raises."""
        http.response_started = False
        http.drop_reply = False
        try:
            self._handle(http)
        except (ConnectionError, TimeoutError):
            http.close_connection = True
        except Exception as error:  # a sandbox bug: answer it rather than hang up
            self._internal_error(http, error)

    def _handle(self, http: _Handler) -> None:
        url = urlsplit(http.path)
        method = http.command
        if url.path.startswith(CONTROL_PREFIX):
            self._control(http, method, url.path)
            return
        route: Route | None = None
        params: dict[str, str] = {}
        try:
            if url.path != IMS_TOKEN_PATH:
                try:
                    route, params = match(method, url.path)
                except AepError:
                    self._read_body(http, JSON_LIMIT_BYTES)
                    raise
            body = self._read_body(http, self._limit(route))
            decision = self.faults.decide(method, url.path)
            if decision.delay:
                time.sleep(decision.delay)
            fault = decision.fault
            if fault is not None and fault.kind is FaultKind.DROP_CONNECTION:
                self._record(http, url, None, fault=str(fault.kind))
                _drop(http)
                return
            http.drop_reply = fault is not None and fault.kind is FaultKind.ACCEPT_THEN_DROP
            if http.drop_reply:
                fault = None  # the request goes through; _respond drops its answer
            if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                # The gateway's throttling body is not documented; this is its error shape.
                error = gateway_error(429, "429050", "Too many requests")
                raise AepError(429, error.body, headers)
            if fault is not None and fault.kind is FaultKind.SERVER_ERROR:
                raise problem(fault.status, "ServerError", "injected server error")
            if route is None:
                reply = self._token(http, method, body)
            else:
                self._gateway(http)
                reply = route.handler(self._state, self._request(http, route, params, body))
        except AepError as error:
            reply = Reply(error.status, error.body, error.headers)
        self._respond(http, url, reply)

    def _limit(self, route: Route | None) -> int:
        if route is not None and route.body == "file":
            return self.put_limit_bytes if route.method == "PUT" else self.part_limit_bytes
        return JSON_LIMIT_BYTES

    def _read_body(self, http: _Handler, limit: int) -> bytes:
        declared = http.headers.get("Content-Length")
        if declared is None:
            if http.headers.get("Transfer-Encoding"):
                http.close_connection = True
                raise problem(411, "LengthRequired", "send the body with a Content-Length")
            return b""
        if not (declared.strip().isascii() and declared.strip().isdigit()):
            http.close_connection = True
            raise bad_request("Content-Length must be a non-negative integer")
        length = int(declared)
        if length <= limit:
            return http.rfile.read(length)
        if length > limit + DRAIN_SLACK_BYTES:
            http.close_connection = True  # not worth reading: the stream is out of step
        else:
            remaining = length
            while remaining > 0:
                chunk = http.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        raise problem(
            413,
            "PayloadTooLarge",
            f"the body exceeds {limit} bytes; upload larger files with the large file "
            "upload (?action=INITIALIZE, PATCH with Content-Range, ?action=COMPLETE)",
        )

    def _token(self, http: _Handler, method: str, body: bytes) -> Reply:
        try:
            if method != "POST":
                raise ImsError(405, "invalid_request", "use POST")
            if _media_type(http.headers.get("Content-Type")) != "application/x-www-form-urlencoded":
                raise ImsError(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return Reply(200, self.tokens.grant(form))
        except ImsError as error:
            return Reply(error.status, error.body)

    def _gateway(self, http: _Handler) -> None:
        headers, account = http.headers, self.account
        authorization = headers.get("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise gateway_error(403, "403010", "Oauth token is missing.")
        if self.tokens.client_of(authorization) is None:
            raise gateway_error(401, "401013", "Oauth token is not valid")
        api_key = headers.get("x-api-key")
        if not api_key:
            raise gateway_error(403, "403000", "Api Key is required")
        if api_key != account.client_id:
            raise gateway_error(403, "403003", "Api Key is invalid")
        org = headers.get("x-gw-ims-org-id")
        if not org:
            raise gateway_error(400, "400003", "Missing header")
        if org != account.org_id:
            raise gateway_error(403, "403025", "Profile is not valid")
        sandbox = headers.get("x-sandbox-name")
        if not sandbox:
            raise gateway_error(400, "400003", "Missing header")
        if sandbox != account.sandbox_name:
            raise gateway_error(403, "403025", "Profile is not valid")

    def _request(
        self, http: _Handler, route: Route, params: dict[str, str], raw: bytes
    ) -> AepRequest:
        query = {name: values[0] for name, values in parse_qs(urlsplit(http.path).query).items()}
        headers = {name: value for name, value in http.headers.items()}
        body: Any = None
        media = _media_type(http.headers.get("Content-Type"))
        if route.body == "file":
            if media != "application/octet-stream":
                raise problem(415, "UnsupportedMediaType", "send files as application/octet-stream")
            body = raw
        elif route.body is not None:
            if media != _JSON_TYPES[route.body]:
                error = bad_request("A valid content-type must be specified")
                error.body["type"] = "/placeholder/type/uri"
                raise error
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise bad_request("the request body is not valid JSON") from None
        return AepRequest(http.command, params, query, headers, body)

    def _respond(self, http: _Handler, url: Any, reply: Reply) -> None:
        if http.drop_reply:
            self._record(http, url, None, fault=str(FaultKind.ACCEPT_THEN_DROP))
            _drop(http)
            return
        if isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
        http.send_response(reply.status)
        http.send_header(REQUEST_ID_HEADER, str(uuid.uuid4()))
        if data:
            http.send_header("Content-Type", reply.content_type)
        http.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            http.send_header(name, value)
        if http.close_connection:
            http.send_header("Connection", "close")
        self._record(http, url, reply.status)
        http.response_started = True
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(data)

    def _record(
        self, http: _Handler, url: Any, status: int | None, fault: str | None = None
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

    def _internal_error(self, http: _Handler, error: Exception) -> None:
        """Answer with a 500; logged with the traceback's frames, not the message (PII)."""
        url = urlsplit(http.path)
        frames = traceback.extract_tb(error.__traceback__)
        where = frames[-1] if frames else None
        summary = f"{http.command} {url.path}: {type(error).__name__}" + (
            f" at {Path(where.filename).name}:{where.lineno} in {where.name}" if where else ""
        )
        with self._records_lock:
            self.internal_errors.append(summary)
        self.log(f"INTERNAL ERROR {summary}")
        http.close_connection = True
        if http.response_started:
            return
        failure = problem(500, "InternalServerError", "the sandbox failed on this request")
        self._respond(http, url, Reply(500, failure.body))

    # -- control endpoints ----------------------------------------------------------------

    def _control(self, http: _Handler, method: str, path: str) -> None:
        status: int = 404
        payload: Any = {"error": "unknown sandbox control endpoint"}
        try:
            raw = self._read_body(http, JSON_LIMIT_BYTES)
            if (method, path) == ("GET", "/_sandbox/state"):
                status, payload = 200, self.state()
            elif (method, path) == ("POST", "/_sandbox/reset"):
                self.reset()
                status, payload = 204, None
            elif (method, path) == ("POST", "/_sandbox/faults"):
                self.faults.set_from_json(json.loads(raw or b"{}"))
                status, payload = 204, None
        except AepError as error:
            status, payload = error.status, error.body
        except (ValueError, TypeError, AttributeError) as error:
            status, payload = 400, {"error": str(error)}
        _write_plain(http, status, payload)


def _write_plain(http: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = b"" if payload is None else json.dumps(payload).encode()
    http.send_response(status)
    if data:
        http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(data)))
    http.end_headers()
    http.wfile.write(data)
