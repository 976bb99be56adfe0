"""Exceptions raised by the ADM client, and the mapping from an HTTP error response to them.

Callers decide with three questions, each answered by a base class:

* :class:`RetryableError` — nothing permanent went wrong (throttling, a server error, a dropped
  connection, the time budget ran out); try the whole unit of work again later. For a create
  call it also means *the request may have been applied*: list before creating again.
* :class:`AuthError` — the credentials are unusable (revoked refresh token, wrong client
  secret, token rejected by the API); retrying will not help, a human must re-authorize.
* :class:`ApiError` — the API refused the request (4xx); the request must change.

Messages carry the HTTP status, Amazon's error code and message and the request id. They never
carry request bodies, headers or tokens (nothing here ever sees them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

REQUEST_ID_HEADER = "Amazon-Advertising-API-RequestId"

# Server-provided texts are kept short: they go into logs and reports.
_MAX_MESSAGE_CHARS = 300


class AdmError(Exception):
    """Base class of every error raised by :mod:`adm_ingest.adm` and :mod:`adm_ingest.adm.auth`."""


class RetryableError(AdmError):
    """A transient failure: retry the unit of work later (the worker reports it retryable).

    ``retry_after`` is the server's hint in seconds, when it gave one. ``maybe_delivered`` says
    whether some attempt got no answer after the request may have reached the server (a read
    timeout, a connection dropped after the body went out): the API may hold what was sent,
    unconfirmed. False when every attempt was answered (429/5xx: not taken) or never left this
    machine (connection refused, connect timeout) — see :mod:`adm_ingest.attempts`.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, maybe_delivered: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class DeadlineExceeded(RetryableError):
    """The call's time budget ran out before it could complete (or before the next retry)."""


class AuthError(AdmError):
    """Permanent authentication failure: re-authorize (a new refresh token or client secret)."""


class ApiError(AdmError):
    """The API answered with an error status.

    ``code`` is Amazon's error code (or ``HTTP_<status>`` when the body has none),
    ``message`` its human-readable text, ``request_id`` the value of the
    ``Amazon-Advertising-API-RequestId`` response header (quote it to Amazon support).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body: Mapping[str, Any] = body or {}
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"HTTP {self.status} {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequest(ApiError):
    """400: the request is invalid (schema, limits, unknown ids…)."""


class DuplicateDatasetName(BadRequest):
    """400 ``DuplicateDatasetName``: an audience dataset has this name; reuse ``dataset_id``."""

    @property
    def dataset_id(self) -> str | None:
        """The existing dataset's id, from the error body (None when the body has none)."""
        dataset_id = self.body.get("datasetId")
        return str(dataset_id) if dataset_id is not None else None


class Unauthorized(ApiError):
    """401 from the API (the client refreshes its token once before giving up with AuthError)."""


class Forbidden(ApiError):
    """403: the credentials are valid but lack access to this account or resource."""


class NotFound(ApiError):
    """404: the resource does not exist."""


class Conflict(ApiError):
    """409: the request conflicts with the resource's state (e.g. it already exists)."""


class PayloadTooLarge(ApiError):
    """413: the request body exceeds the API's limit (10 MB); split the batch."""


class UnsupportedMediaType(ApiError):
    """415: wrong ``Content-Type`` for this operation (a client bug)."""


class _RetryableApiError(ApiError, RetryableError):
    """An error answer worth retrying; ``retry_after`` holds the server's hint when present."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        ApiError.__init__(self, status, code, message, request_id, body=body)
        self.retry_after = retry_after
        self.maybe_delivered = False


class Throttled(_RetryableApiError):
    """429: rate limited. Retryable."""


class ServerError(_RetryableApiError):
    """5xx: the service failed. Retryable."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: Throttled,
}


def parse_error_body(content: bytes) -> dict[str, Any]:
    """The JSON object of an error response, or ``{}`` when the body is empty or not an object."""
    if not content:
        return {}
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _first_nested_error(body: Mapping[str, Any]) -> Mapping[str, Any]:
    nested = body.get("errors")
    if isinstance(nested, list) and nested and isinstance(nested[0], Mapping):
        return nested[0]
    return {}


def _text(value: Any) -> str:
    return str(value)[:_MAX_MESSAGE_CHARS] if value not in (None, "") else ""


def error_code(status: int, body: Mapping[str, Any]) -> str:
    """Amazon's error code from any of the API families' error shapes.

    ADM: ``{code, details, message, errors:[{errorCode, errorMessage, errorType}]}``;
    DSP conversions: ``{message, requestId, errors:[{errorType, message, fieldName}]}``;
    manager accounts: ``{code, message}``; LwA: ``{error, error_description}``.
    """
    nested = _first_nested_error(body)
    for candidate in (body.get("code"), body.get("error"), nested.get("errorType")):
        if candidate not in (None, ""):
            return _text(candidate)
    return f"HTTP_{status}"


def error_message(body: Mapping[str, Any]) -> str:
    """The human-readable part of an error body (first of message, details, nested messages)."""
    nested = _first_nested_error(body)
    for candidate in (
        body.get("message"),
        body.get("details"),
        body.get("error_description"),
        nested.get("errorMessage"),
        nested.get("message"),
    ):
        text = _text(candidate)
        if text:
            return text
    return ""


def api_error(
    status: int,
    content: bytes,
    request_id: str | None,
    *,
    retry_after: float | None = None,
) -> ApiError:
    """The :class:`ApiError` subclass for an error response (status ≥ 400)."""
    body = parse_error_body(content)
    code = error_code(status, body)
    message = error_message(body)
    if status == 400 and (code == "DuplicateDatasetName" or "datasetId" in body):
        return DuplicateDatasetName(status, code, message, request_id, body=body)
    if status == 429:
        return Throttled(status, code, message, request_id, body=body, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, code, message, request_id, body=body, retry_after=retry_after)
    error_type = _BY_STATUS.get(status, ApiError)
    return error_type(status, code, message, request_id, body=body)
