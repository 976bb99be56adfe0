"""Raw PII never leaves the worker unhashed: not in a log line, a metric, an SQS message, the
ledger, a report, a rejects file or a file notification — checked on a run with every log at
DEBUG. A file without a header row, whose first person would become column names, is refused
before anything travels."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from adm_ingest.readers import NO_HEADER_HINT
from adm_local.stack import LocalStack
from tests.e2e.conftest import SETUP_CONFIG

pytestmark = pytest.mark.e2e

RAW_VALUES = [
    "zelda.quartermaine@example.com",
    "2065550199",
    "Zelda",
    "Quartermaine",
    "742 Evergreen Terrace",
    "Shelbyville",
    "gwendolyn.pfefferkorn@example.org",
    "Pfefferkorn",
]

FILE = b"""customer_id,email,phone,first_name,last_name,address,city,state,zip,country
p-1,zelda.quartermaine@example.com,(206) 555-0199,Zelda,Quartermaine,742 Evergreen Terrace,Shelbyville,WA,98101,US
p-2,gwendolyn.pfefferkorn@example.org,,Gwendolyn,Pfefferkorn,,,,,GB
p-3,gwendolyn.pfefferkorn@example.org,bad-phone,Gwendolyn,Pfefferkorn,1 Main St,Shelbyville,Narnia,x,Atlantis
p-4,short
"""


@pytest.fixture(scope="module")
def debug_stack() -> Iterator[LocalStack]:
    """A stack whose every log is at DEBUG and printed (the tests read it with ``capfd``)."""
    with LocalStack(
        records_per_chunk=2,
        quiet=False,
        environment={"POWERTOOLS_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "DEBUG"},
    ) as stack:
        assert stack.setup(SETUP_CONFIG).ok
        yield stack


def test_no_raw_pii_anywhere_but_the_input_file(
    debug_stack: LocalStack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stack = debug_stack
    caplog.set_level(logging.DEBUG)
    key = "audiences/e2e_members/pii.csv"
    stack.drop(key, FILE)
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None and report["balanced"] and report["rejected"] == 3
    s3 = stack.client("s3")
    rejects = s3.get_object(Bucket=stack.names.bucket, Key=f"rejects/{key}.csv")["Body"]
    ledger = stack.client("dynamodb").scan(TableName=stack.names.ledger_table)["Items"]
    idempotency = stack.client("dynamodb").scan(TableName=stack.names.idempotency_table)
    artefacts = {
        "report": json.dumps(report),
        "rejects": rejects.read().decode(),
        "sqs chunk messages": "\n".join(stack.delivered["chunks"]),
        "sqs s3 events": "\n".join(stack.delivered["s3"]),
        "ledger": json.dumps(ledger),
        "idempotency records": json.dumps(idempotency["Items"]),
        "sandbox state": json.dumps(stack.sandbox.state()),
        "sns file notifications": json.dumps(
            [[n.subject, n.message, n.attributes] for n in stack.notifications()]
        ),
    }
    out, err = capfd.readouterr()
    artefacts["stdout (logs)"] = out
    artefacts["stderr"] = err
    # The stack keeps the EMF metric documents off the terminal (adm_local/emf.py): the metrics
    # were really captured, there.
    assert stack.metrics.total("RecordsAccepted") > 0
    artefacts["EMF metrics"] = json.dumps(stack.metrics.documents)
    artefacts["logs"] = "\n".join(
        json.dumps(vars(record), default=str) for record in caplog.records
    )
    assert "batch delivered" in artefacts["logs"]  # the logs were really captured
    assert key in artefacts["sns file notifications"]  # the file's message was really read
    for where, text in artefacts.items():
        lowered = text.lower()
        for value in RAW_VALUES:
            assert value.lower() not in lowered, f"raw PII {value!r} found in {where}"


HEADERLESS_VALUES = ["Zelda", "Quartermaine", "742 Evergreen Terrace", "Shelbyville",
                     "Gwendolyn", "Pfefferkorn", "1 Main St"]  # fmt: skip
HEADERLESS = b"""Zelda,Quartermaine,742 Evergreen Terrace,Shelbyville,WA,US
Gwendolyn,Pfefferkorn,1 Main St,Shelbyville,WA,US
"""
"""No email, phone or hash in the first row: its name and address would be the column names."""


def test_a_file_without_a_header_row_is_one_error_report_and_nothing_travels(
    debug_stack: LocalStack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stack = debug_stack
    caplog.set_level(logging.DEBUG)
    chunks_before, requests_before = len(stack.delivered["chunks"]), len(stack.sandbox.requests)
    key = "audiences/e2e_members/no-header.csv"
    stack.drop(key, HEADERLESS)
    stack.pump(timeout=60)

    report = stack.report(key)
    assert report is not None and report["status"] == "error"
    assert report["error"].startswith("the file seems to have no header row")
    assert NO_HEADER_HINT in report["error"]
    assert (report["records_read"], report["chunks"], report["rejects_file"]) == (0, 0, None)
    assert len(stack.delivered["chunks"]) == chunks_before  # no chunk message was sent
    assert len(stack.sandbox.requests) == requests_before
    assert stack.rejects(key) == []
    ledger = stack.client("dynamodb").scan(TableName=stack.names.ledger_table)["Items"]
    out, err = capfd.readouterr()
    # Every record with all its attributes: a log's extras are where a value would hide.
    logs = "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)
    assert "no header row" in logs  # the logs were really captured, the split's error with them
    artefacts = {
        "report": json.dumps(report),
        "ledger": json.dumps(ledger),
        "sqs messages": "\n".join(stack.delivered["chunks"] + stack.delivered["s3"]),
        "logs": logs,
        "stdout (logs)": out,
        "EMF metrics": json.dumps(stack.metrics.documents),
        "stderr": err,
    }
    for where, text in artefacts.items():
        for value in HEADERLESS_VALUES:
            assert value.lower() not in text.lower(), f"{value!r} found in {where}"
