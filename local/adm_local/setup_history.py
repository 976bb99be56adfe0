"""What a setup execution did, read from its Step Functions execution history.

The same reading serves moto (``adm-ingest setup`` locally) and AWS (``--against aws``): every
setup step is a Lambda task, and each ``LambdaFunctionSucceeded`` event carries what its handler
returned — the :class:`ItemResult` JSON of the terms, data room, audience, definitions… — while
``LambdaFunctionFailed`` carries the error name and the handler's message. Walking an event's
``previousEventId`` chain back to its ``TaskStateEntered`` names the step (in a Map, iterations
interleave, so "the last state entered" would be wrong).

So a failed run can say exactly what had already been created, and ``--against aws`` can print
each step as it completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adm_ingest.setup.steps import ItemResult

_ITEM_KEYS = frozenset({"kind", "name", "id", "outcome"})
# Where a handler's return nests its results: AcceptTerms returns {config, results: {terms}},
# EnsureAepDataset {dataset, registry}; the others an item or a list of items.
_NESTED_KEYS = ("results", "terms", "dataRoom", "dataset", "registry")


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One finished Lambda task of the setup: its step and items, or its error.

    ``error`` is the error name (the exception class, e.g. ``ServerError``) and ``message`` the
    handler's own message; both ``None`` for a success. A failed attempt the state machine
    retries is a StepEvent too: the run's outcome is the execution's, not the last event's.
    """

    event_id: int
    step: str
    items: tuple[ItemResult, ...] = ()
    error: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def format(self) -> str:
        """One line per item (``✓ EnsureAudience  audience crm_customers_us  created  <id>``),
        or ``✗ <step>: <error>: <message>``."""
        if not self.ok:
            return f"✗ {self.step}: {self.error}: {self.message}"
        if not self.items:
            return f"✓ {self.step}"
        lines = (
            f"✓ {self.step}  {item.kind.value} {item.name}  {item.outcome.value}  {item.id}"
            for item in self.items
        )
        return "\n".join(line.rstrip() for line in lines)


def clear_message(cause: str | None) -> str:
    """The handler's own message from a Lambda error cause (``{"errorType", "errorMessage"}``,
    possibly wrapped in the Fail state's ``{"step", "error", "cause"}``); the text as is when it
    is not such JSON."""
    text = cause or ""
    for _ in range(3):  # Fail state → Lambda error → message, at most
        try:
            shaped = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            return text
        if not isinstance(shaped, dict):
            return text
        inner = shaped.get("errorMessage", shaped.get("cause"))
        if not isinstance(inner, str):
            return text
        text = inner
    return text


def items_in(value: Any) -> list[ItemResult]:
    """The item results in one handler's return value (see :data:`_NESTED_KEYS`)."""
    if isinstance(value, list):
        return [item for element in value for item in items_in(element)]
    if not isinstance(value, Mapping):
        return []
    if value.keys() >= _ITEM_KEYS:
        try:
            return [ItemResult.from_json(value)]
        except (KeyError, ValueError):  # not one of ours: nothing to show
            return []
    return [item for key in _NESTED_KEYS if key in value for item in items_in(value[key])]


def step_events(events: Iterable[Mapping[str, Any]]) -> Iterator[StepEvent]:
    """Each Lambda task's success or failure, in history order."""
    by_id: dict[int, Mapping[str, Any]] = {}
    for event in events:
        by_id[int(event["id"])] = event
        kind = event.get("type")
        if kind == "LambdaFunctionSucceeded":
            details = event.get("lambdaFunctionSucceededEventDetails") or {}
            try:
                output = json.loads(details.get("output") or "null")
            except json.JSONDecodeError:
                output = None
            yield StepEvent(int(event["id"]), _step_of(event, by_id), tuple(items_in(output)))
        elif kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut"):
            details = (
                event.get("lambdaFunctionFailedEventDetails")
                or event.get("lambdaFunctionTimedOutEventDetails")
                or {}
            )
            yield StepEvent(
                int(event["id"]),
                _step_of(event, by_id),
                error=str(details.get("error") or kind),
                message=clear_message(details.get("cause")),
            )


def completed_items(events: Sequence[Mapping[str, Any]]) -> tuple[ItemResult, ...]:
    """Every item a step finished, in the order the steps finished."""
    return tuple(item for step in step_events(events) for item in step.items)


def _step_of(event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]]) -> str:
    """The name of the Task state the Lambda event belongs to."""
    seen = 0
    current: Mapping[str, Any] | None = event
    while current is not None and seen < 10:
        if current.get("type") == "TaskStateEntered":
            return str((current.get("stateEnteredEventDetails") or {}).get("name", "?"))
        current = by_id.get(int(current.get("previousEventId") or 0))
        seen += 1
    return "?"
