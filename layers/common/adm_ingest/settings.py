"""Runtime settings, read once from the environment (set by template.yaml or the local stack).

Endpoints are settings so the same code runs against the ADM sandbox or the real API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from adm_ingest.readers import MAX_JSON_DEPTH

DEFAULT_MIN_AUDIENCE_SIZE = 2000
"""Amazon needs at least 2,000 matched active users before an audience can be used for
targeting (as Salesforce's Amazon Ads connector documents it; Amazon's own ADM pages state no
number). Below it an upload is accepted but the audience cannot be activated yet."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _flag(name: str, default: bool) -> bool:
    value = _env(name).strip().lower()
    if not value:
        return default
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {value!r}")


def _fraction(name: str, default: str) -> float:
    text = _env(name) or default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(f"{name} must be a number from 0 to 1 (0.05 = 5 %), got {text!r}")
    return value


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
    finalize_lease_seconds: int = field(
        default_factory=lambda: int(_env("FINALIZE_LEASE_SECONDS", "900"))
    )
    """How long a file's finalization claim is exclusive before the next delivery or the
    sweeper may take it over (≥ the longest function timeout: the splitter's 900 s)."""
    adm_max_attempts: int = field(default_factory=lambda: int(_env("ADM_MAX_ATTEMPTS", "5")))
    """Attempts per ADM request, the first included, before the chunk is left to SQS."""
    adm_retry_base_delay_ms: int = field(
        default_factory=lambda: int(_env("ADM_RETRY_BASE_DELAY_MS", "500"))
    )
    """Backoff before the first retry (doubling, full jitter, ≤ 20 s) when ADM sends no
    ``Retry-After``."""
    adm_call_budget_ms: int = field(
        default_factory=lambda: int(_env("ADM_CALL_BUDGET_MS", "120000"))
    )
    """Time one ADM request may take with all its retries (the Lambda's deadline also bounds it)."""
    max_json_depth: int = field(
        default_factory=lambda: int(_env("MAX_JSON_DEPTH", str(MAX_JSON_DEPTH)))
    )
    """Deepest nesting of a JSON record (a line, an array element); deeper ones are rejected
    ``too_deep`` without being built (see :mod:`adm_ingest.readers`)."""
    rate_limit: bool = field(default_factory=lambda: _flag("ADM_RATE_LIMIT", True))
    """Pace the workers' ADM requests at one adaptive per-account rate (adm/ratelimit.py)."""
    max_rps: float = field(default_factory=lambda: float(_env("ADM_MAX_RPS", "10")))
    """ADM requests per second per account the workers start at and never exceed together."""
    min_rps: float = field(default_factory=lambda: float(_env("ADM_MIN_RPS", "0.5")))
    """The floor the shared rate never drops below, however often ADM answers 429."""
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

    poller_state_machine_arn: str = field(default_factory=lambda: _env("POLLER_STATE_MACHINE_ARN"))
    """The poller started for a file whose destination's commit is pending."""
    poll_interval_seconds: int = field(
        default_factory=lambda: int(_env("POLL_INTERVAL_SECONDS", "120"))
    )
    """Seconds between two polls of a committed file's remote state (bounded to 1..3600)."""
    poll_max_seconds: int = field(
        default_factory=lambda: int(_env("POLL_MAX_SECONDS", str(6 * 3600)))
    )
    """Seconds after the commit after which the poller records ``timed_out``."""
    match_rate_delay_seconds: int = field(
        default_factory=lambda: int(_env("MATCH_RATE_DELAY_SECONDS", "0"))
    )
    """Seconds after an audience upload settles before its dataset's metrics (the match rate)
    are read, through the poller; 0 (the default when unset) reads none and the report is
    final at once. The template sets 900: Amazon matches uploaded records asynchronously."""
    min_audience_size: int = field(
        default_factory=lambda: int(_env("MIN_AUDIENCE_SIZE", str(DEFAULT_MIN_AUDIENCE_SIZE)))
    )
    """A report warns when fewer records than this matched (see
    :data:`DEFAULT_MIN_AUDIENCE_SIZE`)."""
    aep_secret_id: str = field(default_factory=lambda: _env("AEP_SECRET_ID"))
    """The Adobe Experience Platform credentials (only AEP files read it)."""
    aep_part_bytes: int = field(
        default_factory=lambda: int(_env("AEP_PART_BYTES", str(64 * 1024 * 1024)))
    )
    """Source bytes per chunk of an AEP file: each chunk becomes one part file of the batch."""
    aep_large_file_bytes: int = field(
        default_factory=lambda: int(_env("AEP_LARGE_FILE_BYTES", str(256 * 1000 * 1000)))
    )
    """A part file larger than this is sent with the large-file upload (AEP's single PUT
    takes at most 256 MB)."""
    aep_parts_per_batch: int = field(
        default_factory=lambda: int(_env("AEP_PARTS_PER_BATCH", "400"))
    )
    """Part files per AEP batch (AEP: at most 1,500 files and 100 GB per batch; 400 parts of
    up to 256 MB stay under both). A file with more parts spans several batches."""

    file_reports_topic_arn: str = field(default_factory=lambda: _env("FILE_REPORTS_TOPIC_ARN"))
    """The SNS topic that gets one message per finished file (empty: no notifications)."""
    reject_alert_threshold: float = field(
        default_factory=lambda: _fraction("REJECT_ALERT_THRESHOLD", "0.05")
    )
    """The reject share (rejected ÷ read) from which a file's notification is a warning."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
