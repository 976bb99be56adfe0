"""Exceptions raised by the AEP client, and the mapping from Adobe's error bodies to them.

They extend :mod:`adm_ingest.adm.errors`, so a destination classifies AEP failures exactly as it
does Amazon's: :class:`~adm_ingest.adm.errors.RetryableError` (429, 5xx, dropped connections,
the time budget) means try the unit of work later; :class:`~adm_ingest.adm.errors.AuthError`
means a human must fix the credentials; any other :class:`AepApiError` means the request must
change.

Adobe answers in three shapes (AEP-NOTES §1, §8): the gateway's ``{"error_code", "message"}``,
the services' problem details ``{"type", "title", "status", "detail"}`` (the Schema Registry's
``type`` ends in a code such as ``XDM-1007-400``), and some services' ``{"code", "message"}``.
Messages keep only Adobe's text, shortened; they never carry request bodies, headers or tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adm_ingest.adm.errors import ApiError, AuthError, ServerError, Throttled, parse_error_body

REQUEST_ID_HEADER = "x-request-id"
"""The gateway's request id response header (quote it to Adobe support)."""

TOKEN_REJECTED = "401013"
"""Gateway code for an invalid or expired access token: get one new token, retry once."""

_MAX_MESSAGE_CHARS = 300
_CODE_IN_TYPE = re.compile(r"([A-Z]+-\d+-\d{3})$")


class AepApiError(ApiError):
    """Adobe answered with an error status.

    ``code`` is Adobe's code (``401013``, ``XDM-1012-404``, ``BadRequestError``… or
    ``HTTP_<status>`` when the body has none), ``message`` its text, ``request_id`` the
    ``x-request-id`` response header.
    """


class AepNotFound(AepApiError):
    """404: the dataset, batch, file or schema does not exist."""


class AepTokenRejected(AepApiError, AuthError):
    """401 ``401013`` even with a freshly issued token: the credential lacks Platform access."""


class AepThrottled(AepApiError, Throttled):
    """429 from Adobe. Retryable (``retry_after`` holds ``Retry-After`` when sent)."""


class AepServerError(AepApiError, ServerError):
    """5xx from Adobe. Retryable."""


def _text(value: Any) -> str:
    return str(value)[:_MAX_MESSAGE_CHARS] if value not in (None, "") else ""


def aep_error_code(status: int, body: Mapping[str, Any]) -> str:
    """Adobe's error code: ``error_code``, ``code``, the code ending ``type``, or ``title``."""
    for candidate in (body.get("error_code"), body.get("code")):
        if candidate not in (None, ""):
            return _text(candidate)
    found = _CODE_IN_TYPE.search(str(body.get("type") or ""))
    if found:
        return found.group(1)
    return _text(body.get("title")) or f"HTTP_{status}"


def aep_error_message(body: Mapping[str, Any]) -> str:
    """The human-readable part: ``message``, ``detail``, ``title`` or ``error_description``."""
    for candidate in ("message", "detail", "title", "error_description"):
        text = _text(body.get(candidate))
        if text:
            return text
    return ""


def aep_error(
    status: int, content: bytes, request_id: str | None, *, retry_after: float | None = None
) -> AepApiError:
    """The :class:`AepApiError` subclass for an Adobe error response (status ≥ 400)."""
    body = parse_error_body(content)
    code = aep_error_code(status, body)
    message = aep_error_message(body)
    if status == 429:
        return AepThrottled(status, code, message, request_id, body=body, retry_after=retry_after)
    if status >= 500:
        return AepServerError(status, code, message, request_id, body=body, retry_after=retry_after)
    if status == 404:
        return AepNotFound(status, code, message, request_id, body=body)
    return AepApiError(status, code, message, request_id, body=body)
