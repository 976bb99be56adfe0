"""Run one workload in a fresh subprocess and measure it from the outside.

Each workload runs in its own ``python -m bench.child`` process so its peak RSS is its own: the
child reports its own high-water RSS (VmHWM, which starts afresh at exec — unlike
``ru_maxrss``, which Linux carries over from the parent), and the parent collects the child
with :func:`os.wait4` for its CPU time. The child writes its own figures
(records, timed-section wall and CPU seconds, checks) as JSON to a result file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.child import PEAK_RSS_KEY

REPO_ROOT = Path(__file__).resolve().parents[1]


class WorkloadFailed(RuntimeError):
    """The child exited non-zero; its stderr tail is in the message (workloads log no PII)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """A finished workload: what the child reported plus what the kernel says it used."""

    result: dict[str, Any]
    """The child's own figures (see the workload functions in :mod:`bench.workloads`)."""
    peak_rss_mb: float
    """The child's own high-water RSS in MiB (its VmHWM; ``ru_maxrss`` where that is missing)."""
    cpu_seconds: float
    """User + system CPU of the whole child, start-up included."""
    wall_seconds: float
    """Wall time of the whole child, start-up included."""


def run_workload(
    name: str,
    params: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
) -> Measured:
    """Run workload ``name`` with ``params`` in a child process and measure it."""
    with tempfile.TemporaryDirectory(prefix="adm-bench-") as scratch:
        result_path = Path(scratch) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.child",
            name,
            json.dumps(dict(params)),
            str(result_path),
        ]
        child_env = {**os.environ, **(env or {})}
        child_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, (str(REPO_ROOT), child_env.get("PYTHONPATH")))
        )
        stderr_path = Path(scratch) / "stderr"
        started = time.perf_counter()
        with stderr_path.open("wb") as stderr:
            # stdout is dropped: the handlers print their EMF metrics lines there.
            child = subprocess.Popen(
                command, cwd=REPO_ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            status, usage = _wait(child, timeout)
        wall = time.perf_counter() - started
        if status != 0:
            tail = stderr_path.read_text(errors="replace")[-3000:]
            raise WorkloadFailed(f"workload {name} exited with status {status}:\n{tail}")
        result = json.loads(result_path.read_text())
    own_peak = result.pop(PEAK_RSS_KEY, None)
    return Measured(
        result=result,
        peak_rss_mb=own_peak if own_peak is not None else usage.ru_maxrss / 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        wall_seconds=wall,
    )


def _wait(child: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    """Reap ``child`` with ``wait4`` (for its own rusage), killing it after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode, usage
        if time.monotonic() > deadline:
            child.kill()
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            raise WorkloadFailed(f"workload timed out after {timeout:.0f}s")
        time.sleep(0.05)
