"""Invoke the real Lambda handlers in ``functions/`` from a benchmark child, and measure them.

Handlers are loaded with :func:`adm_local.functions.load_function`, as the local stack loads them;
the benchmarks add timing around each invocation and a
count of the AWS API calls the process makes, from which the cost model is built.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

OUTSIDE = "outside"
"""What :func:`counting_aws_calls` attributes calls made outside any handler to (the local
stack's event-source-mapping stand-in, setup, the benchmark's own checks)."""

_current_function: ContextVar[str] = ContextVar("current_function", default=OUTSIDE)


@dataclass(slots=True)
class HandlerTimes:
    """Per-function invocation count, wall seconds and CPU seconds of the invoking thread."""

    invocations: Counter[str] = field(default_factory=Counter)
    wall: Counter[str] = field(default_factory=Counter)
    cpu: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "invocations": self.invocations[name],
                "wall_seconds": self.wall[name],
                "cpu_seconds": self.cpu[name],
            }
            for name in self.invocations
        }


def timed_handler(
    name: str, handler: Callable[[Any, Any], Any], times: HandlerTimes
) -> Callable[[Any, Any], Any]:
    """Wrap a Lambda handler so each call adds to ``times``.

    CPU is :func:`time.thread_time` of the calling thread: when the local stack runs moto and the
    ADM sandbox as threads of the same process, their work is *not* counted — only what the
    handler itself would burn on Lambda.
    """

    def invoke(event: Any, context: Any) -> Any:
        token = _current_function.set(name)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return handler(event, context)
        finally:
            _current_function.reset(token)
            times.invocations[name] += 1
            times.wall[name] += time.perf_counter() - wall
            times.cpu[name] += time.thread_time() - cpu

    return invoke


@contextmanager
def counting_aws_calls() -> Iterator[Counter[str]]:
    """Count every AWS API call made in this process as ``"<function> <service>.<Operation>"``
    (``function`` is the :func:`timed_handler` being run, else :data:`OUTSIDE`).

    Counted at :meth:`botocore.client.BaseClient._make_api_call`, which every client goes
    through whatever session created it (Powertools' idempotency layer builds its own session,
    so a session event hook would miss its calls). Restored on exit.
    """
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        calls[f"{_current_function.get()} {service}.{operation_name}"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
