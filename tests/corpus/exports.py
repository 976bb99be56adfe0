"""The export corpus (``tests/fixtures/exports/``): real-looking vendor exports, each with an
``<file>.expected.json`` sidecar that says what must happen to every physical line.

Shared by the dry-run and the pipeline tests: loading sidecars, reading a fixture the way a
spreadsheet would (to know its cells and where each record starts, independently of the product's
reader), and checking one body item against one line's expectation.

Sidecar keys: ``kind`` (audience / audience-delete / conversions / deletions), ``country`` (the
default country the file is processed with), ``mapping`` (a mapping config, or null for "no
mapping"), ``encoding``, ``delimiter``, optional ``bom`` / ``compression``, ``warnings`` (report
warning codes that must be present), ``columns`` (column → canonical field it must feed),
``not_sent`` (columns that must feed nothing) and ``lines``: physical line number →
``{"outcome": "accepted", "country", "consent", ...}``, ``{"outcome": "rejected", "reason"}``
or ``{"skipped": "report_footer"}``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adm_ingest.normalize import hash_pii
from adm_ingest.records import ADM_PII_KEYS, MATCH_KEY_TYPES

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
FIXED_NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
"""The corpus's "now": every conversion date is written relative to it (7-day window)."""

KINDS: dict[str, str] = {
    "audience": "audience_members",
    "audience-delete": "audience_removals",
    "conversions": "conversions",
    "deletions": "identity_deletions",
}
ITEMS_KEY: dict[str, str] = {
    "audience": "members",
    "audience-delete": "members",
    "conversions": "eventData",
    "deletions": "targetIdentities",
}


@dataclass(frozen=True)
class Export:
    """One corpus file and its sidecar."""

    path: Path
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        return KINDS[self.spec["kind"]]

    @property
    def lines(self) -> dict[int, dict[str, Any]]:
        return {int(line): expected for line, expected in self.spec["lines"].items()}

    def with_outcome(self, outcome: str) -> dict[int, dict[str, Any]]:
        return {n: e for n, e in self.lines.items() if e.get("outcome") == outcome}

    @property
    def skipped(self) -> dict[int, str]:
        return {n: e["skipped"] for n, e in self.lines.items() if "skipped" in e}

    def text(self) -> str:
        data = self.path.read_bytes()
        if self.spec.get("compression") == "gzip":
            data = gzip.decompress(data)
        encoding = self.spec["encoding"]
        return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)

    def table(self) -> tuple[list[str], list[tuple[int, list[str]]]]:
        """The header and every record with the physical line it starts on, read with the
        stdlib csv module (a spreadsheet's view of the file, not the product's)."""
        reader = csv.reader(io.StringIO(self.text(), newline=""), delimiter=self.spec["delimiter"])
        header = next(reader)
        records: list[tuple[int, list[str]]] = []
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if row and any(cell.strip() for cell in row):
                records.append((start, row))
        return header, records


def corpus() -> list[Export]:
    exports = []
    for sidecar in sorted(EXPORTS.glob("*.expected.json")):
        path = sidecar.with_name(sidecar.name.removesuffix(".expected.json"))
        exports.append(Export(path, json.loads(sidecar.read_text(encoding="utf-8"))))
    return exports


_NOT_IDENTIFYING = re.compile(r"(?i)true|false|null|-?\d{1,4}(?:[.,]\d{1,2})?")
"""Cells a report may well contain by coincidence: JSON literals and small numbers (counts,
durations). Longer digit strings (phones, ids) stay in the sweep."""


def sensitive_cells(export: Export) -> set[str]:
    """Every cell value of the file (≥ 4 characters, not a column name, not a JSON literal or a
    small number): none of them may ever appear in a report or a rejects file."""
    header, records = export.table()
    names = set(header)
    return {
        value
        for _, row in records
        for cell in row
        if len(value := cell.strip()) >= 4
        and value not in names
        and not _NOT_IDENTIFYING.fullmatch(value)
    }


def leaked(cells: set[str], text: str, columns: list[str]) -> list[str]:
    """The cells found in ``text`` once column names (which reports may show) are removed."""
    for name in sorted(columns, key=len, reverse=True):
        text = text.replace(json.dumps(name)[1:-1], "").replace(name, "")
    return sorted(c for c in cells if c in text or json.dumps(c)[1:-1] in text)


def mapped_fields(report: dict[str, Any]) -> dict[str, str]:
    """Column → canonical field from a report's ``mapping`` section (the contract's
    ``MappingPlan.summary()`` form, ``columns: {name: {field, set, ...}}``, or the dry-run's
    earlier ``used: {name: "email (PII set 1)"}``)."""
    mapping = report.get("mapping") or {}
    columns = mapping.get("columns")
    if isinstance(columns, dict):
        return {name: str(info["field"]) for name, info in columns.items()}
    if isinstance(columns, list):
        return {str(info["column"]): str(info["field"]) for info in columns}
    used = mapping.get("used") or {}
    return {name: str(target).split(" (")[0] for name, target in used.items()}


def warning_codes(report: dict[str, Any]) -> set[str]:
    return {str(w["code"]) if isinstance(w, dict) else str(w) for w in report.get("warnings", [])}


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_item(
    export: Export,
    line: int,
    expected: dict[str, Any],
    item: dict[str, Any],
) -> list[str]:
    """What differs between a body item (member, event or target identity) and the line's
    expectation; empty when it matches."""
    kind = export.spec["kind"]
    problems: list[str] = []

    def differ(what: str, want: Any, got: Any) -> None:
        if want != got:
            problems.append(f"line {line}: {what} is {got!r}, expected {want!r}")

    country = expected.get("country")
    if kind in ("audience", "audience-delete"):
        consent = item.get("userConsent", {})
        differ("countryCode", country, consent.get("geo", {}).get("countryCode"))
        if expected.get("consent"):
            if not consent.get("consent"):
                problems.append(f"line {line}: no consent object, expected one")
        elif "consent" in consent:
            problems.append(f"line {line}: a consent object that the file does not give")
        if "consent_body" in expected:
            differ("consent", expected["consent_body"], consent.get("consent"))
        if "external_id" in expected:
            differ("externalUserId", expected["external_id"], item.get("externalUserId"))
        if "maid" in expected:
            identities = item.get("userIdentity", {}).get("externalIdentities", [])
            if {"maId": expected["maid"]} not in identities:
                problems.append(f"line {line}: maId missing from externalIdentities")
        sets = item.get("userIdentity", {}).get("hashedPiis") or [{}]
        keys = ADM_PII_KEYS
    elif kind == "conversions":
        differ("countryCode", country, item.get("countryCode"))
        if "value" in expected:
            differ("value", expected["value"], item.get("value"))
        if "currency" in expected:
            differ("currencyCode", expected["currency"], item.get("currencyCode"))
        if "timestamp" in expected:
            got = item.get("timestamp")
            if got is None or parse_instant(got) != parse_instant(expected["timestamp"]):
                problems.append(f"line {line}: timestamp {got!r}, expected {expected['timestamp']}")
        if "dedupe_id" in expected:
            differ("clientDedupeId", expected["dedupe_id"], item.get("clientDedupeId"))
        sets = [
            {key["type"]: key["values"][0]}
            for key in item.get("matchKeys", [])
            if key.get("values")
        ] or [{}]
        keys = MATCH_KEY_TYPES
    else:  # identity deletions
        if "external_id" in expected:
            differ("externalUserId", expected["external_id"], item.get("externalUserId"))
        sets = item.get("identity", {}).get("hashedPiis") or [{}]
        keys = ADM_PII_KEYS
    # An expected value may be in any PII set: a second phone column (``Phone`` beside
    # ``Mobile``) feeds set 2, and stays there when the record's mobile is empty.
    hashing_country = country or export.spec["country"]
    for field, clean in expected.get("pii", {}).items():
        want = hash_pii(field, clean, hashing_country)
        sent = [pii[keys[field]] for pii in sets if keys[field] in pii]
        if want not in sent:
            problems.append(
                f"line {line}: {keys[field]} (hash of {field}) is {sent or None}, expected {want!r}"
            )
    for field in expected.get("pii_absent", []):
        if any(keys[field] in pii for pii in sets):
            problems.append(f"line {line}: {keys[field]} is sent; the value is unusable")
    return problems
