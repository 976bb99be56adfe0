"""Finalization: when a file's last chunk is accounted for, write its report exactly once."""

from __future__ import annotations

import logging
from typing import Any

from adm_ingest.ledger import Ledger
from adm_ingest.report import ReportWriter

logger = logging.getLogger(__name__)


class Finalizer:
    """Writes a file's report when the ledger says it is complete (whoever gets there first)."""

    def __init__(self, ledger: Ledger, writer: ReportWriter) -> None:
        self.ledger = ledger
        self.writer = writer

    def finalize_if_complete(self, file_id: str) -> dict[str, Any] | None:
        """The report, if this call finalized the file; None if it isn't complete yet or
        another invocation already finalized it."""
        file = self.ledger.try_finalize(file_id)
        if file is None:
            return None
        report = self.writer.write(file_id, file)
        self.ledger.mark_reported(file_id, report["status"])
        logger.info(
            "file report written",
            extra={
                "file_id": file_id,
                "status": report["status"],
                "records_read": report["records_read"],
                "accepted": report["accepted"],
                "rejected": report["rejected"],
                "failed": report["failed"],
            },
        )
        return report
