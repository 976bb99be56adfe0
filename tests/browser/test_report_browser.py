"""The HTML report in a real browser: headless Chromium renders the sample report, and the
DOM it builds shows the key figures — and no element a hostile value could have smuggled in.

``make test`` installs Debian's ``chromium`` when it is missing; only when it still cannot be
found is this skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adm_ingest.report_html import render_report
from adm_local.browser import dump_dom, find_chromium
from adm_local.report_sample import sample_page

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium not found on PATH (`make test` installs it: apt-get install chromium)",
)


def rendered(tmp_path: Path, page: str) -> str:
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    return dump_dom(path)


def test_chromium_shows_the_status_counts_and_rejects_of_the_sample(tmp_path: Path) -> None:
    dom = rendered(tmp_path, sample_page())
    assert re.search(r'<span class="status" id="status"[^>]*>complete</span>', dom)
    for name, value in (("read", 16), ("accepted", 12), ("rejected", 4), ("failed", 0)):
        assert re.search(rf'data-figure="{name}"><b>{value}</b>', dom), name
    assert '<b id="balanced">balanced</b>' in dom
    assert "rejected: missing_consent" in dom
    assert re.search(r'<td class="n">8</td><td>rejected</td><td>missing_consent</td>', dom)
    assert "75.0 %" in dom  # the match rate
    # Where consent came from, beside the countries: 9 records without a signal, 4 their own.
    consent = dom[dom.index('<div id="consent-sources">') :]
    assert re.search(r'<div class="bar" title="none: 9"><span>none</span>', consent)
    assert re.search(r'<div class="bar" title="record: 4"><span>record</span>', consent)
    assert "<svg" in dom and "<rect" in dom  # the charts are there, as SVG
    # Requests over time: one stacked bar (the sample's four requests in one minute), its
    # accessible name, its axis and width, and the same as a table.
    chart = dom[dom.index('id="requests-over-time"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'aria-labelledby="requests-over-time-title requests-over-time-desc"' in chart
    assert "Requests by final status over time</title>" in chart
    assert re.findall(r"<g><title>([^<]*)</title>", chart) == [
        "2026-12-01 14:12 UTC, 1 minute: 200 4"
    ]
    assert ">14:12</text>" in chart and "each bar: 1 minute" in chart
    assert re.search(r'id="requests-over-time-table".*<td class="n">4</td>', dom, re.S)


def test_chromium_builds_no_element_from_a_hostile_value(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    report = {
        "status": "complete",
        "file": {"key": hostile},
        "records_read": 1,
        "rejected": 1,
        "rejected_by_reason": {hostile: 1},
        "mapping": {"columns": [{"column": hostile, "field": "email"}]},
        "warnings": [{"code": "x", "message": hostile}],
        "requests": {"final_by_status": {hostile: 1}},
        "requests_over_time": [{"minute": "2026-12-01T14:12Z", "requests": {hostile: 1}}],
    }
    dom = rendered(tmp_path, render_report(report, [(2, "rejected", hostile)]))
    assert "<img" not in dom and "<script" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text
    assert 'id="requests-over-time"' in dom  # the chart of that status too, as text
