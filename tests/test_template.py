"""template.yaml: transformed offline as CloudFormation would, lint-clean, secure by construction.

``cfn-lint template.yaml`` alone is shallow on SAM (no circular dependencies, no bad ``GetAtt``s
in generated resources), so these tests run the SAM transform offline with aws-sam-translator
(local ``CodeUri``/``ContentUri`` become ``s3://`` placeholders; the setup state machine's ASL
file is inlined as ``Definition`` so its substitutions are linted too) and lint the result.
The other tests read the *transformed* template: they check what CloudFormation would create,
including what SAM generated (roles, event source mappings, permissions).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import cfnlint.api
import pytest
import yaml
from samtranslator.yaml_helper import yaml_parse

from adm_ingest.pipeline.routing import INPUT_PREFIXES
from adm_ingest.report import OUTPUT_PREFIXES, STAGING_PREFIX

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "functions" / "setup" / "setup.asl.json"
POLLER_ASL_PATH = ROOT / "functions" / "poller" / "poller.asl.json"
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
TRANSFORM_SCRIPT = ROOT / "scripts" / "transform_template.py"

# Regions the stack is expected to be deployed in (near the NA, EU and FE ADM hosts).
LINT_REGIONS = ["us-east-1", "eu-west-1", "us-west-2"]

# cfn-lint findings accepted on the transformed template: rule id → why. Errors never are.
ALLOWED_LINT_FINDINGS: dict[str, str] = {}

BUCKET_NAME = "adm-ingest-${AWS::AccountId}-${AWS::Region}"
SETUP_FUNCTIONS = {
    "AcceptTermsFunction": "app.accept_terms",
    "EnsureDataRoomFunction": "app.ensure_data_room",
    "EnsureAccountFunction": "app.ensure_account",
    "EnsureAudienceFunction": "app.ensure_audience",
    "EnsureConversionDefinitionsFunction": "app.ensure_conversion_definitions",
    "EnsureSharingRuleFunction": "app.ensure_sharing_rule",
    "SaveRegistryFunction": "app.save_registry",
    "EnsureAepDatasetFunction": "app.ensure_aep_dataset",
}
PIPELINE_FUNCTIONS = (
    "SplitterFunction",
    "WorkerFunction",
    "DeadLetterFunction",
    "SweeperFunction",
    "PollerFunction",
)
FINALIZING_FUNCTIONS = (
    "SplitterFunction",
    "WorkerFunction",
    "DeadLetterFunction",
    "SweeperFunction",
)
"""The functions that may see a file's last chunk accounted for, and so commit it and start
its poller (the poller itself only finishes files already committed)."""
STATE_MACHINES = {"SetupStateMachine": ASL_PATH, "PollerStateMachine": POLLER_ASL_PATH}
AEP_CALLERS = frozenset({*PIPELINE_FUNCTIONS, "EnsureAepDatasetFunction"})
"""The functions that call AEP, hence read its credentials: the splitter opens a file's batch,
the worker uploads its parts, every finalizing function may commit it (COMPLETE / ABORT: the
finalizer of adm_ingest.pipeline.runtime commits through the destination), the poller polls it,
and the setup step ensures the datasets."""
CHUNK_FUNCTIONS = ("SplitterFunction", "WorkerFunction", "DeadLetterFunction")
"""The pipeline functions that handle chunks (and read input objects); the sweeper only
finishes reports."""

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


# ---------------------------------------------------------------------------- offline transform


def _load_transform_script() -> ModuleType:
    """scripts/transform_template.py: the transform ``make check-template`` feeds checkov."""
    spec = importlib.util.spec_from_file_location("transform_template", TRANSFORM_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


offline = _load_transform_script()


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def asl_text() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return offline.transform_sam(sam, ROOT)


# ---------------------------------------------------------------------------- helpers


def _of_type(cfn: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in cfn["Resources"].items() if r["Type"] == resource_type}


def _props(cfn: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    return cfn["Resources"][logical_id]["Properties"]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _references(node: Any) -> set[str]:
    """Logical ids that ``node`` references through ``Ref`` or ``Fn::GetAtt``."""
    found: set[str] = set()
    for item in _walk(node):
        if isinstance(item, dict) and isinstance(item.get("Ref"), str):
            found.add(item["Ref"])
        if isinstance(item, dict) and isinstance(item.get("Fn::GetAtt"), list):
            found.add(item["Fn::GetAtt"][0])
    return found


def _statements(cfn: Mapping[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every inline statement of a role, with ``Action`` and ``Resource`` as lists."""
    statements = []
    for policy in _props(cfn, role_id).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            statement = dict(statement)
            for key in ("Action", "Resource"):
                value = statement.get(key, [])
                statement[key] = value if isinstance(value, list) else [value]
            statements.append(statement)
    return statements


def _object_prefixes(cfn: Mapping[str, Any], role_id: str, action: str) -> set[str]:
    """Key prefixes of the bucket on which the role may perform the S3 object ``action``."""
    prefixes: set[str] = set()
    s3_arn = re.compile(r"^arn:\$\{AWS::Partition\}:s3:::(?P<bucket>[^/]+)(?:/(?P<prefix>.*)\*)?$")
    for statement in _statements(cfn, role_id):
        if statement["Effect"] != "Allow" or not {action, "s3:*", "*"} & set(statement["Action"]):
            continue
        for resource in statement["Resource"]:
            arn = resource["Fn::Sub"]
            if isinstance(arn, list):  # policy template form: Sub with a bucketName variable
                arn, variables = arn
                arn = arn.replace("${bucketName}", variables["bucketName"]["Fn::Sub"])
            match = s3_arn.match(arn)
            assert match, f"{role_id}: {action} on {arn} is not an ARN of the bucket or its keys"
            assert match["bucket"] == BUCKET_NAME
            if match["prefix"] is not None:  # the bucket's own ARN grants no object action
                prefixes.add(match["prefix"])
    return prefixes


def _substitution_values(
    cfn: Mapping[str, Any], machine: str = "SetupStateMachine"
) -> dict[str, str]:
    """Concrete stand-ins for the state machine's substitutions, as CloudFormation would resolve."""
    values: dict[str, str] = {}
    for name, value in _props(cfn, machine)["DefinitionSubstitutions"].items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            function = value["Fn::GetAtt"][0]
            values[name] = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
        elif isinstance(value, dict) and "Ref" in value:
            values[name] = f"arn:aws:sns:us-east-1:123456789012:{value['Ref']}"
        else:
            values[name] = str(value)
    return values


def render_asl(asl_text: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The definition CloudFormation deploys: placeholders replaced by their values, verbatim."""
    return json.loads(_PLACEHOLDER.sub(lambda match: values[match[1]], asl_text))


def _states(definition: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str, Any]]:
    """Every (scope, name, state) of a definition, nested Map/Parallel scopes included."""
    for name, state in definition["States"].items():
        yield definition, name, state
        scopes = (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", []))
        for nested in filter(None, scopes):
            yield from _states(nested)


# ---------------------------------------------------------------------------- (1) lint


def test_transformed_template_is_cfn_lint_clean(cfn: dict[str, Any]) -> None:
    findings = cfnlint.api.lint(json.dumps(cfn), regions=LINT_REGIONS)
    unexpected = [
        f"{match.rule.id} {match.message} ({'/'.join(map(str, match.path))})"
        for match in findings
        if match.rule.id.startswith("E") or match.rule.id not in ALLOWED_LINT_FINDINGS
    ]
    assert unexpected == []


def test_lint_catches_the_bucket_policy_cycle_the_computed_name_avoids(cfn: dict[str, Any]) -> None:
    """Guards the test itself: the S3ReadPolicy-on-!Ref-bucket trap must be reported."""
    broken = copy.deepcopy(cfn)
    role = _props(broken, "SplitterFunctionRole")
    role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] = [
        {"Fn::GetAtt": ["IngestBucket", "Arn"]}
    ]
    rules = {match.rule.id for match in cfnlint.api.lint(json.dumps(broken), regions=["us-east-1"])}
    assert "E3004" in rules


def test_no_role_or_function_references_the_bucket_resource(cfn: dict[str, Any]) -> None:
    """The S3 event makes the bucket depend on the splitter, so nothing the splitter (or any
    function) depends on may depend on the bucket: they use the computed name instead."""
    dependents = {
        **_of_type(cfn, "AWS::IAM::Role"),
        **_of_type(cfn, "AWS::Lambda::Function"),
    }
    for logical_id, resource in dependents.items():
        assert "IngestBucket" not in _references(resource), logical_id
    assert _props(cfn, "IngestBucket")["BucketName"] == {"Fn::Sub": BUCKET_NAME}
    for logical_id in PIPELINE_FUNCTIONS:
        variables = _props(cfn, logical_id)["Environment"]["Variables"]
        assert variables["BUCKET"] == {"Fn::Sub": BUCKET_NAME}, logical_id


# ---------------------------------------------------------------------------- (2) security


def test_bucket_is_encrypted_with_the_template_key(cfn: dict[str, Any]) -> None:
    (rule,) = _props(cfn, "IngestBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = rule["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert _props(cfn, "DataKey")["EnableKeyRotation"] is True


def test_bucket_policy_denies_every_request_without_tls(cfn: dict[str, Any]) -> None:
    policy = _props(cfn, "IngestBucketPolicy")
    assert policy["Bucket"] == {"Ref": "IngestBucket"}
    denials = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Principal"] == "*"
        and statement["Action"] in ("s3:*", ["s3:*"])
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denials) == 1
    assert _references(denials[0]["Resource"]) == {"IngestBucket"}
    assert len(denials[0]["Resource"]) == 2  # the bucket and its objects


def test_bucket_blocks_public_access_keeps_versions_and_expires_staging(
    cfn: dict[str, Any],
) -> None:
    bucket = _props(cfn, "IngestBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    staging = [rule for rule in rules if rule.get("Prefix") == "_staging/"]
    assert [(r["Status"], r["ExpirationInDays"]) for r in staging] == [("Enabled", 2)]


def test_only_input_prefixes_notify_the_splitter(cfn: dict[str, Any]) -> None:
    configurations = _props(cfn, "IngestBucket")["NotificationConfiguration"][
        "LambdaConfigurations"
    ]
    prefixes = set()
    for configuration in configurations:
        assert configuration["Event"] == "s3:ObjectCreated:*"
        assert configuration["Function"] == {"Fn::GetAtt": ["SplitterFunction", "Arn"]}
        (rule,) = configuration["Filter"]["S3Key"]["Rules"]
        assert rule["Name"] == "prefix"
        prefixes.add(rule["Value"])
    # The pipeline's own outputs (reports/, rejects/, _staging/) never invoke the splitter.
    assert prefixes == set(INPUT_PREFIXES)
    assert not prefixes & set(OUTPUT_PREFIXES)


def _notified_prefixes(cfn: Mapping[str, Any]) -> list[str]:
    """The key prefix of each S3 notification of the ingest bucket, one per notification."""
    configurations = _props(cfn, "IngestBucket")["NotificationConfiguration"]
    return [
        rule["Value"]
        for configuration in configurations["LambdaConfigurations"]
        for rule in configuration["Filter"]["S3Key"]["Rules"]
        if rule["Name"] == "prefix"
    ]


def _lifecycle_prefixes(cfn: Mapping[str, Any]) -> list[str]:
    """The key prefix of each prefix-filtered lifecycle rule (a conditional one as if on)."""
    prefixes = []
    for rule in _props(cfn, "IngestBucket")["LifecycleConfiguration"]["Rules"]:
        if "Fn::If" in rule:
            rule = rule["Fn::If"][1]
        prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix"))
        if prefix is not None:
            prefixes.append(prefix)
    return prefixes


def test_the_template_s_input_prefixes_are_exactly_the_one_declaration(
    cfn: dict[str, Any],
) -> None:
    # adm_ingest.pipeline.routing.INPUT_PREFIXES is the declaration (derived from the
    # destinations' routes); the template cannot import it, so this holds the two equal: one
    # splitter notification and one input-expiry rule per prefix, none missing, none extra.
    assert sorted(_notified_prefixes(cfn)) == sorted(INPUT_PREFIXES)
    inputs = [prefix for prefix in _lifecycle_prefixes(cfn) if prefix != STAGING_PREFIX]
    assert sorted(inputs) == sorted(INPUT_PREFIXES)


def test_chunk_queue_redrives_to_its_dead_letter_queue(cfn: dict[str, Any]) -> None:
    redrive = _props(cfn, "ChunkQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ChunkDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "ChunkMaxReceiveCount"}
    assert _props(cfn, "SplitQueue")["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["SplitDeadLetterQueue", "Arn"]
    }
    fourteen_days = 14 * 24 * 3600
    for dead_letter_queue in ("ChunkDeadLetterQueue", "SplitDeadLetterQueue"):
        assert _props(cfn, dead_letter_queue)["MessageRetentionPeriod"] == fourteen_days


def test_every_queue_is_encrypted_and_outlasts_its_consumer_six_times(cfn: dict[str, Any]) -> None:
    for logical_id, queue in _of_type(cfn, "AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}, logical_id
    mappings = _of_type(cfn, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3
    for mapping in mappings.values():
        (queue,) = _references(mapping["Properties"]["EventSourceArn"])
        (function,) = _references(mapping["Properties"]["FunctionName"])
        visibility = _props(cfn, queue)["VisibilityTimeout"]
        assert visibility >= 6 * _props(cfn, function)["Timeout"], (queue, function)


def test_worker_reports_partial_batches_and_caps_its_concurrency(
    cfn: dict[str, Any], sam: dict[str, Any]
) -> None:
    (mapping,) = (
        m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "WorkerFunction"}
    )
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ChunkQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert 1 <= mapping["BatchSize"] <= 10
    # SQS event sources refuse a maximum concurrency below 2.
    assert sam["Parameters"]["WorkerMaxConcurrency"]["MinValue"] >= 2


def test_dead_letter_function_reports_partial_batches(cfn: dict[str, Any]) -> None:
    """A poison message is removed and a failed one retried alone, never the whole batch."""
    (mapping,) = (
        m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "DeadLetterFunction"}
    )
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ChunkDeadLetterQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_ledger_has_the_sparse_finalizing_index_the_code_queries(cfn: dict[str, Any]) -> None:
    from adm_ingest import ledger

    table = _props(cfn, "LedgerTable")
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ledger.FINALIZING_INDEX
    keys = {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]}
    assert keys == {ledger.FINALIZING_ATTRIBUTE: "HASH", ledger.CLAIMED_AT_ATTRIBUTE: "RANGE"}
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # the sweeper needs the keys
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert (types[ledger.FINALIZING_ATTRIBUTE], types[ledger.CLAIMED_AT_ATTRIBUTE]) == ("S", "N")
    assert "ProvisionedThroughput" not in index  # on demand, like its table


def test_sweeper_runs_on_a_parameterised_schedule_with_the_lease_the_others_use(
    cfn: dict[str, Any],
) -> None:
    (rule,) = _of_type(cfn, "AWS::Events::Rule").values()
    properties = rule["Properties"]
    rate = {"Fn::Sub": "rate(${SweepIntervalMinutes} minutes)"}
    assert properties["ScheduleExpression"] == rate
    assert properties.get("State", "ENABLED") == "ENABLED"  # EventBridge's default
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SweeperFunction", "Arn"]}
    interval = cfn["Parameters"]["SweepIntervalMinutes"]
    assert set(interval["AllowedValues"]) <= set(range(5, 16)) and interval["Default"] == 5
    (permission,) = (
        p["Properties"]
        for p in _of_type(cfn, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": "SweeperFunction"}
    )
    assert permission["Principal"] == "events.amazonaws.com"
    # Every function that may finalize takes over a claim after the same lease, which outlasts
    # the longest function timeout (a live finalizer is never overtaken).
    for logical_id in PIPELINE_FUNCTIONS:
        variables = _props(cfn, logical_id)["Environment"]["Variables"]
        assert variables["FINALIZE_LEASE_SECONDS"] == {"Ref": "FinalizeLeaseSeconds"}, logical_id
    longest = max(_props(cfn, f)["Timeout"] for f in PIPELINE_FUNCTIONS)
    assert cfn["Parameters"]["FinalizeLeaseSeconds"]["MinValue"] >= longest


def test_sweeper_may_only_query_the_index_and_read_and_update_ledger_items(
    cfn: dict[str, Any],
) -> None:
    statements = _statements(cfn, "SweeperFunctionRole")
    dynamodb = {
        action: resources
        for statement in statements
        for action in statement["Action"]
        if action.startswith("dynamodb:")
        for resources in [statement["Resource"]]
    }
    assert dynamodb == {
        "dynamodb:Query": [{"Fn::Sub": "${LedgerTable.Arn}/index/finalizing"}],
        # GetItem: a parked file whose poller never concluded is read, to time it out.
        "dynamodb:GetItem": [{"Fn::GetAtt": ["LedgerTable", "Arn"]}],
        "dynamodb:UpdateItem": [{"Fn::GetAtt": ["LedgerTable", "Arn"]}],
    }
    (listing,) = (s for s in statements if "s3:ListBucket" in s["Action"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "_staging/*"}}
    actions = {action for statement in statements for action in statement["Action"]}
    assert not {a for a in actions if a.startswith("sqs:")}
    # It may commit an AEP batch (the file it finalizes); it never calls ADM.
    assert _secret_readers(cfn, "AdmCredentialsSecret").isdisjoint({"SweeperFunction"})
    (invoke,) = (
        c
        for c in _of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": "SweeperFunction"}
    )
    assert invoke["Properties"]["MaximumRetryAttempts"] == 0  # the next run is the retry


def test_tables_are_on_demand_recoverable_encrypted_with_the_expected_keys(
    cfn: dict[str, Any],
) -> None:
    expected = {
        "LedgerTable": ({"pk": "HASH", "sk": "RANGE"}, "expires_at"),
        # Powertools Idempotency's DynamoDBPersistenceLayer defaults.
        "IdempotencyTable": ({"id": "HASH"}, "expiration"),
        "RegistryTable": ({"pk": "HASH"}, None),
    }
    tables = _of_type(cfn, "AWS::DynamoDB::Table")
    assert set(tables) == set(expected)
    for logical_id, (keys, ttl_attribute) in expected.items():
        table = tables[logical_id]["Properties"]
        assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == keys
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["SSESpecification"]["SSEEnabled"] is True
        if ttl_attribute:
            ttl = {"AttributeName": ttl_attribute, "Enabled": True}
            assert table["TimeToLiveSpecification"] == ttl, logical_id


def test_every_function_runs_on_the_layer_arm64_python311_traced(cfn: dict[str, Any]) -> None:
    (layer_id,) = _of_type(cfn, "AWS::Lambda::LayerVersion")
    functions = _of_type(cfn, "AWS::Lambda::Function")
    assert set(functions) == {*PIPELINE_FUNCTIONS, *SETUP_FUNCTIONS}
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["Layers"] == [{"Ref": layer_id}], logical_id
        assert properties["Architectures"] == ["arm64"], logical_id
        assert properties["Runtime"] == "python3.11", logical_id
        assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
        variables = properties["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "adm-ingest", logical_id
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "adm-ingest", logical_id
    for logical_id, handler in SETUP_FUNCTIONS.items():
        assert functions[logical_id]["Properties"]["Handler"] == handler


def test_no_role_grants_wildcard_actions_or_resources_beyond_log_delivery(
    cfn: dict[str, Any],
) -> None:
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            assert not any(action == "*" or action.endswith(":*") for action in statement["Action"])
            if "*" in statement["Resource"]:
                # Step Functions log delivery actions have no resource-level scoping.
                assert all(a.startswith("logs:") for a in statement["Action"]), role_id
                assert role_id in {f"{machine}Role" for machine in STATE_MACHINES}


def test_bucket_writes_and_deletes_are_scoped_to_the_pipeline_s_prefixes(
    cfn: dict[str, Any],
) -> None:
    # Every chunk function may finalize a file: stage fates, write the report and rejects.
    expected = {
        "s3:PutObject": {"_staging/", "reports/", "rejects/"},
        "s3:AbortMultipartUpload": {"rejects/"},
        "s3:DeleteObject": {"_staging/"},
    }
    # The sweeper and the poller finish reports, and stage only the fates of rows the remote
    # system refused after delivery; they read no input file.
    sweeper = {
        "s3:PutObject": {"_staging/*/fates/", "reports/", "rejects/"},
        "s3:AbortMultipartUpload": {"rejects/"},
        "s3:DeleteObject": {"_staging/"},
        "s3:GetObject": {"_staging/", "reports/", "rejects/"},
    }
    for logical_id in (*PIPELINE_FUNCTIONS, *SETUP_FUNCTIONS):
        role_id = f"{logical_id}Role"
        if logical_id in ("SweeperFunction", "PollerFunction"):
            for action, prefixes in sweeper.items():
                assert _object_prefixes(cfn, role_id, action) == prefixes, (logical_id, action)
            continue
        for action, prefixes in expected.items():
            allowed = prefixes if logical_id in CHUNK_FUNCTIONS else set()
            assert _object_prefixes(cfn, role_id, action) == allowed, (logical_id, action)
        # Reads of any key are the chunk functions' business only.
        readers = _object_prefixes(cfn, role_id, "s3:GetObject")
        assert readers == ({""} if logical_id in CHUNK_FUNCTIONS else set()), logical_id


def _secret_readers(cfn: Mapping[str, Any], secret: str) -> set[str]:
    """The functions whose role may read ``secret`` (by logical id)."""
    return {
        role_id.removesuffix("Role")
        for role_id in _of_type(cfn, "AWS::IAM::Role")
        for statement in _statements(cfn, role_id)
        if "secretsmanager:GetSecretValue" in statement["Action"]
        and secret in _references(statement["Resource"])
    }


def test_secrets_are_read_only_by_name_and_only_by_the_functions_that_call_their_platform(
    cfn: dict[str, Any],
) -> None:
    secrets = set(_of_type(cfn, "AWS::SecretsManager::Secret"))
    assert secrets == {"AdmCredentialsSecret", "AepCredentialsSecret"}
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            if any(a.startswith("secretsmanager:") for a in statement["Action"]):
                assert statement["Action"] == ["secretsmanager:GetSecretValue"], role_id
                # One secret per statement, by reference: never a pattern or a wildcard.
                assert len(statement["Resource"]) == 1, role_id
                assert len(_references(statement["Resource"]) & secrets) == 1, role_id
    # The poller reads an audience dataset's metrics (the match rate).
    adm = {"WorkerFunction", "PollerFunction", *SETUP_FUNCTIONS} - {
        "SaveRegistryFunction",
        "EnsureAepDatasetFunction",
    }
    assert _secret_readers(cfn, "AdmCredentialsSecret") == adm
    assert _secret_readers(cfn, "AepCredentialsSecret") == AEP_CALLERS
    # Each reader is told which secret it may read, and no other function is.
    for secret, variable, readers in (
        ("AdmCredentialsSecret", "ADM_SECRET_ID", adm),
        ("AepCredentialsSecret", "AEP_SECRET_ID", AEP_CALLERS),
    ):
        for logical_id in _of_type(cfn, "AWS::Lambda::Function"):
            variables = _props(cfn, logical_id)["Environment"]["Variables"]
            expected = {"Ref": secret} if logical_id in readers else None
            assert variables.get(variable) == expected, (logical_id, variable)


# The JSON keys each secret's placeholder holds (AEP: adm_ingest.aep.auth.AepCredentials).
SECRET_KEYS = {
    "AdmCredentialsSecret": {
        "client_id",
        "client_secret",
        "refresh_token",
        "region",
        "manager_account_id",
        "advertiser_account_id",
        "profile_id",
    },
    "AepCredentialsSecret": {
        "client_id",
        "client_secret",
        "scopes",
        "org_id",
        "sandbox_name",
        "tenant_id",
    },
}


@pytest.mark.parametrize("logical_id", sorted(SECRET_KEYS))
def test_credentials_secret_is_a_documented_placeholder_under_the_key(
    cfn: dict[str, Any], logical_id: str
) -> None:
    secret = _props(cfn, logical_id)
    assert secret["KmsKeyId"] == {"Ref": "DataKey"}
    placeholder = json.loads(secret["SecretString"])
    documented = SECRET_KEYS[logical_id]
    assert set(placeholder) == documented
    assert set(placeholder.values()) == {""}  # nothing real is ever in the template
    assert all(key in secret["Description"] for key in documented)


def test_aep_secret_keys_are_the_ones_the_client_reads() -> None:
    from adm_ingest.aep.auth import AepCredentials

    keys = SECRET_KEYS["AepCredentialsSecret"]
    assert keys == {field.name for field in dataclasses.fields(AepCredentials)}
    # Each key is required: the placeholder left as it is fails with the keys named.
    with pytest.raises(ValueError, match="client_id, client_secret, scopes, org_id"):
        AepCredentials.from_mapping(dict.fromkeys(keys, ""))


def test_alarms_watch_dead_letters_errors_throttles_and_setup_failures(
    cfn: dict[str, Any],
) -> None:
    alarms = _of_type(cfn, "AWS::CloudWatch::Alarm").values()
    watched = set()
    for alarm in alarms:
        properties = alarm["Properties"]
        assert {"Ref": "AlertsTopic"} in properties["AlarmActions"]
        (subject,) = _references(properties["Dimensions"])
        watched.add((properties["Namespace"], properties["MetricName"], subject))
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "ChunkDeadLetterQueue"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "SplitDeadLetterQueue"),
        ("AWS/Lambda", "Errors", "WorkerFunction"),
        ("AWS/Lambda", "Errors", "SplitterFunction"),
        ("AWS/Lambda", "Throttles", "WorkerFunction"),
        ("AWS/States", "ExecutionsFailed", "SetupStateMachine"),
        ("AWS/States", "ExecutionsFailed", "PollerStateMachine"),
    } <= watched


def test_alerts_topic_is_encrypted_and_alarms_may_use_its_key(cfn: dict[str, Any]) -> None:
    assert _props(cfn, "AlertsTopic")["KmsMasterKeyId"] == {"Ref": "DataKey"}
    key_statements = _props(cfn, "DataKey")["KeyPolicy"]["Statement"]
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and "kms:Decrypt" in s["Action"]
        for s in key_statements
    )
    assert cfn["Resources"]["AlertsEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_dashboard_body_is_json_over_existing_resources(cfn: dict[str, Any]) -> None:
    body = _props(cfn, "PipelineDashboard")["DashboardBody"]["Fn::Sub"]
    for reference in _PLACEHOLDER.findall(body):
        logical_id = reference.split(".")[0]
        assert logical_id in cfn["Resources"] or logical_id.startswith("AWS::"), reference
    dashboard = json.loads(_PLACEHOLDER.sub("x", body))
    text = json.dumps(dashboard)
    for metric in ("RecordsAccepted", "RecordsRejected", "RecordsFailed", "Requests"):
        assert f'MetricName=\\"{metric}\\"' in text


def test_adm_endpoints_default_to_the_selected_region(sam: dict[str, Any]) -> None:
    regions = sam["Parameters"]["AdmRegion"]["AllowedValues"]
    assert set(regions) == {"NA", "EU", "FE"}
    endpoints = sam["Mappings"]["AdmEndpoints"]
    for region in regions:
        assert endpoints[region]["ApiUrl"].startswith("https://advertising-api")
        assert endpoints[region]["TokenUrl"].endswith("/auth/o2/token")


def test_aep_hosts_default_to_adobe_s_through_the_library_s_one_declaration(
    sam: dict[str, Any],
) -> None:
    from adm_ingest.aep.endpoints import (
        AEP_API_HOST,
        AEP_API_URL_ENV,
        AEP_IMS_HOST,
        AEP_IMS_URL_ENV,
        AepSettings,
    )

    variables = sam["Globals"]["Function"]["Environment"]["Variables"]
    for variable, parameter, host in (
        (AEP_API_URL_ENV, "AepApiUrl", AEP_API_HOST),
        (AEP_IMS_URL_ENV, "AepImsUrl", AEP_IMS_HOST),
    ):
        assert variables[variable] == {"Ref": parameter}
        declared = sam["Parameters"][parameter]
        # Empty means the library's host (its one declaration); the description names it.
        assert declared["Default"] == ""
        assert host in " ".join(declared["Description"].split())
    settings = AepSettings.from_environ({AEP_API_URL_ENV: "", AEP_IMS_URL_ENV: ""})
    assert (settings.api_url, settings.ims_url) == (AEP_API_HOST, AEP_IMS_HOST)
    overridden = AepSettings.from_environ({AEP_API_URL_ENV: "https://aep.example"})
    assert overridden.api_url == "https://aep.example"


def test_aep_sizes_are_global_settings_within_the_platform_s_limits(sam: dict[str, Any]) -> None:
    variables = sam["Globals"]["Function"]["Environment"]["Variables"]
    parameters = sam["Parameters"]
    expected = {
        "AEP_PART_BYTES": ("AepPartBytes", 64 << 20),
        "AEP_LARGE_FILE_BYTES": ("AepLargeFileBytes", 256_000_000),
        "AEP_PARTS_PER_BATCH": ("AepPartsPerBatch", 400),
    }
    for variable, (parameter, default) in expected.items():
        assert variables[variable] == {"Ref": parameter}
        assert parameters[parameter]["Type"] == "Number"
        assert parameters[parameter]["Default"] == default, parameter
        assert parameters[parameter]["MinValue"] >= 1, parameter
    # A single PUT takes at most 256 MB; a batch at most 1,500 files and 100 GB.
    assert parameters["AepLargeFileBytes"]["MaxValue"] <= 256_000_000
    assert parameters["AepPartsPerBatch"]["MaxValue"] <= 1500
    batch_source = parameters["AepPartsPerBatch"]["Default"] * parameters["AepPartBytes"]["Default"]
    assert batch_source <= 100 * 10**9 / 3  # room for XDM JSON being larger than its source


def test_outputs_name_what_operators_and_the_local_stack_need(cfn: dict[str, Any]) -> None:
    assert {
        "BucketName",
        "ChunkQueueUrl",
        "ChunkDeadLetterQueueUrl",
        "SplitQueueUrl",
        "LedgerTableName",
        "IdempotencyTableName",
        "RegistryTableName",
        "SetupStateMachineArn",
        "PollerStateMachineArn",
        "AdmCredentialsSecretArn",
        "AepCredentialsSecretArn",
    } <= set(cfn["Outputs"])


# ---------------------------------------------------------------------------- (2b) hardening

LOG_BUCKET_PREFIX = "ingest-bucket/"
# CloudWatch Logs' valid RetentionInDays values (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}  # fmt: skip


def _conditional(value: Any, condition: str) -> Any:
    """The value an ``Fn::If`` on ``condition`` yields when true; its false branch must be
    ``AWS::NoValue`` (so the condition switches the setting off, nothing else)."""
    assert isinstance(value, dict) and set(value) == {"Fn::If"}, value
    name, when_true, when_false = value["Fn::If"]
    assert name == condition
    assert when_false == {"Ref": "AWS::NoValue"}
    return when_true


def _is_not_zero(cfn: Mapping[str, Any], condition: str, parameter: str) -> None:
    assert cfn["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "0"]}]}


def test_ingest_bucket_logs_every_access_to_the_log_bucket(cfn: dict[str, Any]) -> None:
    bucket = cfn["Resources"]["IngestBucket"]
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    assert logging["LogFilePrefix"] == LOG_BUCKET_PREFIX
    # S3 checks the destination's policy when logging is turned on.
    assert "AccessLogBucketPolicy" in bucket["DependsOn"]


def test_access_log_bucket_is_private_tls_only_and_expires_its_logs(cfn: dict[str, Any]) -> None:
    bucket = _props(cfn, "AccessLogBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    # Log delivery supports SSE-S3 destinations only; ACLs off, delivery by bucket policy.
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert [r["ExpirationInDays"] for r in expiring] == [{"Ref": "AccessLogExpirationDays"}]
    assert "Prefix" not in expiring[0]  # every log, whatever its prefix
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    assert cfn["Parameters"]["AccessLogExpirationDays"]["MinValue"] >= 1


def test_access_log_bucket_admits_only_the_s3_logging_service_for_the_ingest_bucket(
    cfn: dict[str, Any],
) -> None:
    policy = _props(cfn, "AccessLogBucketPolicy")
    assert policy["Bucket"] == {"Ref": "AccessLogBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    (delivery,) = allows
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] in ("s3:PutObject", ["s3:PutObject"])
    assert delivery["Resource"] == {"Fn::Sub": f"${{AccessLogBucket.Arn}}/{LOG_BUCKET_PREFIX}*"}
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}"}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }
    (denial,) = (s for s in statements if s["Effect"] == "Deny")
    assert denial["Principal"] == "*"
    assert denial["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert _references(denial["Resource"]) == {"AccessLogBucket"}
    assert len(denial["Resource"]) == 2  # the bucket and its objects


def test_splitter_and_dead_letter_function_reserve_concurrency_their_queues_respect(
    cfn: dict[str, Any],
) -> None:
    reservations = {
        "SplitterFunction": ("SplitterReservedConcurrency", "ReservesSplitterConcurrency"),
        "DeadLetterFunction": ("DeadLetterReservedConcurrency", "ReservesDeadLetterConcurrency"),
    }
    mappings = {
        m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
    }
    for function, (parameter, condition) in reservations.items():
        reserved = _props(cfn, function)["ReservedConcurrentExecutions"]
        assert _conditional(reserved, condition) == {"Ref": parameter}
        _is_not_zero(cfn, condition, parameter)
        declared = cfn["Parameters"][parameter]
        assert declared["MinValue"] == 0 and declared["Default"] >= 2, parameter
        # Pollers beyond the reservation would only be throttled (a throttle is a receive).
        scaling = _conditional(mappings[function]["ScalingConfig"], condition)
        assert scaling == {"MaximumConcurrency": {"Ref": parameter}}
    # 1 is refused at deploy: an SQS event source's maximum concurrency is at least 2.
    (rule,) = cfn["Rules"].values()
    asserted = {_references(a["Assert"]).pop() for a in rule["Assertions"]}
    assert asserted == {parameter for parameter, _ in reservations.values()}
    # The worker is capped by its event source instead (see the worker test above).
    assert "ReservedConcurrentExecutions" not in _props(cfn, "WorkerFunction")


def test_every_function_logs_to_a_declared_group_with_the_retention_and_key(
    cfn: dict[str, Any],
) -> None:
    groups = _of_type(cfn, "AWS::Logs::LogGroup")
    used = set()
    for logical_id in (*PIPELINE_FUNCTIONS, *SETUP_FUNCTIONS):
        group_ref = _props(cfn, logical_id)["LoggingConfig"]["LogGroup"]
        group_id = group_ref["Ref"]
        assert group_id in groups, logical_id
        assert group_id not in used, f"{logical_id} shares {group_id}"
        used.add(group_id)
        name = groups[group_id]["Properties"]["LogGroupName"]
        assert name == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{logical_id}"}
    for machine in STATE_MACHINES:
        (destination,) = _props(cfn, machine)["LoggingConfiguration"]["Destinations"]
        assert _references(destination) == {f"{machine}LogGroup"}
    assert set(groups) == used | {f"{machine}LogGroup" for machine in STATE_MACHINES}
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, logical_id
    retention = cfn["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 30
    assert set(retention["AllowedValues"]) == CLOUDWATCH_RETENTION_DAYS


def test_log_groups_may_use_the_key_through_cloudwatch_logs_of_this_account_only(
    cfn: dict[str, Any],
) -> None:
    (statement,) = (
        s
        for s in _props(cfn, "DataKey")["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    )
    log_groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    assert statement["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Sub": log_groups}}
    }


def test_data_is_retained_when_the_stack_is_deleted_or_a_resource_replaced(
    cfn: dict[str, Any],
) -> None:
    holding_data = (
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SecretsManager::Secret",
        "AWS::KMS::Key",
    )
    retained = set()
    for resource_type in holding_data:
        for logical_id, resource in _of_type(cfn, resource_type).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
            retained.add(logical_id)
    assert {
        "IngestBucket",
        "AccessLogBucket",
        "LedgerTable",
        "IdempotencyTable",
        "RegistryTable",
        "AdmCredentialsSecret",
        "AepCredentialsSecret",
        "DataKey",
    } <= retained


def test_inputs_expire_after_the_configured_days_unless_zero(cfn: dict[str, Any]) -> None:
    rules = _props(cfn, "IngestBucket")["LifecycleConfiguration"]["Rules"]
    conditional = [_conditional(rule, "ExpiresInputs") for rule in rules if "Fn::If" in rule]
    days = {"Ref": "InputExpirationDays"}
    assert {rule["Prefix"] for rule in conditional} == set(INPUT_PREFIXES)
    for rule in conditional:
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == days
        # Raw PII: a superseded (or expired) version goes a day later, not another N days.
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    _is_not_zero(cfn, "ExpiresInputs", "InputExpirationDays")
    assert cfn["Parameters"]["InputExpirationDays"]["Default"] == 30
    assert cfn["Parameters"]["InputExpirationDays"]["MinValue"] == 0
    # The prefixes that expire are exactly those that trigger the splitter.
    notified = {
        c["Filter"]["S3Key"]["Rules"][0]["Value"]
        for c in _props(cfn, "IngestBucket")["NotificationConfiguration"]["LambdaConfigurations"]
    }
    assert notified == set(INPUT_PREFIXES)


def test_staged_chunks_leave_no_versions_and_no_upload_lingers(cfn: dict[str, Any]) -> None:
    rules = [r for r in _props(cfn, "IngestBucket")["LifecycleConfiguration"]["Rules"] if "Id" in r]
    (staging,) = (r for r in rules if r.get("Prefix") == "_staging/")
    assert staging["ExpirationInDays"] == 2
    assert staging["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    (abort,) = (r for r in rules if "AbortIncompleteMultipartUpload" in r)
    assert "Prefix" not in abort  # uploads under any key
    assert abort["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 7
    assert any(r.get("ExpiredObjectDeleteMarker") is True for r in rules)


# ---------------------------------------------------------------------------- checkov

CHECKOV_CONFIG = ROOT / ".checkov.yaml"
MAKEFILE = ROOT / "Makefile"
_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


def _reasoned_skips(config_text: str) -> dict[str, str]:
    """The ``skip-check`` entries of the checkov config, each with the comment above it."""
    skips: dict[str, str] = {}
    in_skips = False
    comment: list[str] = []
    for line in config_text.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "#")) and stripped:
            in_skips = stripped == "skip-check:"
            comment = []
        elif in_skips and stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
        elif in_skips and stripped.startswith("- "):
            check_id = stripped[2:].split("#")[0].strip()
            skips[check_id] = " ".join(comment)
            comment = []
    return skips


def test_every_checkov_skip_gives_its_reason() -> None:
    text = CHECKOV_CONFIG.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    skips = _reasoned_skips(text)
    # What the line reader found is what checkov reads: no entry escapes the reason check.
    assert list(skips) == config["skip-check"]
    for check_id, reason in skips.items():
        assert _CHECK_ID.match(check_id), check_id
        assert len(reason.split()) >= 8, f"{check_id}: say why it is accepted"
    assert config["framework"] == ["cloudformation"]


def test_resource_level_checkov_skips_give_their_reasons(cfn: dict[str, Any]) -> None:
    skips = [
        (logical_id, skip)
        for logical_id, resource in cfn["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips  # the access-log bucket's own logging, at least
    for logical_id, skip in skips:
        assert _CHECK_ID.match(skip["id"]), logical_id
        assert len(skip.get("comment", "").split()) >= 8, (logical_id, skip["id"])


def test_check_template_transforms_with_the_tests_aws_sam_translator() -> None:
    """make check-template runs the transform in checkov's virtualenv: same translator pin."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (pin,) = (
        d for d in pyproject["project"]["optional-dependencies"]["dev"] if "sam-translator" in d
    )
    makefile = MAKEFILE.read_text(encoding="utf-8")
    assert pin in makefile
    assert re.search(r"checkov==\d+\.\d+\.\d+", makefile)
    assert "scripts/transform_template.py" in makefile


# ---------------------------------------------------------------------------- layer


def test_layer_requirements_are_exactly_the_runtime_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = set(pyproject["project"]["dependencies"])
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    layer = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert layer == runtime


def test_layer_builds_with_the_package_at_its_content_root(sam: dict[str, Any]) -> None:
    layer = sam["Resources"]["CommonLayer"]
    content_root = ROOT / layer["Properties"]["ContentUri"]
    # BuildMethod python3.x copies the ContentUri into python/: a nested python/ would double up.
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert (content_root / "adm_ingest" / "__init__.py").is_file()
    assert (content_root / "requirements.txt").is_file()
    assert not (content_root / "python").exists()


# ---------------------------------------------------------------------------- (3) the ASL file


def test_asl_placeholders_are_exactly_the_template_s_substitutions(
    cfn: dict[str, Any], asl_text: str
) -> None:
    substitutions = set(_props(cfn, "SetupStateMachine")["DefinitionSubstitutions"])
    assert set(_PLACEHOLDER.findall(asl_text)) == substitutions


def test_asl_renders_to_json_with_numeric_retries(cfn: dict[str, Any], asl_text: str) -> None:
    definition = render_asl(asl_text, _substitution_values(cfn))
    retries = [retry for _, _, state in _states(definition) for retry in state.get("Retry", [])]
    assert retries
    for retry in retries:
        assert isinstance(retry["IntervalSeconds"], int)
        assert isinstance(retry["MaxAttempts"], int)


def test_asl_transitions_name_states_of_their_own_scope(cfn: dict[str, Any], asl_text: str) -> None:
    """cfn-lint checks StartAt but not Next/Default/Catch targets; a typo there deploys fine
    and fails only when that branch runs."""
    definition = render_asl(asl_text, _substitution_values(cfn))
    for scope, name, state in _states(definition):
        targets = [state.get("Next"), state.get("Default")]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in scope["States"], f"{name} → {target}"
        terminal = state["Type"] in ("Choice", "Succeed", "Fail")
        assert terminal or state.get("End") or state.get("Next"), name


def test_state_machine_invokes_exactly_the_setup_functions(
    cfn: dict[str, Any], asl_text: str
) -> None:
    substitutions = _props(cfn, "SetupStateMachine")["DefinitionSubstitutions"]
    for name, value in substitutions.items():
        if name.endswith("FunctionArn"):
            assert value == {"Fn::GetAtt": [name.removesuffix("Arn"), "Arn"]}
    assert substitutions["FailureTopicArn"] == {"Ref": "AlertsTopic"}

    definition = render_asl(asl_text, _substitution_values(cfn))
    lambda_arns = {
        state["Resource"]
        for _, _, state in _states(definition)
        if state["Type"] == "Task" and ":lambda:" in state["Resource"]
    }
    invoked = {arn.rsplit(":", 1)[1] for arn in lambda_arns}
    assert invoked == set(SETUP_FUNCTIONS)

    invokable = {
        function
        for statement in _statements(cfn, "SetupStateMachineRole")
        if "lambda:InvokeFunction" in statement["Action"]
        for function in _references(statement["Resource"])
    }
    assert invokable == set(SETUP_FUNCTIONS)


# ---------------------------------------------------------------------------- (4) the poller


@pytest.fixture(scope="module")
def poller_definition(cfn: dict[str, Any]) -> dict[str, Any]:
    text = POLLER_ASL_PATH.read_text(encoding="utf-8")
    return render_asl(text, _substitution_values(cfn, "PollerStateMachine"))


def test_poller_asl_placeholders_are_exactly_its_substitutions(cfn: dict[str, Any]) -> None:
    machine = _props(cfn, "PollerStateMachine")
    text = POLLER_ASL_PATH.read_text(encoding="utf-8")
    assert set(_PLACEHOLDER.findall(text)) == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionSubstitutions"]["PollFunctionArn"] == {
        "Fn::GetAtt": ["PollerFunction", "Arn"]
    }
    # A standard workflow: waits of minutes, polled for hours, each step in the history.
    assert cfn["Resources"]["PollerStateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"
    assert machine["StateMachineType"] == "STANDARD"


def test_poller_asl_is_bounded_with_numeric_substitutions(
    poller_definition: dict[str, Any],
) -> None:
    states = poller_definition["States"]
    (bound,) = (
        rule["NumericGreaterThanEquals"]
        for choice in states["IsTerminal"]["Choices"]
        for rule in choice.get("Or", [])
        if "NumericGreaterThanEquals" in rule
    )
    assert isinstance(bound, int) and 0 < bound <= 2000  # ~10 events a poll, 25,000 at most
    for _, name, state in _states(poller_definition):
        for retry in state.get("Retry", []):
            assert isinstance(retry["IntervalSeconds"], int), name
            assert isinstance(retry["MaxAttempts"], int), name
        targets = [state.get("Next"), state.get("Default")]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} → {target}"


def test_poller_machine_invokes_only_the_poller_function(
    cfn: dict[str, Any], poller_definition: dict[str, Any]
) -> None:
    tasks = {s["Resource"] for _, _, s in _states(poller_definition) if s["Type"] == "Task"}
    assert {arn.rsplit(":", 1)[1] for arn in tasks} == {"PollerFunction"}
    statements = _statements(cfn, "PollerStateMachineRole")
    invokable = {
        function
        for statement in statements
        if "lambda:InvokeFunction" in statement["Action"]
        for function in _references(statement["Resource"])
    }
    assert invokable == {"PollerFunction"}
    actions = {a for statement in statements for a in statement["Action"]}
    assert {a.split(":")[0] for a in actions} == {"lambda", "logs"}


def test_only_finalizing_functions_start_the_poller_and_only_the_poller(
    cfn: dict[str, Any],
) -> None:
    starters = {}
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            if any(a.startswith("states:") for a in statement["Action"]):
                assert statement["Action"] == ["states:StartExecution"], role_id
                starters[role_id.removesuffix("Role")] = statement["Resource"]
    assert set(starters) == set(FINALIZING_FUNCTIONS)
    for function, resources in starters.items():
        (arn,) = resources
        assert "PollerStateMachine" in json.dumps(arn), function
        variables = _props(cfn, function)["Environment"]["Variables"]
        assert variables["POLLER_STATE_MACHINE_ARN"] == {"Ref": "PollerStateMachine"}, function


def test_poller_function_reads_and_updates_only_the_ledger_file_items(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn, "PollerFunctionRole")
    dynamodb = {
        action: statement["Resource"]
        for statement in statements
        for action in statement["Action"]
        if action.startswith("dynamodb:")
    }
    table = [{"Fn::GetAtt": ["LedgerTable", "Arn"]}]
    assert dynamodb == {"dynamodb:GetItem": table, "dynamodb:UpdateItem": table}
    variables = _props(cfn, "PollerFunction")["Environment"]["Variables"]
    assert variables["POLL_INTERVAL_SECONDS"] == {"Ref": "PollIntervalSeconds"}
    assert variables["POLL_MAX_SECONDS"] == {"Ref": "PollTimeoutSeconds"}
    assert cfn["Parameters"]["PollIntervalSeconds"]["MaxValue"] <= 3600  # the library's bound


# ---------------------------------------------------------------------------- file notifications

NOTIFYING_FUNCTIONS = (*FINALIZING_FUNCTIONS, "PollerFunction")
"""Every function whose finalizer may mark a file reported (the poller writes the final report
of a pending commit), hence publishes its notification."""


def test_file_reports_have_an_encrypted_topic_of_their_own_with_an_optional_email(
    cfn: dict[str, Any],
) -> None:
    assert _props(cfn, "FileReportsTopic")["KmsMasterKeyId"] == {"Ref": "DataKey"}
    subscription = cfn["Resources"]["FileReportsEmailSubscription"]
    assert subscription["Condition"] == "HasFileReportsEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "FileReportsTopic"}
    assert subscription["Properties"]["Endpoint"] == {"Ref": "FileReportsEmail"}
    assert cfn["Parameters"]["FileReportsEmail"]["Default"] == ""
    assert cfn["Conditions"]["HasFileReportsEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "FileReportsEmail"}, ""]}]
    }
    threshold = cfn["Parameters"]["RejectAlertThreshold"]
    assert (threshold["Default"], threshold["MinValue"], threshold["MaxValue"]) == (0.05, 0, 1)
    assert cfn["Outputs"]["FileReportsTopicArn"]["Value"] == {"Ref": "FileReportsTopic"}


def test_exactly_the_functions_that_finalize_publish_file_reports_and_only_there(
    cfn: dict[str, Any],
) -> None:
    publishers: dict[str, list[Any]] = {}
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            if "FileReportsTopic" in _references(statement["Resource"]):
                assert statement["Action"] == ["sns:Publish"], role_id
                publishers[role_id.removesuffix("Role")] = statement["Resource"]
    assert set(publishers) == set(NOTIFYING_FUNCTIONS)
    for function in NOTIFYING_FUNCTIONS:
        (arn,) = publishers[function]  # one topic, by name: never a pattern
        assert arn == {
            "Fn::Sub": [
                "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${topicName}",
                {"topicName": {"Fn::GetAtt": ["FileReportsTopic", "TopicName"]}},
            ]
        }, function
        # Publishing to the encrypted topic needs the data key (the functions already use it).
        key_actions = {
            action
            for statement in _statements(cfn, f"{function}Role")
            if "DataKey" in _references(statement["Resource"])
            for action in statement["Action"]
        }
        assert {"kms:GenerateDataKey", "kms:Decrypt"} <= key_actions, function
    for logical_id in _of_type(cfn, "AWS::Lambda::Function"):
        variables = _props(cfn, logical_id)["Environment"]["Variables"]
        notifies = logical_id in NOTIFYING_FUNCTIONS
        assert variables.get("FILE_REPORTS_TOPIC_ARN") == (
            {"Ref": "FileReportsTopic"} if notifies else None
        ), logical_id
        assert variables.get("REJECT_ALERT_THRESHOLD") == (
            {"Ref": "RejectAlertThreshold"} if notifies else None
        ), logical_id


def test_the_threshold_parameter_s_default_is_the_library_s() -> None:
    from adm_ingest.notify import DEFAULT_REJECT_THRESHOLD
    from adm_ingest.settings import Settings

    assert Settings().reject_alert_threshold == DEFAULT_REJECT_THRESHOLD == 0.05


ACCOUNT_ACTORS = {
    "WorkerFunction",
    "EnsureAccountFunction",
    "EnsureAudienceFunction",
    "EnsureConversionDefinitionsFunction",
    "EnsureSharingRuleFunction",
}
"""The functions that may act for a setup-config account other than the default one."""


def test_only_the_functions_acting_for_an_account_may_read_the_listed_account_secrets(
    cfn: dict[str, Any], sam: dict[str, Any]
) -> None:
    parameter = sam["Parameters"]["AdmAccountSecretArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    readers = set()
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            if "AdmAccountSecretArns" in _references(statement["Resource"]):
                assert statement["Action"] == ["secretsmanager:GetSecretValue"], role_id
                # The listed ARNs, or (none listed) the stack's own secret: never a pattern.
                (resource,) = statement["Resource"]
                assert resource == {
                    "Fn::If": [
                        "HasAdmAccountSecrets",
                        {"Ref": "AdmAccountSecretArns"},
                        {"Ref": "AdmCredentialsSecret"},
                    ]
                }, role_id
                readers.add(role_id.removesuffix("Role"))
    assert readers == ACCOUNT_ACTORS


def test_every_function_calling_aep_and_only_they_may_read_the_listed_aep_account_secrets(
    cfn: dict[str, Any], sam: dict[str, Any]
) -> None:
    parameter = sam["Parameters"]["AepAccountSecretArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    groups = sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    aep_group = next(g for g in groups if g["Label"]["default"] == "Adobe Experience Platform")
    assert "AepAccountSecretArns" in aep_group["Parameters"]
    readers = set()
    for role_id in _of_type(cfn, "AWS::IAM::Role"):
        for statement in _statements(cfn, role_id):
            if "AepAccountSecretArns" in _references(statement["Resource"]):
                assert statement["Action"] == ["secretsmanager:GetSecretValue"], role_id
                (resource,) = statement["Resource"]
                assert resource == {
                    "Fn::If": [
                        "HasAepAccountSecrets",
                        {"Ref": "AepAccountSecretArns"},
                        {"Ref": "AepCredentialsSecret"},
                    ]
                }, role_id
                readers.add(role_id.removesuffix("Role"))
    # Every function that may call AEP for a file (or setup) of another org, and no other.
    assert readers == AEP_CALLERS
    assert cfn["Conditions"]["HasAepAccountSecrets"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "AepAccountSecretArns"}]}, ""]}]
    }


def test_operators_get_one_least_privilege_policy_for_the_cli(cfn: dict[str, Any]) -> None:
    policy = cfn["Resources"]["OperatorPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {action for s in statements for action in _as_list(s["Action"])}
    # What progress / report / redrive / setup --against aws call, and nothing that deletes.
    assert "sqs:SendMessage" in actions and "states:StartExecution" in actions
    assert not {a for a in actions if "Delete" in a or a.endswith(":*") or a == "*"}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*", statement["Sid"]
    writes = next(s for s in statements if s["Sid"] == "CarryRejectsIntoStaging")
    assert _as_list(writes["Action"]) == ["s3:PutObject"]
    assert "/_staging/*" in writes["Resource"]["Fn::Sub"]
    assert cfn["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
