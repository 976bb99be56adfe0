"""Every body we would POST validates against Amazon's OpenAPI (issue 2, item 8).

The schema is the repository's structural copy of Amazon's OpenAPI files
(``local/adm_local/sandbox/api-schema.json``, loaded with the sandbox's own loader and validated
with its validator). On top of what the schema says, two things it cannot say are checked: every
property name we send is one the API documents (the OpenAPI is the authority on field names, and
an unknown field would be silently dropped), and every hashed identifier is 64 lowercase hex.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from adm_ingest.consent import ISO_COUNTRY_CODES, ConsentPolicy
from adm_ingest.destinations import Destination
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.records import Rejection, SourceRecord
from adm_local.dryrun import dry_run
from adm_local.sandbox.validation import ApiSchema, violations
from tests.property.core_strategies import DESTINATIONS, NOW, POLICIES, record_streams

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "events" / "data"
OPERATIONS = {
    "audience_members": "POST /adm/audiences/{dataSetId}/members",
    "audience_removals": "POST /adm/audiences/{dataSetId}/members",
    "conversions": "POST /accounts/{accountId}/dsp/conversionDefinitions/eventData",
    "identity_deletions": "POST /adm/identities/delete",
}
CONTENT_TYPES = {
    "audience_members": "application/vnd.admAudiences.v1+json",
    "audience_removals": "application/vnd.admAudiences.v1+json",
    "conversions": "application/vnd.dspconversioneventimport.v1+json",
    "identity_deletions": "application/vnd.admDataDeletion.v1+json",
}
HASHED_MATCH_KEYS = {"EMAIL", "PHONE", "FIRST_NAME", "LAST_NAME", "ADDRESS", "CITY", "STATE",
                     "POSTAL"}  # fmt: skip
SHA256_HEX = re.compile(r"[0-9a-f]{64}")

API = ApiSchema.load()
_OPERATIONS_BY_KEY = {operation.key: operation for operation in API.operations}


def body_schema(kind: str) -> Mapping[str, Any]:
    operation = _OPERATIONS_BY_KEY[OPERATIONS[kind]]
    return operation.request_content_types[CONTENT_TYPES[kind]]


def undocumented_properties(
    schema: Mapping[str, Any], instance: Any, at: str = "body"
) -> list[str]:
    """Paths of object properties the schema does not name (the schema itself leaves objects
    open, so ``violations`` alone would let a misspelt field through)."""
    if "oneOf" in schema and isinstance(instance, Mapping):
        chosen = [s for s in schema["oneOf"] if set(s.get("required", ())) <= set(instance)]
        return undocumented_properties(chosen[0], instance, at) if chosen else [at]
    found: list[str] = []
    if isinstance(instance, Mapping) and "properties" in schema:
        for name, value in instance.items():
            if name not in schema["properties"]:
                found.append(f"{at}.{name}")
            else:
                found += undocumented_properties(schema["properties"][name], value, f"{at}.{name}")
    elif isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            found += undocumented_properties(schema["items"], item, f"{at}[{index}]")
    return found


def hashed_values(body: Mapping[str, Any]) -> Iterator[str]:
    """Every value that must be a SHA-256 digest, whatever the body type."""
    identities = [m.get("userIdentity", {}) for m in body.get("members", [])]
    identities += [t["identity"] for t in body.get("targetIdentities", []) if "identity" in t]
    for identity in identities:
        for pii in identity.get("hashedPiis", []):
            yield from pii.values()
    for event in body.get("eventData", []):
        for key in event["matchKeys"]:
            if key["type"] in HASHED_MATCH_KEYS:
                yield from key["values"]


def assert_valid_body(kind: str, raw: bytes) -> dict[str, Any]:
    body = orjson.loads(raw)
    schema = body_schema(kind)
    assert [str(v) for v in violations(schema, body)] == []
    assert undocumented_properties(schema, body) == []
    assert all(SHA256_HEX.fullmatch(value) for value in hashed_values(body))
    return body


def test_the_checks_catch_what_they_are_meant_to_catch() -> None:
    members = body_schema("audience_members")
    good = {"action": "CREATE", "externalUserId": "u", "userIdentity": {}}
    assert violations(members, {"members": [good]}) == []
    assert violations(members, {"members": [{**good, "action": "UPSERT"}]})
    assert violations(members, {"members": []})
    assert undocumented_properties(members, {"members": [{**good, "userIdentiy": {}}]}) == [
        "body.members[0].userIdentiy"
    ]
    deletions = body_schema("identity_deletions")
    assert undocumented_properties(
        deletions, {"targetIdentities": [{"identity": {"hashedPii": []}}]}
    ) == ["body.targetIdentities[0].identity.hashedPii"]


def test_every_country_code_we_accept_is_one_the_members_api_accepts() -> None:
    members = body_schema("audience_members")["properties"]["members"]["items"]
    geo = members["properties"]["userConsent"]["properties"]["geo"]
    assert set(geo["properties"]["countryCode"]["enum"]) - {"UNKNOWN"} == ISO_COUNTRY_CODES


# -- the sample files through the dry-run ----------------------------------------------------

SAMPLE_RUNS = [
    ("audience-crm.csv", "audience_members", REPO / "events" / "mappings" / "crm-audience.json"),
    ("audience-crm.csv", "audience_removals", None),
    ("audience-removals.csv", "audience_removals", None),
    ("conversions-offline.csv", "conversions", None),
    ("gdpr-deletions.jsonl", "identity_deletions", None),
]


@pytest.mark.parametrize(("name", "kind", "mapping"), SAMPLE_RUNS)
def test_dry_run_bodies_of_the_sample_files_validate(
    tmp_path: Path, name: str, kind: str, mapping: Path | None
) -> None:
    result = dry_run(
        SAMPLES / name, destination=kind, out_dir=tmp_path, mapping=mapping, clock=lambda: NOW
    )
    bodies = sorted((tmp_path / "requests").glob("*.json"))
    assert bodies, "the sample file should produce at least one request"
    items = 0
    for path in bodies:
        body = assert_valid_body(kind, path.read_bytes())
        items += sum(len(v) for v in body.values() if isinstance(v, list))
    assert items == result.tally.accepted


# -- generated records -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(destination=DESTINATIONS, policy=POLICIES, stream=record_streams())
def test_every_body_built_from_generated_records_validates(
    destination: Destination, policy: ConsentPolicy, stream: list[SourceRecord | Rejection]
) -> None:
    processor = RecordProcessor(destination, build_plan(None), policy)
    for batch in processor.batches(stream):
        body = assert_valid_body(destination.name, batch.body)
        (items,) = (v for v in body.values() if isinstance(v, list))
        assert len(items) == len(batch.lines)
