"""``make demo``: the whole pipeline, locally, on the sample files in events/.

1. starts the local stack — moto in server mode (S3, SQS, DynamoDB, Secrets Manager, Step
   Functions), the ADM sandbox and the AEP sandbox on loopback ports;
2. runs the real setup state machine from ``events/setup-config.json`` plus the AEP datasets
   of ``events/setup-config-aep.json`` and the mapping ``events/mappings/aep-loyalty-profiles.json``
   (and again, to show it changes nothing the second time);
3. drops the sample files under their prefixes; S3 notifies the queue, the real splitter,
   worker and dead-letter handlers run on the real events;
4. prints a progress bar per file, the AEP batch going from ``loading`` to ``success``, each
   file's report, and what the sandboxes received;
5. copies each file's outputs (report JSON and HTML, rejects CSV) into ``demo-output/`` in the
   working tree, where a person can open them, and ends by printing their paths.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adm_ingest.destinations.conversions import format_timestamp
from adm_ingest.report import rejects_key, report_html_key, report_key
from adm_ingest.setup.config import ConfigError, load_config
from adm_ingest.values import ParsedTimestamp, parse_timestamp
from adm_local.functions import REPO_ROOT
from adm_local.local_accounts import StackAccounts, local_stack_accounts
from adm_local.stack import LocalStack
from adm_local.status_command import match_rate_rows
from adm_local.terminal import printable

EVENTS = REPO_ROOT / "events"
DATA = EVENTS / "data"

#: (sample file, bucket key, how to prepare it)
DROPS: tuple[tuple[str, str, str], ...] = (
    ("audience-crm.csv", "audiences/crm_customers_us/2026-11-27/crm-export.csv", "as-is"),
    ("audience-crm.csv", "audiences/newsletter_subscribers/crm-export.csv.gz", "gzip"),
    ("audience-removals.csv", "audiences/crm_customers_us/delete/unsubscribes.csv", "as-is"),
    ("conversions-offline.csv", "conversions/offline_purchases/orders.csv", "recent"),
    ("gdpr-deletions.jsonl", "deletions/gdpr-requests.jsonl", "as-is"),
    ("audience-removals.csv", "audiences/not_set_up_yet/file.csv", "as-is"),
)
AEP_DATASETS = EVENTS / "setup-config-aep.json"
"""The AEP example config: the demo sets up its ``aepDatasets`` beside the ADM items."""
AEP_MAPPINGS = {"aep/loyalty_profiles": EVENTS / "mappings" / "aep-loyalty-profiles.json"}
AEP_DROPS: tuple[tuple[str, str, str], ...] = (
    ("aep-loyalty-profiles.csv", "aep/loyalty_profiles/2026-12-01/loyalty.csv", "as-is"),
)
AEP_PROCESSING_SECONDS = 2.0
"""How long a completed batch stays ``processing`` in the AEP sandbox: long enough to watch."""
AEP_PART_BYTES = "400"
"""Small part files, so the sample spans several parts of its one batch."""
DEMO_OUTPUT = REPO_ROOT / "demo-output"
"""Where the demo leaves each file's outputs, by their bucket keys (git-ignored; emptied at
the start of each run, so it only ever holds the last run's files)."""


def run_demo(*, config: Path | None = None, verbose: bool = False) -> int:
    started = time.monotonic()
    out = _Printer()
    out.title("adm-ingest local demo")
    setup_config = _with_aep(config or EVENTS / "setup-config.json")
    accounts = _stack_accounts(setup_config)
    with LocalStack(
        records_per_chunk=4,
        quiet=not verbose,
        sandbox_kwargs=accounts["sandbox_kwargs"],
        aep_sandbox_kwargs={
            "processing_delay": AEP_PROCESSING_SECONDS,
            **accounts["aep_sandbox_kwargs"],
        },
        environment={"AEP_PART_BYTES": AEP_PART_BYTES},
        secrets=accounts["secrets"],
    ) as stack:
        out.line(f"moto server (embedded AWS) at {stack.endpoint}")
        out.line(f"ADM sandbox (ADM, DSP conversions, LwA) at {stack.sandbox.url}")
        out.line(
            "AEP sandbox (IMS, Catalog, Batch Ingestion, Schema Registry, Data Access) at "
            + stack.aep_sandbox.url
        )

        out.title("1. setup workflow (functions/setup/setup.asl.json on moto Step Functions)")
        first = stack.setup(setup_config)
        out.block(first.format_table())
        if not first.ok:
            return 1
        again = stack.setup(setup_config)
        changed = len(again.changed)
        out.line(f"second run: {again.status}, {changed} item(s) changed (idempotent)")

        batches = _AepBatches(stack.aep_sandbox, out)
        keys = []
        for wave, wave_drops in enumerate(_waves(DROPS + AEP_DROPS)):
            if wave == 0:
                out.title("2. dropping sample files into s3://" + stack.names.bucket)
            else:
                out.title("   then, once those are in, the removals")
            wave_keys = []
            for sample, key, how in wave_drops:
                stack.drop(key, _prepared(DATA / sample, how))
                wave_keys.append(key)
                out.line(f"  {sample:<26} → {key}" + ("  (gzip)" if how == "gzip" else ""))
            if wave == 0:
                out.title("3. pipeline: S3 event → splitter → SQS chunks → workers → sandboxes")
            progress = _Progress(stack, wave_keys, out, batches)
            # Split first, so the AEP file's batch is seen open (loading) before its parts.
            split = stack.split(timeout=60)
            progress(stack)
            stats = stack.pump(timeout=120, progress=progress)
            progress.final()
            events = split.s3_events + stats.s3_events
            ignored = split.s3_events_ignored + stats.s3_events_ignored
            out.line(
                f"  {events - ignored} S3 events for input files "
                f"(+{ignored} for the pipeline's own outputs, skipped), "
                f"{stats.chunk_messages} chunk deliveries in "
                f"{stats.worker_invocations} worker invocations, {stats.dead_letters} dead "
                f"letters, {stats.seconds:.1f}s"
            )
            keys += wave_keys

        out.title("4. reports (s3://…/reports/<key>.json and .html, rejects/<key>.csv)")
        all_balanced = True
        for key in keys:
            report = stack.report(key)
            if report is None:
                out.line(f"  {key}: no report")
                all_balanced = False
                continue
            all_balanced &= bool(report["balanced"]) or report["status"] == "error"
            out.block(_report_text(key, report, stack.rejects(key)))

        out.title("5. what the ADM sandbox received")
        state = stack.sandbox.state()
        out.block(_sandbox_text(state))
        out.block(_removals_text(state))
        out.title("6. what the AEP sandbox received")
        out.block(_aep_text(stack.aep_sandbox.state()))
        _print_notifications(out, stack)

        out.title(f"8. the outputs, copied from the bucket into {DEMO_OUTPUT.name}/")
        for path in save_outputs(stack, keys, DEMO_OUTPUT):
            out.line(f"  {path}")
    out.line(f"\ndone in {time.monotonic() - started:.1f}s")
    return 0 if all_balanced else 1


def save_outputs(
    stack: LocalStack, keys: list[str], directory: Path, *, clear: bool = True
) -> list[Path]:
    """Copy each file's report (JSON, HTML) and rejects file from the bucket into
    ``directory``, under their bucket keys (``reports/<key>.html``…); the paths written.

    ``clear`` empties ``directory`` first (the demo's own folder); a folder the user named
    keeps what else it holds."""
    if clear:
        shutil.rmtree(directory, ignore_errors=True)
    s3 = stack.client("s3")
    written = []
    for key in keys:
        for output in (report_html_key(key), report_key(key), rejects_key(key)):
            try:
                body = s3.get_object(Bucket=stack.names.bucket, Key=output)["Body"].read()
            except s3.exceptions.NoSuchKey:  # no rejects file for a clean file
                continue
            path = directory / output
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            written.append(path)
    return written


def _stack_accounts(config: dict[str, Any]) -> StackAccounts:
    """The sandboxes' accounts and the secrets a ``--config`` with ``accounts`` needs (none for
    the sample config). An invalid config gets none here: the setup run reports its errors."""
    try:
        return local_stack_accounts(load_config(config))
    except ConfigError:
        return StackAccounts(sandbox_kwargs={}, aep_sandbox_kwargs={}, secrets={})


def _with_aep(path: Path) -> dict[str, Any]:
    """The setup config at ``path`` with the AEP example's datasets (those it does not name
    already) and the AEP sample's mapping added."""
    config = json.loads(path.read_text(encoding="utf-8"))
    named = {dataset.get("name") for dataset in config.get("aepDatasets", [])}
    extra = json.loads(AEP_DATASETS.read_text(encoding="utf-8"))["aepDatasets"]
    config["aepDatasets"] = config.get("aepDatasets", []) + [
        dataset for dataset in extra if dataset["name"] not in named
    ]
    mappings = {prefix: json.loads(file.read_text()) for prefix, file in AEP_MAPPINGS.items()}
    config["mappings"] = mappings | config.get("mappings", {})
    return dict(config)


class _AepBatches:
    """Each AEP batch's way from ``loading`` to its final state, one line per change (read from
    the sandbox's state, as ``GET /_sandbox/state`` answers it)."""

    def __init__(self, sandbox: Any, out: _Printer) -> None:
        self.sandbox = sandbox
        self.out = out
        self.shown: dict[str, str] = {}

    def __call__(self) -> None:
        for batch_id, batch in self.sandbox.state()["batches"].items():
            status = str(batch.get("status"))
            if self.shown.get(batch_id) != status:
                self.shown[batch_id] = status
                metrics = batch.get("metrics") or {}
                counts = (
                    f"  ({metrics.get('inputRecordCount')} rows in "
                    f"{metrics.get('inputFileCount')} part files, "
                    f"{metrics.get('outputRecordCount')} ingested, "
                    f"{metrics.get('failedRecordCount')} failed)"
                    if metrics
                    else ""
                )
                self.out.line(f"  AEP batch {batch_id}: {status}{counts}")


def _waves(
    drops: tuple[tuple[str, str, str], ...],
) -> list[list[tuple[str, str, str]]]:
    """The drops in two waves: removals go after the files that create their members, as a
    real unsubscribe export follows the upload it unsubscribes from (dropped together, the
    removal could be processed before the member exists)."""
    removals = [drop for drop in drops if "/delete/" in drop[1]]
    return [[drop for drop in drops if drop not in removals], removals]


def _prepared(path: Path, how: str) -> bytes:
    data = path.read_bytes()
    if how == "gzip":
        return gzip.compress(data)
    if how == "recent":
        return _restamp(data)
    return data


def _restamp(data: bytes) -> bytes:
    """Shift the sample's event times so its newest event was an hour ago: ADM only takes
    events from the last 7 days, and a checked-in sample ages. Relative gaps are kept, so the
    deliberately stale row stays stale."""
    rows = list(csv.reader(io.StringIO(data.decode())))
    column = rows[0].index("event_time")
    parsed = [parse_timestamp(row[column]) for row in rows[1:]]
    moments = [p.moment if isinstance(p, ParsedTimestamp) else None for p in parsed]
    newest = max(m for m in moments if m is not None)
    shift = datetime.now(UTC) - timedelta(hours=1) - newest
    for row, moment in zip(rows[1:], moments, strict=True):
        if moment is not None:
            row[column] = format_timestamp(moment + shift)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def _report_text(key: str, report: dict[str, Any], rejects: list[tuple[int, str, str]]) -> str:
    lines = [f"{key}  [{report['status']}]"]
    if report.get("error"):
        lines.append(f"    error: {report['error']}")
        return "\n".join(lines)
    lines.append(
        f"    read {report['records_read']} = accepted {report['accepted']} + rejected "
        f"{report['rejected']} + failed {report['failed']}"
        f"   ({'balanced' if report['balanced'] else 'NOT BALANCED'})"
    )
    lines.append(
        f"    requests {report['requests_sent']} {report['requests_by_status']}, "
        f"chunks {report['chunks']}, ingress ids {len(report['ingress_ids'])}"
    )
    coverage = report["identifier_coverage"]
    if coverage:
        lines.append(
            "    identifiers: "
            + ", ".join(f"{name} {counts['valid']}" for name, counts in coverage.items())
        )
    mapping = report.get("mapping") or {}
    columns = mapping.get("columns") or []
    if columns:
        lines.append(
            "    columns: "
            + ", ".join(
                f"{c['column']} → {c.get('field') or c.get('path')}"
                + (f" {c['pii_set']}" if (c.get("pii_set") or 1) > 1 else "")
                + (" (config)" if c.get("source") == "config" else "")
                for c in columns
            )
        )
    not_sent = [entry["column"] for entry in mapping.get("not_sent") or []]
    not_sent += [entry["column"] for entry in mapping.get("unknown") or []]
    not_sent += list(mapping.get("ignored") or [])
    if not_sent:
        lines.append("    not sent: " + ", ".join(not_sent))
    sources = report.get("country_sources") or {}
    if sources:
        lines.append(
            "    countries: "
            + ", ".join(f"{c} {n}" for c, n in (report.get("records_by_country") or {}).items())
            + "  (from: "
            + ", ".join(f"{source} {n}" for source, n in sources.items())
            + ")"
        )
    consent = report.get("consent_sources") or {}
    if consent:
        lines.append(
            "    consent from: " + ", ".join(f"{source} {n}" for source, n in consent.items())
        )
    remote = report.get("remote")
    if remote:
        facts = remote.get("facts") or {}
        lines.append(
            f"    remote: {remote['status']}"
            + "".join(f", {name} {value}" for name, value in facts.items())
        )
    match_rate = report.get("match_rate")
    if match_rate:
        lines.append(
            "    " + "; ".join(f"{name} {value}" for name, value in match_rate_rows(match_rate))
        )
    for warning in report.get("warnings") or []:
        lines.append(f"    warning: {warning['message']}")
    for line, outcome, reason in rejects:
        lines.append(f"    line {line:>3}: {outcome} ({reason})")
    return "\n".join(lines)


def _sandbox_text(state: dict[str, Any]) -> str:
    """Counts per dataset / definition, and one stored member as proof that only hashes left."""
    lines = [f"  terms accepted: {state['terms']['hasAccepted']}"]
    sample = None
    for dataset_id, dataset in state["datasets"].items():
        lines.append(
            f"  audience {dataset['name']} ({dataset_id}): {dataset['memberCount']} members, "
            f"{dataset['acceptedCount']} accepted, {dataset['ignoredDeletes']} deletes ignored"
        )
        sample = sample or next(iter(dataset["members"].values()), None)
    for definition_id, definition in state["conversionDefinitions"].items():
        lines.append(
            f"  conversion definition {definition.get('name')} ({definition_id}): "
            f"{definition['eventCount']} events, {definition['duplicatesIgnored']} duplicates"
        )
    for rule in state["sharingRules"].values():
        lines.append(
            f"  sharing rule {rule.get('sharingRuleId')}: {rule.get('application')} "
            f"→ {rule.get('destinationAccountId')} [{rule.get('status')}]"
        )
    lines.append(f"  identity deletions received: {len(state['identityDeletions'])}")
    if sample is not None:
        lines.append("  one stored member (hashed identifiers only):")
        lines += ["    " + row for row in json.dumps(sample, indent=2).splitlines()]
    return "\n".join(lines)


def _removals_text(state: dict[str, Any]) -> str:
    """Whether the members the removal file names are gone from their audience: its
    ``customer_id`` column feeds externalUserId although the audience's mapping names
    ``Customer ID`` (a configured column the file lacks leaves its field to detection)."""
    lines = []
    for sample, key, _ in DROPS:
        parts = key.split("/")
        if sample != "audience-removals.csv" or parts[2:3] != ["delete"]:
            continue
        audience = parts[1]
        rows = list(csv.DictReader(io.StringIO((DATA / sample).read_text())))
        members = next(
            (d["members"] for d in state["datasets"].values() if d["name"] == audience), {}
        )
        for row in rows:
            member = row["customer_id"]
            where = "STILL in" if member in members else "no longer in"
            lines.append(f"  {member} (removed by {key}): {where} {audience}")
    return "\n".join(lines)


def _aep_text(state: dict[str, Any]) -> str:
    """Each dataset and its batches: status, AEP's counts and error codes (no row values)."""
    lines = []
    batches = list(state["batches"].values())
    for dataset_id, dataset in state["datasets"].items():
        lines.append(f"  dataset {dataset.get('name')} ({dataset_id})")
        for batch in batches:
            if {"type": "dataSet", "id": dataset_id} not in batch.get("relatedObjects", []):
                continue
            metrics = batch.get("metrics") or {}
            codes = sorted({str(error.get("code")) for error in batch.get("errors") or []})
            lines.append(
                f"    batch {batch['id']} [{batch['status']}]: "
                f"{metrics.get('inputRecordCount', 0)} rows read, "
                f"{metrics.get('outputRecordCount', 0)} ingested, "
                f"{metrics.get('failedRecordCount', 0)} failed"
                + (f"; errors {', '.join(codes)}" if codes else "")
            )
    lines.append(f"  IMS tokens issued: {state['tokens_issued']}")
    return "\n".join(lines)


def _print_notifications(out: _Printer, stack: LocalStack) -> None:
    """What the file reports topic sent: one line per message (one message per file)."""
    out.title("7. file notifications (SNS file reports topic → its SQS subscriber)")
    for notification in stack.notifications():
        out.line("  " + notification.line())


class _Printer:
    def title(self, text: str) -> None:
        print(f"\n\033[1m{text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)

    def line(self, text: str) -> None:
        print(printable(text), flush=True)  # it may hold a file's column names

    def block(self, text: str) -> None:
        print(printable(text), flush=True)


class _Progress:
    """One progress bar per file, redrawn when a file's chunk count moves."""

    WIDTH = 20

    def __init__(
        self,
        stack: LocalStack,
        keys: list[str],
        out: _Printer,
        batches: _AepBatches,
    ) -> None:
        self.stack = stack
        self.keys = keys
        self.out = out
        self.batches = batches
        self.shown: dict[str, tuple[int, int, str]] = {}
        self.table = stack.client("dynamodb")

    def __call__(self, stack: LocalStack) -> None:
        for item in self._files():
            key = item["key"]["S"]
            done = int(item.get("chunks_done", {}).get("N", 0))
            total = int(item.get("chunks_total", {}).get("N", 0))
            status = item.get("status", {}).get("S", "")
            if self.shown.get(key) != (done, total, status):
                self.shown[key] = (done, total, status)
                self.out.line(
                    f"  {self._bar(done, total)} {done}/{total or '?'} chunks  {status:<10} {key}"
                )
        self.batches()

    def final(self) -> None:
        self(self.stack)

    def _bar(self, done: int, total: int) -> str:
        filled = self.WIDTH if total == 0 else round(self.WIDTH * done / total)
        return "[" + "#" * filled + "." * (self.WIDTH - filled) + "]"

    def _files(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.stack.names.ledger_table,
            "FilterExpression": "sk = :file",
            "ExpressionAttributeValues": {":file": {"S": "file"}},
        }
        while True:
            page = self.table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        order = {key: i for i, key in enumerate(self.keys)}
        return sorted(items, key=lambda item: order.get(item["key"]["S"], 99))
