"""Child-process entry point: ``python -m bench.child <workload> <params-json> <result-path>``.

Only the workload's own module is imported, so each child's memory is what its workload needs.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

WORKLOADS: dict[str, str] = {
    "library": "bench.library:workload",
    "library-stages": "bench.library:stages",
    "aep": "bench.aep:workload",
    "aep-stages": "bench.aep:stages",
    "splitter": "bench.splitter:workload",
    "stack-host": "bench.splitter:stack_host",
    "e2e": "bench.e2e:workload",
    "aep-e2e": "bench.aep_e2e:workload",
    "throttle": "bench.throttle:workload",
    "throttle-worker": "bench.throttle:worker_process",
}
"""Workload name → ``module:function``; the function takes the params dict, returns a dict."""


def main(argv: list[str]) -> int:
    name, params, result_path = argv
    module_name, function_name = WORKLOADS[name].split(":")
    workload = getattr(importlib.import_module(module_name), function_name)
    result = workload(json.loads(params))
    result[PEAK_RSS_KEY] = peak_rss_mb()
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


PEAK_RSS_KEY = "_peak_rss_mb"


def peak_rss_mb() -> float | None:
    """This process's own high-water RSS (``VmHWM``), in MiB.

    Unlike ``ru_maxrss``, which Linux carries over from the parent across fork + exec (a child
    of a 400 MB test worker would "peak" at 400 MB), VmHWM belongs to the address space exec
    created, so it is exactly the workload's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
