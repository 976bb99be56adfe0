"""A mapping config has one canonical form and one content hash, whatever its spelling; what
reads back from the canonical form is the same config; a stored form that does not match its
hash is refused; the parse options a config states are validated with it."""

from __future__ import annotations

import orjson
import pytest

from adm_ingest.mapping_config import (
    MappingConfig,
    MappingError,
    MappingMismatch,
    PinnedMapping,
    content_hash,
)
from adm_ingest.values import ParseOptions

FULL = {
    "columns": {"E-Mail": "email", "Alt": "email_2", "Cust#": "external_id", "Land": "country"},
    "hashed": ["Alt"],
    "ignore": ["notes", "aaa"],
    "defaults": {"country": " DE ", "amzn_ad_storage": "GRANTED"},
    "auto_detect": False,
    "decimal": ",",
    "timezone": "Europe/Berlin",
    "date_order": "DMY",
    "strict_country": True,
}


def test_the_canonical_form_reads_back_to_an_equal_config() -> None:
    config = MappingConfig.from_dict(FULL)
    assert MappingConfig.from_json(config.canonical_json()) == config
    assert MappingConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["columns"]["Alt"] == "email_2"
    assert config.to_dict()["defaults"] == {"country": "DE", "amzn_ad_storage": "GRANTED"}


def test_one_config_spelled_two_ways_has_one_hash_and_another_config_another() -> None:
    reordered = {key: FULL[key] for key in reversed(list(FULL))}
    reordered["ignore"] = ["aaa", "notes"]
    one, two = (
        PinnedMapping.of("p", MappingConfig.from_dict(FULL)),
        PinnedMapping.of("p", MappingConfig.from_json(orjson.dumps(reordered))),
    )
    assert one.canonical == two.canonical and one.content_hash == two.content_hash
    other = PinnedMapping.of("p", MappingConfig.from_dict({**FULL, "decimal": "."}))
    assert other.content_hash != one.content_hash
    assert one.content_hash == content_hash(one.canonical) and len(one.content_hash) == 64


def test_a_stored_mapping_is_read_back_only_with_its_own_hash() -> None:
    pinned = PinnedMapping.of("audiences/vip", MappingConfig.from_dict(FULL))
    assert PinnedMapping.from_stored("audiences/vip", pinned.canonical, pinned.content_hash) == (
        pinned
    )
    tampered = pinned.canonical.replace('"DE"', '"FR"')
    with pytest.raises(MappingMismatch):
        PinnedMapping.from_stored("audiences/vip", tampered, pinned.content_hash)


def test_no_mapping_pins_the_empty_config() -> None:
    empty = PinnedMapping.of("", None)
    assert empty.config == MappingConfig.from_dict({}) and empty.prefix == ""
    assert empty == PinnedMapping.of("", MappingConfig({}))


def test_the_parse_options_come_from_the_validated_config() -> None:
    assert MappingConfig.from_dict(FULL).parse_options == ParseOptions(",", "Europe/Berlin", "DMY")
    assert MappingConfig.from_dict({}).parse_options == ParseOptions()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"defaults": {"country": "XX"}}, "not a known country"),
        ({"defaults": {"amzn_user_data": "MAYBE"}}, "GRANTED, DENIED"),
        ({"decimal": " ,"}, "'decimal' must be"),
        ({"timezone": "Europe/Atlantis"}, "not an IANA time zone"),
        ({"date_order": "dmy"}, "'date_order' must be"),
    ],
)
def test_every_value_the_worker_relies_on_is_checked_with_the_config(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        MappingConfig.from_dict({**FULL, **change})
