"""``make report-sample``: render the sample report and screenshot it into docs/ (README).

The sample is a real ``make demo`` report (``tests/fixtures/reports/crm-export.report.json``,
with a retry and a match rate added) and its rejects file; the browser test renders the same.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from adm_ingest.report_html import Reject, render_report
from adm_local.browser import screenshot
from adm_local.functions import REPO_ROOT

SAMPLES = REPO_ROOT / "tests" / "fixtures" / "reports"
SAMPLE_REPORT = SAMPLES / "crm-export.report.json"
SAMPLE_REJECTS = SAMPLES / "crm-export.rejects.csv"
SCREENSHOT = REPO_ROOT / "docs" / "report-sample.png"
"""The first screen: status, balance, match rate, rejects (the README shows it)."""
FULL_PAGE = REPO_ROOT / "docs" / "report-sample-full.png"
"""The whole page down to the file's facts (the README links it). Headless Chromium has no
full-page flag, so the window is as tall as the sample page."""
FULL_PAGE_HEIGHT = 4300


def sample_page() -> str:
    """The sample report's HTML page."""
    report = json.loads(SAMPLE_REPORT.read_text(encoding="utf-8"))
    with SAMPLE_REJECTS.open(encoding="utf-8", newline="") as rows:
        reader = csv.reader(rows)
        next(reader)  # the header
        rejects: list[Reject] = [(int(line), outcome, reason) for line, outcome, reason in reader]
    return render_report(report, rejects)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        page = Path(directory) / "report.html"
        page.write_text(sample_page(), encoding="utf-8")
        screenshot(page, SCREENSHOT, width=900, height=1700)
        screenshot(page, FULL_PAGE, width=900, height=FULL_PAGE_HEIGHT)
    for png in (SCREENSHOT, FULL_PAGE):
        print(png.relative_to(REPO_ROOT))


if __name__ == "__main__":
    main()
