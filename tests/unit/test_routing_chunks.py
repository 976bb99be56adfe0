"""Routing by key prefix, name → id resolution, and the chunk pointer messages workers receive."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import astuple, replace

import boto3
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adm_ingest import registry
from adm_ingest.destinations import DESTINATIONS, DeliveryTarget
from adm_ingest.pipeline.chunks import (
    MESSAGE_VERSION,
    ChunkPointer,
    SourceLayout,
    UnsupportedMessage,
    file_id_for,
)
from adm_ingest.pipeline.routing import (
    INPUT_PREFIXES,
    RoutingError,
    decode_key,
    is_own_output,
    resolve_target,
    route,
)
from adm_ingest.readers import open_records, read_header, scan_boundaries
from tests.record_support import Record, flat

# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("audiences/vip/crm.csv", ("audience_members", "vip", "audiences/vip")),
        ("audiences/vip/2026/11/crm.csv.gz", ("audience_members", "vip", "audiences/vip")),
        (
            "audiences/vip/delete/removals.csv",
            ("audience_removals", "vip", "audiences/vip/delete"),
        ),
        (
            "audiences/Lapsed Buyers/delete/2026/removals.jsonl",
            ("audience_removals", "Lapsed Buyers", "audiences/Lapsed Buyers/delete"),
        ),
        (
            "conversions/offline-purchase/orders.csv",
            ("conversions", "offline-purchase", "conversions/offline-purchase"),
        ),
        ("deletions/gdpr.jsonl", ("identity_deletions", "", "deletions")),
        ("deletions/2026/11/requests.csv", ("identity_deletions", "", "deletions")),
    ],
)
def test_every_prefix_rule(key: str, expected: tuple[str, str, str]) -> None:
    found = route(key)
    assert (found.destination.name, found.name, found.prefix) == expected
    assert found.mapping_keys[0] == found.prefix


def test_a_removal_file_borrows_its_audience_mapping_when_it_has_none() -> None:
    assert route("audiences/vip/delete/x.csv").mapping_keys == (
        "audiences/vip/delete",
        "audiences/vip",
    )
    assert route("audiences/vip/x.csv").mapping_keys == ("audiences/vip",)


def test_the_input_prefixes_are_the_destinations_top_level_prefixes() -> None:
    assert INPUT_PREFIXES == ("audiences/", "conversions/", "deletions/", "aep/")


@pytest.mark.parametrize(
    "key",
    [
        "crm.csv",
        "uploads/crm.csv",
        "audiences/crm.csv",  # no audience name
        "audiences//crm.csv",
        "conversions/orders.csv",  # no definition name
        "aep/batch.csv",  # no destination (yet)
        "Audiences/vip/crm.csv",  # prefixes are case-sensitive, like S3 keys
    ],
)
def test_keys_under_no_known_prefix_are_routing_errors(key: str) -> None:
    with pytest.raises(RoutingError, match="audiences/<name>/"):
        route(key)


@pytest.mark.parametrize(
    ("key", "own"),
    [
        ("reports/audiences/vip/crm.csv.json", True),
        ("rejects/audiences/vip/crm.csv.csv", True),
        ("_staging/0123/fates/000000.csv", True),
        ("audiences/vip/", True),  # a folder marker made by the console
        ("deletions/", True),
        ("audiences/vip/crm.csv", False),
        ("audiences/vip/reports/crm.csv", False),
    ],
)
def test_own_outputs_and_folder_markers_are_ignored(key: str, own: bool) -> None:
    assert is_own_output(key) is own


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("audiences/vip/CRM+export+%282026%29.csv", "audiences/vip/CRM export (2026).csv"),
        ("audiences%2Fvip%2Fcrm.csv", "audiences/vip/crm.csv"),
        ("audiences/vip/a%2Bb.csv", "audiences/vip/a+b.csv"),
        ("audiences/Caf%C3%A9+Club/crm.csv", "audiences/Café Club/crm.csv"),
    ],
)
def test_event_keys_are_url_decoded_before_routing(raw: str, decoded: str) -> None:
    assert decode_key(raw) == decoded
    assert route(decode_key(raw)).destination.name == "audience_members"


# -- registry resolution ---------------------------------------------------------------------


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Registry]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        dynamodb.create_table(
            TableName="registry",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table = registry.Registry("registry", dynamodb=dynamodb)
        table.put(registry.AUDIENCE, "vip", "DS-111", country="US")
        table.put(registry.CONVERSION_DEFINITION, "offline-purchase", "CD-222")
        yield table


def test_route_names_resolve_to_registered_ids(names: registry.Registry) -> None:
    assert resolve_target(route("audiences/vip/crm.csv"), names) == DeliveryTarget(
        "audience_members", "vip", "DS-111", {"country": "US"}
    )
    assert resolve_target(route("audiences/vip/delete/x.csv"), names) == DeliveryTarget(
        "audience_removals", "vip", "DS-111", {"country": "US"}
    )
    assert resolve_target(route("conversions/offline-purchase/o.csv"), names) == DeliveryTarget(
        "conversions", "offline-purchase", "CD-222"
    )
    assert resolve_target(route("deletions/gdpr.jsonl"), names) == DeliveryTarget(
        "identity_deletions", "", ""
    )


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("audiences/unknown-list/crm.csv", "audience 'unknown-list'"),
        ("conversions/vip/o.csv", "conversion definition 'vip'"),  # names are per namespace
    ],
)
def test_unknown_names_say_what_is_missing_and_how_to_fix_it(
    names: registry.Registry, key: str, label: str
) -> None:
    with pytest.raises(RoutingError) as raised:
        resolve_target(route(key), names)
    message = str(raised.value)
    assert f"unknown {label}" in message
    assert "setup workflow" in message and "adm-ingest register" in message


# -- chunk pointers --------------------------------------------------------------------------

POINTER = ChunkPointer(
    file_id=file_id_for("bucket", "audiences/vip/crm.csv", "v1", '"etag"'),
    index=7,
    bucket="bucket",
    key="audiences/vip/crm.csv",
    destination="audience_members",
    target_name="vip",
    target_id="DS-111",
    layout=SourceLayout("csv", ";", header_range=(3, 31)),
    first_line=35_001,
    records=5000,
    version_id="v1",
    etag='"etag"',
    byte_range=(1_048_576, 2_097_152),
    mapping_prefix="audiences/vip",
    mapping_hash="9f" * 32,
    default_country="GB",
)


def test_a_pointer_survives_its_message_round_trip() -> None:
    message = POINTER.to_message()
    assert ChunkPointer.from_message(message) == POINTER
    assert ChunkPointer.from_message(message.encode()) == POINTER
    assert POINTER.chunk_id == f"{POINTER.file_id}:000007"
    assert f'"chunk_id":"{POINTER.chunk_id}"' in message
    assert '"v":3' in message and MESSAGE_VERSION == 3
    body = orjson.loads(message)
    assert body["destination"] == "audience_members" and body["mapping_hash"] == "9f" * 32
    assert body["session"] == {} and "kind" not in body and "extra" not in body


def test_a_destinations_session_travels_with_every_chunk() -> None:
    with_session = replace(POINTER, session={"batch_id": "01JD-AEP-BATCH", "dataset": "ds-9"})
    assert ChunkPointer.from_message(with_session.to_message()) == with_session
    body = {**orjson.loads(POINTER.to_message()), "session": {"batch": 7}}
    with pytest.raises(UnsupportedMessage, match="malformed version-3"):
        ChunkPointer.from_message(orjson.dumps(body))


def test_the_pointer_names_its_delivery_target() -> None:
    # DeliveryTarget(destination, name, id, …): compared by position, whatever the first is named
    assert astuple(POINTER.target)[:3] == ("audience_members", "vip", "DS-111")


def test_a_message_names_the_header_bytes_and_never_carries_column_names() -> None:
    message = orjson.loads(POINTER.to_message())
    assert message["layout"] == {
        "format": "csv",
        "delimiter": ";",
        "encoding": "utf-8",
        "header_range": [3, 31],
    }


def v2_body(pointer: ChunkPointer) -> dict[str, object]:
    """What the splitter wrote before v3: ``kind``, an ``extra``, no session or mapping hash."""
    body = orjson.loads(pointer.to_message())
    body["kind"] = body.pop("destination")
    del body["session"], body["mapping_hash"]
    return {**body, "v": 2, "extra": {}}


def test_a_version_2_message_is_read_as_version_3() -> None:
    """Chunks queued before the deploy that brought v3 are processed after it."""
    pointer = ChunkPointer.from_message(orjson.dumps(v2_body(POINTER)))
    assert pointer == replace(POINTER, mapping_hash="")  # "": the worker finds the file's own
    assert pointer.session == {} and pointer.destination == "audience_members"


def test_a_version_1_message_is_refused() -> None:
    """v1 carried the header's names; nothing that wrote it was ever deployed."""
    v1 = {**v2_body(POINTER), "v": 1}
    v1["layout"] = {"format": "csv", "delimiter": ";", "header": ["Customer ID", "Email"]}
    with pytest.raises(UnsupportedMessage, match=r"unsupported chunk message version 1$"):
        ChunkPointer.from_message(orjson.dumps(v1))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"v": 4}, "unsupported chunk message version 4"),
        ({"v": 1}, "unsupported chunk message version 1"),
        ({"v": "3"}, "unsupported chunk message version$"),
        ({"v": None}, "unsupported chunk message version$"),
        ({"layout": {"format": "csv", "header": ["zelda@example.com"]}}, "carries column names"),
        ({"destination": "no_such_kind"}, "for no known destination"),
        ({"layout": None}, "malformed version-3 chunk message"),
        ({"kind": "audience_members"}, "malformed version-3 chunk message"),
    ],
)
def test_a_message_of_an_unknown_version_or_shape_is_a_typed_error_naming_no_content(
    change: dict[str, object], error: str
) -> None:
    body = {**orjson.loads(POINTER.to_message()), **change}
    with pytest.raises(UnsupportedMessage, match=error) as raised:
        ChunkPointer.from_message(orjson.dumps(body))
    assert "zelda" not in str(raised.value) and "no_such_kind" not in str(raised.value)
    for junk in (b"not json", b"[1, 2]", b'{"no": "version"}'):
        with pytest.raises(UnsupportedMessage):
            ChunkPointer.from_message(junk)


def test_a_version_2_message_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(UnsupportedMessage, match="for no known destination"):
        ChunkPointer.from_message(orjson.dumps({**v2_body(POINTER), "kind": "no_such_kind"}))


def test_a_pointer_carries_its_file_encoding_and_an_old_message_means_utf8() -> None:
    excel = replace(POINTER, layout=replace(POINTER.layout, encoding="cp1252"))
    assert ChunkPointer.from_message(excel.to_message()) == excel
    old = orjson.loads(POINTER.to_message())
    del old["layout"]["encoding"]  # queued before pointers carried one
    assert ChunkPointer.from_message(orjson.dumps(old)).layout.encoding == "utf-8"


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=60)
@given(
    index=st.integers(0, 99_999),
    destination=st.sampled_from([d.name for d in DESTINATIONS]),
    mapping_hash=st.text("0123456789abcdef", max_size=64),
    key=TEXT,
    header_range=st.none() | st.tuples(st.integers(0, 2**17), st.integers(0, 2**17)),
    byte_range=st.none() | st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)),
    staged_key=st.none() | TEXT,
    version_id=st.none() | TEXT,
)
def test_any_pointer_survives_its_message_round_trip(
    index: int,
    destination: str,
    mapping_hash: str,
    key: str,
    header_range: tuple[int, int] | None,
    byte_range: tuple[int, int] | None,
    staged_key: str | None,
    version_id: str | None,
) -> None:
    pointer = ChunkPointer(
        file_id=file_id_for("b", key, version_id, None),
        index=index,
        bucket="b",
        key=key,
        destination=destination,
        target_name="n",
        target_id="id",
        layout=SourceLayout(
            "jsonl" if header_range is None else "csv",
            None if header_range is None else ",",
            header_range=header_range,
        ),
        first_line=index + 1,
        records=index,
        version_id=version_id,
        byte_range=byte_range,
        staged_key=staged_key,
        mapping_hash=mapping_hash,
    )
    assert ChunkPointer.from_message(pointer.to_message()) == pointer


def test_pointers_over_a_real_file_carry_no_record_value_and_are_enough_to_read_it() -> None:
    values = [
        ("crm-1", "zelda.quartermaine@example.com", "+1 571 412 0599"),
        ("crm-2", "bartholomew.okonkwo@example.org", "(206) 555-0142"),
        ("crm-3", "wilhelmina.featherstonehaugh@example.net", "415 555 0199"),
    ]
    data = b"\xef\xbb\xbfCustomer ID;Email Address;Mobile\r\n" + b"".join(
        ";".join(row).encode() + b"\r\n" for row in values
    )
    scan = scan_boundaries(io.BytesIO(data))
    starts = list(scan)
    ends = [offset for offset, _ in starts[1:]] + [len(data)]
    layout = SourceLayout("csv", scan.delimiter, header_range=scan.header_range)
    pointers = [
        replace(
            POINTER, index=i, layout=layout, first_line=line, records=1, byte_range=(offset, end)
        )
        for i, ((offset, line), end) in enumerate(zip(starts, ends, strict=True))
    ]
    read: list[Record] = []
    for pointer in pointers:
        message = pointer.to_message()
        for text in (*scan.header, *(value for row in values for value in row)):
            assert text not in message
        received = ChunkPointer.from_message(message)
        assert received.byte_range is not None and received.layout.header_range is not None
        # What the worker does: read the header's bytes (past the BOM), then the range.
        header_start, header_end = received.layout.header_range
        assert header_start == 3
        header = read_header(
            io.BytesIO(data[header_start:header_end]),
            delimiter=received.layout.delimiter or "",
            encoding=received.layout.encoding,
        )
        assert header == ("Customer ID", "Email Address", "Mobile")
        start, end = received.byte_range
        records = open_records(
            io.BytesIO(data[start:end]),
            format=received.layout.format,
            delimiter=received.layout.delimiter,
            header=header,
            first_line=received.first_line,
        )
        read.extend(r for r in flat(records) if isinstance(r, Record))
    assert [tuple(r.values.values()) for r in read] == values
    assert [r.line for r in read] == [2, 3, 4]


def test_file_ids_are_deterministic_from_the_object_identity() -> None:
    one = file_id_for("bucket", "audiences/vip/crm.csv", "v1", '"abc"')
    assert one == file_id_for("bucket", "audiences/vip/crm.csv", "v1", "abc")  # quotes or not
    assert len(one) == 32 and int(one, 16) >= 0
    different = {
        file_id_for("other", "audiences/vip/crm.csv", "v1", "abc"),
        file_id_for("bucket", "audiences/vip/crm2.csv", "v1", "abc"),
        file_id_for("bucket", "audiences/vip/crm.csv", "v2", "abc"),
        file_id_for("bucket", "audiences/vip/crm.csv", "v1", "abd"),
        file_id_for("bucket", "audiences/vip/crm.csv", None, "abc"),
    }
    assert one not in different and len(different) == 5
