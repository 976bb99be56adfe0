"""The sandbox stands up to the contract fuzzer (``contract_fuzz.py``), bounded for ``make test``.

The fuzz module runs in a pytest process of its own, without xdist: under ``pytest -n 2``
Schemathesis' parametrized tests ran only their first operation, and its fixed seed and
example counts come from the environment (``ADM_FUZZ_*``), which this test passes on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FUZZ_MODULE = Path(__file__).with_name("contract_fuzz.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_sandbox_answers_everything_the_contract_fuzzer_sends() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(FUZZ_MODULE), "-n", "0", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ passed in [\d.]+s( \(.*\))? ?=*", summary), summary  # no skips
