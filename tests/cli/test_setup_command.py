"""``adm-ingest setup CONFIG --against <sandbox URL> | aws``.

Against a running sandbox, the registry printed is that sandbox's state (and a second run finds
everything). Against AWS, the deployed state machine — here moto's, built from the real ASL by
the local runner's harness, with the stack outputs in moto's CloudFormation — is started and
followed step by step.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adm_local.aep_sandbox import AepSandboxServer
from adm_local.cli import main
from adm_local.sandbox import SandboxServer
from adm_local.setup_runner import deploy_setup, quiet_loggers, setup_router
from adm_local.stack import reset_powertools_caches
from adm_local.stepfunctions import MOTO_CONFIG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "events" / "setup-config.json"
REGION = "us-east-1"
STACK = "adm-ingest-cli-test"
TABLE = "adm-ingest-cli-registry"
SECRET = "adm-ingest-cli/credentials"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, log_stream=None) as server:
        yield server


@pytest.fixture
def aep_sandbox() -> Iterator[AepSandboxServer]:
    with AepSandboxServer(port=0, log_stream=None) as server:
        yield server


def example() -> dict[str, Any]:
    return copy.deepcopy(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def printed_registry(out: str) -> dict[str, dict[str, str]]:
    """The JSON after the last ``registry…:`` line of the command's output."""
    start = out.rindex("\nregistry")
    return json.loads(out[out.index("{", start) :])  # type: ignore[no-any-return]


# -- against a running sandbox ----------------------------------------------------------------


def test_against_a_running_sandbox_the_registry_is_that_sandboxs_state(
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    config = example()
    config["aepDatasets"] = json.loads(
        (ROOT / "events" / "setup-config-aep.json").read_text(encoding="utf-8")
    )["aepDatasets"]
    path = tmp_path / "setup.json"
    path.write_text(json.dumps(config))
    argv = ["setup", str(path), "--against", sandbox.url, "--aep-against", aep_sandbox.url]

    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out

    registry = printed_registry(first)
    state = sandbox.state()
    assert set(registry["audience"].values()) == set(state["datasets"])
    assert {
        name: state["datasets"][dataset_id]["name"]
        for name, dataset_id in registry["audience"].items()
    } == {name: name for name in registry["audience"]}
    assert set(registry["aep_dataset"].values()) == set(aep_sandbox.state()["datasets"])
    # The second run talks to the same sandbox: it finds every item, creates nothing there.
    assert printed_registry(second) == registry
    adm_rows = [line for line in second.splitlines() if line.startswith(("audience ", "sharing"))]
    assert adm_rows and all(line.endswith("unchanged") for line in adm_rows)
    assert len(sandbox.state()["datasets"]) == len(config["audiences"])


def test_json_prints_one_document_of_each_run_and_the_registry(
    sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup", str(EXAMPLE), "--against", sandbox.url, "--json", "--runs", "2"]

    assert main(argv) == 0

    captured = capsys.readouterr()
    document = json.loads(captured.out)  # stdout is the document alone
    assert "Running the setup state machine" in captured.err
    first, second = document["runs"]
    assert first["ok"] is True and first["status"] == "SUCCEEDED" and "failure" not in first
    created = {(i["kind"], i["name"]) for i in first["items"] if i["result"] == "created"}
    assert ("audience", "crm_customers_us") in created
    assert {item["result"] for item in second["items"]} == {"unchanged"}
    assert set(document["registry"]["audience"].values()) == set(sandbox.state()["datasets"])


def test_the_exported_aep_url_is_the_default_aep_sandbox(
    sandbox: SandboxServer,
    aep_sandbox: AepSandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a shell with `adm-ingest sandbox`'s export lines (ports of its choosing), the
    command the banner prints — ``setup CONFIG --against <ADM URL>`` — reaches its AEP
    sandbox too."""
    monkeypatch.setenv("AEP_API_URL", aep_sandbox.url)
    config = ROOT / "events" / "setup-config-aep.json"

    assert main(["setup", str(config), "--against", sandbox.url]) == 0

    assert f"(AEP: {aep_sandbox.url})" in capsys.readouterr().out
    assert len(aep_sandbox.state()["datasets"]) == 2


def test_against_a_url_where_no_sandbox_answers_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["setup", str(EXAMPLE), "--against", "http://127.0.0.1:9"]) == 1

    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "adm-ingest: error: no ADM sandbox answers at http://127.0.0.1:9 "
        "(start one with: adm-ingest sandbox)"
    ]


@pytest.mark.parametrize("content", [None, "{not json", '["a list"]'])
@pytest.mark.parametrize("option", ["--credentials", "--aep-credentials", "--account-secret"])
def test_a_credentials_file_missing_or_not_one_is_a_usage_error(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    content: str | None,
) -> None:
    """Exit 2, as for every command's missing or bad file (``inventory --credentials``…)."""
    path = tmp_path / "creds.json"
    if content is not None:
        path.write_text(content)
    value = f"adm-ingest/other={path}" if option == "--account-secret" else str(path)

    assert main(["setup", str(EXAMPLE), "--against", sandbox.url, option, value]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"adm-ingest: error: {path}: "), err


def test_against_takes_a_url_or_aws(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", str(EXAMPLE), "--against", "staging"]) == 2
    assert "--against takes a sandbox URL" in capsys.readouterr().err


def test_every_config_mistake_is_one_line_of_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example()
    config["region"] = "US"
    config["audiences"][0]["countryCode"] = "Germany"
    config["audiences"][1]["idRetention"] = "yes"
    config["conversionDefinitions"][0]["value"] = "one"
    config["sharingRules"][0]["revoke"] = "no"
    config["mappings"]["crm/"] = {"columns": {"E-Mail": "email"}}
    path = tmp_path / "setup.json"
    path.write_text(json.dumps(config))

    assert main(["setup", str(path)]) == 2

    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"adm-ingest: error: {path}: 6 problems:"
    problems = err[1:]
    assert len(problems) == 6
    assert all(re.match(r"^  [\w\[\]'./]+: ", line) for line in problems)
    assert "  region: must be one of NA, EU, FE" in problems


# -- against AWS (moto) -----------------------------------------------------------------------


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> Iterator[str]:
    """A "deployed" stack on moto: the setup state machine from the real ASL, the registry
    table, the credentials secret and a CloudFormation stack whose outputs name them; the
    handlers run in this process (the local runner's Lambda router) with the environment
    template.yaml gives them. Yields the state machine's ARN."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "ADM_SECRET_ID": SECRET,
        "REGISTRY_TABLE": TABLE,
        "ADM_API_URL": sandbox.url,
        "ADM_TOKEN_URL": sandbox.token_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_powertools_caches()
    with mock_aws(config=MOTO_CONFIG), quiet_loggers(), setup_router().installed():
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET, SecretString=json.dumps(sandbox.account.secret_document())
        )
        arn = deploy_setup({"region_name": REGION}, registry_table=TABLE, retry_max_attempts=1)
        template = {
            "Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "SetupStateMachineArn": {"Value": arn},
                "RegistryTableName": {"Value": TABLE},
            },
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield arn
    reset_powertools_caches()


AWS_ARGS = ["--against", "aws", "--stack", STACK, "--region", REGION, "--poll", "0.05"]


def test_against_aws_starts_the_deployed_machine_and_prints_each_step(
    deployed: str, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["setup", str(EXAMPLE), *AWS_ARGS, "--timeout", "60"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"started {deployed.replace(':stateMachine:', ':execution:')}:")
    steps = [line for line in lines if line.startswith("✓ ")]
    assert [line.split()[1] for line in steps[:2]] == ["AcceptTerms", "EnsureDataRoom"]
    for audience in sandbox.state()["datasets"].values():
        assert any(
            line.startswith(f"✓ EnsureAudience  audience {audience['name']}  created")
            for line in steps
        )
    assert any(line.startswith("✓ SaveRegistry  registry audience#") for line in steps)
    assert "\nSUCCEEDED\n" in out
    registry = printed_registry(out)
    assert set(registry["audience"].values()) == set(sandbox.state()["datasets"])
    assert f"registry ({TABLE})" in out


def test_a_failed_aws_execution_shows_the_step_its_message_and_what_was_created(
    deployed: str, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.faults.set(server_errors=1000, status=503, path="/accounts/", methods=["POST"])

    assert main(["setup", str(EXAMPLE), *AWS_ARGS, "--timeout", "120"]) == 1

    out = capsys.readouterr().out
    assert "✗ EnsureConversionDefinitions: ServerError: " in out
    assert "\nFAILED\n" in out
    assert "done before the failure" in out
    table = out[out.index("done before the failure") :]
    assert "audience" in table and "crm_customers_us" in table
    last = [line for line in out.splitlines() if line.startswith("FAILED at ")]
    assert last and last[0].startswith("FAILED at EnsureConversionDefinitions: ServerError: ")
    assert "errorType" not in last[0]


def test_json_of_a_failed_aws_execution_names_the_step_and_its_clear_message(
    deployed: str, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.faults.set(server_errors=1000, status=503, path="/accounts/", methods=["POST"])

    assert main(["setup", str(EXAMPLE), *AWS_ARGS, "--timeout", "120", "--json"]) == 1

    captured = capsys.readouterr()
    (run,) = json.loads(captured.out)["runs"]
    assert run["ok"] is False and run["status"] == "FAILED"
    assert run["failure"]["step"] == "EnsureConversionDefinitions"
    assert run["failure"]["error"] == "ServerError"
    assert "errorType" not in run["failure"]["message"]
    assert ("audience", "crm_customers_us") in {(i["kind"], i["name"]) for i in run["items"]}
    assert "✗ EnsureConversionDefinitions" in captured.err  # the steps, as they ran


def test_against_aws_without_the_stack_is_one_clear_line(
    deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup", str(EXAMPLE), "--against", "aws", "--stack", "nope", "--region", REGION]

    assert main(argv) == 1

    assert capsys.readouterr().err.strip() == (
        "adm-ingest: error: no stack 'nope' in this account and region (give --stack or --region)"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read it (No such file or directory)"), ("{", "not valid JSON (line 1")],
)
def test_a_config_file_missing_or_not_json_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, problem: str
) -> None:
    path = tmp_path / "setup.json"
    if content is not None:
        path.write_text(content)

    assert main(["setup", str(path)]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith(f"adm-ingest: error: {path}: {problem}"), err
    assert err.count(str(path)) == 1 and "<file>" not in err and "\n" not in err
