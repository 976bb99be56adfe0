"""Where a deployment's resources are, and which ledger file an S3 key is."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from adm_ingest.ledger import FileRecord, Ledger
from adm_ingest.pipeline.chunks import file_id_for
from adm_local.operator.exits import FILE_ERROR, USAGE, CliError

STACK_ENV = "ADM_INGEST_STACK"
OUTPUTS = {
    "BucketName": "bucket",
    "LedgerTableName": "ledger_table",
    "ChunkQueueUrl": "chunk_queue_url",
}
"""template.yaml's outputs → :class:`Resources` fields."""
ENVIRONMENT = {
    "bucket": "BUCKET",
    "ledger_table": "LEDGER_TABLE",
    "chunk_queue_url": "CHUNK_QUEUE_URL",
}
"""The functions' variables (and the local stack's) → :class:`Resources` fields."""
FLAGS = {"bucket": "--bucket", "ledger_table": "--table", "chunk_queue_url": "--queue"}


@dataclass(frozen=True, slots=True)
class Resources:
    bucket: str = ""
    ledger_table: str = ""
    chunk_queue_url: str = ""

    def need(self, *names: str) -> None:
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            flags = ", ".join(f"{FLAGS[name]} (or ${ENVIRONMENT[name]})" for name in missing)
            raise CliError(f"where is the deployment? give --stack NAME, or {flags}", USAGE)


def add_arguments(parser: argparse.ArgumentParser, *, queue: bool = False) -> None:
    parser.add_argument(
        "--stack", help=f"the CloudFormation stack to read resources from (default: ${STACK_ENV})"
    )
    parser.add_argument("--bucket", help="the ingest bucket (default: the stack's, or $BUCKET)")
    parser.add_argument("--table", help="the ledger table (default: the stack's, or $LEDGER_TABLE)")
    if queue:
        parser.add_argument(
            "--queue", help="the chunk queue URL (default: the stack's, or $CHUNK_QUEUE_URL)"
        )


def resources(args: argparse.Namespace) -> Resources:
    """Flags first, then the stack's outputs, then the environment."""
    found = {field: os.environ.get(variable, "") for field, variable in ENVIRONMENT.items()}
    stack = getattr(args, "stack", None) or os.environ.get(STACK_ENV)
    if stack:
        found |= _stack_outputs(stack)
    flags = {"bucket": args.bucket, "ledger_table": args.table}
    flags["chunk_queue_url"] = getattr(args, "queue", None)
    found |= {field: value for field, value in flags.items() if value}
    return Resources(**found)


def _stack_outputs(stack: str) -> dict[str, str]:
    try:
        described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as error:
        raise CliError(f"stack {stack!r}: {aws_message(error)}") from None
    outputs = described["Stacks"][0].get("Outputs", [])
    return {
        OUTPUTS[output["OutputKey"]]: str(output["OutputValue"])
        for output in outputs
        if output.get("OutputKey") in OUTPUTS
    }


def find_file(ledger: Ledger, s3: Any, bucket: str, key: str) -> FileRecord:
    """The ledger file of the object's current version (its id is derived from the bucket,
    key, version id and ETag, as the splitter derives it).

    Raises:
        CliError: no such object, or the ledger holds no file for that version.
    """
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if aws_code(error) in ("404", "NoSuchKey", "NotFound"):
            raise CliError(f"s3://{bucket}/{key}: no such object") from None
        raise
    # As the S3 event named it: with the version id — which an unversioned bucket's events
    # (and moto's, versioned or not) leave out, so the id without it is tried next.
    versions = dict.fromkeys((head.get("VersionId") or None, None))
    file = next(
        (
            found
            for version in versions
            if (found := ledger.get_file(file_id_for(bucket, key, version, head.get("ETag"))))
        ),
        None,
    )
    if file is None:
        raise CliError(
            f"s3://{bucket}/{key}: not in the ledger "
            "(not picked up yet, or its prefix is not routed)"
        )
    return file


def aws_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_message(error: BotoCoreError | ClientError) -> str:
    """One line for an AWS error: the service's code and message, or botocore's."""
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials (set AWS_PROFILE, or the AWS_ACCESS_KEY_ID pair)"
    if isinstance(error, NoRegionError):  # botocore says only "You must specify a region."
        return "no AWS region (set AWS_REGION or AWS_DEFAULT_REGION, or a profile's region)"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(": ")
    return str(error)


__all__ = ["FILE_ERROR", "Resources", "add_arguments", "aws_message", "find_file", "resources"]
