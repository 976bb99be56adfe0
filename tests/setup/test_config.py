"""The setup config: the example loads; every invalid field is named; values never echoed."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adm_ingest.setup.config import (
    DATASET_NAME_PATTERN,
    ConfigError,
    load_config,
    parse_config,
)
from tests.setup.setup_support import EXAMPLE_CONFIG


def test_the_example_config_loads_and_round_trips() -> None:
    config = load_config(EXAMPLE_CONFIG)

    assert [a.name for a in config.audiences] == ["crm_customers_us", "newsletter_subscribers"]
    assert config.sharing_rules[2].conversion_definition == "offline_purchases"
    assert parse_config(config.to_json()) == config


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _delete(path: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return edit


INVALID: list[tuple[str, Edit, str]] = [
    ("region", _set("region", "US"), "region"),
    ("missing manager", _delete("managerAccountId"), "managerAccountId"),
    ("unknown top-level field", _set("audience", []), "<config>.audience"),
    ("name too short", _set("audiences.0.name", "crm"), "audiences[0].name"),
    ("name too long", _set("audiences.0.name", "a" * 101), "audiences[0].name"),
    ("name starts with digit", _set("audiences.1.name", "1_customers"), "audiences[1].name"),
    ("name with space", _set("audiences.1.name", "crm customers"), "audiences[1].name"),
    ("country", _set("audiences.0.countryCode", "USA"), "audiences[0].countryCode"),
    ("empty description", _set("audiences.0.description", ""), "audiences[0].description"),
    ("long description", _set("audiences.0.description", "d" * 1001), "audiences[0].description"),
    ("idRetention", _set("audiences.0.idRetention", "yes"), "audiences[0].idRetention"),
    ("duplicate audience", _set("audiences.1.name", "crm_customers_us"), "audiences[1].name"),
    (
        "conversion type",
        _set("conversionDefinitions.0.conversionType", "PURCHASE"),
        "conversionDefinitions[0].conversionType",
    ),
    (
        "ad tag measures websites only",
        _set("conversionDefinitions.1.source", "AMAZON_AD_TAG"),
        "conversionDefinitions[1].sourceType",
    ),
    (
        "value is a number",
        _set("conversionDefinitions.0.value", "1"),
        "conversionDefinitions[0].value",
    ),
    ("definition name", _set("conversionDefinitions.0.name", ""), "conversionDefinitions[0].name"),
    ("unknown dataset", _set("sharingRules.0.dataset", "nobody_here"), "sharingRules[0].dataset"),
    (
        "unknown definition",
        _set("sharingRules.2.conversionDefinition", "nope"),
        "sharingRules[2].conversionDefinition",
    ),
    ("application", _set("sharingRules.0.application", "DSP"), "sharingRules[0].application"),
    (
        "audienceName too short",
        _set("sharingRules.0.metadata.audienceMetadata.audienceName", "CRM"),
        "sharingRules[0].metadata.audienceMetadata.audienceName",
    ),
    (
        "two metadata kinds",
        _set("sharingRules.1.metadata.amcMetadata", {"amcInstanceId": "amc1"}),
        "sharingRules[1].metadata",
    ),
    ("metadata missing", _delete("sharingRules.0.metadata"), "sharingRules[0].metadata"),
    (
        "metadata beside a definition",
        _set("sharingRules.2.metadata", {"conversionDefinitionId": "cd-1"}),
        "sharingRules[2].metadata",
    ),
    ("marketplace", _delete("sharingRules.0.marketplaceId"), "sharingRules[0].marketplaceId"),
    ("revoke flag", _set("sharingRules.0.revoke", "no"), "sharingRules[0].revoke"),
    ("mapping prefix", _set("mappings", {"crm/": {"columns": {"E": "email"}}}), "mappings['crm/']"),
    (
        "mapping columns",
        _set("mappings", {"audiences/crm_customers_us": {"columns": {}}}),
        "mappings['audiences/crm_customers_us'].columns",
    ),
]


@pytest.mark.parametrize(("edit", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_field_is_named(example_config: dict[str, Any], edit: Edit, field: str) -> None:
    edit(example_config)

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_errors_never_echo_the_value(example_config: dict[str, Any]) -> None:
    """A misplaced e-mail address (personal data) in a field must not reach the message."""
    example_config["audiences"][0]["name"] = "jane.doe@example.com"

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert "jane" not in str(refused.value)
    assert "example.com" not in repr(refused.value)


def test_a_sharing_rule_needs_a_dataset(example_config: dict[str, Any]) -> None:
    del example_config["sharingRules"][0]["dataset"]

    with pytest.raises(ConfigError, match=r"^sharingRules\[0\]\.dataset: "):
        parse_config(example_config)


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    broken = tmp_path / "setup.json"
    broken.write_text('{"region": "NA",', encoding="utf-8")

    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


def test_default_sharing_rule_names_are_unique_per_destination(
    example_config: dict[str, Any],
) -> None:
    example_config["sharingRules"].append(copy.deepcopy(example_config["sharingRules"][0]))

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert refused.value.field == "sharingRules[3].name"


_OPENAPI_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")


@given(st.text(alphabet="abcXYZ019_- .é@", min_size=0, max_size=110))
def test_audience_names_follow_the_openapi_rule(name: str) -> None:
    """Accepted exactly when the OpenAPI pattern matches and the length is 5–100."""
    doc = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    doc["audiences"][0]["name"] = name
    doc["sharingRules"] = [r for r in doc["sharingRules"] if r["dataset"] != "crm_customers_us"]
    doc["mappings"] = {}
    allowed = (
        bool(_OPENAPI_NAME.match(name))
        and 5 <= len(name) <= 100
        and name != doc["audiences"][1]["name"]
    )

    try:
        parse_config(doc)
        accepted = True
    except ConfigError as error:
        accepted = False
        assert error.field == "audiences[0].name" or error.field == "audiences[1].name"

    assert accepted == allowed
    assert bool(DATASET_NAME_PATTERN.fullmatch(name)) == bool(_OPENAPI_NAME.match(name))


# -- mapping keys: exactly the routing prefixes the routing table gives files ---------------

_COLUMNS = {"columns": {"E-Mail": "email"}}


@pytest.mark.parametrize(
    ("key", "stored"),
    [
        ("audiences/crm_customers_us", "audiences/crm_customers_us"),
        ("audiences/crm_customers_us/", "audiences/crm_customers_us"),
        ("audiences/crm_customers_us/delete", "audiences/crm_customers_us/delete"),
        ("conversions/offline_purchases/", "conversions/offline_purchases"),
        ("deletions", "deletions"),
        ("deletions/", "deletions"),
    ],
)
def test_a_mapping_is_keyed_by_a_routing_prefix(
    example_config: dict[str, Any], key: str, stored: str
) -> None:
    example_config["mappings"] = {key: _COLUMNS}

    assert set(parse_config(example_config).mappings) == {stored}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("crm/", "prefix must start with audiences/ or conversions/ or deletions/"),
        ("reports/audiences/crm", "prefix must start with"),
        ("deletionsarchive", "prefix must start with"),
        ("", "prefix must start with"),
        # under an input prefix, but no file's mapping would ever be looked up there
        ("audiences", "prefix must be a routing prefix"),
        ("audiences/", "prefix must be a routing prefix"),
        ("conversions", "prefix must be a routing prefix"),
        ("audiences/crm_customers_us/2026", "prefix must be a routing prefix"),
        ("deletions/gdpr", "prefix must be a routing prefix"),
    ],
)
def test_a_mapping_key_no_file_routes_to_is_refused(
    example_config: dict[str, Any], key: str, problem: str
) -> None:
    example_config["mappings"] = {key: _COLUMNS}

    with pytest.raises(ConfigError) as refused:
        parse_config(example_config)

    assert refused.value.field == f"mappings[{key!r}]"
    assert refused.value.problem.startswith(problem)
