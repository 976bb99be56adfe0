"""A failed setup says which step failed, its clear message and what was already created —
and nothing of moto's interpreter reaches the terminal."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adm_ingest.setup import ItemKind, Outcome
from adm_local.sandbox import SandboxServer
from adm_local.setup_history import StepEvent, clear_message, items_in
from tests.setup.setup_support import Runner


def test_a_failed_run_lists_what_was_created_before_the_failing_step(
    run: Runner,
    sandbox: SandboxServer,
    example_config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox.faults.set(server_errors=50, status=503, path="/adm/sharingRules", methods=["POST"])

    with caplog.at_level(logging.WARNING):
        report = run(example_config, retry_max_attempts=1)

    assert report.failed_step == "EnsureSharingRule"
    # Terms, data room, both audiences and both definitions were created: the report says so.
    assert report.outcomes(ItemKind.AUDIENCE) == {
        "crm_customers_us": Outcome.CREATED,
        "newsletter_subscribers": Outcome.CREATED,
    }
    assert set(report.outcomes(ItemKind.CONVERSION_DEFINITION)) == {
        d["name"] for d in example_config["conversionDefinitions"]
    }
    assert {item.kind for item in report.items} >= {ItemKind.TERMS, ItemKind.DATA_ROOM}
    assert ItemKind.REGISTRY not in {item.kind for item in report.items}
    audience_ids = set(sandbox.state()["datasets"])
    assert {item.id for item in report.of(ItemKind.AUDIENCE)} == audience_ids

    table = report.format_table().splitlines()
    assert table[0].startswith("done before the failure")
    last = table[-1]
    assert last.startswith("FAILED at EnsureSharingRule: ServerError: ")
    assert "503" in last and "errorType" not in last and "{" not in last
    # moto's Step Functions interpreter logs every caught error with its parsed state tree
    assert not [r for r in caplog.records if r.name.startswith(("moto", "werkzeug"))]
    captured = capfd.readouterr()
    assert "Exception=" not in captured.err + captured.out


def test_a_run_failing_at_its_first_step_says_nothing_was_created(
    run: Runner, sandbox: SandboxServer, example_config: dict[str, Any]
) -> None:
    sandbox.faults.set(server_errors=50, status=503, path="/adm/terms")

    report = run(example_config, retry_max_attempts=1)

    assert report.failed_step == "AcceptTerms"
    assert report.items == ()
    assert report.format_table().splitlines()[0] == "nothing was created before the failure"


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        ('{"errorType": "ServerError", "errorMessage": "HTTP 503 from ADM"}', "HTTP 503 from ADM"),
        (
            '{"step": "EnsureAudience", "error": "ServerError", "cause": '
            '"{\\"errorType\\": \\"ServerError\\", \\"errorMessage\\": \\"HTTP 503\\"}"}',
            "HTTP 503",
        ),
        ("plain text", "plain text"),
        (None, ""),
        ("[1, 2]", "[1, 2]"),
    ],
)
def test_the_clear_message_is_the_handlers_own(cause: str | None, message: str) -> None:
    assert clear_message(cause) == message


def test_items_are_found_in_every_handler_return_shape() -> None:
    item = {"kind": "audience", "name": "a_name", "id": "ds-1", "outcome": "created"}
    terms = {"kind": "terms", "name": "terms", "id": "", "outcome": "unchanged"}

    assert [i.name for i in items_in(item)] == ["a_name"]
    assert [i.name for i in items_in([item, item])] == ["a_name", "a_name"]
    assert [i.kind for i in items_in({"config": {}, "results": {"terms": terms}})] == [
        ItemKind.TERMS
    ]
    assert len(items_in({"dataset": item, "registry": item})) == 2
    assert items_in({"kind": "nonsense", "name": "", "id": "", "outcome": ""}) == []
    assert items_in("text") == []


def test_a_step_event_formats_as_one_line_per_item() -> None:
    (item,) = items_in({"kind": "audience", "name": "crm", "id": "ds-1", "outcome": "created"})

    assert StepEvent(3, "EnsureAudience", (item,)).format() == (
        "✓ EnsureAudience  audience crm  created  ds-1"
    )
    assert StepEvent(4, "SaveRegistry", error="ServerError", message="HTTP 503").format() == (
        "✗ SaveRegistry: ServerError: HTTP 503"
    )
