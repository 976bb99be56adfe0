"""``adm-ingest dry-run``: show exactly what would be sent for a local file, without a network.

Writes into an output folder:

* ``requests/0001.json`` … — the exact bodies the pipeline would POST, one file per request;
* ``report.json`` — records read / accepted / rejected by reason, identifier coverage, requests,
  and what the S3 report carries to be trusted: the resolved mapping, warnings, the encoding,
  skipped lines, where countries came from, records by country and the country profile;
* ``rejects.csv`` — ``line,outcome,reason`` for every record that would not be sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from adm_ingest.consent import ConsentPolicy, CountrySource
from adm_ingest.destinations import (
    DEFAULT_DESTINATION,
    DeliveryTarget,
    destination_class,
    destination_for,
)
from adm_ingest.mapping import MappingError, build_plan
from adm_ingest.notices import foreign_data_message
from adm_ingest.outcomes import Tally
from adm_ingest.processing import RecordProcessor
from adm_ingest.profile import (
    SAMPLE_RECORDS,
    country_columns,
    header_of,
    profile_records,
    strict_country,
)
from adm_ingest.readers import open_records
from adm_ingest.report import REJECTS_HEADER, fates_csv, mapping_section, report_sections
from adm_ingest.settings import Settings
from adm_ingest.values import ParseOptions

DRY_RUN = "dry_run"
DEPLOYMENT_COUNTRY = "US"
"""The country records take when neither the file, the mapping nor ``--country`` gives one
(the pipeline's ``DEFAULT_COUNTRY`` default)."""


class ForeignDataError(ValueError):
    """``strict_country`` is set and the file's data looks like another country's (a
    file-level error: nothing is written)."""


@dataclass(frozen=True, slots=True)
class DryRunResult:
    report: dict[str, Any]
    out_dir: Path
    tally: Tally


def dry_run(
    path: Path,
    *,
    destination: str = DEFAULT_DESTINATION,
    out_dir: Path,
    country: str | None = None,
    mapping: Mapping[str, Any] | Path | None = None,
    target: DeliveryTarget | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DryRunResult:
    """Process ``path`` as the worker would, writing bodies instead of sending them.

    ``country`` plays the audience's country (``None``: the deployment default, US).

    Raises:
        FileFormatError: a file-level problem (nothing is written).
        MappingError / ConsentError: an invalid mapping config.
        ForeignDataError: ``strict_country`` and data that looks like another country's.
    """
    config = orjson.loads(mapping.read_bytes()) if isinstance(mapping, Path) else mapping
    try:
        options = ParseOptions.from_config(config)
    except ValueError as error:
        raise MappingError(str(error)) from error
    if target is None:
        named = destination_class(destination).namespace is not None
        target = DeliveryTarget(destination, "dry-run", "DRY-RUN-TARGET" if named else "")
    sink = destination_for(target, options, clock=clock)
    policy = ConsentPolicy.from_defaults(
        (config or {}).get("defaults", {}),
        country=country or DEPLOYMENT_COUNTRY,
        country_source=CountrySource.DATASET if country else CountrySource.DEPLOYMENT_DEFAULT,
    )
    max_depth = Settings.from_env().max_json_depth  # the MAX_JSON_DEPTH the pipeline would use
    started = time.monotonic()
    requests_dir = out_dir / "requests"
    with path.open("rb") as stream:
        records = open_records(stream, rows=True, max_depth=max_depth)
        first = next(records)  # surfaces file-level errors before anything is written
        with path.open("rb") as head:  # the splitter's survey: the first records
            sample = list(islice(open_records(head, max_depth=max_depth), SAMPLE_RECORDS))
        # Columns are the sample's (CSV: the header; JSON: the first records' keys); later
        # ones resolve as records show them.
        header = header_of(sample) or None
        plan = build_plan(header, config)
        profile = profile_records(sample, build_plan(header, config), policy.country)
        if profile.looks_foreign and strict_country(config):
            raise ForeignDataError(foreign_data_message(profile.to_dict(), strict=True))
        requests_dir.mkdir(parents=True, exist_ok=True)
        for stale in requests_dir.glob("*.json"):
            stale.unlink()
        processor = RecordProcessor(sink, plan, policy)
        count = 0
        for count, batch in enumerate(processor.batches(_chain(first, records)), 1):
            (requests_dir / f"{count:04d}.json").write_bytes(batch.body)
            processor.tally.accepted += len(batch)
            processor.tally.requests[DRY_RUN] += 1
    tally = processor.tally
    facts = {
        "mapping": mapping_section(plan),
        "encoding": records.encoding,  # the reader's: utf-8, or a detected single-byte one
        "country_column": bool(country_columns(plan)),
        "default_country": policy.country,
        "default_country_source": str(policy.country_source),
        "country_profile": profile.to_dict(),
        "accepted": tally.accepted,
        "rejected": tally.rejected,
        "notes": tally.notes,
        "skipped": tally.skipped,
        "country_sources": tally.country_sources,
        "countries": tally.countries,
    }
    report = {
        "file": str(path),
        "kind": target.destination,
        "target": {"name": target.name, "id": target.id},
        "default_country": policy.country,
        **tally.summary(),
        "requests_built": count,
        "balanced": tally.balanced,
        **report_sections(facts),
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
    mapping = r["mapping"] or {}
    used = [
        f"{c['column']} → {c['field']}"
        + (f" {c['pii_set']}" if (c.get("pii_set") or 1) > 1 else "")
        for c in mapping.get("columns", [])
    ]
    lines.append("  columns: " + (", ".join(used) or "(none)"))
    for title, key in (("ignored", "ignored"), ("not sent (duplicate field)", "duplicates")):
        if mapping.get(key):
            lines.append(f"  {title}: " + ", ".join(mapping[key]))
    if r["country_sources"]:
        lines.append(
            "  countries from: "
            + ", ".join(f"{source} {n}" for source, n in r["country_sources"].items())
            + "  ·  "
            + ", ".join(f"{country} {n}" for country, n in r["records_by_country"].items())
        )
    for warning in r["warnings"]:
        lines.append(f"  warning: {warning['message']}")
    lines.append(f"  bodies in {result.out_dir / 'requests'}; report.json; rejects.csv")
    return "\n".join(lines)
