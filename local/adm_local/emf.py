"""Where the local stack's CloudWatch metrics go: a list (and optionally a file), not the terminal.

On Lambda, Powertools Metrics publishes by printing one CloudWatch Embedded Metric Format
document (``{"_aws": …}``) per flush to stdout, where CloudWatch Logs extracts it. In the local
stack the handlers run in this process, so those lines would land between the demo's progress
bars. ``POWERTOOLS_METRICS_DISABLED`` is no answer: it drops the metrics (and Powertools 3's
``single_metric``, which the worker uses for per-status counts, prints regardless).

:class:`MetricsSink` takes the place of ``print`` in Powertools' metrics modules only (their
module global, restored on exit): an EMF document is parsed into :attr:`MetricsSink.documents`
and appended to ``log_path`` when given; anything else is printed as before. Tests read the
metrics from the list (:meth:`MetricsSink.total`), the demo leaves the terminal to people.
"""

from __future__ import annotations

import builtins
import importlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

# Every module of Powertools (3.x) that prints an EMF document.
EMF_MODULES = (
    "aws_lambda_powertools.metrics.base",
    "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch",
)
_MISSING = object()


class MetricsSink:
    """Collects the EMF documents Powertools prints, while :meth:`installed`."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self.documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def print(
        self,
        *values: object,
        sep: str | None = " ",
        end: str | None = "\n",
        file: TextIO | None = None,
        flush: bool = False,
    ) -> None:
        """``print``, except that an EMF document to stdout is kept instead."""
        document = _emf(values) if file is None else None
        if document is None:
            builtins.print(*values, sep=sep, end=end, file=file, flush=flush)
            return
        with self._lock:
            self.documents.append(document)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(document, separators=(",", ":")) + "\n")

    def total(self, name: str, **dimensions: str) -> float:
        """The sum of metric ``name`` over the documents carrying those dimension values."""
        with self._lock:
            documents = list(self.documents)
        total = 0.0
        for document in documents:
            if name not in document or any(
                document.get(key) != value for key, value in dimensions.items()
            ):
                continue
            value = document[name]
            total += sum(value) if isinstance(value, list) else float(value)
        return total

    def names(self) -> set[str]:
        """Every metric name published so far."""
        with self._lock:
            return {
                metric["Name"]
                for document in self.documents
                for directive in document["_aws"].get("CloudWatchMetrics", [])
                for metric in directive.get("Metrics", [])
            }

    @contextmanager
    def installed(self) -> Iterator[MetricsSink]:
        """Route Powertools' metric output here until the block ends."""
        modules = [importlib.import_module(name) for name in EMF_MODULES]
        saved = [vars(module).get("print", _MISSING) for module in modules]
        for module in modules:
            module.print = self.print  # type: ignore[attr-defined]  # shadows the builtin
        try:
            yield self
        finally:
            for module, previous in zip(modules, saved, strict=True):
                if previous is _MISSING:
                    del module.print  # type: ignore[attr-defined]
                else:
                    module.print = previous  # type: ignore[attr-defined]


def _emf(values: tuple[object, ...]) -> dict[str, Any] | None:
    """The EMF document ``print(*values)`` would write, or ``None`` if it is something else."""
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    text = values[0].lstrip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
        return document
    return None
