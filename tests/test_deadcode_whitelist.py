"""vulture_whitelist.py excuses only code that exists, so an entry cannot outlive its code.

vulture (``make deadcode``) matches names, not objects: a stale entry would silently excuse
whatever dead code later takes the same name. Every name the whitelist lists must therefore
still be defined somewhere in the code vulture reads.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHITELIST = ROOT / "vulture_whitelist.py"


def _vulture_paths() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [ROOT / path for path in config["tool"]["vulture"]["paths"]]


def _whitelisted() -> set[str]:
    tree = ast.parse(WHITELIST.read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "_"
    }


def _sources() -> Iterator[Path]:
    for path in _vulture_paths():
        if path == WHITELIST:
            continue
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def _defined_names(source: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            yield node.attr


def test_vulture_reads_the_whitelist_with_the_code() -> None:
    paths = _vulture_paths()
    assert WHITELIST in paths
    assert ROOT / "layers" / "common" / "adm_ingest" in paths


def test_every_whitelisted_name_is_still_defined_in_the_code_vulture_reads() -> None:
    defined = {name for source in _sources() for name in _defined_names(source)}
    stale = sorted(_whitelisted() - defined)
    assert not stale, f"remove from vulture_whitelist.py (nothing defines them any more): {stale}"


def test_the_whitelist_lists_names() -> None:
    # A parse that found nothing would make the staleness check vacuous.
    assert {"lambda_handler", "exc_type", "id_of"} <= _whitelisted()
