"""Benchmark results: tables printed to the terminal, rendered into docs/PERFORMANCE.md, and kept
in ``bench/data/results.json`` so a later run (``cost``, ``--write-docs``) can build on them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.datagen import DATA_DIR

RESULTS_PATH = DATA_DIR / "results.json"


@dataclass(slots=True)
class Table:
    """One titled table of figures, with the notes that explain how to read it."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A fixed-width rendering for the terminal."""
        cells = [list(self.columns), *[list(row) for row in self.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [f"\n{self.title}", "-" * len(self.title)]
        for n, row in enumerate(cells):
            padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  ".join(padded))
            if n == 0:
                lines.append("  ".join("-" * width for width in widths))
        lines += [f"  * {note}" for note in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown rendering for docs/PERFORMANCE.md."""
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass(slots=True)
class BenchResult:
    """What one benchmark produced: its tables and the raw figures other benchmarks may use."""

    name: str
    tables: list[Table]
    figures: dict[str, Any]
    passed: bool
    """Whether every target the benchmark checks was met."""


def load_results() -> dict[str, BenchResult]:
    """The results saved by earlier runs, by benchmark name (empty when none were saved)."""
    if not RESULTS_PATH.exists():
        return {}
    saved = json.loads(RESULTS_PATH.read_text())
    return {
        name: BenchResult(
            name=name,
            tables=[Table(**table) for table in entry["tables"]],
            figures=entry["figures"],
            passed=entry["passed"],
        )
        for name, entry in saved.items()
    }


def save_results(results: dict[str, BenchResult], machine: dict[str, Any]) -> None:
    """Merge ``results`` into the saved results (a benchmark run alone replaces only itself)."""
    merged = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else {}
    merged.update(
        {name: {**asdict(result), "machine": machine} for name, result in results.items()}
    )
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(merged, indent=2))


def saved_machines() -> dict[str, dict[str, Any]]:
    """The machine each saved benchmark ran on, by benchmark name."""
    if not RESULTS_PATH.exists():
        return {}
    saved = json.loads(RESULTS_PATH.read_text())
    return {name: entry["machine"] for name, entry in saved.items() if "machine" in entry}


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def mb(n_bytes: float) -> str:
    """Decimal megabytes, as the targets are stated."""
    return f"{n_bytes / 1_000_000:,.0f}"
