"""ParseOptions: what a mapping config states about how a file writes numbers and times —
read from the raw config keys, validated with errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from adm_ingest.values import ParseOptions


@pytest.mark.parametrize(
    ("config", "options"),
    [
        (None, ParseOptions()),
        ({}, ParseOptions()),
        ({"columns": {"Betrag": "value"}}, ParseOptions()),
        ({"decimal": ","}, ParseOptions(decimal=",")),
        ({"decimal": "."}, ParseOptions(decimal=".")),
        ({"timezone": "Europe/Berlin"}, ParseOptions(timezone="Europe/Berlin")),
        ({"date_order": "DMY"}, ParseOptions(date_order="DMY")),
        ({"date_order": "mdy"}, ParseOptions(date_order="MDY")),
        ({"date_order": " YMD "}, ParseOptions(date_order="YMD")),
        ({"decimal": None, "timezone": None, "date_order": None}, ParseOptions()),
        (
            {"decimal": ",", "timezone": "America/Sao_Paulo", "date_order": "DMY"},
            ParseOptions(",", "America/Sao_Paulo", "DMY"),
        ),
    ],
)
def test_from_config_reads_the_raw_keys(
    config: dict[str, Any] | None, options: ParseOptions
) -> None:
    assert ParseOptions.from_config(config) == options


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"decimal": ";"}, "decimal"),
        ({"decimal": "comma"}, "decimal"),
        ({"decimal": 1}, "decimal"),
        ({"timezone": "CET+1"}, "timezone"),
        ({"timezone": "Europe/Pariss"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"timezone": 2}, "timezone"),
        ({"date_order": "DM"}, "date_order"),
        ({"date_order": "YDM"}, "date_order"),
        ({"date_order": ["DMY"]}, "date_order"),
    ],
)
def test_invalid_options_are_value_errors_naming_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=f"^{key}: "):
        ParseOptions.from_config(config)


def test_options_are_frozen_and_validated_when_built_directly() -> None:
    options = ParseOptions(decimal=",")
    with pytest.raises(AttributeError):
        options.decimal = "."  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"^date_order: "):
        ParseOptions(date_order="dmy")
