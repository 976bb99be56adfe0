"""The Lambda functions' handler modules, imported from ``functions/<name>/app.py``.

The function folders are not packages (SAM packages each one as its own code root), so the
local stack, the setup runner and the benchmarks load them from their files — the same code
that ships, not a copy.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO_ROOT / "functions"
LAMBDA_MODULE = "app"
"""The handler module's name on Lambda (template.yaml: ``Handler: app.lambda_handler``)."""


def load_function(name: str, *, fresh: bool = True) -> ModuleType:
    """Import ``functions/<name>/app.py``.

    With ``fresh`` (the default) every call imports a new module object, so module-level
    clients and Powertools utilities bind to the environment as it is now (e.g. a new local
    stack's endpoints); otherwise the module is imported once and reused.
    """
    path = FUNCTIONS / name / "app.py"
    module_name = f"adm_ingest_fn_{name}" + (f"_{uuid.uuid4().hex[:8]}" if fresh else "")
    if not fresh and module_name in sys.modules:
        return sys.modules[module_name]
    # The module runs under the name Lambda gives it (handler ``app.lambda_handler``): names
    # derived from ``__module__`` must match across containers as they do on AWS — Powertools
    # Idempotency keys its records by ``<module>.<function>``, so a per-load name would give
    # every container its own keys, and two containers would never see each other's
    # in-progress chunks. sys.modules keeps the unique name, so loads do not replace each other.
    spec = importlib.util.spec_from_file_location(LAMBDA_MODULE, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
