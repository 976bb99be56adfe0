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
    "splitter": "bench.splitter:workload",
    "stack-host": "bench.splitter:stack_host",
    "e2e": "bench.e2e:workload",
}
"""Workload name → ``module:function``; the function takes the params dict, returns a dict."""


def main(argv: list[str]) -> int:
    name, params, result_path = argv
    module_name, function_name = WORKLOADS[name].split(":")
    workload = getattr(importlib.import_module(module_name), function_name)
    result = workload(json.loads(params))
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
