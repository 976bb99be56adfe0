"""``splitter``: splitter throughput (MB/s) and peak RSS on 250 MB and 1 GB CSVs against moto
(issue 4, item 8).

Three processes, as on AWS where S3 and SQS are not inside the Lambda:

* a **stack host** child runs :class:`adm_local.stack.LocalStack` (moto server + ADM sandbox +
  the resources template.yaml declares) — moto holds objects in memory, so it must not share a
  process with what is measured;
* the parent puts each file into the bucket (a plain PutObject streamed from disk); the bucket's
  notification queues the real S3 event;
* a **splitter** child — the measured one — receives that event from the queue, invokes the real
  handler ``functions/splitter/app.py`` (and any continuations it queues for itself), then counts
  the chunk messages on the chunk queue and checks them against the ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import datagen
from bench.measure import REPO_ROOT, WorkloadFailed, run_workload
from bench.results import BenchResult, Table, mb, verdict

MBPS_TARGET = 60.0
RSS_TARGET_MB = 200.0
RECORDS_PER_CHUNK = 5000
S3_EVENTS_QUEUE_ENV = "BENCH_S3_EVENTS_QUEUE_URL"
AUDIENCE = "bench"


# -- child: the stack host ----------------------------------------------------------------------


def stack_host(params: dict[str, Any]) -> dict[str, Any]:
    """Run a local stack until ``params["stop"]`` exists; publish its environment first."""
    from adm_local.stack import LocalStack

    with LocalStack(records_per_chunk=params["records_per_chunk"], quiet=True) as stack:
        # All of the stack's variables, not just those that differ from this shell's: under
        # `make bench` AWS_DEFAULT_REGION is already exported with the same value.
        env = dict(stack.environment)
        env[S3_EVENTS_QUEUE_ENV] = stack.queue_url(stack.names.s3_events_queue)
        # The splitter resolves audiences/<name>/ through the registry; the dataset itself is
        # never called here, so any id will do.
        stack.registry.put("audience", AUDIENCE, "bench-splitter-dataset")
        ready = Path(params["ready"])
        ready.with_suffix(".tmp").write_text(json.dumps(env))
        ready.with_suffix(".tmp").replace(ready)
        stop = Path(params["stop"])
        while not stop.exists():
            time.sleep(0.2)
    return {}


@contextmanager
def hosted_stack() -> Iterator[dict[str, str]]:
    """Start a stack host child; yield the environment that points a process at it."""
    with tempfile.TemporaryDirectory(prefix="adm-bench-host-") as scratch:
        ready, stop = Path(scratch) / "env.json", Path(scratch) / "stop"
        params = {"ready": str(ready), "stop": str(stop), "records_per_chunk": RECORDS_PER_CHUNK}
        command = [
            sys.executable,
            "-m",
            "bench.child",
            "stack-host",
            json.dumps(params),
            str(Path(scratch) / "result.json"),
        ]
        host = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                if host.poll() is not None or time.monotonic() > deadline:
                    raise WorkloadFailed("the stack host did not start")
                time.sleep(0.1)
            yield json.loads(ready.read_text())
        finally:
            stop.touch()
            try:
                host.wait(timeout=60)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()


# -- child: the measured splitter ---------------------------------------------------------------


def workload(params: dict[str, Any]) -> dict[str, Any]:
    """Deliver the queued S3 event for ``params["key"]`` to the real splitter handler (and its
    continuations), then count what it queued."""
    import boto3

    from adm_local.functions import load_function
    from adm_local.stepfunctions import LocalLambdaContext
    from bench.lambdas import HandlerTimes, counting_aws_calls, timed_handler

    env = os.environ
    sqs = boto3.client("sqs")
    times = HandlerTimes()
    splitter = timed_handler("splitter", load_function("splitter").lambda_handler, times)
    with counting_aws_calls() as calls:
        event = _receive_s3_event(sqs, env[S3_EVENTS_QUEUE_ENV], params["key"])
        splitter(event, _context(LocalLambdaContext))
        while continuation := _receive(sqs, env["SPLIT_QUEUE_URL"], wait=0):
            splitter(_sqs_event(continuation), _context(LocalLambdaContext))
    entry = _file_entry(env["LEDGER_TABLE"], params["key"])
    return {
        "file_id": str(entry["pk"]).removeprefix("file#"),
        "chunks_total": int(entry.get("chunks_total", -1)),
        "records_total": int(entry.get("records_total", -1)),
        "handler": times.as_dict()["splitter"],
        "aws_calls": dict(calls),
    }


def _file_entry(table_name: str, key: str) -> dict[str, Any]:
    """The ledger's file item for ``key`` (a scan: the bench table holds a handful of files)."""
    import boto3

    table = boto3.resource("dynamodb").Table(table_name)
    scan: dict[str, Any] = {}
    while True:
        page = table.scan(**scan)
        for item in page["Items"]:
            if item.get("sk") == "file" and item.get("key") == key:
                return dict(item)
        if "LastEvaluatedKey" not in page:
            raise LookupError("the splitter registered no ledger entry for the file")
        scan = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _receive_s3_event(sqs: Any, queue_url: str, key: str) -> dict[str, Any]:
    from adm_ingest.pipeline.routing import decode_key

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = _receive(sqs, queue_url, wait=1)
        if message is None:
            continue
        event = json.loads(message["Body"])
        records = event.get("Records", [])
        if records and decode_key(records[0]["s3"]["object"]["key"]) == key:
            return dict(event)
    raise TimeoutError(f"no S3 event for {key}")


def _receive(sqs: Any, queue_url: str, *, wait: int) -> dict[str, Any] | None:
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=wait
    ).get("Messages", [])
    if not messages:
        return None
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return dict(messages[0])


def _sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "eventSource": "aws:sqs",
            }
        ]
    }


def _context(context_type: Any) -> Any:
    return context_type(
        function_name="adm-ingest-splitter",
        timeout_s=900,
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:splitter",
    )


# -- parent -------------------------------------------------------------------------------------


class ChunkDrain:
    """Consumes the chunk queue while the splitter fills it, as the workers do on AWS, and
    keeps what it took: chunk id → record count, per file.

    Without it the queue would grow by the whole file's chunks, and moto's SQS does work
    proportional to the queue's length on every call (measured: ≈ 25 ms per SendMessageBatch
    with 200 queued messages, ≈ 100 ms with 600) — an emulator artifact that would then
    dominate the splitter's time.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.chunks: dict[str, dict[str, int]] = {}
        """file id → chunk id → records."""
        self.duplicates = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chunk-drain", daemon=True)

    def __enter__(self) -> ChunkDrain:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def settle(self, quiet_polls: int = 2) -> None:
        """Block until ``quiet_polls`` consecutive receives found the queue empty."""
        quiet = 0
        while quiet < quiet_polls:
            quiet = 0 if self._take(wait=1) else quiet + 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take(wait=1)

    def _take(self, *, wait: int) -> int:
        from adm_ingest.pipeline.chunks import ChunkPointer

        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        for message in messages:
            pointer = ChunkPointer.from_message(message["Body"])
            seen = self.chunks.setdefault(pointer.file_id, {})
            if pointer.chunk_id in seen:
                self.duplicates += 1
            seen[pointer.chunk_id] = pointer.records
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        return len(messages)


def run(big_bytes: int = 1_000_000_000) -> BenchResult:
    """Split a ¼-size file and a full-size one; compare throughput and peak RSS."""
    files = [
        datagen.sized_dataset(datagen.FULL, big_bytes // 4),
        datagen.sized_dataset(datagen.FULL, big_bytes),
    ]
    table = Table(
        title="Splitter: S3 object → chunk pointers on SQS (real handler, moto in another process)",
        columns=(
            "file",
            "MB",
            "records",
            "chunks queued",
            "MB/s (wall)",
            "MB per CPU-s",
            "peak RSS MB",
            f"≥ {MBPS_TARGET:.0f} MB/s",
            f"RSS < {RSS_TARGET_MB:.0f} MB",
        ),
    )
    figures: dict[str, Any] = {"cases": []}
    passed = True
    with hosted_stack() as env, ChunkDrain(_client("sqs", env), env["CHUNK_QUEUE_URL"]) as drain:
        s3 = _client("s3", env)
        for data in files:
            key = f"audiences/{AUDIENCE}/{data.path.name}"
            with data.path.open("rb") as body:
                s3.put_object(Bucket=env["BUCKET"], Key=key, Body=body)
            m = run_workload("splitter", {"key": key}, env=env)
            drain.settle()
            r = m.result
            drained = drain.chunks.get(r["file_id"], {})
            r["chunk_messages"] = len(drained)
            r["chunk_records"] = sum(drained.values())
            handler = r["handler"]
            rate = data.size / 1_000_000 / handler["wall_seconds"]
            per_cpu = data.size / 1_000_000 / handler["cpu_seconds"]
            expected_chunks = -(-data.rows // RECORDS_PER_CHUNK)
            counted = (
                r["records_total"] == r["chunk_records"] == data.rows
                and r["chunks_total"] == r["chunk_messages"] == expected_chunks
                and drain.duplicates == 0
            )
            fast, lean = rate >= MBPS_TARGET, m.peak_rss_mb < RSS_TARGET_MB
            passed &= fast and lean and counted
            table.rows.append(
                (
                    data.path.name,
                    mb(data.size),
                    f"{r['records_total']:,}",
                    f"{r['chunk_messages']:,}" + ("" if counted else " (**mismatch**)"),
                    f"{rate:,.1f}",
                    f"{per_cpu:,.1f}",
                    f"{m.peak_rss_mb:,.0f}",
                    verdict(fast),
                    verdict(lean),
                )
            )
            figures["cases"].append(
                {
                    "file_bytes": data.size,
                    "rows": data.rows,
                    **r,
                    "mb_per_second": rate,
                    "mb_per_cpu_second": per_cpu,
                    "peak_rss_mb": m.peak_rss_mb,
                }
            )
    small, big = figures["cases"]
    table.notes += [
        f"Peak RSS grows by {round(big['peak_rss_mb'] - small['peak_rss_mb']) or 0:+,} MB from "
        f"{mb(small['file_bytes'])} MB to {mb(big['file_bytes'])} MB: memory does not depend on "
        "file size.",
        "MB/s = object size ÷ wall time of the handler invocation(s), S3 GET streaming and SQS "
        "sends to moto included (moto serves from another process on the same 2 cores); "
        "MB per CPU-s uses the splitter process's own CPU time.",
        f"Chunks are {RECORDS_PER_CHUNK:,} records (one SQS message each). A consumer drains "
        "the chunk queue during the split, as the workers do on AWS; 'chunks queued' counts the "
        "distinct chunk pointers it received, checked against the ledger's chunk total, and "
        "their record counts against the ledger's record total and the file's rows.",
    ]
    figures["splitter_cpu_seconds_per_gb"] = big["handler"]["cpu_seconds"] / (
        big["file_bytes"] / 1_000_000_000
    )
    figures["splitter_wall_seconds_per_gb"] = big["handler"]["wall_seconds"] / (
        big["file_bytes"] / 1_000_000_000
    )
    return BenchResult("splitter", [table], figures, passed)


def _client(service: str, env: dict[str, str]) -> Any:
    """A client for the hosted stack, from the parent (which keeps its own environment)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
