"""The Lambda layer ships no type stubs: the library imports them under TYPE_CHECKING only.

``mypy_boto3_*`` (and boto3-stubs) are dev dependencies (pyproject.toml); a module importing
one at run time would work in the tests, which have them, and fail on Lambda, which has not.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_IMPORT_ALL_WITHOUT_STUBS = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    STUBS = ("mypy_boto3", "boto3_stubs", "botocore_stubs", "types_")

    class NoStubs:
        def find_spec(self, name, path=None, target=None):
            if name.startswith(STUBS):
                raise ImportError(f"{name} is a dev-only stub package")
            return None

    sys.meta_path.insert(0, NoStubs())
    import adm_ingest
    for module in pkgutil.walk_packages(adm_ingest.__path__, "adm_ingest."):
        importlib.import_module(module.name)
    print("imported", len(sys.modules))
    """
)


def test_every_library_module_imports_without_the_stub_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL_WITHOUT_STUBS],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers" / "common"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported")
