"""The AEP sandbox's error replies, in the shapes Adobe's services answer with.

The API gateway answers ``{"error_code", "message"}`` (AEP-NOTES §1, its status inferred from
the code's prefix); the services behind it answer problem details ``{"type", "title",
"status", "detail"}``; the Schema Registry adds a ``report`` and ``XDM-…`` types.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR_TYPE_BASE = "http://ns.adobe.com/aep/errors/"


@dataclass
class AepError(Exception):
    """Answer ``status`` with ``body`` (and ``headers``) instead of the route's reply."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


def gateway_error(status: int, code: str, message: str) -> AepError:
    return AepError(status, {"error_code": code, "message": message})


def problem(status: int, title: str, detail: str, type_: str | None = None) -> AepError:
    return AepError(
        status,
        {
            "type": type_ or f"{ERROR_TYPE_BASE}{title}",
            "title": title,
            "status": status,
            "detail": detail,
        },
    )


def bad_request(detail: str) -> AepError:
    return problem(400, "BadRequestError", detail)


def not_found(detail: str) -> AepError:
    return problem(404, "NotFoundError", detail)


def xdm_error(status: int, code: str, title: str, detail: str) -> AepError:
    """A Schema Registry error: ``XDM-<n>-<status>`` type with its ``report``."""
    error = problem(status, title, detail, type_=f"{ERROR_TYPE_BASE}{code}")
    error.body["report"] = {
        "registryRequestId": str(uuid.uuid4()),
        "timestamp": time.strftime("%m-%d-%Y %H:%M:%S"),
        "detailed-message": detail,
    }
    return error
