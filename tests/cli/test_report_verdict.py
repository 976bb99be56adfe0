"""``report`` and ``local run`` exit non-zero with one ``adm-ingest: …`` line on stderr saying
why, as ``dry-run`` does (the README: "a non-zero exit comes with one line saying why")."""

from __future__ import annotations

from typing import Any

import pytest

from adm_local.operator.report import finish


def report(**overrides: Any) -> dict[str, Any]:
    return {"status": "complete", "records_read": 4, "accepted": 3, "rejected": 1, **overrides}


@pytest.mark.parametrize(
    ("document", "threshold", "code", "line"),
    [
        (report(), 20.0, 3, "adm-ingest: 25.0 % of the records read were rejected, above "
         "--fail-on-rejects 20 %"),
        (report(status="error", records_read=0, accepted=0, rejected=0), None, 1,
         "adm-ingest: the file failed (status error)"),
        (report(), 25.0, 0, None),
        (report(), None, 0, None),
    ],
)  # fmt: skip
def test_a_non_zero_exit_says_why_on_stderr(
    capsys: pytest.CaptureFixture[str],
    document: dict[str, Any],
    threshold: float | None,
    code: int,
    line: str | None,
) -> None:
    assert finish(document, threshold) == code

    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays the report's (--json pipes cleanly)
    assert captured.err.splitlines() == ([line] if line else [])


def test_the_summary_lists_the_reports_warnings() -> None:
    """``report`` and ``local run`` print what to fix, as the page and the demo do."""
    from adm_local.operator.report import summary

    unknown = "1 column not recognised, so not sent: Lifecycle Stage; map them …"
    shown = summary(report(warnings=[{"code": "unknown_columns", "message": unknown}]))

    assert shown.splitlines()[-1] == f"warning: {unknown}"
    assert "warning" not in summary(report())
