"""Why a value from a file could not be read: a reason code and a value-free explanation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final


@final  # final, so that `type(x) is ValueProblem` (the fast test) narrows
@dataclass(frozen=True, slots=True)
class ValueProblem:
    """A value that will not be sent. ``reason`` is a :class:`adm_ingest.records.Reason` code;
    ``detail`` explains it without ever quoting the value (file values are customer data)."""

    reason: str
    detail: str
