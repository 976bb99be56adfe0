"""The HTML report (``reports/<key>.html``): what a person sees, and that nothing from a user's
file or an API can become markup in it.

The page is built from the report JSON, whose column names, reasons, warnings and remote facts
come from outside; every one of them is escaped, and the page itself is one file with inline
CSS and SVG only (no scripts, fonts, images or links to fetch).
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from adm_ingest.report_html import MAX_BARS, render_report

SAMPLE = Path(__file__).parents[1] / "fixtures" / "reports" / "crm-export.report.json"
SAMPLE_REJECTS = [
    (6, "rejected", "no_identifier"),
    (8, "rejected", "missing_consent"),
    (15, "rejected", "wrong_field_count"),
    (16, "rejected", "invalid_country"),
]
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HOSTILE = SCRIPT + BREAKOUT

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "section", "h1", "h2", "h3",
    "p", "span", "b", "i", "code", "div", "ul", "li", "table", "tr", "th", "td", "svg",
    "rect", "g", "line", "text", "desc", "details", "summary",
}  # fmt: skip


class Markup(HTMLParser):
    """Every tag and attribute a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Markup:
    markup = Markup()
    markup.feed(page)
    markup.close()
    return markup


def sample() -> dict[str, Any]:
    return dict(json.loads(SAMPLE.read_text()))


def hostile_report() -> dict[str, Any]:
    """The sample with a hostile string wherever a file or an API puts text in a report."""
    report = sample()
    report["status"] = HOSTILE
    report["error"] = HOSTILE
    report["file"]["key"] = f"audiences/x/{HOSTILE}.csv"
    report["target"] = {"name": HOSTILE, "id": HOSTILE}
    report["kind"] = HOSTILE
    report["rejected_by_reason"] = {f"adm_{HOSTILE}": 3}
    report["failed_by_reason"] = {HOSTILE: 1}
    report["identifier_coverage"] = {HOSTILE: {"valid": 1, "invalid": 0, "share_of_records": 1}}
    report["mapping"]["columns"][0]["column"] = SCRIPT
    report["mapping"]["columns"][1]["column"] = BREAKOUT
    report["mapping"]["ignored"] = [HOSTILE]
    report["mapping"]["unknown"] = [{"column": HOSTILE, "did_you_mean": [HOSTILE], "hint": SCRIPT}]
    report["mapping"]["not_sent"] = [{"column": HOSTILE, "why": HOSTILE}]
    report["mapping"]["missing"] = [HOSTILE]
    report["warnings"] = [{"code": HOSTILE, "message": f"the column {HOSTILE} is unknown"}]
    report["records_by_country"] = {HOSTILE: 2}
    report["country_sources"] = {HOSTILE: 2}
    report["consent_sources"] = {HOSTILE: 2}
    report["lines_skipped"] = {HOSTILE: 1}
    report["requests"]["final_by_status"] = {HOSTILE: 1}
    report["requests_over_time"] = [
        {"minute": "2026-12-01T14:12Z", "requests": {HOSTILE: 1}},
        {"minute": HOSTILE, "requests": {"200": 1}},  # no minute: left out
    ]
    report["ingress_ids"] = [HOSTILE]
    report["encoding"] = HOSTILE
    report["rejects_file"] = HOSTILE
    report["timings"]["finished_at"] = HOSTILE
    report["remote"] = {
        "status": HOSTILE,
        "succeeded": False,
        "facts": {HOSTILE: HOSTILE},
        "failed_by_reason": {HOSTILE: 1},
        "session": {"batches": HOSTILE},
        "committed_at": HOSTILE,
    }
    report["match_rate"] = {"matched": 5, "read_at": HOSTILE, "minimum_audience_size": HOSTILE}
    return report


def test_no_value_from_a_file_or_an_api_becomes_markup() -> None:
    page = render_report(hostile_report(), [(2, HOSTILE, HOSTILE)])
    markup = parsed(page)
    assert set(markup.tags) <= ALLOWED_TAGS  # no script, no img: only the page's own tags
    assert not [name for name, _ in markup.attributes if name.startswith("on")]
    assert "<script" not in page.lower() and "<img" not in page.lower()
    # The hostile text is shown, as text, in every place it was put.
    text = "".join(markup.text)
    assert text.count(HOSTILE) >= 20
    assert SCRIPT in text and BREAKOUT in text
    # In attributes too (a bar's tooltip), it stays inside its quoted value.
    assert any(value and BREAKOUT in value for name, value in markup.attributes if name == "title")


def test_the_page_fetches_nothing_and_runs_nothing() -> None:
    page = render_report(sample(), SAMPLE_REJECTS)
    markup = parsed(page)
    assert "script" not in markup.tags
    assert not re.search(r"https?:|@import|url\(|src=|href=|<link", page)
    contents = [value for name, value in markup.attributes if name == "content"]
    assert "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in contents
    assert '<meta name="viewport"' in page and "@media print" in page


def test_the_page_shows_the_status_the_balance_and_the_first_rejects() -> None:
    page = render_report(sample(), SAMPLE_REJECTS)
    text = " ".join(parsed(page).text)
    assert 'id="status"' in page and ">complete</span>" in page
    for name, value in (("read", 16), ("accepted", 12), ("rejected", 4), ("failed", 0)):
        assert re.search(rf'data-figure="{name}"><b>{value}</b>', page), name
    assert "balanced" in text and "NOT BALANCED" not in text
    # The balance bar: accepted and rejected segments in proportion (12 and 4 of 16).
    widths = re.findall(r'<rect x="[\d.]+" y="0" width="([\d.]+)" height="40"', page)
    assert [float(w) for w in widths] == [750.0, 250.0]
    # Rejects by reason, and the first rejected lines with their numbers.
    assert "rejected: missing_consent" in text
    assert "The first 4 of 4" in text
    rows = re.findall(r'<tr><td class="n">(\d+)</td><td>rejected</td><td>(\w+)</td></tr>', page)
    assert rows == [(str(line), reason) for line, _, reason in SAMPLE_REJECTS]


def test_the_page_shows_coverage_countries_mapping_warnings_requests_and_results() -> None:
    text = " ".join(parsed(render_report(sample())).text)
    assert "Identifier coverage" in text and "68.8 %" in text  # email: 11 of 16
    assert "Records by country" in text and "mapping_default" in text
    assert "Zip Code" in text and "postal" in text  # column → field
    assert "Notes" in text  # the ignored column
    assert "1 records name a country that is not an ISO 3166 country" in text
    assert "Every attempt by status" in text and "429" in text and "2.4 s" in text
    assert "729a8f94-4e0a-4b84-b8b6-8b529fbfc303" in text  # an ingress id
    assert "2026-12-01T14:12:10Z" in text  # the timeline


def consent_part(page: str) -> str:
    """The consent sources' part of the page's countries section."""
    countries = page[page.index('<section id="countries">') :]
    countries = countries[: countries.index("</section>")]
    return countries[countries.index('<div id="consent-sources">') :]


def test_the_page_shows_where_consent_came_from_beside_the_countries() -> None:
    consent = consent_part(render_report(sample()))
    # The sample's 13 records with resolved consent: 9 without a signal (US, JP, IN, CA), 4 with
    # their own GPP string (the EEA rows); the UK row without one is among the rejects.
    bars = re.findall(r'<div class="bar" title="(\w+): (\d+)">', consent)
    assert bars == [("none", "9"), ("record", "4")]
    text = " ".join(parsed(consent).text)
    assert "Where each record's consent came from" in text
    assert "rejected for missing or invalid consent are not counted here" in text
    # Largest first, like every other chart; nothing when no consent was resolved.
    report = sample()
    report["consent_sources"] = {"record": 1, "mapping_default": 5, "none": 2}
    bars = re.findall(
        r'<div class="bar" title="(\w+): (\d+)">', consent_part(render_report(report))
    )
    assert bars == [("mapping_default", "5"), ("none", "2"), ("record", "1")]
    del report["consent_sources"]
    assert 'id="consent-sources"' not in render_report(report)


def test_the_match_rate_is_shown_when_known_with_its_warning() -> None:
    page = render_report(sample())
    assert 'id="match-rate"' in page and "75.0 %" in page
    assert "below the minimum audience size (1000)" in page
    enough = sample()
    enough["match_rate"] |= {"matched": 5000, "below_minimum": False}
    assert "below the minimum" not in render_report(enough)
    unknown = sample()
    del unknown["match_rate"]
    assert 'id="match-rate"' not in render_report(unknown)


def test_an_aep_file_shows_its_batch_status_and_facts() -> None:
    report = sample()
    report["remote"] = {
        "status": "success",
        "succeeded": True,
        "facts": {"batches": "01ABC", "input_records": 3, "output_records": 3},
        "committed_at": "2026-12-01T14:12:12Z",
    }
    page = render_report(report)
    assert '<b id="remote-status">success</b> (succeeded)' in page
    assert "<th>output_records</th><td>3</td>" in page
    assert "committed" in " ".join(parsed(page).text)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"status": "error", "error": "unknown audience 'x'", "file": {"key": "a/b.csv"}},
        {"records_read": "many", "mapping": [], "warnings": {}, "identifier_coverage": [1]},
    ],
    ids=["empty", "error-report", "wrong-types"],
)
def test_a_sparse_or_odd_report_still_renders(broken: dict[str, Any]) -> None:
    page = render_report(broken)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert set(parsed(page).tags) <= ALLOWED_TAGS


def test_a_long_tail_of_reasons_or_countries_becomes_one_others_bar() -> None:
    report = sample()
    report["records_by_country"] = {f"C{i:02d}": 40 - i for i in range(40)}
    page = render_report(report)
    countries = page[page.index('id="countries"') :]
    countries = countries[: countries.index("<h3>Where each record")]
    assert countries.count('class="bar"') == MAX_BARS
    assert f"{40 - MAX_BARS + 1} others" in countries


def test_the_page_is_deterministic() -> None:
    """A retried write compares digests: the same report renders the same bytes."""
    report = sample()
    assert render_report(report, SAMPLE_REJECTS) == render_report(
        copy.deepcopy(report), list(SAMPLE_REJECTS)
    )


def test_failures_are_named_in_the_heading_and_the_first_rows_read_by_line() -> None:
    """The rejects file lists a chunk's rejected rows before its failed ones; the page shows
    them by line number, under a heading that says failures are there too."""
    report = sample()
    report["failed"], report["failed_by_reason"] = 2, {"not_delivered": 2}
    rows = [(9, "rejected", "no_identifier"), (2, "failed", "not_delivered")]
    rows.append((5, "failed", "not_delivered"))
    page = render_report(report, rows)
    assert "<h2>Rejects and failures by reason</h2>" in page
    assert re.findall(r'<tr><td class="n">(\d+)</td>', page) == ["2", "5", "9"]
    assert "<h2>Rejects by reason</h2>" in render_report(sample(), SAMPLE_REJECTS)


def test_a_file_that_reached_no_target_shows_no_arrow_to_a_blank() -> None:
    report = sample()
    report["kind"], report["target"] = "unknown", {"name": "", "id": ""}
    assert '<span class="muted">unknown</span>' in render_report(report)
    assert "audience_members → crm_customers_us" in " ".join(parsed(render_report(sample())).text)


def test_where_a_country_came_from_is_explained() -> None:
    """``mapping_default`` also counts records naming the default country themselves: without
    the note the page would say their country was not in the file."""
    text = " ".join(parsed(render_report(sample())).text)
    assert "mapping_default: the mapping's defaults.country (taken, or named by the record" in text
