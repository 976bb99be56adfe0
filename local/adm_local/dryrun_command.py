"""``adm-ingest dry-run FILE``: the exact request bodies for a local file, and an exit code a
script can act on.

Exit codes (the CLI's, README "Exit codes"): 0 the file would be sent; 1 a file-level error —
the file cannot be read as records, or not one record would be sent (every record rejected, or
none at all); 2 a usage error (a missing file, a bad option or mapping); 3 the share of records
rejected is above ``--fail-on-rejects PCT``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adm_ingest.destinations import DEFAULT_DESTINATION, DESTINATIONS

EXIT_OK = 0
EXIT_FILE_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTS_ABOVE_THRESHOLD = 3


def add_parser(commands: Any) -> None:
    """Register ``dry-run`` on the CLI's sub-parsers."""
    dry = commands.add_parser(
        "dry-run",
        help="write the exact request bodies for a local file",
        description=(
            "Write the request bodies the pipeline would send for FILE, its report and its "
            "rejects. Exit codes: 0 ok, 1 file-level error (unreadable, or every record "
            "rejected), 2 usage, 3 rejects above --fail-on-rejects."
        ),
    )
    dry.add_argument("file", type=Path)
    dry.add_argument(
        "--destination",
        "--kind",
        dest="destination",
        choices=[destination.name for destination in DESTINATIONS],
        default=DEFAULT_DESTINATION,
        help=f"where the file's records would go (default: {DEFAULT_DESTINATION})",
    )
    dry.add_argument(
        "--schema",
        type=Path,
        help="the target's schema as its platform returns it (e.g. an XDM schema, xed-full "
        "JSON), for destinations that validate records against one",
    )
    dry.add_argument(
        "--country",
        help="the audience's country (ISO 3166 alpha-2), for records without their own; "
        "default: the deployment default, US",
    )
    dry.add_argument("--mapping", type=Path, help="column mapping config (JSON)")
    dry.add_argument("--out", type=Path, default=Path("out/dry-run"), help="output folder")
    dry.add_argument(
        "--json", action="store_true", help="print the report's JSON instead of the summary"
    )
    dry.add_argument("--target-name", default="dry-run", help="audience / definition name")
    dry.add_argument("--target-id", default="DRY-RUN-TARGET", help="dataSetId / definition id")
    dry.add_argument(
        "--fail-on-rejects",
        type=_percent,
        metavar="PCT",
        help="exit 3 when more than PCT %% of the records read are rejected (0-100)",
    )


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 0 to 100, got {text}")
    return value


def exit_code(report: Mapping[str, Any], fail_on_rejects: float | None = None) -> int:
    """The dry-run's verdict on its report: see the module docstring."""
    read = int(report["records_read"])
    if int(report["accepted"]) == 0:
        return EXIT_FILE_ERROR
    if fail_on_rejects is not None and read and reject_share(report) > fail_on_rejects:
        return EXIT_REJECTS_ABOVE_THRESHOLD
    return EXIT_OK


def reject_share(report: Mapping[str, Any]) -> float:
    """Rejected records as a percentage of the records read (0 for an empty file)."""
    read = int(report["records_read"])
    return 100.0 * int(report["rejected"]) / read if read else 0.0


def verdict(report: Mapping[str, Any], code: int, fail_on_rejects: float | None) -> str | None:
    """The one line that explains a non-zero exit (``None`` for 0)."""
    if code == EXIT_FILE_ERROR:
        if int(report["records_read"]) == 0:
            return "no records in the file: nothing would be sent"
        return f"every record was rejected ({report['records_read']}): nothing would be sent"
    if code == EXIT_REJECTS_ABOVE_THRESHOLD:
        return (
            f"{reject_share(report):.1f} % of the records were rejected, above "
            f"--fail-on-rejects {fail_on_rejects:g} %"
        )
    return None


def run(args: argparse.Namespace) -> int:
    """The ``dry-run`` command."""
    from adm_ingest.consent import ConsentError
    from adm_ingest.destinations import DeliveryTarget, destination_class
    from adm_ingest.mapping import MappingError
    from adm_ingest.readers import FileFormatError
    from adm_local.dryrun import ForeignDataError, dry_run, summary_text

    if not args.file.is_file():
        return _fail(f"{args.file}: no such file")
    kind = destination_class(args.destination)
    target_id = args.target_id if kind.namespace is not None else ""
    attributes: dict[str, str] = {}
    if args.schema is not None:
        try:
            schema = json.loads(args.schema.read_bytes())
            if not isinstance(schema, dict):
                return _fail(f"{args.schema}: not a schema (expected a JSON object)")
            attributes = kind.attributes_from_schema(schema)
        except OSError as error:
            return _fail(f"{args.schema}: {error.strerror or error}")
        except ValueError as error:  # not JSON, or a schema the destination can't use
            return _fail(f"{args.schema}: {error}")
    mapping: Any = None
    if args.mapping is not None:
        # Read here, not in dry_run, so a bad file is named in one line, like --schema.
        try:
            mapping = json.loads(args.mapping.read_bytes())
        except OSError as error:
            return _fail(f"{args.mapping}: {error.strerror or error}")
        except ValueError as error:  # not JSON
            return _fail(f"{args.mapping}: {error}")
    try:
        result = dry_run(
            args.file,
            destination=args.destination,
            out_dir=args.out,
            country=args.country,
            mapping=mapping,
            target=DeliveryTarget(args.destination, args.target_name, target_id, attributes),
        )
    except FileFormatError as error:
        return _fail(f"{args.file}: {error}", EXIT_FILE_ERROR)
    except (MappingError, ConsentError, ForeignDataError, OSError) as error:
        return _fail(str(error))
    print(json.dumps(result.report, indent=2) if args.json else summary_text(result))
    code = exit_code(result.report, args.fail_on_rejects)
    explanation = verdict(result.report, code, args.fail_on_rejects)
    if explanation is not None:
        print(f"adm-ingest: {explanation}", file=sys.stderr)
    return code


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"adm-ingest: error: {message}", file=sys.stderr)
    return code
