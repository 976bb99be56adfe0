"""An AEP dry-run streams: the part file is spooled to disk as it is built and the chunks are
read lazily, so peak RSS stays flat in the file's size (the issue: "worker RSS stays flat" —
the dry-run runs the same record path).

Each case runs the CLI in a fresh interpreter and reads that process's own peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adm_local.aep_sandbox.schemas import seeded_schemas

REPO = Path(__file__).resolve().parents[2]
GROWTH_LIMIT_MB = 20
"""What five times the rows may add to the peak: the part file grows by ~60 MB, so a body held
in memory fails this; the reader's and the boundary scan's block buffers settle a few MB
higher on the larger file. Both files' parts are past the spool's in-memory size (8 MiB), so
both pay for its move to disk."""

CHILD = """
import json, sys
from adm_local.cli import main
code = main(["dry-run", sys.argv[1], "--kind", "aep", "--schema", sys.argv[2],
             "--mapping", sys.argv[3], "--out", sys.argv[4]])
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"exit": code, "peak_mb": peak_kb / 1024}))
"""

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)"
)


def peak_of(rows: int, tmp_path: Path) -> float:
    source = tmp_path / f"profiles-{rows}.csv"
    with source.open("w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,zip,country,points,tier\n")
        for n in range(rows):
            out.write(f"user{n}@example.com,First{n},Last{n},{10000 + n % 80000},US,{n},gold\n")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(seeded_schemas("acmecorp")[0].full()))
    mapping = tmp_path / "mapping.json"
    identity = {"column": "email", "namespace": "Email", "primary": True}
    mapping.write_text(json.dumps({"xdm": {"identities": [identity]}}))
    out_dir = tmp_path / f"out-{rows}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "layers/common"), str(REPO / "local")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(schema), str(mapping), str(out_dir)],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().splitlines()[-1])
    assert result["exit"] == 0
    (part,) = (out_dir / "parts").iterdir()
    assert part.read_bytes().count(b"\n") == rows  # every row uploaded, in one part
    return float(result["peak_mb"])


def test_peak_rss_is_flat_in_the_number_of_rows(tmp_path: Path) -> None:
    small = peak_of(50_000, tmp_path)
    large = peak_of(250_000, tmp_path)
    assert large - small < GROWTH_LIMIT_MB, (small, large)
