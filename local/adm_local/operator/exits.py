"""Exit codes of ``adm-ingest`` (the README's table) and the one-line error every command
turns a user's mistake into."""

from __future__ import annotations

OK = 0
FILE_ERROR = 1
"""The file (or the thing asked about) has a problem: not found, failed, refused."""
USAGE = 2
"""The command line is wrong (argparse's own code)."""
REJECTS = 3
"""The report was printed and its reject share is above ``--fail-on-rejects PCT``."""


class CliError(Exception):
    """A user error: printed as one line (``adm-ingest: error: …``), exit ``code``."""

    def __init__(self, message: str, code: int = FILE_ERROR) -> None:
        super().__init__(message)
        self.code = code
