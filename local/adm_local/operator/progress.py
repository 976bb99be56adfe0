"""``adm-ingest progress <key>``: a file's progress, from its ledger item.

Chunks done of the total (the total is known once the split is done), records by outcome,
the rate since the file was registered and the ETA; ``--watch`` redraws a bar until the file
is reported (or hit a file-level error)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TextIO

import boto3

from adm_ingest.ledger import FileRecord, Ledger
from adm_local.operator import aws
from adm_local.operator.exits import FILE_ERROR, OK

BAR_WIDTH = 30


@dataclass(frozen=True, slots=True)
class Progress:
    key: str
    file_id: str
    status: str
    split_done: bool
    chunks_done: int
    chunks_total: int | None
    """``None`` while the split is still queuing chunks."""
    records_total: int | None
    read: int
    accepted: int
    rejected: int
    failed: int
    elapsed_seconds: float
    records_per_second: float | None
    eta_seconds: float | None
    reported: bool
    error: str | None

    @property
    def fraction(self) -> float:
        if self.reported:
            return 1.0
        if self.records_total:
            return min(1.0, self.read / self.records_total)
        if self.chunks_total:
            return min(1.0, self.chunks_done / self.chunks_total)
        return 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"fraction": round(self.fraction, 4)}


def progress_of(file: FileRecord, now: float | None = None) -> Progress:
    now = time.time() if now is None else now
    started = _epoch(file.created_at)
    ended = _epoch(file.reported_at) or now
    elapsed = max(0.0, ended - started) if started is not None else 0.0
    rate = file.read / elapsed if elapsed > 0 and file.read else None
    total = file.records_total if file.split_done else None
    eta = None
    if not file.reported_at and rate and total is not None:
        eta = max(0.0, (total - file.read) / rate)
    return Progress(
        key=file.key,
        file_id=file.file_id,
        status=file.status or "registered",
        split_done=file.split_done,
        chunks_done=file.chunks_done,
        chunks_total=file.chunks_total if file.split_done else None,
        records_total=total,
        read=file.read,
        accepted=file.accepted,
        rejected=sum(file.rejected.values()),
        failed=sum(file.failed.values()),
        elapsed_seconds=round(elapsed, 3),
        records_per_second=None if rate is None else round(rate, 1),
        eta_seconds=None if eta is None else round(eta, 1),
        reported=file.reported_at is not None,
        error=file.error,
    )


def bar(progress: Progress, width: int = BAR_WIDTH) -> str:
    """``[#########.....]  62% 3/5 chunks 6,200/10,000 records 1,234/s ETA 3s``."""
    filled = round(progress.fraction * width)
    total = "?" if progress.chunks_total is None else str(progress.chunks_total)
    chunks = f"{progress.chunks_done}/{total}"
    records = (
        f"{progress.read:,}/{progress.records_total:,}"
        if progress.records_total is not None
        else f"{progress.read:,}"
    )
    parts = [
        f"[{'#' * filled}{'.' * (width - filled)}] {progress.fraction:4.0%}",
        f"{chunks} chunks",
        f"{records} records",
    ]
    if progress.records_per_second:
        parts.append(f"{progress.records_per_second:,.0f}/s")
    if progress.eta_seconds is not None:
        parts.append(f"ETA {_duration(progress.eta_seconds)}")
    parts.append(progress.status)
    return " ".join(parts)


def describe(progress: Progress) -> str:
    lines = [
        f"{progress.key}  ({progress.file_id})",
        bar(progress),
        f"accepted {progress.accepted:,} · rejected {progress.rejected:,} · "
        f"failed {progress.failed:,} · {_duration(progress.elapsed_seconds)} since it arrived",
    ]
    if progress.error:
        lines.append(f"file error: {progress.error}")
    return "\n".join(lines)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("progress", help="a file's progress, from the ledger")
    parser.add_argument("key", help="the file's S3 key (e.g. audiences/vip/export.csv)")
    aws.add_arguments(parser)
    parser.add_argument("--watch", action="store_true", help="redraw until the file is reported")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between redraws")
    parser.add_argument("--json", action="store_true", help="print JSON (one object per redraw)")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    found = aws.resources(args)
    found.need("bucket", "ledger_table")
    ledger = Ledger(found.ledger_table)
    s3 = boto3.client("s3")
    file = aws.find_file(ledger, s3, found.bucket, args.key)
    redraw = args.watch and not args.json and out.isatty()
    while True:
        progress = progress_of(file)
        if args.json:
            print(json.dumps(progress.as_dict()), file=out, flush=True)
        elif redraw:
            print(f"\r\x1b[K{bar(progress)}", end="", file=out, flush=True)
        else:
            print(describe(progress) if not args.watch else bar(progress), file=out, flush=True)
        if not args.watch or progress.reported or progress.error:
            break
        time.sleep(args.interval)
        file = ledger.get_file(file.file_id) or file
    if redraw:
        print(file=out)
        print(describe(progress), file=out)
    return FILE_ERROR if progress.error else OK


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
