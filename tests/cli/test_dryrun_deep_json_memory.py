"""``adm-ingest dry-run`` keeps a flat memory profile on hostile JSON nesting (issue #10,
finding 2): before, a 40 KB file nested 20k deep peaked at 1 GB and 200 KB was OOM-killed.

Each case runs the CLI in a fresh interpreter and reads that process's own peak RSS, so the
figure is the dry-run's alone (not pytest's, not another test's child).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PEAK_LIMIT_MB = 150
RECORD = b'{"email":"someone@example.com"}'
OTHER_RECORD = b'{"email":"someone.else@example.com"}'  # identical records are sent once

CHILD = """
import json, sys
from adm_local.cli import main
code = main(["dry-run", sys.argv[1], "--destination", "audience_members", "--country", "US", "--out", sys.argv[2]])
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"exit": code, "peak_mb": peak_kb / 1024}))
"""
"""The dry-run, then this process's peak RSS. VmHWM, not ``ru_maxrss``: Linux carries the
forking parent's (pytest's) high-water mark into the child's ``ru_maxrss`` across exec."""

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)"
)


def dry_run_peak(path: Path, out: Path) -> tuple[int, float]:
    """Exit status and peak RSS (MiB) of a dry-run of ``path`` in its own process."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "layers/common"), str(REPO / "local")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(out)],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return int(result["exit"]), float(result["peak_mb"])


def report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_bytes()))


def arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def moderately_nested(size: int) -> bytes:
    """A JSON array of ``size`` bytes: flat records, records with a value nested 10 deep, and
    elements nested 100 deep (over the limit), in turn."""
    flat = b'{"email":"user%d@example.com","phone":"+1206555%04d"}'
    nested = b'{"email":"x@example.com","nested":' + objects(9) + b"}"
    deep = b"[" * 50 + objects(50) + b"]" * 50
    parts, total, i = [], 2, 0
    while total < size:
        part = flat % (i, i % 10_000) if i % 3 == 0 else (nested if i % 3 == 1 else deep)
        parts.append(part)
        total += len(part) + 1
        i += 1
    return b"[" + b",".join(parts) + b"]"


@pytest.mark.parametrize(
    "name, data, by_reason",
    [
        ("arrays-100k.json", b"[" + arrays(100_000) + b"," + RECORD + b"]", {"too_deep": 1}),
        (
            "objects-100k-in-an-element.json",
            b"[" + RECORD + b',{"email":"b@example.com","x":' + objects(100_000) + b"}]",
            {"too_deep": 1},
        ),
        (
            "deep-lines-200k.jsonl",
            b"\n".join([RECORD, objects(10_000), arrays(100_000), objects(900), OTHER_RECORD]),
            {"too_deep": 2, "record_too_large": 1},  # a line over 128 KiB is cut first
        ),
    ],
)
def test_deep_files_are_read_in_flat_memory(
    tmp_path: Path, name: str, data: bytes, by_reason: dict[str, int]
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    status, peak_mb = dry_run_peak(path, tmp_path / "out")
    assert status == 0
    summary = report(tmp_path / "out")
    assert summary["rejected_by_reason"] == by_reason
    assert summary["balanced"]
    assert peak_mb < PEAK_LIMIT_MB


def test_an_element_too_deep_to_skip_is_a_file_error_in_flat_memory(tmp_path: Path) -> None:
    # 4 MB of "[": one read block. ijson buffers the events of each read it parses, so the
    # reader feeds it 64 KiB at a time (4 M events at once would be ~250 MB).
    path = tmp_path / "brackets.json"
    path.write_bytes(b"[" * (4 << 20))
    status, peak_mb = dry_run_peak(path, tmp_path / "out")
    assert status == 1  # a file-level error: nothing written
    assert not (tmp_path / "out" / "report.json").exists()
    assert peak_mb < PEAK_LIMIT_MB


def test_a_50_mb_file_of_nested_elements_is_read_in_flat_memory(tmp_path: Path) -> None:
    # ~5 s: 280k elements through the whole dry-run. Part of the peak is the dry-run's own
    # per-record fates (rejects.csv), not the reader (~30 MB on its own).
    path = tmp_path / "nested-50mb.json"
    path.write_bytes(moderately_nested(50 << 20))
    status, peak_mb = dry_run_peak(path, tmp_path / "out")
    assert status == 0
    summary = report(tmp_path / "out")
    read = summary["records_read"]  # flat, nested, deep, flat, …
    assert summary["rejected_by_reason"] == {
        "malformed_record": (read + 1) // 3,
        "too_deep": read // 3,
    }
    assert summary["accepted"] == (read + 2) // 3
    assert peak_mb < PEAK_LIMIT_MB
