"""How an HTTP API client's errors map to the pipeline's neutral outcomes — shared by every
destination whose client raises :mod:`adm_ingest.adm.errors` (ADM's, and AEP's, which extend
them).

=====================  ==========================  =========================================
client error           outcome                     reason recorded
=====================  ==========================  =========================================
``AuthError``          needs a human               ``auth`` (credentials / re-authorization)
``Throttled`` (429)    transient                   ``throttled``
``DeadlineExceeded``   transient                   ``out_of_time``
5xx / no answer        transient                   ``server_error`` / ``no_response``
other ``ApiError``     permanent (the whole body)  ``<platform>_<status>[_<code>]``
=====================  ==========================  =========================================
"""

from __future__ import annotations

from adm_ingest.adm.errors import ApiError, AuthError, DeadlineExceeded, RetryableError, Throttled
from adm_ingest.destinations.base import DeliveryFailed, FailureClass, safe_code


def classify_http_error(error: Exception, platform: str) -> DeliveryFailed | None:
    """``error`` as a neutral outcome (None: not the client's error — a bug, it propagates).
    ``platform`` prefixes the reason of a refusal (``adm``, ``aep``)."""
    if isinstance(error, AuthError):
        return DeliveryFailed(FailureClass.NEEDS_HUMAN, "auth", maybe_delivered=False)
    if isinstance(error, RetryableError):
        status = error.status if isinstance(error, ApiError) else None
        return DeliveryFailed(
            FailureClass.TRANSIENT,
            _transient_detail(error),
            status=status,
            maybe_delivered=error.maybe_delivered,
        )
    if isinstance(error, ApiError):
        return DeliveryFailed(
            FailureClass.PERMANENT,
            http_refusal_reason(platform, error.status, error.code),
            status=error.status,
        )
    return None


def http_refusal_reason(platform: str, status: int, code: str | None) -> str:
    """The failure reason recorded for a request refused as a whole."""
    return f"{platform}_{int(status)}_{safe_code(code)}" if code else f"{platform}_{int(status)}"


def _transient_detail(error: RetryableError) -> str:
    """What kind of transient trouble it was (a code, never data)."""
    if isinstance(error, DeadlineExceeded):
        return "out_of_time"
    if isinstance(error, Throttled):
        return "throttled"
    if isinstance(error, ApiError):
        return "server_error"
    return "no_response"
