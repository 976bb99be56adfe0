"""Every ``# type: ignore`` in the library names its error code and says why, on its line.

mypy checks the code part (``enable_error_code = ["ignore-without-code"]``) and flags an
ignore that no longer silences anything (``warn_unused_ignores``, part of ``strict``); the
reason is for the reader, and only a test can ask for it.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "layers" / "common" / "adm_ingest"

_IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
_REASON = re.compile(r"^\s*#\s*\S")


def _unexplained(source: str) -> list[tuple[int, str]]:
    """``(line, comment)`` of each ignore without ``[code]`` or without ``# reason`` after it."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = _IGNORE.search(token.string)
        if match and not (match["codes"] and _REASON.match(match["rest"])):
            found.append((token.start[0], token.string))
    return found


def test_a_reason_after_the_code_is_what_counts() -> None:
    assert _unexplained("x = f()  # type: ignore[arg-type]  # orjson's stubs say str\n") == []
    assert _unexplained("x = f()  # type: ignore[arg-type]\n") == [(1, "# type: ignore[arg-type]")]
    assert _unexplained("x = f()  # type: ignore  # no code\n") == [
        (1, "# type: ignore  # no code")
    ]
    assert _unexplained('s = "# type: ignore"\n') == []  # a string, not a comment


def test_every_type_ignore_in_the_library_has_a_code_and_a_reason() -> None:
    unexplained = [
        f"{path.relative_to(LIBRARY)}:{line}: {comment}"
        for path in sorted(LIBRARY.rglob("*.py"))
        for line, comment in _unexplained(path.read_text(encoding="utf-8"))
    ]
    assert not unexplained, "say why on the same line:\n" + "\n".join(unexplained)
