"""Opaque page tokens for the sandbox's list endpoints.

A token encodes which listing it belongs to and the offset of the next item, base64url-wrapped
so clients treat it as opaque (as they must with the real API). Listing order is creation
order, so pages stay stable while items are appended.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from .replies import bad_request

T = TypeVar("T")


def encode_token(listing: str, offset: int) -> str:
    """The token that resumes ``listing`` at ``offset``."""
    return base64.urlsafe_b64encode(f"{listing}:{offset}".encode()).decode().rstrip("=")


def decode_token(listing: str, token: str) -> int:
    """The offset a token resumes at; 400 when it is malformed or from another listing."""
    try:
        padded = token + "=" * (-len(token) % 4)
        kind, _, offset = base64.urlsafe_b64decode(padded).decode().partition(":")
        if kind != listing or not offset.isdigit():
            raise ValueError(token)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("invalid nextToken") from None


def page(
    items: Sequence[T], listing: str, token: str | None, size: int
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next page (``None`` on the last page)."""
    start = decode_token(listing, token) if token else 0
    end = start + size
    return list(items[start:end]), encode_token(listing, end) if end < len(items) else None
