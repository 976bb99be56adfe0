"""Generate the structural API schema the ADM sandbox validates against.

Reads Amazon's published OpenAPI files (Ads Data Manager, DSP Conversions, Manager Account) and
writes ``local/adm_local/sandbox/api-schema.json``: for each operation adm-ingest uses, its
method, path, parameters (headers with their ``required`` flag, path and query parameters),
request content types and JSON Schemas, and response status codes, content types and JSON
Schemas. Every ``$ref`` is resolved inline.

Only structural facts are kept (prose is dropped, an unknown schema keyword is an error): the
rules, shared with the AEP generator, are in ``scripts/openapi_structure.py``.

Usage::

    python scripts/gen_api_schema.py [--openapi-dir DIR] [--output FILE] [--check]

The output is deterministic (sorted keys, fixed indentation) so it can be committed and
compared byte for byte.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The generators share one core (what counts as structure, $ref inlining, the command line); it
# is a sibling script, importable however this file is loaded (as a script or by a test).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openapi_structure import OpenApiDocument, SchemaGenerationError, operation, render
from openapi_structure import main as run

__all__ = ["SchemaGenerationError", "build_schema", "main", "render"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OPENAPI_DIR = REPO_ROOT.parent / "shared" / "reference" / "openapi"
DEFAULT_OUTPUT = REPO_ROOT / "local" / "adm_local" / "sandbox" / "api-schema.json"

ADM_SPEC = "AdsDataManager_prod_3p.json"
CONVERSIONS_SPEC = "ConversionsAPI_prod_3p.json"
MANAGER_ACCOUNT_SPEC = "ManagerAccount_prod_3p.json"

OPERATIONS_WE_USE: tuple[tuple[str, str, str], ...] = (
    (ADM_SPEC, "GET", "/adm/terms"),
    (ADM_SPEC, "PATCH", "/adm/terms"),
    (ADM_SPEC, "POST", "/adm/datarooms"),
    (ADM_SPEC, "GET", "/adm/datarooms"),
    (ADM_SPEC, "GET", "/adm/datarooms/metadata"),
    (ADM_SPEC, "POST", "/adm/audiences"),
    (ADM_SPEC, "GET", "/adm/audiences"),
    (ADM_SPEC, "GET", "/adm/audiences/{dataSetId}"),
    (ADM_SPEC, "POST", "/adm/audiences/{dataSetId}/members"),
    (ADM_SPEC, "DELETE", "/adm/datasets/{dataSetId}"),
    (ADM_SPEC, "POST", "/adm/datasets/list"),
    (ADM_SPEC, "GET", "/adm/datasets/{dataSetId}/metrics"),
    (ADM_SPEC, "POST", "/adm/datasets/{dataSetId}/metrics/aggregates"),
    (ADM_SPEC, "POST", "/adm/sharingRules"),
    (ADM_SPEC, "POST", "/adm/sharingRules/list"),
    (ADM_SPEC, "PATCH", "/adm/sharingRules/{sharingRuleId}/revoke"),
    (ADM_SPEC, "POST", "/adm/identities/delete"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions/list"),
    (CONVERSIONS_SPEC, "POST", "/accounts/{accountId}/dsp/conversionDefinitions/eventData"),
    (MANAGER_ACCOUNT_SPEC, "GET", "/managerAccounts"),
)
"""(spec file, method, path) of every operation the pipeline calls and the sandbox serves."""


def build_schema(
    openapi_dir: Path, operations: Sequence[tuple[str, str, str]] = OPERATIONS_WE_USE
) -> dict[str, Any]:
    """Build the structural schema document from the OpenAPI files in ``openapi_dir``."""
    documents: dict[str, OpenApiDocument] = {}
    result: dict[str, Any] = {}
    for spec_name, method, path in operations:
        if spec_name not in documents:
            loaded = json.loads((openapi_dir / spec_name).read_text("utf-8"))
            documents[spec_name] = OpenApiDocument(spec_name, loaded)
        entry = operation(documents[spec_name], path, method)
        result[f"{method} {path}"] = {"path": path, "spec": spec_name, **entry}
    return {"operations": result}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    return run(
        argv,
        description=(__doc__ or "").split("\n\n")[0],
        build=build_schema,
        default_openapi_dir=DEFAULT_OPENAPI_DIR,
        default_output=DEFAULT_OUTPUT,
        script="scripts/gen_api_schema.py",
    )


if __name__ == "__main__":
    raise SystemExit(main())
