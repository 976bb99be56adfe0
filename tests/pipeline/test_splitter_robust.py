"""The splitter never crash-loops and never re-parses: every file ends in one report.

Malformed content, a file over a limit, a file gone before its split, a bug — each becomes one
file-level error (``status: "error"``) with nothing staged left behind, in any version. Time is
checked on bytes, so a file of blank lines continues like any other, and a staged split (gzip,
JSON array) continues at the data offset it reached, reading every record once.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adm_ingest.ledger import Ledger
from adm_ingest.pipeline import splitter as splitter_module
from adm_ingest.pipeline.chunks import ChunkPointer
from adm_ingest.pipeline.continuation import SplitContinuation
from adm_ingest.pipeline.finalize import Finalizer
from adm_ingest.pipeline.limits import DataStream, FileLimits
from adm_ingest.pipeline.sources import ObjectRef, open_object
from adm_ingest.pipeline.splitter import Splitter
from adm_ingest.readers import FileFormatError, open_records, read_header, read_staged
from adm_ingest.registry import Registry
from adm_ingest.report import ReportWriter
from adm_local.resources import create_ledger_table, create_registry_table
from tests.record_support import flat

BUCKET = "ingest-test"


def make_splitter(aws: dict[str, Any], **kwargs: Any) -> Splitter:
    return Splitter(
        s3=aws["s3"],
        sqs=aws["sqs"],
        ledger=aws["ledger"],
        registry=aws["registry"],
        finalizer=Finalizer(aws["ledger"], ReportWriter(aws["s3"], BUCKET)),
        chunk_queue_url=aws["chunks"],
        split_queue_url=aws["splits"],
        margin_seconds=1.0,
        **{"records_per_chunk": 50, **kwargs},
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client("sqs")
        dynamodb = boto3.client("dynamodb")
        create_ledger_table(dynamodb, "ledger")
        create_registry_table(dynamodb, "registry")
        registry = Registry("registry")
        registry.put("audience", "aud", "DS-1", country="US")
        env = {
            "s3": s3,
            "sqs": sqs,
            "chunks": sqs.create_queue(QueueName="chunks")["QueueUrl"],
            "splits": sqs.create_queue(QueueName="splits")["QueueUrl"],
            "ledger": Ledger("ledger"),
            "registry": registry,
        }
        env["splitter"] = make_splitter(env)
        yield env


def put(aws: dict[str, Any], key: str, body: bytes) -> ObjectRef:
    response = aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
    return ObjectRef(BUCKET, key, response.get("VersionId"), response["ETag"].strip('"'), len(body))


def drain(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def report(aws: dict[str, Any], key: str) -> dict[str, Any]:
    body = aws["s3"].get_object(Bucket=BUCKET, Key=f"reports/{key}.json")["Body"].read()
    return dict(orjson.loads(body))


def staged_versions(aws: dict[str, Any]) -> list[str]:
    listed = aws["s3"].list_object_versions(Bucket=BUCKET, Prefix="_staging/")
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def split_all(
    aws: dict[str, Any], splitter: Splitter, ref: ObjectRef, time_left: Any
) -> tuple[Any, int]:
    """Split, following continuations; the last outcome and the number of invocations."""
    outcome = splitter.split(ref, time_left)
    invocations = 1
    while outcome.status == "continued":
        (message,) = drain(aws["sqs"], aws["splits"])
        outcome = splitter.handle_continuation(SplitContinuation.from_message(message), time_left)
        invocations += 1
        assert invocations < 10_000
    return outcome, invocations


def staged_records(aws: dict[str, Any]) -> list[tuple[int, dict[str, str]]]:
    found = sorted(
        (ChunkPointer.from_message(b) for b in drain(aws["sqs"], aws["chunks"])),
        key=lambda p: p.index,
    )
    out = []
    for pointer in found:
        if pointer.staged_key:
            stream = open_object(aws["s3"], ObjectRef(BUCKET, pointer.staged_key))
            records = flat(read_staged(stream))
        else:
            layout = pointer.layout
            header = None
            if layout.header_range is not None:  # as the worker reads it
                header = read_header(
                    open_object(
                        aws["s3"],
                        ObjectRef(BUCKET, pointer.key, pointer.version_id),
                        layout.header_range,
                    ),
                    delimiter=layout.delimiter or ",",
                    encoding=layout.encoding,
                )
            records = flat(
                open_records(
                    open_object(
                        aws["s3"],
                        ObjectRef(BUCKET, pointer.key, pointer.version_id),
                        pointer.byte_range,
                    ),
                    format=layout.format,
                    delimiter=layout.delimiter,
                    header=header,
                    first_line=pointer.first_line,
                    encoding=layout.encoding,
                )
            )
        assert sum(1 for _ in records) == pointer.records
        out.extend((r.line, getattr(r, "values", {})) for r in records)
    return out


def every_call(n: int) -> Any:
    """A clock whose time is short on every ``n``-th look."""
    calls = {"n": 0}

    def time_left() -> float:
        calls["n"] += 1
        return 0.0 if calls["n"] % n == 0 else 1000.0

    return time_left


# -- malformed files: one error report, nothing staged --------------------------------------

MALFORMED = {
    "header-only.csv.gz": gzip.compress(b"")[:10],
    "truncated.csv.gz": gzip.compress(b"email\n" + b"a@example.com\n" * 5000)[:-40],
    "empty-array.json": b"[]",
    "bad-head.json": b'[{"email": "a@example.com"',
    "bad-tail.json": b"["
    + b",".join(b'{"email": "p%d@example.com"}' % i for i in range(12_000))
    + b", {oops]",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_file_ends_in_one_error_report_and_nothing_staged(
    aws: dict[str, Any], name: str
) -> None:
    key = f"audiences/aud/{name}"
    splitter = make_splitter(aws, records_per_chunk=5000)
    outcome = splitter.split(put(aws, key, MALFORMED[name]), lambda: 1000.0)
    assert outcome.status == "error"
    # The bad tail comes before a batch of chunks was due: its two staged chunks are unsent.
    assert drain(aws["sqs"], aws["chunks"]) == []
    found = report(aws, key)
    assert found["status"] == "error" and found["error"]
    assert "@" not in found["error"]
    assert staged_versions(aws) == []


def test_an_error_after_chunks_were_queued_waits_for_them(aws: dict[str, Any]) -> None:
    body = b"[" + b",".join(b'{"email": "p%d@example.com"}' % i for i in range(3000)) + b", x]"
    splitter = make_splitter(aws, limits=FileLimits(ratio_after_bytes=0))  # no holding back
    key = "audiences/aud/late.json"
    outcome = splitter.split(put(aws, key, body), lambda: 1000.0)
    assert outcome.status == "error" and outcome.chunks == 50  # 50 × 50 sent, 10 chunks unsent
    file = aws["ledger"].get_file(outcome.file_id)
    assert (file.chunks_total, file.records_total) == (50, 2500)
    assert "after element 3000" in file.error


# -- limits --------------------------------------------------------------------------------


def bomb(data_bytes: int, piece: bytes = b"\n" * (1 << 20)) -> bytes:
    """A gzip of ``data_bytes`` of ``piece`` (streamed: nothing that size is ever held)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [deflate.compress(b"email\n")]
    for _ in range(data_bytes // len(piece)):
        out.append(deflate.compress(piece))
    out.append(deflate.flush())
    return b"".join(out)


def test_a_decompression_bomb_is_refused_before_anything_is_sent(aws: dict[str, Any]) -> None:
    # 2 GiB: the same person once per MiB of blank lines, ~1017×.
    body = bomb(2 << 30, b"a@example.com\n" + b"\n" * ((1 << 20) - 14))
    assert len(body) < 3 << 20
    key = "audiences/aud/bomb.csv.gz"
    splitter = make_splitter(aws, records_per_chunk=5000)
    outcome = splitter.split(put(aws, key, body), lambda: 1000.0)
    assert outcome.status == "error" and outcome.chunks == 0
    assert drain(aws["sqs"], aws["chunks"]) == []
    found = report(aws, key)
    assert "decompression bomb" in found["error"] and "MAX_COMPRESSION_RATIO" in found["error"]
    assert staged_versions(aws) == []


def test_ordinary_csv_gzip_never_trips_the_ratio_guard() -> None:
    rows = b"".join(
        b"cust-%07d,person.%d@example.com,+1 206 555 %04d,Alex,Tester%d,%05d\n"
        % (i, i, i % 10000, i % 97, 98000 + i % 1000)
        for i in range(1_200_000)
    )
    body = gzip.compress(rows, 9)
    assert len(rows) > 64 << 20 and len(rows) / len(body) < 20
    data = DataStream(io.BytesIO(body), FileLimits(), inflate=True)
    while data.read(1 << 20):
        pass
    assert data.position == len(rows)


def test_decompressed_size_and_record_limits(aws: dict[str, Any]) -> None:
    small = make_splitter(aws, limits=FileLimits(max_decompressed_bytes=1000))
    ref = put(aws, "audiences/aud/big.csv.gz", gzip.compress(b"email\n" + b"a@x.io\n" * 200))
    assert "MAX_DECOMPRESSED_BYTES" in (small.split(ref, lambda: 1000.0).error or "")
    ref = put(aws, "audiences/aud/big.csv", b"email\n" + b"a@x.io\n" * 200)
    assert "MAX_DECOMPRESSED_BYTES" in (small.split(ref, lambda: 1000.0).error or "")

    few = make_splitter(aws, limits=FileLimits(max_records=120))
    for name, body in {
        "many.csv": b"email\n" + b"a@x.io\n" * 121,
        "many.csv.gz": gzip.compress(b"email\n" + b"a@x.io\n" * 121),
    }.items():
        outcome = few.split(put(aws, f"audiences/aud/{name}", body), lambda: 1000.0)
        assert outcome.status == "error" and "MAX_RECORDS_PER_FILE" in (outcome.error or "")
        assert outcome.records == 0  # the chunks were never sent
    drain(aws["sqs"], aws["chunks"])
    exactly = few.split(
        put(aws, "audiences/aud/ok.csv", b"email\n" + b"a@x.io\n" * 120), lambda: 1e3
    )
    assert (exactly.status, exactly.records) == ("queued", 120)


# -- vanished files and bugs ---------------------------------------------------------------


def test_a_file_deleted_before_its_split_gets_an_error_report(aws: dict[str, Any]) -> None:
    key = "audiences/aud/gone.csv"
    ref = put(aws, key, b"email\na@example.com\n")
    aws["s3"].delete_object(Bucket=BUCKET, Key=key, VersionId=ref.version_id)
    outcome = aws["splitter"].split(ref, lambda: 1000.0)
    assert outcome.status == "error" and "deleted or replaced" in (outcome.error or "")
    assert report(aws, key)["status"] == "error"


def test_a_bug_becomes_a_file_error_and_transient_errors_are_retried(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("p1@example.com")

    monkeypatch.setattr(splitter_module, "staged_lines", broken)
    key = "audiences/aud/bug.csv.gz"
    outcome = aws["splitter"].split(put(aws, key, gzip.compress(b"email\na@x.io\n")), lambda: 1e3)
    assert outcome.status == "error" and "KeyError" in (outcome.error or "")
    assert "@" not in report(aws, key)["error"]

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown"}}, "PutObject")

    monkeypatch.setattr(splitter_module, "staged_lines", throttled)
    with pytest.raises(ClientError):
        aws["splitter"].split(
            put(aws, "audiences/aud/slow.csv.gz", gzip.compress(b"a\n1\n")), lambda: 1e3
        )


# -- time on bytes, resumes without re-parsing ---------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_a_file_of_blank_lines_continues_and_ends_in_a_report(
    aws: dict[str, Any], gz: bool
) -> None:
    body = b"email\n" + b"\n" * (3 << 20) + b"a@example.com\n" + b"\n" * (1 << 20)
    key = f"audiences/aud/blank.csv{'.gz' if gz else ''}"
    splitter = make_splitter(aws, clock_bytes=64 << 10, clock_grace_bytes=64 << 10)
    outcome, invocations = split_all(
        aws, splitter, put(aws, key, gzip.compress(body) if gz else body), lambda: 0.0
    )
    assert (outcome.status, outcome.error) == ("queued", None)
    assert invocations > 10 and outcome.records == 1
    assert staged_records(aws) == [(3 * 2**20 + 2, {"email": "a@example.com"})]


def csv_rows(n: int) -> bytes:
    lines = [b"id,email,note"]
    for i in range(n):
        note = b'"two\nlines"' if i % 7 == 0 else b"plain"
        lines.append(b"c%d,p%d@example.com,%s" % (i, i, note))
    return b"\n".join(lines) + b"\n"


def json_array(n: int) -> bytes:
    return (
        b"[\n"
        + b",\n".join(
            orjson.dumps({"id": f"c{i}", "email": f"p{i}@example.com", "note": "}, ]" * (i % 3)})
            for i in range(n)
        )
        + b"\n]\n"
    )


FILES = {
    "plain.csv": lambda: csv_rows(40_000),
    "gzip.csv.gz": lambda: gzip.compress(csv_rows(40_000)),
    "array.json": lambda: json_array(30_000),
    "gzip-array.json.gz": lambda: gzip.compress(json_array(30_000)),
    "gzip.jsonl.gz": lambda: gzip.compress(
        b"\n".join(orjson.dumps({"email": f"p{i}@example.com"}) for i in range(40_000))
    ),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_interrupted_splits_read_every_record_once(
    aws: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = FILES[name]()
    plain = gzip.decompress(body) if name.endswith(".gz") else body
    expected = [(r.line, getattr(r, "values", {})) for r in flat(open_records(io.BytesIO(plain)))]
    parsed = {"n": 0}
    original = splitter_module.staged_lines

    def counting(items: Any, line_shift: int = 0, skip: int = 0) -> Iterator[tuple[int, bytes]]:
        for staged in original(items, line_shift, skip):
            parsed["n"] += 1
            yield staged

    monkeypatch.setattr(splitter_module, "staged_lines", counting)
    splitter = make_splitter(aws, clock_bytes=32 << 10, clock_grace_bytes=32 << 10)
    outcome, invocations = split_all(
        aws, splitter, put(aws, f"audiences/aud/{name}", body), every_call(3)
    )
    assert invocations >= 5, invocations
    assert outcome.status == "queued" and outcome.records == len(expected)
    assert staged_records(aws) == expected
    if "csv" not in name or "gz" in name:  # staged: each record staged exactly once
        assert parsed["n"] == len(expected)
    file = aws["ledger"].get_file(outcome.file_id)
    assert file.records_total == len(expected)


def test_data_stream_refuses_gzip_inside_gzip() -> None:
    data = DataStream(io.BytesIO(gzip.compress(gzip.compress(b"a\n"))), FileLimits(), inflate=True)
    with pytest.raises(FileFormatError, match="gzip inside gzip"):
        data.read()
