"""``python -m bench [library] [aep] [splitter] [continuations] [e2e] [aep-e2e] [cost] [throttle]
[--write-docs]`` (``make bench``: all).

Runs the named benchmarks (default: all, in that order), prints their tables, saves the figures
to ``bench/data/results.json`` and, with ``--write-docs``, updates docs/PERFORMANCE.md. ``cost``
prices the latest saved ``e2e`` figures when ``e2e`` is not run alongside it. Exit status 1
when a target was missed, so a regression is visible; the figures are written either way.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench import machine
from bench.results import BenchResult, load_results, save_results

NAMES = ("library", "aep", "splitter", "continuations", "e2e", "aep-e2e", "cost", "throttle")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(NAMES)})")
    selected = [name for name in NAMES if name in (args.benchmarks or NAMES)]
    if args.only_docs:
        from bench import docs

        print(f"wrote {docs.write(load_results())}")
        return 0
    host = machine.describe()
    print(f"machine: {machine.summary(host)}", flush=True)
    saved = load_results()
    results: dict[str, BenchResult] = {}
    runners: dict[str, Callable[[], BenchResult]] = {
        "library": lambda: _library(args.rows),
        "aep": lambda: _aep(args.rows),
        "splitter": lambda: _splitter(args.split_bytes),
        "continuations": _continuations,
        "e2e": lambda: _e2e(args.rows),
        "aep-e2e": lambda: _aep_e2e(args.rows),
        "cost": lambda: _cost(results.get("e2e") or saved.get("e2e")),
        "throttle": lambda: _throttle(args.throttle_rows),
    }
    for name in selected:
        started = time.monotonic()
        print(f"\n== {name} ...", flush=True)
        result = runners[name]()
        results[name] = result
        for table in result.tables:
            print(table.text(), flush=True)
        print(f"({name}: {time.monotonic() - started:,.0f} s)", flush=True)
        save_results({name: result}, host)
    if args.write_docs:
        from bench import docs

        path = docs.write(load_results())
        print(f"\nwrote {path}")
    missed = [name for name, result in results.items() if not result.passed]
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")
    return 1 if missed else 0


def _library(rows: int) -> BenchResult:
    from bench import library

    return library.run(rows)


def _aep(rows: int) -> BenchResult:
    from bench import aep

    return aep.run(rows)


def _splitter(size: int) -> BenchResult:
    from bench import splitter

    return splitter.run(size)


def _continuations() -> BenchResult:
    from bench import continuations

    return continuations.run()


def _e2e(rows: int) -> BenchResult:
    from bench import e2e

    return e2e.run(rows)


def _aep_e2e(rows: int) -> BenchResult:
    from bench import aep_e2e

    return aep_e2e.run(rows)


def _cost(e2e: BenchResult | None) -> BenchResult:
    from bench import cost

    if e2e is None:
        raise SystemExit("cost needs e2e figures: run `python -m bench e2e cost`")
    return cost.run(e2e)


def _throttle(rows: int) -> BenchResult:
    from bench import throttle

    return throttle.run(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "benchmarks", nargs="*", metavar="NAME", help=" | ".join(NAMES) + " (default: all)"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="rows of the library, aep, e2e and aep-e2e files (default 1,000,000)",
    )
    parser.add_argument(
        "--split-bytes",
        type=int,
        default=1_000_000_000,
        help="size of the splitter's large file; the small one is a quarter (default 1 GB)",
    )
    parser.add_argument(
        "--throttle-rows",
        type=int,
        default=300_000,
        help="members of the throttle benchmark's file (default 300,000: ≈ 2 min at 5 req/s)",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="update the figures in docs/PERFORMANCE.md"
    )
    parser.add_argument(
        "--only-docs",
        action="store_true",
        help="rewrite docs/PERFORMANCE.md from the saved figures without running anything",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
