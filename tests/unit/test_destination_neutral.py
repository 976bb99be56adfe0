"""The pipeline never branches on a destination: outside the destinations' own modules (and
their setup steps, client and sandbox), no code names a destination, its route prefix or its
registry namespace. Docstrings may: they explain; code may not: it would be a second home.

This is the check behind the README's "adding a destination changes nothing in pipeline/,
processing, the ledger or the report".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from adm_ingest.destinations import DESTINATIONS

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "common" / "adm_ingest"
NEUTRAL = sorted(
    path
    for path in [*LIBRARY.rglob("*.py"), *(ROOT / "local" / "adm_local").glob("*.py")]
    if not {"destinations", "setup", "adm", "aep", "sandbox", "aep_sandbox"}
    & set(path.relative_to(ROOT).parts)
    # The demo stages sample files under their keys and the setup runner drives setup steps:
    # placing a file is not branching on it.
    and path.name not in {"demo.py", "setup_runner.py", "resources.py"}
)
"""Modules that must not know one destination from another."""

NAMES = {cls.name for cls in DESTINATIONS}
CLASSES = {cls.__name__ for cls in DESTINATIONS}
PREFIX = re.compile(
    "|".join(re.escape(cls.route.top) for cls in DESTINATIONS) + r"|/delete\b|^delete$"
)
NAMESPACE_ATTRIBUTES = {"AUDIENCE", "CONVERSION_DEFINITION"}


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (of a module, class or function) or
    attribute docstrings (a bare string statement after an assignment)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def destination_facts(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if node.value in NAMES or PREFIX.search(node.value):
                yield f"{where}: {node.value!r}"
        elif isinstance(node, ast.Name) and node.id in CLASSES:
            yield f"{where}: {node.id}"
        elif isinstance(node, ast.Attribute) and node.attr in NAMESPACE_ATTRIBUTES | CLASSES:
            yield f"{where}: .{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "adm_ingest.registry":
            named = {alias.name for alias in node.names} & NAMESPACE_ATTRIBUTES
            if named:
                yield f"{where}: imports {sorted(named)}"


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_neutral_module_names_a_destination(path: Path) -> None:
    assert list(destination_facts(path)) == []


def test_the_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    module = tmp_path / "branching.py"
    module.write_text(
        '"""Mentions audiences/ and audience_members freely."""\n'
        "from adm_ingest.registry import AUDIENCE\n"
        "def kind_of(key):\n"
        '    """audiences/<name>/delete/ files are removals."""\n'
        '    if key.startswith("audiences/"):\n'
        '        return "audience_members"\n'
        '    return key.endswith("/delete")\n',
        encoding="utf-8",
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = list(destination_facts(module))
    finally:
        ROOT = saved
    assert [fact.split(": ", 1)[1] for fact in found] == [
        "imports ['AUDIENCE']",
        "'audiences/'",
        "'audience_members'",
        "'/delete'",
    ]
