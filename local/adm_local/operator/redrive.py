"""``adm-ingest redrive [<key>]``: send dead-lettered chunks back to the chunk queue (all of
them, or one file's); the ledger re-opens their accounting and the report is rewritten
(:mod:`adm_ingest.pipeline.redrive` says how, and why it is safe)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

import boto3

from adm_ingest.ledger import Ledger
from adm_ingest.pipeline.redrive import FileRedrive, RedriveConflict, Redriver
from adm_local.operator import aws
from adm_local.operator.exits import FILE_ERROR, OK, CliError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "redrive", help="send dead-lettered chunks through the pipeline again"
    )
    parser.add_argument("key", nargs="?", help="one file's S3 key (default: every file)")
    aws.add_arguments(parser, queue=True)
    parser.add_argument("--json", action="store_true", help="print JSON")


def describe(result: FileRedrive) -> str:
    name = result.key or result.file_id
    if result.refused:
        return f"{name}: not redriven: {result.refused}"
    if not result.chunks:
        return f"{name}: nothing to redrive"
    lines = [f"{name}: {result.sent} chunk(s) sent back to the chunk queue"]
    lines.extend(
        f"  chunk {chunk.index}: {chunk.outcome}"
        + (f" ({chunk.records} records)" if chunk.records else "")
        + (f": {chunk.reason}" if chunk.reason else "")
        for chunk in result.chunks
    )
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    found = aws.resources(args)
    found.need("bucket", "ledger_table", "chunk_queue_url")
    ledger = Ledger(found.ledger_table)
    s3 = boto3.client("s3")
    redriver = Redriver(
        ledger, s3=s3, sqs=boto3.client("sqs"), chunk_queue_url=found.chunk_queue_url
    )
    try:
        if args.key:
            results = [
                redriver.redrive_file(aws.find_file(ledger, s3, found.bucket, args.key).file_id)
            ]
        else:
            results = redriver.redrive_all()
    except RedriveConflict as conflict:
        raise CliError(f"{conflict} (it sends the chunks itself)") from None
    if args.json:
        print(json.dumps({"files": [result.as_dict() for result in results]}, indent=2), file=out)
    elif not results:
        print("no dead-lettered chunks to redrive", file=out)
    else:
        for result in results:
            print(describe(result), file=out)
    refused = any(result.refused for result in results)
    skipped = any(chunk.outcome == "skipped" for result in results for chunk in result.chunks)
    return FILE_ERROR if refused or skipped else OK
