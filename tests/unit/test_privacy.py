"""No raw PII leaves the library (issue 2, "Done when"): not in a log line, an exception message,
a repr, ``report.json`` or ``rejects.csv``.

The input is a file full of distinctive raw PII that also trips every kind of rejection —
unknown columns, bad quoting, wrong field counts, undecodable bytes, invalid country / consent /
action values — so every code path that might echo a value gets the chance to.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import (
    DESTINATIONS,
    AudienceMembers,
    ConversionEvents,
    Delivery,
    DeliveryTarget,
    IdentityDeletions,
    destination_class,
)
from adm_ingest.mapping import build_plan
from adm_ingest.prepare import Preparer
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import FileFormatError, open_records
from adm_ingest.records import Reason, Rejection
from adm_local.cli import main

# Raw values and the forms normalization turns them into (both are PII).
SECRETS = [
    "Zebulon.Quillfeather@Obscure-Mail.example",
    "zebulon.quillfeather",
    "obscure-mail",
    "Zebulon",
    "Quillfeather",
    "Philippa",
    "Thistlewood",
    "Ravensworth",
    "Marchbanks",
    "Wolverhampton",
    "5714120599",
    "412-0599",
    "7946 0958",
    "79460958",
    "Clerkenwell",
    "Krähenbühl",
    "krahenbuhl",
    "krähenbühl",
]
HEADER = b"customer_id,email,phone,first_name,last_name,address,city,zip,country,action,notes\n"
ROWS = [
    # accepted
    b"c1,Zebulon.Quillfeather@Obscure-Mail.example,(571) 412-0599,Zebulon,Quillfeather,"
    b"12 Thistlewood Crescent,Wolverhampton,22150,US,,call Zebulon\n",
    # UK without consent: missing_consent
    b"c2,philippa.ravensworth@obscure-mail.example,+44 20 7946 0958,Philippa,Ravensworth,"
    b"1 Clerkenwell Close,Clerkenwell,EC1R 0AA,GB,,\n",
    # invalid country / invalid action whose values are themselves PII-like
    b"c3,philippa.marchbanks@obscure-mail.example,,Philippa,Marchbanks,,,,Marchbanks,,\n",
    b"c4,zebulon.ravensworth@obscure-mail.example,,Zebulon,Ravensworth,,,,US,Quillfeather,\n",
    # wrong field count
    b"c5,zebulon.marchbanks@obscure-mail.example,5714120599,Zebulon\n",
    # bad quoting
    b'c6,"Thistlewood"Ravensworth@obscure-mail.example,,Philippa,Quillfeather,,,,US,,\n',
    # latin-1 bytes: undecodable
    "c7,krähenbühl@obscure-mail.example,,Philippa,Krähenbühl,,,,US,,\n".encode("latin-1"),
    # no usable identifier (invalid email and phone)
    b"c8,Zebulon at Obscure-Mail dot example,41,,,,,,US,,Marchbanks\n",
    # accepted with a UTF-8 umlaut name
    "c9,,,Philippa,Krähenbühl,Thistlewood Lane,Wolverhampton,22150,US,,\n".encode(),
]


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [secret for secret in SECRETS if secret.lower() in lowered]


@pytest.fixture
def pii_file(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_bytes(HEADER + b"".join(ROWS))
    return path


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records
    yield caplog


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.__dict__))  # extra fields, exc_info text, stack info
    return "\n".join(parts)


@pytest.mark.parametrize("kind", [destination.name for destination in DESTINATIONS])
def test_dry_run_outputs_hold_no_raw_pii(
    pii_file: Path,
    tmp_path: Path,
    kind: str,
    every_log: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    argv = ["dry-run", str(pii_file), "--destination", kind, "--out", str(out)]
    if destination_class(kind).own_record_path:  # AEP's: a schema, identities from a mapping
        argv += schema_arguments(tmp_path)
    code = main(argv)
    # A destination that rejects every row of this file exits 1 (nothing would be sent).
    assert code == (1 if json.loads((out / "report.json").read_text())["accepted"] == 0 else 0)

    printed = capsys.readouterr()
    assert leaks(printed.out + printed.err) == []
    assert leaks(logged_text(every_log)) == []
    assert leaks((out / "report.json").read_text()) == []
    assert leaks((out / "rejects.csv").read_text()) == []
    for body in (out / "requests").glob("*.json"):
        assert leaks(body.read_text()) == []


def schema_arguments(tmp_path: Path) -> list[str]:
    """``--schema`` (the AEP sandbox's Profile schema) and ``--mapping`` (email as the primary
    identity) for an AEP dataset's dry-run. Its part files hold raw PII by design (they go to
    the customer's own AEP); its report and rejects must not."""
    from adm_local.aep_sandbox.schemas import seeded_schemas

    schema = tmp_path / "profile-schema.json"
    schema.write_text(json.dumps(seeded_schemas("acmecorp")[0].full()))
    mapping = tmp_path / "xdm-mapping.json"
    identity = {"column": "email", "namespace": "Email", "primary": True}
    mapping.write_text(json.dumps({"xdm": {"identities": [identity]}}))
    return ["--schema", str(schema), "--mapping", str(mapping)]


def test_rejects_csv_holds_only_line_outcome_and_reason(pii_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["dry-run", str(pii_file), "--out", str(out)]) == 0
    with (out / "rejects.csv").open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["line", "outcome", "reason"]
    assert len(rows) > 5
    codes = {str(reason) for reason in Reason}
    for line, outcome, reason in rows[1:]:
        assert line.isdigit() and outcome == "rejected" and reason in codes


def test_record_processor_rejections_and_reprs_hold_no_raw_pii(
    pii_file: Path, every_log: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    for destination in (
        AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1")),
        ConversionEvents(DeliveryTarget("conversions", "Purchase", "CD-1")),
        IdentityDeletions(DeliveryTarget("identity_deletions")),
    ):
        plan = build_plan(None)
        preparer = Preparer(ConsentPolicy(), destination.rules)
        with pii_file.open("rb") as stream:
            records = list(open_records(stream))
        # Stage by stage, as the processor does, so every intermediate object is inspected.
        for block in records:
            seen.append(repr(block))
            if isinstance(block, Rejection):
                continue
            layout = plan.layout_for(block.header)
            seen.append(repr(layout))
            for line, fields in zip(block.lines, block.rows, strict=True):
                prepared = preparer.prepare(line, fields, layout)
                seen.append(repr(prepared))
                if not isinstance(prepared, Rejection):
                    seen.append(repr(destination.build(prepared)))
        processor = RecordProcessor(destination, plan, ConsentPolicy())
        batches = list(processor.batches(records))
        for batch in batches:
            processor.record_delivery(batch, Delivery(status=200), minute="2026-12-01T14:12Z")
        seen += [repr(processor.tally), repr(processor.tally.summary()), *map(repr, batches)]
        assert processor.tally.balanced
        assert processor.tally.rejected_total > 0
    assert [(leaked, text) for text in seen for leaked in leaks(text)] == []
    assert leaks(logged_text(every_log)) == []


def test_file_level_errors_do_not_echo_the_first_line(pii_file: Path) -> None:
    # A file without a header row: its first line is someone's data.
    headless = pii_file.with_name("headless.csv")
    headless.write_bytes(b"".join(ROWS))
    with headless.open("rb") as stream, pytest.raises(FileFormatError) as raised:
        list(open_records(stream))
    assert leaks(str(raised.value)) == []
    assert leaks(repr(raised.value)) == []
