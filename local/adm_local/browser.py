"""Headless Chromium for the HTML report: its browser test and its README screenshot.

Debian's ``chromium`` package (``make test`` installs it when missing). Each run gets a
profile directory of its own, so parallel test workers never share Chromium's profile lock.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
TIMEOUT_SECONDS = 90
"""One page's render, on a loaded 2-core runner."""


def find_chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def _run(page: Path, *flags: str) -> str:
    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [
                executable,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--hide-scrollbars",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *flags,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
        )
    return done.stdout


def dump_dom(page: Path) -> str:
    """The DOM Chromium builds from ``page`` (a local HTML file), serialised."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, png: Path, *, width: int, height: int) -> None:
    """A PNG of ``page`` as a ``width`` × ``height`` window shows it."""
    _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
