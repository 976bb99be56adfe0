"""``adm-ingest dry-run``: show exactly what would be sent for a local file, without a network.

Writes into an output folder:

* the exact bodies the pipeline would send, one file per request, named by the destination
  (:meth:`~adm_ingest.destinations.Destination.request_name`): ``requests/0001.json`` … for the
  ADM destinations, or one file per chunk as the destination would upload it (``parts/
  part-000000.json`` … ). The file is cut into chunks exactly as the splitter cuts it, by the
  destination's chunk size (:mod:`adm_local.dryrun_chunks`), and each chunk goes through the
  pipeline's record path (:func:`~adm_ingest.processing.record_processor`);
* ``report.json`` — records read / accepted / rejected by reason, identifier coverage, requests,
  and what the S3 report carries to be trusted: the resolved mapping, warnings, the encoding,
  skipped lines, where countries came from, records by country and the country profile;
* ``rejects.csv`` — ``line,outcome,reason`` for every record that would not be sent.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from adm_ingest.batching import Body, SpooledBody
from adm_ingest.consent import ConsentPolicy, CountrySource
from adm_ingest.destinations import (
    DEFAULT_DESTINATION,
    BatchPosition,
    DeliveryTarget,
    destination_class,
    destination_for,
)
from adm_ingest.ledger_records import FileRecord
from adm_ingest.mapping import MappingError, build_plan
from adm_ingest.mapping_config import MappingConfig
from adm_ingest.notices import foreign_data_message
from adm_ingest.outcomes import Tally
from adm_ingest.processing import record_processor
from adm_ingest.profile import (
    SAMPLE_RECORDS,
    country_columns,
    header_of,
    profile_records,
    strict_country,
)
from adm_ingest.readers import head, open_records
from adm_ingest.report import (
    REJECTS_HEADER,
    SummarizedMapping,
    fates_csv,
    mapping_section,
    report_sections,
)
from adm_ingest.settings import Settings
from adm_ingest.values import ParseOptions
from adm_local.dryrun_chunks import chunk_starts, scanned_header, split_items
from adm_local.terminal import printable

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
    settings = Settings.from_env()  # the MAX_JSON_DEPTH and chunk size the pipeline would use
    max_depth = settings.max_json_depth
    mapping_config = MappingConfig.from_dict(config or {})
    started = time.monotonic()
    with path.open("rb") as stream:
        records = open_records(stream, max_depth=max_depth)
        first = next(records)  # surfaces file-level errors before anything is written
        with path.open("rb") as start:  # the splitter's survey: the first records
            sample = head(open_records(start, max_depth=max_depth), SAMPLE_RECORDS)
        # Columns are the file's header as the splitter scans it, else the sample's (JSON: the
        # first records' keys; later ones resolve as records show them).
        header = scanned_header(path) or header_of(sample) or None
        # The splitter's survey: a destination with its own record path resolves its mapping
        # against the columns; the shared path also profiles the sample's countries.
        encoder = sink.row_encoder(mapping_config)
        plan = profile = None
        summarized: SummarizedMapping
        if encoder is None:
            plan = summarized = build_plan(header, config)
            profile = profile_records(sample, build_plan(header, config), policy.country)
            if profile.looks_foreign and strict_country(config):
                raise ForeignDataError(foreign_data_message(profile.to_dict(), strict=True))
        else:
            summarized = encoder
            encoder.layout_for(header or ())
        starts = chunk_starts(
            path, destination_class(target.destination).chunk_size(settings), max_depth=max_depth
        )
        bodies_dir = out_dir / _request_dir(sink.request_name(BatchPosition(), 1))
        bodies_dir.mkdir(parents=True, exist_ok=True)
        for stale in bodies_dir.glob("*.json"):
            stale.unlink()
        processor = record_processor(sink, mapping_config, header, policy)
        count = 0
        for chunk, items in enumerate(split_items(_chain(first, records), starts)):
            for number, batch in enumerate(processor.batches(items)):
                count += 1
                name = sink.request_name(BatchPosition(chunk, number), count)
                _write_body(out_dir / name, batch.body)
                processor.tally.accepted += len(batch)
                processor.tally.count_request(DRY_RUN, None)  # nothing sent: no answer time
        chunks = len(starts) + 1
    tally = processor.tally
    facts = FileRecord(  # what the pipeline's ledger would hold for the file
        file_id="",
        mapping=mapping_section(summarized),
        encoding=records.encoding,  # the reader's: utf-8, or a detected single-byte one
        country_column=plan is not None and bool(country_columns(plan)),
        default_country=policy.country if plan is not None else "",
        default_country_source=str(policy.country_source) if plan is not None else "",
        country_profile=profile.to_dict() if profile is not None else None,
        accepted=tally.accepted,
        rejected=dict(tally.rejected),
        notes=dict(tally.notes),
        skipped=dict(tally.skipped),
        country_sources=dict(tally.country_sources),
        countries=dict(tally.countries),
        consent_sources=dict(tally.consent_sources),
    )
    report = {
        "file": str(path),
        "kind": target.destination,
        "target": {"name": target.name, "id": target.id},
        "default_country": policy.country,
        **tally.summary(),
        "requests_built": count,
        "chunks": chunks,
        "bodies": _request_dir(sink.request_name(BatchPosition(), 1)),
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


def _request_dir(name: str) -> str:
    """The folder of a body's file name (``requests/0001.json`` → ``requests``)."""
    return str(Path(name).parent)


def _write_body(path: Path, body: Body) -> None:
    """A body's exact bytes; a spooled one is copied as a stream (it may not fit in memory)."""
    if isinstance(body, SpooledBody):
        try:
            with path.open("wb") as out:
                shutil.copyfileobj(body.stream(), out, 1 << 20)
        finally:
            body.close()
    else:
        path.write_bytes(body)


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
        f"{c['column']} → {c.get('field') or c.get('path')}"
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
    if r["consent_sources"]:
        lines.append(
            "  consent from: "
            + ", ".join(f"{source} {n}" for source, n in r["consent_sources"].items())
            + "  (not counting records rejected for their consent)"
        )
    for warning in r["warnings"]:
        lines.append(f"  warning: {warning['message']}")
    lines.append(f"  bodies in {result.out_dir / r['bodies']}; report.json; rejects.csv")
    return printable("\n".join(lines))  # column names are the file's: shown, never obeyed
