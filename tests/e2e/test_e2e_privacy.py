"""Raw PII never leaves the worker unhashed: not in a log line, a metric, an SQS message, the
ledger, a report or a rejects file — checked on a run with every log at DEBUG."""

from __future__ import annotations

import json

import pytest

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


def test_no_raw_pii_anywhere_but_the_input_file(capfd: pytest.CaptureFixture[str]) -> None:
    with LocalStack(
        records_per_chunk=2,
        quiet=False,
        environment={"POWERTOOLS_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "DEBUG"},
    ) as stack:
        assert stack.setup(SETUP_CONFIG).ok
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
        }
    out, err = capfd.readouterr()
    artefacts["stdout (logs, EMF metrics)"] = out
    artefacts["stderr"] = err
    assert "RecordsAccepted" in out or "batch delivered" in out  # the logs were really captured
    for where, text in artefacts.items():
        lowered = text.lower()
        for value in RAW_VALUES:
            assert value.lower() not in lowered, f"raw PII {value!r} found in {where}"
