"""``adm-ingest aep-status <batch id>``: one AEP batch as a person reads it.

Status, dataset, ``externalId`` (the file it was made for), AEP's metrics, the batch's error
codes and — when rows were refused or the batch failed — the row errors of its diagnostics
counted by code and failing field. Codes, counts and field names only: Adobe's messages can
echo a row's value, so none is shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adm_ingest.aep.client import AepClient
from adm_ingest.aep.models import Batch

_FAILED = frozenset({"failed", "failure"})


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """A batch and, when it refused rows, its row errors by (code, field path)."""

    batch: Batch
    row_errors: Counter[tuple[str, str]] = field(default_factory=Counter)

    def rows(self) -> list[tuple[str, str]]:
        """``(label, value)`` lines, in reading order."""
        batch = self.batch
        metrics = batch.metrics
        rows = [("batch", batch.id), ("status", batch.status or "?")]
        if batch.dataset_id:
            rows.append(("dataset", batch.dataset_id))
        if batch.external_id:
            rows.append(("external id", batch.external_id))
        for label, millis in (("created", batch.created), ("updated", batch.updated)):
            if millis is not None:
                rows.append((label, _iso(millis)))
        for label, value in (
            ("input records", metrics.input_record_count),
            ("output records", metrics.output_record_count),
            ("failed records", metrics.failed_record_count),
            ("input files", metrics.input_file_count),
            ("input bytes", metrics.input_byte_size),
        ):
            if value is not None:
                rows.append((label, str(value)))
        for error in batch.errors:
            count = f" ({error.record_count} records)" if error.record_count is not None else ""
            rows.append(("error", f"{error.code}{count}"))
        for (code, path), refused in sorted(self.row_errors.items()):
            rows.append(("row errors", f"{code}{' at ' + path if path else ''}: {refused}"))
        return rows

    def format(self) -> str:
        return "\n".join(f"{label:<16} {value}" for label, value in self.rows())


def batch_status(client: AepClient, batch_id: str) -> BatchStatus:
    """The batch, and its row errors when it failed or refused some rows."""
    batch = client.get_batch(batch_id)
    errors: Counter[tuple[str, str]] = Counter()
    if batch.status in _FAILED or (batch.metrics.failed_record_count or 0) > 0:
        for error in client.row_errors(batch_id):
            errors[(error.code, error.path or "")] += 1
    return BatchStatus(batch, errors)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")
