"""``library``: members per second on one core for read CSV → map → normalize → hash → build
bodies, and peak RSS (issue 2, item 9).

The workload is the record path the worker and the dry-run share — :func:`open_records`, a
header-detected :func:`build_plan`, :class:`RecordProcessor` with :class:`AudienceMembers` and the
default :class:`ConsentPolicy` — over a generated file, with every finished body counted and
dropped. Throughput is members per CPU-second of the (single-threaded) child, so the figure is
per core and does not move when other processes compete for the machine; wall-clock rates are
shown beside it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import datagen
from bench.measure import Measured, run_workload
from bench.results import BenchResult, Table, mb, verdict

FULL_TARGET = 60_000
"""Members/s/core, full-field workload (issue 2)."""
EMAIL_TARGET = 250_000
"""Members/s/core, email-only workload (issue 2)."""
TARGETS = {"full-field": FULL_TARGET, "email-only": EMAIL_TARGET}
RSS_TARGET_MB = 150.0


def workload(params: dict[str, Any]) -> dict[str, Any]:
    """Child side: process ``params["path"]`` (or only import the library when it is None)."""
    from adm_ingest.consent import ConsentPolicy
    from adm_ingest.destinations import AudienceMembers, DeliveryTarget
    from adm_ingest.mapping import build_plan
    from adm_ingest.processing import RecordProcessor
    from adm_ingest.readers import open_records

    if params.get("path") is None:
        return {"members": 0, "records": 0}
    destination = AudienceMembers(DeliveryTarget("audience_members", "bench", "bench-dataset"))
    processor = RecordProcessor(destination, build_plan(None), ConsentPolicy())
    members = requests = body_bytes = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with Path(params["path"]).open("rb") as stream:
        for batch in processor.batches(open_records(stream, rows=True)):
            members += len(batch)
            requests += 1
            body_bytes += len(batch.body)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tally = processor.tally
    return {
        "records": tally.read,
        "members": members,
        "rejected": tally.read - members,
        "requests": requests,
        "body_bytes": body_bytes,
        "loop_wall_seconds": wall,
        "loop_cpu_seconds": cpu,
    }


STAGES = (
    ("read", "read CSV lines, split them into fields (readers: CsvRows)"),
    (
        "prepare",
        "map by position, country + consent, normalize + SHA-256 every PII value "
        "(prepare_row, normalize)",
    ),
    ("encode", "the member item as JSON bytes (destinations: encode)"),
    ("batch", "batch into bodies, tally, coverage (processing, batching, outcomes)"),
)
"""Cumulative passes of :func:`stages`: each one does everything the previous one did, plus
one more step of the record path (the row lane, as the worker and the dry-run read CSV)."""


def stages(params: dict[str, Any]) -> dict[str, Any]:
    """Child side: CPU microseconds per record of each cumulative pass over ``params["path"]``
    — where the time goes, without a profiler's own overhead skewing the shares."""
    from adm_ingest.consent import ConsentPolicy
    from adm_ingest.destinations import AudienceMembers, DeliveryTarget
    from adm_ingest.mapping import build_plan
    from adm_ingest.prepare import Preparer
    from adm_ingest.processing import RecordProcessor
    from adm_ingest.readers import CsvRows, open_records

    destination = AudienceMembers(DeliveryTarget("audience_members", "bench", "bench-dataset"))
    plan = build_plan(None)
    preparer = Preparer(ConsentPolicy())
    prepare, prepare_row, encode = preparer.prepare, preparer.prepare_row, destination.encode

    def passes(depth: int, stream: Any) -> int:
        if depth == len(STAGES) - 1:
            processor = RecordProcessor(destination, build_plan(None), ConsentPolicy())
            for _ in processor.batches(open_records(stream, rows=True)):
                pass
            return processor.tally.read
        count = 0
        for item in open_records(stream, rows=True):
            if type(item) is not CsvRows:  # the few records outside blocks (quoted fields)
                count += 1
                prepared = prepare(plan.apply(item)) if depth >= 1 else None  # type: ignore[arg-type]
                if depth >= 2:
                    encode(prepared)  # type: ignore[arg-type]
                continue
            layout = plan.row_layout(item.header)
            for line, row in item.rows():
                count += 1
                if depth >= 1 and type(row) is list:
                    prepared = prepare_row(line, row, layout)
                    if depth >= 2:
                        encode(prepared)  # type: ignore[arg-type]
        return count

    # Rounds of every pass, interleaved, keeping each pass's fastest: a slow spell on the shared
    # machine then hits all depths alike instead of inflating one stage's difference.
    best = [float("inf")] * len(STAGES)
    count = 0
    for _ in range(params.get("rounds", 3)):
        for depth in range(len(STAGES)):
            with Path(params["path"]).open("rb") as stream:
                cpu = time.process_time()
                count = passes(depth, stream)
                best[depth] = min(best[depth], time.process_time() - cpu)
    cumulative = {name: best[depth] / count * 1e6 for depth, (name, _) in enumerate(STAGES)}
    return {
        "records": count,
        "cumulative_us_per_record": cumulative,
        "fields": _field_costs(Path(params["path"])),
    }


def _field_costs(path: Path, sample: int = 100_000) -> dict[str, dict[str, float]]:
    """Per PII field: mean CPU µs to normalize a value, and to normalize + hash it
    (:func:`hash_pii`), over the file's first ``sample`` non-empty values of that field."""
    from adm_ingest.mapping import build_plan
    from adm_ingest.normalize import hash_pii
    from adm_ingest.normalize.pii import NORMALIZERS
    from adm_ingest.readers import open_records

    plan = build_plan(None)
    values: dict[str, list[str]] = {name: [] for name in NORMALIZERS}
    with path.open("rb") as stream:
        for n, record in enumerate(open_records(stream)):
            if n == sample:
                break
            for pii in plan.apply(record).pii_sets:  # type: ignore[arg-type]
                for name, value in pii.items():
                    values[name].append(value)
    costs: dict[str, dict[str, float]] = {}
    for name, column in values.items():
        if not column:
            continue
        normalize = NORMALIZERS[name]
        cpu = time.process_time()
        for value in column:
            normalize(value.strip(), "US")
        normalized = time.process_time() - cpu
        cpu = time.process_time()
        for value in column:
            hash_pii(name, value, "US")
        hashed = time.process_time() - cpu
        costs[name] = {
            "values": len(column),
            "normalize_us": normalized / len(column) * 1e6,
            "hash_pii_us": hashed / len(column) * 1e6,
        }
    return costs


def run(rows: int = 1_000_000) -> BenchResult:
    """Parent side: generate (or reuse) the files, run each workload in its own child."""
    small = max(rows // 4, 1)
    cases = [
        ("full-field", datagen.dataset(datagen.FULL, rows)),
        ("full-field", datagen.dataset(datagen.FULL, small)),
        ("email-only", datagen.dataset(datagen.EMAIL_ONLY, rows)),
        # No target: shows what per-record country and consent columns cost.
        ("eu-consent", datagen.dataset(datagen.EU_CONSENT, rows)),
    ]
    baseline = run_workload("library", {"path": None})
    measured: list[tuple[str, datagen.Dataset, Measured]] = [
        (label, data, run_workload("library", {"path": str(data.path)})) for label, data in cases
    ]

    table = Table(
        title="Library: read CSV → map → normalize → hash → build member bodies (one core)",
        columns=(
            "workload",
            "rows",
            "file MB",
            "members sent",
            "members/s/core (CPU)",
            "members/s (wall)",
            "peak RSS MB",
            "throughput target",
            f"RSS < {RSS_TARGET_MB:.0f} MB",
        ),
    )
    figures: dict[str, Any] = {"baseline_rss_mb": baseline.peak_rss_mb, "cases": []}
    passed = True
    for label, data, m in measured:
        r = m.result
        per_core = r["members"] / r["loop_cpu_seconds"]
        target = TARGETS.get(label)
        fast, lean = target is None or per_core >= target, m.peak_rss_mb < RSS_TARGET_MB
        passed &= fast and lean and r["rejected"] == 0
        table.rows.append(
            (
                label,
                f"{data.rows:,}",
                mb(data.size),
                f"{r['members']:,}",
                f"{per_core:,.0f}",
                f"{r['members'] / r['loop_wall_seconds']:,.0f}",
                f"{m.peak_rss_mb:,.0f}",
                f"≥ {target:,}/s: {verdict(fast)}" if target else "—",
                verdict(lean),
            )
        )
        figures["cases"].append(
            {
                "workload": label,
                "rows": data.rows,
                "file_bytes": data.size,
                **r,
                "members_per_cpu_second": per_core,
                "peak_rss_mb": m.peak_rss_mb,
                "child_cpu_seconds": m.cpu_seconds,
            }
        )
    full = [case for case in figures["cases"] if case["workload"] == "full-field"]
    growth = round(full[0]["peak_rss_mb"] - full[1]["peak_rss_mb"]) or 0  # no "-0"
    table.notes += [
        f"Peak RSS of a child that only imports the library: {baseline.peak_rss_mb:,.0f} MB; "
        f"full-field RSS grows by {growth:+,.0f} MB from {full[1]['rows']:,} to "
        f"{full[0]['rows']:,} rows (flat: memory does not depend on file size).",
        "members/s/core = members sent ÷ CPU seconds of the timed loop (start-up excluded); "
        "(wall) is the same loop by the clock, which other load on the machine slows.",
        "eu-consent: id, email, a UK/EEA country per row (8 countries) and Amazon's two consent "
        "signals per row — the per-record country and consent work an EU export brings.",
        f"Mean member body size: {full[0]['body_bytes'] / max(full[0]['members'], 1):,.0f} bytes "
        f"(full-field), {full[0]['requests']:,} requests for {full[0]['members']:,} members.",
    ]
    breakdown = _stage_table(
        "full-field",
        run_workload("library-stages", {"path": str(cases[1][1].path)}),
        FULL_TARGET,
    )
    email_breakdown = _stage_table(
        "email-only",
        run_workload(
            "library-stages", {"path": str(datagen.dataset(datagen.EMAIL_ONLY, small).path)}
        ),
        EMAIL_TARGET,
    )
    figures["stages_us_per_record"] = breakdown[1]
    figures["email_stages_us_per_record"] = email_breakdown[1]
    figures["full_members_per_cpu_second"] = full[0]["members_per_cpu_second"]
    figures["member_body_bytes"] = full[0]["body_bytes"] / max(full[0]["members"], 1)
    return BenchResult("library", [table, breakdown[0], email_breakdown[0]], figures, passed)


def _micros(value: float) -> str:
    """A stage's µs/record; below the run-to-run noise it is shown as such, not as a negative."""
    return f"{value:.2f}" if value >= 0.05 else "< 0.05"


def _stage_table(label: str, m: Measured, target: int) -> tuple[Table, dict[str, float]]:
    cumulative = m.result["cumulative_us_per_record"]
    total = cumulative[STAGES[-1][0]]
    table = Table(
        title=f"Library: where the time goes ({label}, {m.result['records']:,} rows)",
        columns=("stage", "what", "CPU µs/record", "share"),
    )
    previous = 0.0
    increments: dict[str, float] = {}
    for name, what in STAGES:
        increments[name] = cumulative[name] - previous
        previous = cumulative[name]
        table.rows.append(
            (name, what, _micros(increments[name]), f"{max(increments[name], 0) / total:.0%}")
        )
    table.rows.append(("total", "", f"{total:.2f}", f"= {1e6 / total:,.0f} members/s/core"))
    fields = m.result["fields"]
    table.notes += [
        "Each stage is the difference between two cumulative passes over the file (read; "
        "read + prepare; … ; the full RecordProcessor), each the fastest of three interleaved "
        f"runs by process CPU. {target:,} members/s/core is a budget of {1e6 / target:.1f} µs "
        "per record. On a shared machine a stage moves by a tenth of a microsecond or so from "
        "run to run.",
        "Per PII value, CPU µs to normalize → normalize + strip + SHA-256 hex (hash_pii), "
        "field by field in a tight loop: "
        + "; ".join(
            f"{name} {cost['normalize_us']:.1f} → {cost['hash_pii_us']:.1f}"
            for name, cost in fields.items()
        )
        + f" (sum of hash_pii: {sum(c['hash_pii_us'] for c in fields.values()):.1f} µs).",
    ]
    return table, increments
