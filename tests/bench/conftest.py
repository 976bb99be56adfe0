"""The ``bench`` package lives at the repository root and is not installed (it never ships):
make it importable for these tests whichever way pytest was started."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
