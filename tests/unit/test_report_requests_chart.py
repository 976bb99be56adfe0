"""The page's chart of requests by final status over time (``requests_over_time``): stacked SVG
bars in buckets of 1, 5, 15… minutes (never more than 60), coloured by status class, with a
title, a sentence and a table saying the same — and nothing in it that is not escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from adm_ingest.report_html import render_report
from adm_ingest.request_times import format_minute, parse_minute

SAMPLE = Path(__file__).parents[1] / "fixtures" / "reports" / "crm-export.report.json"
START = parse_minute("2026-12-01T14:12Z") or 0
GREEN, GREEN_2, AMBER, RED, PURPLE, PURPLE_2 = (
    "#2e7d32", "#66bb6a", "#e65100", "#c62828", "#6a1b9a", "#ab47bc",
)  # fmt: skip


def with_series(points: list[tuple[int, dict[str, int]]], **extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(SAMPLE.read_text())
    report["requests_over_time"] = [
        {"minute": format_minute(START + offset), "requests": counts} for offset, counts in points
    ]
    totals: dict[str, int] = {}
    for _, counts in points:
        for status, n in counts.items():
            totals[status] = totals.get(status, 0) + n
    report["requests"]["final_by_status"] = extra.get("final", totals)
    report["requests_sent"] = sum(report["requests"]["final_by_status"].values())
    return report


def chart(page: str) -> str:
    start = page.index('id="requests-over-time"')
    return page[start : page.index("</details>", start)]


def bar_titles(page: str) -> list[str]:
    return re.findall(r"<g><title>([^<]*)</title>", chart(page))


def table_rows(page: str) -> list[list[str]]:
    table = page[page.index('id="requests-over-time-table"') :]
    table = table[: table.index("</table>")]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]


def test_the_samples_one_minute_is_one_bar_labelled_with_its_time_and_width() -> None:
    page = render_report(json.loads(SAMPLE.read_text()))
    part = chart(page)
    assert bar_titles(page) == ["2026-12-01 14:12 UTC, 1 minute: 200 4"]
    assert ">14:12</text>" in part and "each bar: 1 minute" in part
    assert 'role="img"' in part and 'aria-labelledby="requests-over-time-title' in part
    assert '<title id="requests-over-time-title">Requests by final status over time' in part
    summary = (
        "4 requests answered from 2026-12-01 14:12 – 2026-12-01 14:13 UTC, in bars of 1 minute; "
        "by status: 200 4; the busiest bar, from 2026-12-01 14:12, has 4"
    )
    assert f'<desc id="requests-over-time-desc">{summary}</desc>' in part
    assert f'id="requests-over-time-summary">{summary}.</p>' in page
    assert table_rows(page) == [["2026-12-01 14:12", "4", "4"]]
    assert "no recorded time" not in page
    # The bar stands in the plot's full height (it is the tallest), in the 2xx green.
    assert re.search(
        rf'<rect x="[\d.]+" y="16.0" width="[\d.]+" height="196.0" fill="{GREEN}"/>', part
    )


def test_ten_hours_are_forty_one_bars_of_15_minutes_with_every_request() -> None:
    points = [(m, {"200": 30} | ({"429": 2} if m % 50 == 0 else {})) for m in range(600)]
    page = render_report(with_series(points))
    titles = bar_titles(page)
    assert len(titles) == 41  # 14:00 … 00:00 the next day, 15 minutes each
    assert titles[0] == "2026-12-01 14:00 UTC, 15 minutes: 200 90, 429 2"  # 14:12 … 14:14
    assert titles[-1] == "2026-12-02 00:00 UTC, 15 minutes: 200 360"  # … 00:11
    assert "each bar: 15 minutes" in page and "in bars of 15 minutes" in page
    assert ">12-01 14:00</text>" in page  # the axis crosses midnight: dates on its labels
    rows = table_rows(page)
    assert sum(int(row[-1]) for row in rows) == 600 * 30 + 12 * 2
    assert sum(int(row[1]) for row in rows) == 600 * 30  # the 200 column
    assert len(re.findall(r"<text [^>]*text-anchor=\"middle\">", chart(page))) == 6  # ticks


def test_a_long_file_never_has_more_than_60_bars() -> None:
    points = [(m, {"200": 1}) for m in range(0, 3 * 24 * 60, 7)]  # three days
    page = render_report(with_series(points))
    assert len(bar_titles(page)) <= 60 and "each bar: 3 hours" in page
    assert sum(int(row[-1]) for row in table_rows(page)) == len(points)


def test_statuses_take_their_class_colour_and_a_shade_apart_within_it() -> None:
    points = [(0, {"200": 5, "207": 1, "429": 2, "503": 1, "400": 1, "error": 1})]
    page = render_report(with_series(points))
    part = chart(page)
    fills = re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"/>', part)
    # Stacked from the bottom in the report's order: 200 207 400 429 503 error.
    assert fills == [GREEN, GREEN_2, PURPLE, AMBER, RED, PURPLE_2]
    legend = page[page.index("</div>", page.index('id="requests-over-time"')) :]
    assert f'<i style="background:{AMBER}"></i>429 2' in legend
    # The bars of the final answers use the same class colours.
    assert re.search(rf'<span>429</span>.*?fill="{AMBER}"', page[page.index('id="requests"') :])


def test_requests_counted_without_a_time_are_said() -> None:
    page = render_report(with_series([(0, {"200": 4})], final={"200": 10}))
    assert "6 more requests have no recorded time" in page


def test_no_series_no_chart() -> None:
    report: dict[str, Any] = json.loads(SAMPLE.read_text())
    for absent in (None, [], "x", [{"minute": "soon", "requests": {"200": 1}}]):
        report["requests_over_time"] = absent
        page = render_report(report)
        assert 'id="requests-over-time"' not in page and "Final answer by status" in page


def test_a_hostile_status_is_text_in_the_chart() -> None:
    hostile = '<script>alert(1)</script>"><svg onload=alert(1)>'
    page = render_report(with_series([(0, {hostile: 3})]))
    part = chart(page)
    assert "<script" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;svg onload=alert(1)&gt; 3" in part


def test_one_request_is_one_request_in_the_summary() -> None:
    report = json.loads(SAMPLE.read_text())
    report["requests_by_status"] = {"207": 1}
    report["requests_over_time"] = [{"minute": "2026-12-01T14:12Z", "requests": {"207": 1}}]
    summary = chart(render_report(report))
    assert "1 request answered from" in summary and "1 requests" not in summary
