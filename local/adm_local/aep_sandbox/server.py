"""The AEP sandbox's HTTP layer: a real ``ThreadingHTTPServer`` on 127.0.0.1.

It shares the ADM sandbox's HTTP plumbing (``adm_local.sandbox.httpbase``: the server's
lifecycle, body framing, the fault machinery, replies, recorded requests and the control
endpoints); what differs is Adobe's pipeline, in the order a request meets it:

1. ``/_sandbox/*`` control endpoints (state, faults, reset) bypass everything below.
2. Route lookup (404 / 405), then the body: a file PUT over ``put_limit_bytes`` (256 MB, the
   single-PUT limit) → 413, pointing at the large-file path; a PATCH part over
   ``part_limit_bytes``, or a JSON body over 10 MB → 413 too.
3. Injected faults (latency, dropped connection, 429 with ``Retry-After``, 5xx).
4. ``POST /ims/token/v3`` → the IMS token grant.
5. The gateway: ``Authorization`` (403010 missing, 401013 invalid / expired), ``x-api-key``
   (403000 missing, 403003 not the token's client), ``x-gw-ims-org-id`` (400003 missing,
   403025 another org than the token's client's), ``x-sandbox-name`` (400003 missing, 403025
   another sandbox: what AEP answers there is not documented). Then the content type of a
   body; the query and a JSON body against the operation's structure in
   ``aep-api-schema.json`` (400, listing what broke: :mod:`.api_schema`); and the route.

The sandbox may serve several orgs (``accounts``): each has its own credential, and its own
datasets, batches, files and Schema Registry (the seeded schemas, in its tenant) in an
:class:`AepState` of its own. A request is served by the org of its token's client, and its
api key, org and sandbox headers must all be that org's — as Adobe's gateway, which scopes a
credential to one org.

A bug in the sandbox becomes a 500 (kept in :attr:`AepSandboxServer.internal_errors`), never a
dropped connection. Requests are logged as ``METHOD path -> status``; bodies never are.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import SplitResult

from adm_local.sandbox.faults import FaultKind, Faults
from adm_local.sandbox.httpbase import (
    BodyError,
    Handler,
    RecordedRequest,
    SandboxHttpServer,
    form_fields,
    media_type,
    query_values,
    read_body,
    retry_after_headers,
)

from .api_schema import AepApiSchema
from .errors import AepError, bad_request, gateway_error, problem
from .ims import IMS_TOKEN_PATH, AepAccount, ImsError, ImsTokens
from .routes import AepRequest, Reply, Route, match
from .schemas import SeededSchema
from .state import AepState

__all__ = ["AepSandboxServer", "RecordedRequest"]

PUT_LIMIT_BYTES = 256 * 1024 * 1024
"""Batch Ingestion's single-PUT threshold ("256MB"; read as MiB, the larger reading)."""
PART_LIMIT_BYTES = 512_000_000
"""The large-file path's accepted PATCH range (0–512000000 bytes)."""
JSON_LIMIT_BYTES = 10_000_000
DRAIN_SLACK_BYTES = 64_000_000
"""Refused bodies up to this much over their limit are read so the client sees the 413."""
REQUEST_ID_HEADER = "x-request-id"

_JSON_TYPES = {"json": "application/json", "json-patch": "application/json-patch+json"}


class AepSandboxServer(SandboxHttpServer):
    """An in-process AEP sandbox; use as a context manager (or :meth:`start` / :meth:`stop`).

    ``sb.url`` is the base for both ``AEP_API_URL`` and ``AEP_IMS_URL`` (one host serves the
    platform and IMS); ``sb.account`` holds the seeded credentials, org, sandbox and tenant;
    ``sb.accounts`` every org it serves (the seeded one first, then ``accounts``).
    ``processing_delay`` is how long a completed batch stays ``processing``; ``abandon_after``
    how long an uncompleted one stays ``loading`` before it is ``abandoned``.
    """

    NAME = "aep-sandbox"
    REQUEST_ID_HEADER = REQUEST_ID_HEADER

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        account: AepAccount | None = None,
        accounts: Sequence[AepAccount] = (),
        token_ttl: float = 86399,
        processing_delay: float = 0.0,
        abandon_after: float | None = None,
        put_limit_bytes: int = PUT_LIMIT_BYTES,
        part_limit_bytes: int = PART_LIMIT_BYTES,
        log_stream: TextIO | None = sys.stderr,
    ) -> None:
        self.account = account or AepAccount()
        self.accounts: tuple[AepAccount, ...] = (self.account, *accounts)
        """Every org the sandbox serves: the seeded one first, then ``accounts``."""
        for key in ("client_id", "org_id"):
            if len({getattr(a, key) for a in self.accounts}) != len(self.accounts):
                raise ValueError(f"the sandbox's AEP accounts need distinct {key}s")
        self.tokens = ImsTokens(self.accounts, token_ttl)
        faults = Faults(
            expire_tokens=self.tokens.expire_all,
            revoke_tokens_every=self.tokens.revoke_every,
            token_path=IMS_TOKEN_PATH,
        )
        super().__init__(port, host, faults, log_stream)
        self._states = {
            a.client_id: AepState(a, processing_delay, abandon_after) for a in self.accounts
        }
        self._state = self._states[self.account.client_id]
        self.put_limit_bytes = put_limit_bytes
        self.part_limit_bytes = part_limit_bytes
        self.api_schema = AepApiSchema.load()

    @property
    def token_url(self) -> str:
        return self.url + IMS_TOKEN_PATH

    @property
    def schemas(self) -> list[SeededSchema]:
        """The seeded schemas: the Individual Profile one, then the ExperienceEvent one."""
        return list(self._state.schemas)

    def add_schema(self, schema: SeededSchema, account: AepAccount | None = None) -> None:
        """Add a schema to the Schema Registry of ``account``'s tenant (default: the seeded
        org's), e.g. one the validator cannot read."""
        self._state_for(account).add_schema(schema)

    def schemas_of(self, account: AepAccount) -> list[SeededSchema]:
        """The schemas of ``account``'s tenant (the seeded two, in its tenant, and added ones)."""
        return list(self._state_for(account).schemas)

    def state(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` answers: the seeded org's datasets and batches; with
        more orgs, each one's under ``accounts`` by org id."""
        others = {a.org_id: self.state_of(a.org_id) for a in self.accounts[1:]}
        return {
            **self.state_of(self.account.org_id),
            "tokens_issued": self.tokens.issued,
            "faults": self.faults.snapshot(),
            **({"accounts": others} if others else {}),
        }

    def state_of(self, org_id: str) -> dict[str, Any]:
        """One org's datasets and batches (``KeyError``: not an org of the sandbox)."""
        account = next((a for a in self.accounts if a.org_id == org_id), None)
        if account is None:
            raise KeyError(org_id)
        state = self._states[account.client_id]
        return {
            "datasets": state.list_datasets({"limit": "100"}),
            "batches": state.list_batches({"limit": "100"}),
        }

    def batch_files(self, batch_id: str, account: AepAccount | None = None) -> dict[str, bytes]:
        """The files ``account``'s org (default: the seeded one) holds for a batch."""
        return self._state_for(account).files_of(batch_id)

    def reset(self) -> None:
        """Forget datasets, batches, faults and recorded requests (tokens stay valid)."""
        for state in self._states.values():
            state.reset()
        super().reset()

    def _state_for(self, account: AepAccount | None) -> AepState:
        if account is None:
            return self._state
        if account.client_id not in self._states:
            raise KeyError(f"{account.client_id} is not an account of this sandbox")
        return self._states[account.client_id]

    # -- request handling -----------------------------------------------------------------

    def serve(self, http: Handler, url: SplitResult) -> None:
        method = http.command
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
            fault = self.injected_fault(http, url)
            if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
                # The gateway's throttling body is not documented; this is its error shape.
                error = gateway_error(429, "429050", "Too many requests")
                raise AepError(429, error.body, retry_after_headers(fault))
            if fault is not None and fault.kind is FaultKind.SERVER_ERROR:
                raise problem(fault.status, "ServerError", "injected server error")
            if route is None:
                reply = self._token(http, method, body)
            else:
                state = self._gateway(http)
                reply = route.handler(state, self._request(http, url, route, params, body))
        except AepError as error:
            reply = Reply(error.status, error.body, error.headers)
        self._respond(http, url, reply)

    def internal_error_reply(self, http: Handler, url: SplitResult) -> None:
        failure = problem(500, "InternalServerError", "the sandbox failed on this request")
        self._respond(http, url, Reply(500, failure.body))

    def _limit(self, route: Route | None) -> int:
        if route is not None and route.body == "file":
            return self.put_limit_bytes if route.method == "PUT" else self.part_limit_bytes
        return JSON_LIMIT_BYTES

    def _read_body(self, http: Handler, limit: int) -> bytes:
        try:
            return read_body(
                http,
                limit,
                limit + DRAIN_SLACK_BYTES,
                f"the body exceeds {limit} bytes; upload larger files with the large file "
                "upload (?action=INITIALIZE, PATCH with Content-Range, ?action=COMPLETE)",
            )
        except BodyError as error:
            if error.status == 400:
                raise bad_request(error.message) from None
            title = "LengthRequired" if error.status == 411 else "PayloadTooLarge"
            raise problem(error.status, title, error.message) from None

    def _token(self, http: Handler, method: str, body: bytes) -> Reply:
        try:
            if method != "POST":
                raise ImsError(405, "invalid_request", "use POST")
            form = form_fields(http, body)
            if form is None:
                raise ImsError(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            return Reply(200, self.tokens.grant(form))
        except ImsError as error:
            return Reply(error.status, error.body)

    def _gateway(self, http: Handler) -> AepState:
        """The state of the org the request is for; raises the gateway's refusal when its
        token, api key, org and sandbox are not all one org's."""
        headers = http.headers
        authorization = headers.get("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise gateway_error(403, "403010", "Oauth token is missing.")
        account = self.tokens.account_of(authorization)
        if account is None:
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
        return self._states[account.client_id]

    def _request(
        self, http: Handler, url: SplitResult, route: Route, params: dict[str, str], raw: bytes
    ) -> AepRequest:
        query = query_values(url.query)
        headers = {name: value for name, value in http.headers.items()}
        body: Any = None
        media = media_type(http.headers.get("Content-Type"))
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
        if route.operation is not None:
            json_body = route.body in _JSON_TYPES
            self.api_schema.check(route.operation, query, media, body, json_body=json_body)
        return AepRequest(http.command, params, query, headers, body)

    def _respond(self, http: Handler, url: SplitResult, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send(
            http, url, reply.status, data, reply.content_type, reply.headers, str(uuid.uuid4())
        )
