"""``rejects.csv`` is CSV a spreadsheet opens safely, whatever the API or the file said.

Reason codes are ours, except the ones the API supplies (``adm_<code>``): an error code with
commas, quotes, line breaks or a leading ``=`` once made 3,000 lines starting with ``=`` and a
file the local stack itself could not parse (issue #10, finding 8). Every fate file is written
with :mod:`csv` and every string cell neutralised (OWASP CSV injection: a leading ``=`` ``+``
``-`` ``@`` tab or CR gets a ``'``); API codes are also cut down to a plain charset, because
they become map keys in the ledger and the report.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adm_ingest.destinations.adm import PLATFORM, error_reason
from adm_ingest.destinations.base import MAX_API_CODE
from adm_ingest.destinations.http_failures import http_refusal_reason
from adm_ingest.ledger import FileRecord
from adm_ingest.notices import file_warnings
from adm_ingest.outcomes import RecordFate
from adm_ingest.report import REJECTS_HEADER, ReportWriter, fates_csv, fates_key, rejects_key
from adm_ingest.spreadsheet import FORMULA_TRIGGERS, neutralise

BUCKET = "rejects-test"


def refusal(status: int, code: str | None) -> str:
    """The reason ADM's destinations record for a body refused as a whole."""
    return http_refusal_reason(PLATFORM, status, code)


KEY = "audiences/vip/crm.csv"
FILE_ID = "f" * 32

HOSTILE = [
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+1",
    "-1",
    "\t=1+1",
    "\r=1+1",
    'quote " inside, and a comma',
    "two\nlines",
    "crlf\r\nend",
    '=HYPERLINK("http://evil.example","click")',
    "plain_code",
    "",
]


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def starts_a_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_TRIGGERS)


def test_hostile_reasons_stay_in_their_cell_and_cannot_run_as_formulas() -> None:
    fates = [RecordFate(line, "failed", reason) for line, reason in enumerate(HOSTILE, 2)]
    rows = parse(fates_csv(fates))
    assert rows == [[str(f.line), f.outcome, neutralise(f.reason)] for f in fates]
    assert not any(starts_a_formula(cell) for row in rows for cell in row)
    assert rows[0][2] == "'=cmd|' /C calc'!A0" and rows[3][2] == "'-1"
    assert rows[10][2] == "plain_code"  # ordinary codes are written as they are


def test_ordinary_fates_are_the_plain_rows_they_always_were() -> None:
    fates = [RecordFate(3, "rejected", "no_identifier"), RecordFate(9, "failed", "adm_429")]
    assert fates_csv(fates) == b"3,rejected,no_identifier\n9,failed,adm_429\n"


@settings(max_examples=200)
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))))
def test_any_reasons_round_trip_through_the_csv_neutralised(reasons: list[str]) -> None:
    fates = [RecordFate(line, "rejected", reason) for line, reason in enumerate(reasons, 1)]
    rows = parse(fates_csv(fates))
    assert [row[2] for row in rows] == [neutralise(reason) for reason in reasons]
    assert not any(starts_a_formula(row[2]) for row in rows)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_the_concatenated_rejects_file_is_one_parseable_neutralised_csv(s3: Any) -> None:
    chunks = [
        [RecordFate(line, "failed", reason) for line, reason in enumerate(HOSTILE, start)]
        for start in (2, 5002, 10_002)
    ]
    for index, fates in enumerate(chunks):
        s3.put_object(Bucket=BUCKET, Key=fates_key(FILE_ID, index), Body=fates_csv(fates))
    # A fate file that does not end its last row (never written so) still ends up one row.
    s3.put_object(Bucket=BUCKET, Key=fates_key(FILE_ID, 3), Body=b"20001,rejected,no_identifier")
    s3.put_object(Bucket=BUCKET, Key=fates_key(FILE_ID, 4), Body=b"20002,rejected,no_identifier\n")

    ReportWriter(s3, BUCKET).write(FILE_ID, FileRecord(FILE_ID, key=KEY, failed={"adm_x": 36}))

    body = s3.get_object(Bucket=BUCKET, Key=rejects_key(KEY))["Body"].read()
    assert body.startswith(REJECTS_HEADER)
    rows = parse(body)
    expected = [[str(f.line), f.outcome, neutralise(f.reason)] for fates in chunks for f in fates]
    assert rows == [
        ["line", "outcome", "reason"],
        *expected,
        ["20001", "rejected", "no_identifier"],
        ["20002", "rejected", "no_identifier"],
    ]
    assert not any(starts_a_formula(cell) for row in rows for cell in row)


def test_a_hostile_api_code_makes_one_plain_row_per_record() -> None:
    """The finding itself: a 400 whose code held commas, line breaks and ``=cmd|…``."""
    code = "=cmd|' /C calc'!A0,\n=2+5,\r\n@SUM(1)"
    fates = [RecordFate(line, "failed", refusal(400, code)) for line in range(2, 3002)]
    fates += [RecordFate(line, "rejected", error_reason(code)) for line in range(3002, 3005)]
    body = REJECTS_HEADER + fates_csv(fates)
    lines = body.decode().splitlines()
    assert len(lines) == 1 + len(fates)
    assert all(line[0].isdigit() for line in lines[1:])
    assert len(parse(body)) == 1 + len(fates)


SAFE_REASON = re.compile(r"adm_(?:[0-9]+_)?[A-Za-z0-9_.-]*")


@settings(max_examples=200)
@given(code=st.text(), status=st.integers(400, 499))
def test_api_codes_become_plain_bounded_reason_codes(code: str, status: int) -> None:
    for reason in (error_reason(code), refusal(status, code)):
        assert SAFE_REASON.fullmatch(reason), reason
        assert len(reason) <= len("adm_499_") + MAX_API_CODE
        assert not starts_a_formula(reason)


def test_an_api_code_keeps_its_readable_part() -> None:
    assert error_reason("INVALID_EMAIL") == "adm_INVALID_EMAIL"
    assert error_reason("=cmd|' /C calc'!A0,\n") == "adm__cmd____C_calc__A0__"
    assert error_reason(None) == "adm_rejected"
    assert refusal(400, "Bad.Request-1") == "adm_400_Bad.Request-1"
    assert refusal(400, "a,b\nc") == "adm_400_a_b_c"
    assert refusal(503, None) == "adm_503"


def test_warnings_that_embed_column_names_cannot_start_formulas() -> None:
    """The mapping's warnings name the file's columns; a column may be named like a formula."""
    file = FileRecord(
        "f" * 32,
        mapping={
            "unknown": ["=cmd|' /C calc'!A0", {"column": "@SUM(1)", "did_you_mean": ["email"]}],
            "warnings": [{"code": "unknown_column", "message": "=1+1 came from somewhere"}],
        },
        notes={"+odd_note": 2},
    )
    warnings = file_warnings(file)
    texts = [w["message"] for w in warnings] + [w["code"] for w in warnings]
    assert not any(starts_a_formula(text) for text in texts)
    unknown = next(w for w in warnings if w["code"] == "unknown_columns")
    assert "'=cmd|' /C calc'!A0" in unknown["message"]
    assert "'@SUM(1) (did you mean email?)" in unknown["message"]
