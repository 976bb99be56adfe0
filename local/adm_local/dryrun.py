"""``adm-ingest dry-run``: show exactly what would be sent for a local file, without a network.

Writes into an output folder:

* ``requests/0001.json`` … — the exact bodies the pipeline would POST, one file per request;
* ``report.json`` — records read / accepted / rejected by reason, identifier coverage, requests;
* ``rejects.csv`` — ``line,outcome,reason`` for every record that would not be sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import ConversionEvents, Destination, Target, destination_for
from adm_ingest.mapping import MappingError, build_plan
from adm_ingest.model import Kind
from adm_ingest.outcomes import Tally
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import open_records
from adm_ingest.report import REJECTS_HEADER, fates_csv
from adm_ingest.values import ParseOptions

DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class DryRunResult:
    report: dict[str, Any]
    out_dir: Path
    tally: Tally


def dry_run(
    path: Path,
    *,
    kind: Kind,
    out_dir: Path,
    country: str = "US",
    mapping: Mapping[str, Any] | Path | None = None,
    target: Target | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DryRunResult:
    """Process ``path`` as the worker would, writing bodies instead of sending them.

    Raises:
        FileFormatError: a file-level problem (nothing is written).
        MappingError / ConsentError: an invalid mapping config.
    """
    config = orjson.loads(mapping.read_bytes()) if isinstance(mapping, Path) else mapping
    try:
        options = ParseOptions.from_config(config)
    except ValueError as error:
        raise MappingError(str(error)) from error
    target = target or Target(kind, "dry-run", "DRY-RUN-TARGET" if kind.value else "")
    destination: Destination = (
        ConversionEvents(target, options=options, clock=clock)
        if kind is Kind.CONVERSIONS
        else destination_for(target, options)
    )
    policy = ConsentPolicy.from_defaults((config or {}).get("defaults", {}), country=country)
    started = time.monotonic()
    requests_dir = out_dir / "requests"
    with path.open("rb") as stream:
        records = open_records(stream, rows=True)
        first = next(records)  # surfaces file-level errors before anything is written
        requests_dir.mkdir(parents=True, exist_ok=True)
        for stale in requests_dir.glob("*.json"):
            stale.unlink()
        plan = build_plan(None, config)  # columns resolve as records show them (CSV or JSON)
        processor = RecordProcessor(destination, plan, policy)
        count = 0
        for count, batch in enumerate(processor.batches(_chain(first, records)), 1):
            (requests_dir / f"{count:04d}.json").write_bytes(batch.body)
            processor.tally.accepted += len(batch)
            processor.tally.requests[DRY_RUN] += 1
    tally = processor.tally
    report = {
        "file": str(path),
        "kind": kind.value,
        "target": {"name": target.name, "id": target.id},
        "default_country": policy.country,
        **tally.summary(),
        "requests_built": count,
        "balanced": tally.balanced,
        "mapping": {
            "used": {column: target.describe() for column, target in plan.mapped.items()},
            "ignored": plan.ignored,
            "not_sent_duplicate": plan.duplicates,
            "not_sent_unknown": plan.unknown,
        },
        "seconds": round(time.monotonic() - started, 3),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    (out_dir / "rejects.csv").write_bytes(REJECTS_HEADER + fates_csv(tally.fates))
    return DryRunResult(report, out_dir, tally)


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


def summary_text(result: DryRunResult) -> str:
    """A short human summary (counts and reasons only; never record values)."""
    r = result.report
    lines = [
        f"{r['file']}  ({r['kind']} → {r['target']['name']})",
        f"  read {r['records_read']}  ·  would send {r['accepted']}  ·  rejected {r['rejected']}"
        f"  ·  requests {r['requests_built']}",
    ]
    for reason, n in r["rejected_by_reason"].items():
        lines.append(f"    rejected {reason}: {n}")
    coverage = r["identifier_coverage"]
    if coverage:
        lines.append(
            "  identifiers: "
            + ", ".join(
                f"{k} {v['valid']}" + (f" (-{v['invalid']})" if v["invalid"] else "")
                for k, v in coverage.items()
            )
        )
    mapping = r["mapping"]
    lines.append("  columns: " + ", ".join(f"{c} → {t}" for c, t in mapping["used"].items()))
    if mapping["not_sent_unknown"]:
        lines.append("  not sent (unknown columns): " + ", ".join(mapping["not_sent_unknown"]))
    lines.append(f"  bodies in {result.out_dir / 'requests'}; report.json; rejects.csv")
    return "\n".join(lines)
