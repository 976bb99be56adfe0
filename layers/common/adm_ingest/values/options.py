"""How a file writes its numbers and times: the mapping config's ``decimal``, ``timezone`` and
``date_order`` keys, validated once per file (never per record)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DECIMAL_SEPARATORS = (",", ".")
DATE_ORDERS = ("DMY", "MDY", "YMD")


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """``decimal``: the decimal separator of the file's numbers (``","`` or ``"."``), which
    resolves ``1,234`` / ``1.234``. ``timezone``: the IANA zone of timestamps written without an
    offset (else they are read as UTC and counted). ``date_order``: ``DMY``, ``MDY`` or ``YMD``,
    which resolves ``03/04/2026``. None means "not stated": ambiguous values are rejected."""

    decimal: str | None = None
    timezone: str | None = None
    date_order: str | None = None

    def __post_init__(self) -> None:
        if self.decimal is not None and self.decimal not in DECIMAL_SEPARATORS:
            raise ValueError(f'decimal: must be "," or ".", not {self.decimal!r}')
        if self.date_order is not None and self.date_order not in DATE_ORDERS:
            raise ValueError(
                f"date_order: must be one of {', '.join(DATE_ORDERS)}, not {self.date_order!r}"
            )
        if self.timezone is not None:
            zone_info(self.timezone)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ParseOptions:
        """The options a raw mapping config states (absent or null keys → None).

        Raises:
            ValueError: a key with a value of the wrong type or outside its allowed values;
                the message names the key.
        """
        if not config:
            return cls()
        decimal = _text(config, "decimal")
        date_order = _text(config, "date_order")
        return cls(
            decimal=decimal,
            timezone=_text(config, "timezone"),
            date_order=date_order.upper() if date_order else None,
        )


def zone_info(name: str) -> ZoneInfo:
    """The zone called ``name`` (cached by :mod:`zoneinfo`).

    Raises:
        ValueError: not an IANA time zone name known to this runtime.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone: {name!r} is not an IANA time zone name") from error


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string, not {type(value).__name__}")
    return value.strip() or None
