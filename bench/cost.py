"""``cost``: what 10M records cost on AWS, from the CPU time and AWS calls measured end to end.

Nothing is guessed that was measured: the e2e benchmark records, per handler, the CPU seconds of
the invoking thread and every AWS API call by function and operation. This module scales those
to 10M records and prices them. What could not be measured locally is an explicit assumption
below (prices, the Lambda CPU share at 1024 MB, API latencies) and is printed with the result.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.results import BenchResult, Table

RECORDS = 10_000_000
PRICES_AS_OF = "AWS public list prices for us-east-1 as of mid-2025 (re-check before quoting)"


@dataclass(frozen=True, slots=True)
class Prices:
    """us-east-1 on-demand list prices (USD); see :data:`PRICES_AS_OF`."""

    lambda_arm64_gb_second: float = 0.0000133334
    lambda_request: float = 0.20 / 1_000_000
    sqs_request: float = 0.40 / 1_000_000
    """Standard queue, per 64 KB request (chunk pointers are < 2 KB), beyond the free tier."""
    s3_put_list: float = 0.005 / 1_000
    """PUT, COPY, POST, LIST (S3 Standard)."""
    s3_get: float = 0.0004 / 1_000
    """GET, SELECT and all other requests (S3 Standard)."""
    dynamodb_write_unit: float = 0.625 / 1_000_000
    """On-demand write request unit (≤ 1 KB item)."""
    dynamodb_read_unit: float = 0.125 / 1_000_000
    """On-demand read request unit (strongly consistent ≤ 4 KB item)."""


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What the local measurement cannot tell."""

    memory_gb: float = 1.0
    """Splitter and worker memory (template.yaml: 1024 MB)."""
    vcpu_share: float = 1024 / 1769
    """Lambda gives one full vCPU at 1769 MB, proportionally less below: CPU-bound work takes
    1 / 0.58 times longer at 1024 MB than on a dedicated core."""
    arm64_speed: float = 1.0
    """Graviton core speed relative to the measuring machine's core, for this pure-Python work."""
    adm_request_seconds: float = 0.5
    """Wall time of one ADM members request (≤ 5000 members) — not measurable locally."""
    aws_call_seconds: float = 0.015
    """Mean in-region latency of one S3 / SQS / DynamoDB call."""


_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}
_S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "ListObjectsV2",
    "ListObjects",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "DeleteObjects",
}


def run(
    e2e: BenchResult,
    *,
    prices: Prices | None = None,
    assumptions: Assumptions | None = None,
) -> BenchResult:
    """Price 10M records from the e2e benchmark's measurements."""
    prices = prices or Prices()
    a = assumptions or Assumptions()
    figures = e2e.figures
    scale = RECORDS / figures["rows"]
    handlers = figures["handlers"]
    calls = Counter({name: count * scale for name, count in figures["aws_calls"].items()})
    requests_sent = figures["report"]["requests_sent"] * scale

    by_function = _calls_by_function(calls)
    worker_calls = sum(by_function.get("worker", Counter()).values())
    splitter_calls = sum(by_function.get("splitter", Counter()).values())
    cpu = {name: h["cpu_seconds"] * scale / a.arm64_speed for name, h in handlers.items()}
    billed_seconds = {
        "splitter": cpu.get("splitter", 0.0) / a.vcpu_share + splitter_calls * a.aws_call_seconds,
        "worker": cpu.get("worker", 0.0) / a.vcpu_share
        + worker_calls * a.aws_call_seconds
        + requests_sent * a.adm_request_seconds,
    }
    invocations = sum(h["invocations"] for h in handlers.values()) * scale
    # Lambda's SQS event source mapping: one ReceiveMessage per delivered batch and one
    # DeleteMessageBatch per batch on success (long-polling an empty queue is a fixed monthly
    # cost, not per record). The local pump's own receives/deletes/attribute polls are replaced
    # by this.
    esm_sqs = 2 * handlers.get("worker", {}).get("invocations", 0) * scale
    sqs_sent = sum(count for name, count in calls.items() if name.split(" ")[1].startswith("sqs."))
    sqs_sent -= sum(count for name, count in calls.items() if name.startswith("outside sqs."))
    s3_put = sum(c for name, c in calls.items() if _op(name, "s3") in _S3_PUT_CLASS)
    s3_get = sum(
        c for name, c in calls.items() if _op(name, "s3") and _op(name, "s3") not in _S3_PUT_CLASS
    )
    ddb_writes = sum(c for name, c in calls.items() if _op(name, "dynamodb") in _WRITES)
    ddb_reads = sum(c for name, c in calls.items() if _op(name, "dynamodb") in _READS)

    lines = [
        (
            "Lambda compute, splitter",
            f"{billed_seconds['splitter'] * a.memory_gb:,.0f} GB-s",
            f"${prices.lambda_arm64_gb_second:.10f}/GB-s",
            billed_seconds["splitter"] * a.memory_gb * prices.lambda_arm64_gb_second,
        ),
        (
            "Lambda compute, worker",
            f"{billed_seconds['worker'] * a.memory_gb:,.0f} GB-s",
            f"${prices.lambda_arm64_gb_second:.10f}/GB-s",
            billed_seconds["worker"] * a.memory_gb * prices.lambda_arm64_gb_second,
        ),
        (
            "Lambda requests",
            f"{invocations:,.0f}",
            "$0.20/M",
            invocations * prices.lambda_request,
        ),
        (
            "SQS requests (sends + event source receive/delete)",
            f"{sqs_sent + esm_sqs:,.0f}",
            "$0.40/M",
            (sqs_sent + esm_sqs) * prices.sqs_request,
        ),
        ("S3 PUT/LIST requests", f"{s3_put:,.0f}", "$0.005/1k", s3_put * prices.s3_put_list),
        ("S3 GET requests", f"{s3_get:,.0f}", "$0.0004/1k", s3_get * prices.s3_get),
        (
            "DynamoDB writes (ledger, idempotency)",
            f"{ddb_writes:,.0f} WRU",
            "$0.625/M",
            ddb_writes * prices.dynamodb_write_unit,
        ),
        (
            "DynamoDB reads (ledger, idempotency, registry)",
            f"{ddb_reads:,.0f} RRU",
            "$0.125/M",
            ddb_reads * prices.dynamodb_read_unit,
        ),
    ]
    total = sum(line[3] for line in lines)
    table = Table(
        title=f"Cost per {RECORDS:,} records on AWS (estimate from measured CPU and API calls)",
        columns=("item", f"quantity per {RECORDS // 1_000_000}M records", "unit price", "USD"),
        rows=[(name, quantity, unit, f"{usd:.4f}") for name, quantity, unit, usd in lines]
        + [("**total**", "", "", f"**{total:.4f}**")],
        notes=[
            f"Prices: {PRICES_AS_OF}; free tiers ignored; storage, data transfer, CloudWatch "
            "Logs/metrics, the KMS key (bucket keys make per-request KMS calls negligible) and "
            "the Secrets Manager secret are fixed monthly costs, not per record.",
            f"Measured (e2e, {figures['rows']:,} records, scaled ×{scale:,.0f}): handler CPU "
            f"seconds per record — worker {handlers['worker']['cpu_seconds'] / figures['rows']:.2e}"
            f", splitter {handlers['splitter']['cpu_seconds'] / figures['rows']:.2e}; AWS calls "
            "per function and operation; ADM requests sent.",
            f"Assumed: Lambda at {a.memory_gb * 1024:.0f} MB gets {a.vcpu_share:.2f} vCPU "
            f"(billed time = CPU ÷ {a.vcpu_share:.2f}); a Graviton core is {a.arm64_speed:.1f}× "
            f"this machine's core; each ADM request takes {a.adm_request_seconds} s and each "
            f"S3/SQS/DynamoDB call {a.aws_call_seconds * 1000:.0f} ms of billed waiting; one "
            "DynamoDB request unit per call (ledger and idempotency items are < 1 KB).",
        ],
    )
    result_figures: dict[str, Any] = {
        "records": RECORDS,
        "total_usd": total,
        "lines": [{"item": n, "quantity": q, "unit": u, "usd": usd} for n, q, u, usd in lines],
        "billed_seconds": billed_seconds,
    }
    return BenchResult("cost", [table], result_figures, True)


def _calls_by_function(calls: Counter[str]) -> dict[str, Counter[str]]:
    grouped: dict[str, Counter[str]] = {}
    for name, count in calls.items():
        function, operation = name.split(" ", 1)
        grouped.setdefault(function, Counter())[operation] += count
    return grouped


def _op(name: str, service: str) -> str | None:
    """The operation of counted call ``name`` when it is a ``service`` call, else None."""
    _, call = name.split(" ", 1)
    prefix = f"{service}."
    return call[len(prefix) :] if call.startswith(prefix) else None
