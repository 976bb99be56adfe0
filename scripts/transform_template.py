"""Transform template.yaml offline into the CloudFormation template SAM would deploy.

``sam validate`` / ``sam build`` need the SAM CLI and, for the transform, AWS; linters and policy
scanners (cfn-lint, checkov) see far more in the *transformed* template (generated roles, event
source mappings, permissions). This runs aws-sam-translator locally instead: local ``CodeUri`` /
``ContentUri`` become ``s3://`` placeholders (as ``sam package`` would make them), a
``DefinitionUri`` file is inlined as ``Definition`` (so its substitutions are checked too), and
no managed policy is ever looked up in IAM.

Usage::

    python scripts/transform_template.py [OUTPUT]   # default .aws-sam/transformed.json

Used by ``make check-template`` (checkov) and by tests/test_template.py (cfn-lint and the
structural tests), so both read the same transformed template.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
DEFAULT_OUTPUT = ROOT / ".aws-sam" / "transformed.json"
# The translator needs a region to build ARNs; the template itself is region-agnostic.
TRANSFORM_REGION = "us-east-1"


class OfflinePolicyLoader:
    """Stands in for SAM's IAM managed-policy lookup: the template names no managed policy,
    only policy templates and ARNs, so the transform must never need to ask IAM."""

    def load(self) -> dict[str, str]:
        return {}


def quote_bare_placeholders(text: str) -> str:
    """Make an ASL file JSON by quoting the ``${X}`` placeholders that stand outside strings.

    Numeric substitutions (retry intervals) are written unquoted so CloudFormation substitutes
    real numbers into the deployed definition; quoted, they stay placeholders cfn-lint knows.
    """
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif text.startswith("${", i):
            end = text.index("}", i) + 1
            out.append(f'"{text[i:end]}"')
            i = end
            continue
        out.append(char)
        i += 1
    return "".join(out)


def for_offline_transform(sam: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of the SAM template with local artifact paths replaced as ``sam package`` would;
    ``DefinitionUri`` files (relative to ``base``) are inlined as ``Definition``."""
    sam = copy.deepcopy(sam)
    for logical_id, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if uri in properties:
                properties[uri] = f"s3://artifacts/{logical_id}.zip"
        if "DefinitionUri" in properties:
            asl_text = (base / properties.pop("DefinitionUri")).read_text(encoding="utf-8")
            properties["Definition"] = json.loads(quote_bare_placeholders(asl_text))
    return sam


def inline_definition_strings(cfn: dict[str, Any]) -> None:
    """SAM emits an inline definition as ``Fn::Join`` of literal lines, which cfn-lint skips;
    joined into the plain string CloudFormation would see, it is validated against ASL."""
    for resource in cfn["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        definition = resource["Properties"].get("DefinitionString")
        if isinstance(definition, dict) and "Fn::Join" in definition:
            separator, parts = definition["Fn::Join"]
            if all(isinstance(part, str) for part in parts):
                resource["Properties"]["DefinitionString"] = separator.join(parts)


@contextmanager
def _region(name: str) -> Iterator[None]:
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = name
    try:
        yield
    finally:
        if previous is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def transform_sam(sam: dict[str, Any], base: Path = ROOT) -> dict[str, Any]:
    """The CloudFormation template the SAM template ``sam`` (a parsed dict) transforms into."""
    with _region(TRANSFORM_REGION):
        transformed = transform(for_offline_transform(sam, base), {}, OfflinePolicyLoader())
    inline_definition_strings(transformed)
    return transformed


def transform_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The CloudFormation template the SAM template file at ``path`` transforms into."""
    return transform_sam(yaml_parse(path.read_text(encoding="utf-8")), path.parent)


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(transform_template(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
