"""Runtime settings, read once from the environment (set by template.yaml or the local stack).

Endpoints are settings so the same code runs against the ADM sandbox or the real API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True, slots=True)
class Settings:
    """Names of the resources a function talks to, and pipeline tunables."""

    bucket: str = field(default_factory=lambda: _env("BUCKET"))
    chunk_queue_url: str = field(default_factory=lambda: _env("CHUNK_QUEUE_URL"))
    split_queue_url: str = field(default_factory=lambda: _env("SPLIT_QUEUE_URL"))
    """Where the splitter queues its own continuation messages for very large files."""
    ledger_table: str = field(default_factory=lambda: _env("LEDGER_TABLE"))
    idempotency_table: str = field(default_factory=lambda: _env("IDEMPOTENCY_TABLE"))
    registry_table: str = field(default_factory=lambda: _env("REGISTRY_TABLE"))
    secret_id: str = field(default_factory=lambda: _env("ADM_SECRET_ID"))
    records_per_chunk: int = field(default_factory=lambda: int(_env("RECORDS_PER_CHUNK", "5000")))
    """Records per SQS chunk; one chunk is at most one members request (≤ 5000)."""
    default_country: str = field(default_factory=lambda: _env("DEFAULT_COUNTRY", "US"))
    time_margin_ms: int = field(default_factory=lambda: int(_env("TIME_MARGIN_MS", "20000")))
    """How long before the Lambda deadline a function stops starting new work."""
    max_decompressed_bytes: int = field(
        default_factory=lambda: int(_env("MAX_DECOMPRESSED_BYTES", str(50 << 30)))
    )
    """The most data one file may hold (decompressed, for gzip); default 50 GiB."""
    max_records_per_file: int = field(
        default_factory=lambda: int(_env("MAX_RECORDS_PER_FILE", "100000000"))
    )
    """The most records one file may hold; default 100 M."""
    max_compression_ratio: float = field(
        default_factory=lambda: float(_env("MAX_COMPRESSION_RATIO", "1000"))
    )
    """Decompressed ÷ compressed size over which a gzip file is refused as a likely bomb
    (checked once 64 MiB are decompressed); default 1000."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
