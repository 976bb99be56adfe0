"""What a file brought is printed as itself: control sequences in a column name are shown as
escapes in the terminal summaries, never obeyed."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from adm_local.operator.report import summary
from adm_local.terminal import printable


def test_escape_sequences_carriage_returns_and_bidi_overrides_are_shown_not_obeyed() -> None:
    assert printable("\x1b[2JE-Mail") == "\\x1b[2JE-Mail"
    assert printable("Email\rPhone") == "Email\\x0dPhone"
    assert printable("\u202eliame") == "\\u202eliame"
    assert printable("Vorname\tNachname\nE-Mail ✓ Straße") == "Vorname\tNachname\nE-Mail ✓ Straße"


@given(st.text())
def test_what_is_printed_holds_nothing_a_terminal_would_obey(text: str) -> None:
    shown = printable(text)
    assert all(
        char in "\n\t" or char.isprintable() or unicodedata.category(char) == "Zs" for char in shown
    )


@given(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))))
def test_text_a_terminal_shows_as_it_is_is_unchanged(text: str) -> None:
    assert printable(text) == text


def test_a_report_summary_shows_a_hostile_column_name_as_escapes() -> None:
    report = {
        "file": {"key": "audiences/x/f.csv"},
        "status": "complete",
        "warnings": [{"code": "unknown_column", "message": "column '\x1b[31mE-Mail' is not used"}],
    }
    text = summary(report)
    assert "\x1b" not in text and "\\x1b[31mE-Mail" in text
