"""The local stack's CloudWatch EMF metrics go to a list and a log file, never the terminal —
with their values and dimensions intact, so tests (and a person, in the file) still see them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adm_local.emf import MetricsSink
from adm_local.stack import LocalStack
from tests.e2e.conftest import PEOPLE_HEADER, SETUP_CONFIG, csv_bytes, people

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    log = tmp_path_factory.mktemp("metrics") / "emf.jsonl"
    with LocalStack(records_per_chunk=3, metrics_log=log) as stack:  # quiet, as the demo runs
        assert stack.setup(SETUP_CONFIG).ok
        yield stack


def test_metrics_flow_to_the_sink_and_not_to_stdout(
    quiet_stack: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    stack = quiet_stack
    rows = [*people(7), ["cust-bad", "not-an-email", "", "", "", ""]]
    key = "audiences/e2e_members/metrics.csv"
    stack.drop(key, csv_bytes(PEOPLE_HEADER, rows))
    stack.pump(timeout=60)
    report = stack.report(key)
    assert report is not None and report["balanced"]

    out, err = capfd.readouterr()
    assert '"_aws"' not in out and '"_aws"' not in err
    metrics = stack.metrics
    assert metrics.total("RecordsAccepted") == report["accepted"] == 7
    assert metrics.total("RecordsRejected") == report["rejected"] == 1
    assert metrics.total("ChunksQueued") == report["chunks"] == 3
    # single_metric's per-status documents (which POWERTOOLS_METRICS_DISABLED would not stop)
    assert metrics.total("Requests", status="200") >= 1
    assert {"RecordsAccepted", "Requests", "RequestAttempts"} <= metrics.names()
    assert metrics.log_path is not None
    logged = [json.loads(line) for line in metrics.log_path.read_text().splitlines()]
    assert logged == metrics.documents


def test_the_sink_passes_everything_else_through_and_uninstalls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aws_lambda_powertools.metrics import base

    sink = MetricsSink(tmp_path / "emf.jsonl")
    before = vars(base).get("print")  # the module's stack may have its own sink installed
    with sink.installed():
        base.print('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "X": [2.0]}')  # type: ignore[attr-defined]
        base.print("a progress line", "and more")  # type: ignore[attr-defined]
        base.print('{"not": "emf"}')  # type: ignore[attr-defined]
    assert vars(base).get("print") is before

    assert capsys.readouterr().out == 'a progress line and more\n{"not": "emf"}\n'
    assert sink.total("X") == 2.0
    assert len((tmp_path / "emf.jsonl").read_text().splitlines()) == 1
