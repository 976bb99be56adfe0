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
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import SplitResult

from . import httpbase
from .auth import SandboxAccount, TokenError, TokenIssuer
from .faults import TOKEN_PATH, FaultKind, Faults
from .httpbase import (
    BodyError,
    Handler,
    RecordedRequest,
    SandboxHttpServer,
    form_fields,
    query_values,
    read_body,
    retry_after_headers,
)
from .openapi import openapi_document
from .replies import ApiError, Reply, bad_request, forbidden
from .routes import ROUTES, UNIMPLEMENTED_CONTENT_TYPES, ApiRequest, request_schema
from .state import SandboxState
from .validation import ApiSchema, Operation, parse_json, query_violations, violations

__all__ = ["MAX_BODY_BYTES", "RecordedRequest", "SandboxServer"]

MAX_BODY_BYTES = 10_000_000
"""Amazon's "a request ≤ 10 MB"; the sandbox reads MB as 10^6 bytes, the stricter reading."""
DRAIN_LIMIT_BYTES = 64_000_000
"""Oversized bodies are read and discarded up to this size so the client sees the 413."""
REQUEST_ID_HEADER = "Amazon-Advertising-API-RequestId"
CLIENT_ID_HEADER = "Amazon-Advertising-API-ClientId"
MANAGER_ACCOUNT_HEADER = "Amazon-Ads-Manager-Account-ID"
ADVERTISER_HEADER = "Amazon-Ads-AccountId"


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


class SandboxServer(SandboxHttpServer):
    """An in-process ADM sandbox; use as a context manager (or :meth:`start` / :meth:`stop`).

    ``sb.url`` is the base URL for ADM, DSP conversions and ``/managerAccounts``;
    ``sb.token_url`` the LwA token endpoint; ``sb.account`` the seeded credentials.
    ``onboarded=True`` starts with the ADM terms accepted and the data room created.
    """

    NAME = "adm-sandbox"
    REQUEST_ID_HEADER = REQUEST_ID_HEADER

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        account: SandboxAccount | None = None,
        accounts: Sequence[SandboxAccount] = (),
        token_ttl: float = 3600,
        onboarded: bool = False,
        log_stream: TextIO | None = sys.stderr,
    ) -> None:
        self.account = account or SandboxAccount()
        self.accounts = (self.account, *accounts)
        """Every manager account the sandbox holds: the seeded one first, then ``accounts``
        (each with its own state; a request is served by the account its headers name)."""
        if len({a.manager_account_id for a in self.accounts}) != len(self.accounts):
            raise ValueError("the sandbox's accounts need distinct manager account ids")
        self.tokens = TokenIssuer(self.accounts, token_ttl)
        super().__init__(
            port,
            host,
            Faults(
                expire_tokens=self.tokens.expire_all, revoke_tokens_every=self.tokens.revoke_every
            ),
            log_stream,
        )
        self._states = {
            a.manager_account_id: SandboxState(a, onboarded=onboarded) for a in self.accounts
        }
        self._state = self._states[self.account.manager_account_id]
        self.schema = ApiSchema.load()
        self.schema_violations: list[str] = []
        """Responses the sandbox sent that break the documented schema (should stay empty)."""

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    # -- inspection -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Snapshot of the seeded account's state and active faults (same as
        ``GET /_sandbox/state``); with more accounts, theirs under ``accounts`` by manager id."""
        others = {
            manager: state.snapshot()
            for manager, state in self._states.items()
            if state is not self._state
        }
        extra = {"accounts": others} if others else {}
        return {**self._state.snapshot(), **extra, "faults": self.faults.snapshot()}

    def state_of(self, manager_account_id: str) -> dict[str, Any]:
        """Snapshot of one manager account's state."""
        return self._states[manager_account_id].snapshot()

    def reset(self) -> None:
        """Forget all state, faults and recorded requests (issued tokens stay valid)."""
        for state in self._states.values():
            state.reset()
        super().reset()
        with self._records_lock:
            self.schema_violations.clear()

    def control_document(self, path: str) -> Any | None:
        return openapi_document() if path == "/_sandbox/openapi.json" else None

    # -- request handling -----------------------------------------------------------------

    def serve(self, http: Handler, url: SplitResult) -> None:
        method = http.command
        request_id = str(uuid.uuid4())
        framing_error: ApiError | None = None
        try:
            body = read_body(http, MAX_BODY_BYTES, DRAIN_LIMIT_BYTES, "request body exceeds 10 MB")
        except BodyError as error:
            body, framing_error = b"", _framing_error(error)
        operation, path_params, path_known = self.schema.match(method, url.path)
        fault = self.injected_fault(http, url)
        try:
            if fault is not None and fault.kind is FaultKind.RATE_LIMIT:
                raise ApiError(
                    429,
                    "TooManyRequestsException",
                    "rate exceeded",
                    headers=retry_after_headers(fault),
                )
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

    def internal_error_reply(self, http: Handler, url: SplitResult) -> None:
        """The 500 in the API's error shape (of the operation's family, ADM or DSP)."""
        operation = self.schema.match(http.command, url.path)[0]
        request_id = str(uuid.uuid4())
        failure = ApiError(500, "InternalServerError", "the sandbox failed on this request")
        self._respond(
            http, None, 500, _error_body(operation, failure, request_id), "application/json",
            {}, request_id, url,
        )  # fmt: skip

    def _api(
        self,
        http: Handler,
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
        state = self._state_for(
            headers.get(MANAGER_ACCOUNT_HEADER),
            headers.get(ADVERTISER_HEADER),
            path_params.get("accountId"),
        )
        if not self.tokens.may_act_for(headers.get("Authorization"), state.account):
            raise forbidden("the access token's login has no access to this manager account")
        state.check_manager_account(headers.get(MANAGER_ACCOUNT_HEADER))
        state.check_advertiser(headers.get(ADVERTISER_HEADER))
        if "accountId" in path_params:
            state.check_advertiser(path_params["accountId"])
        body, body_schema = self._parse_body(operation, headers.get("Content-Type"), raw_body)
        query = query_values(query_string)
        problems = query_violations(operation.query_parameters(), query)
        if problems:
            raise ApiError(
                400,
                "BadRequestException",
                f"query parameters violate the API schema ({len(problems)} problem(s))",
                reasons=[(problem.location, problem.constraint) for problem in problems],
            )
        request = ApiRequest(operation, path_params, query, body, body_schema, client_id)
        return ROUTES[operation.key](state, request)

    def _state_for(
        self, manager: str | None, advertiser: str | None, account_id: str | None
    ) -> SandboxState:
        """The account a request is for: by its manager account header, else its advertiser
        (header or path); the seeded account when it names none (or an unknown one, which its
        checks then refuse with 403)."""
        if manager is not None:
            return self._states.get(manager, self._state)
        wanted = advertiser or account_id
        return next(
            (s for s in self._states.values() if s.account.advertiser_account_id == wanted),
            self._state,
        )

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
        media_type = accepted.get(httpbase.media_type(content_type_header))
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

    def _token(
        self, http: Handler, method: str, body: bytes, url: SplitResult, request_id: str
    ) -> None:
        try:
            if method != "POST":
                raise TokenError(400, "invalid_request", "use POST")
            form = form_fields(http, body)
            if form is None:
                raise TokenError(
                    400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
                )
            status, payload = 200, self.tokens.grant(form)
        except TokenError as error:
            status, payload = error.status, error.body
        self._respond(http, None, status, payload, "application/json", {}, request_id, url)

    def _content_type(self, operation: Operation | None, status: int, http: Handler) -> str:
        documented = operation.response_content_types(status) if operation else {}
        requested = httpbase.media_type(http.headers.get("Content-Type"))
        for name in sorted(documented):
            if name.lower() == requested:
                return name
        return sorted(documented)[0] if documented else "application/json"

    def _respond(
        self,
        http: Handler,
        operation: Operation | None,
        status: int,
        body: Any,
        content_type: str,
        headers: Mapping[str, str],
        request_id: str,
        url: SplitResult,
    ) -> None:
        if operation is not None:
            self._check_response(operation, status, content_type, body)
        data = b"" if body is None else json.dumps(body).encode()
        self.send(http, url, status, data, content_type, headers, request_id)

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


def _framing_error(error: BodyError) -> ApiError:
    """A body that could not be read, in the API's error shape."""
    if error.status == 400:
        return bad_request(error.message)
    code = "LengthRequired" if error.status == 411 else "PayloadTooLarge"
    return ApiError(error.status, code, error.message)
