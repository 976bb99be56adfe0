"""What a sandbox route hands back to the HTTP layer: a reply, or an API error to render.

Routes never build HTTP error bodies themselves: they raise :class:`ApiError` with a status and a
stable code, and the HTTP layer renders it in the error shape of the API family the operation
belongs to (ADM's ``{code, details, message, errors}`` or the DSP ``{message, requestId,
errors}``). Messages are written by the sandbox and never quote request values, so an error body
the client logs cannot carry PII.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A successful response: status code, JSON body (``None`` for no body), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A documented API failure; rendered by the HTTP layer in the operation's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        reasons: Sequence[tuple[str | None, str]] = (),
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.reasons = list(reasons)
        """Individual problems as (field or ``None``, message), e.g. schema violations."""
        self.extra = extra or {}
        """Additional top-level body fields (e.g. ``datasetId`` of DuplicateDatasetName)."""
        self.headers = headers or {}


def bad_request(message: str, code: str = "BadRequestException") -> ApiError:
    """400 with the generic validation code."""
    return ApiError(400, code, message)


def not_found(what: str) -> ApiError:
    """404 for an unknown resource; ``what`` names the kind, never the id the client sent."""
    return ApiError(404, "ResourceNotFoundException", f"{what} not found")


def forbidden(message: str, code: str = "ForbiddenRequestException") -> ApiError:
    """403: authenticated, but not allowed to do this (yet)."""
    return ApiError(403, code, message)
