"""Request batching (issue 2, item 6): bodies never exceed the API's item or byte limits.

``BodyBatcher`` joins pre-serialized items; these properties hold for any sequence of item
sizes, including items that exactly fill a body.
"""

from __future__ import annotations

import itertools
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adm_ingest.batching import MAX_REQUEST_BYTES, Batch, BodyBatcher, ItemTooLarge, json_lines
from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import AudienceMembers, ConversionEvents, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.records import Reason
from tests.property.core_strategies import NOW
from tests.record_support import Record, blocks

PREFIX, SUFFIX = b'{"members":[', b"]}"
ENVELOPE = len(PREFIX) + len(SUFFIX)


def json_item(size: int, n: int) -> bytes:
    """A JSON string item of exactly ``size`` bytes (``size`` ≥ 2) that names its position."""
    body = f"{n}:".ljust(size - 2, "x")[: size - 2]
    return json.dumps(body).encode()


def run(batcher: BodyBatcher, items: list[bytes]) -> list[Batch]:
    batches = [b for i, item in enumerate(items) if (b := batcher.add(item, i + 1)) is not None]
    last = batcher.flush()
    return batches + ([last] if last is not None else [])


@st.composite
def limits_and_items(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    max_items = draw(st.integers(min_value=1, max_value=8))
    max_bytes = draw(st.integers(min_value=ENVELOPE + 2, max_value=ENVELOPE + 200))
    largest = max_bytes - ENVELOPE  # an item of this size fills a body on its own
    sizes = draw(
        st.lists(
            st.one_of(
                st.integers(min_value=2, max_value=largest),
                st.sampled_from([largest, max(2, largest - 1), max(2, largest // 2)]),
            ),
            max_size=60,
        )
    )
    return max_items, max_bytes, [json_item(size, n) for n, size in enumerate(sizes)]


@settings(max_examples=300)
@given(limits_and_items())
def test_batches_respect_limits_and_keep_every_item_once_in_order(
    case: tuple[int, int, list[bytes]],
) -> None:
    max_items, max_bytes, items = case
    batches = run(BodyBatcher(PREFIX, SUFFIX, max_items=max_items, max_bytes=max_bytes), items)
    for batch in batches:
        assert 1 <= len(batch) <= max_items
        assert len(batch.body) <= max_bytes
        assert batch.body.startswith(PREFIX) and batch.body.endswith(SUFFIX)
    assert [line for batch in batches for line in batch.lines] == list(range(1, len(items) + 1))
    decoded = [item for batch in batches for item in json.loads(batch.body)["members"]]
    assert decoded == [json.loads(item) for item in items]


@settings(max_examples=200)
@given(limits_and_items())
def test_a_batch_is_only_cut_when_the_next_item_would_not_fit(
    case: tuple[int, int, list[bytes]],
) -> None:
    max_items, max_bytes, items = case
    batches = run(BodyBatcher(PREFIX, SUFFIX, max_items=max_items, max_bytes=max_bytes), items)
    for batch, following in itertools.pairwise(batches):
        next_item = items[following.lines[0] - 1]
        assert len(batch) == max_items or len(batch.body) + 1 + len(next_item) > max_bytes


JSON_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.lists(st.dictionaries(st.text(max_size=5), JSON_INT | st.text(), max_size=4)))
def test_a_body_is_exactly_json_dumps_of_its_items(items: list[dict[str, object]]) -> None:
    batcher = BodyBatcher(PREFIX, SUFFIX, max_items=10_000)
    batches = run(batcher, [orjson.dumps(item) for item in items])
    assert len(batches) == (1 if items else 0)
    for batch in batches:
        assert json.loads(batch.body) == {"members": items}
        standard = json.dumps({"members": items}, separators=(",", ":"), ensure_ascii=False)
        assert batch.body == standard.encode()


@given(
    st.lists(st.dictionaries(st.text(max_size=5), JSON_INT | st.text(), max_size=4)),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=40, max_value=400),
)
def test_a_json_lines_body_is_one_item_per_line_within_its_limits(
    items: list[dict[str, object]], max_items: int, max_bytes: int
) -> None:
    encoded = [orjson.dumps(item) for item in items]
    fitting = [item for item in encoded if len(item) + 1 <= max_bytes]
    batches = run(json_lines(max_items=max_items, max_bytes=max_bytes).batcher(), fitting)
    assert [item for batch in batches for item in batch.body.splitlines()] == fitting
    for batch in batches:
        assert batch.body.endswith(b"\n") and batch.body.count(b"\n") == len(batch)
        assert len(batch) <= max_items and len(batch.body) <= max_bytes


def test_an_item_that_fills_the_body_exactly_fits_and_one_byte_more_does_not() -> None:
    batcher = BodyBatcher(PREFIX, SUFFIX, max_items=5, max_bytes=ENVELOPE + 10)
    assert batcher.add(json_item(10, 0), 1) is None
    full = batcher.flush()
    assert full is not None and len(full.body) == ENVELOPE + 10
    with pytest.raises(ItemTooLarge) as raised:
        batcher.add(json_item(11, 1), 2)
    assert "11 bytes" in str(raised.value)
    assert batcher.pending == 0


def test_max_items_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_items"):
        BodyBatcher(PREFIX, SUFFIX, max_items=0)


# -- through the processor and the real destinations -----------------------------------------


def test_a_record_too_large_for_any_body_is_rejected_and_the_rest_still_go() -> None:
    members = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
    # An 11 MB externalUserId cannot fit a 10 MB request, whatever else happens.
    records = [
        Record(2, {"customer_id": "a", "email": "a@example.com"}),
        Record(3, {"customer_id": "x" * (MAX_REQUEST_BYTES + 1), "email": "b@example.com"}),
        Record(4, {"customer_id": "c", "email": "c@example.com"}),
    ]
    processor = RecordProcessor(members, build_plan(None), ConsentPolicy())
    batches = list(processor.batches(blocks(records)))
    assert [batch.lines for batch in batches] == [[2, 4]]
    assert processor.tally.rejected == {Reason.RECORD_TOO_LARGE: 1}
    assert processor.tally.read == 3


def test_members_batches_hold_at_most_5000_members() -> None:
    members = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
    records = [Record(n, {"email": f"p{n}@example.com"}) for n in range(2, 12_003)]
    batches = list(
        RecordProcessor(members, build_plan(None), ConsentPolicy()).batches(blocks(records))
    )
    assert [len(batch) for batch in batches] == [5000, 5000, 2001]
    assert all(len(orjson.loads(b.body)["members"]) == len(b) for b in batches)


def test_members_batches_stay_under_10_mb() -> None:
    members = AudienceMembers(DeliveryTarget("audience_members", "vip", "DS-1"))
    # ~4.2 KB members: 5,000 of them would be ~21 MB, so the byte limit must cut first.
    records = [
        Record(n, {"customer_id": f"{n}-" + "i" * 4000, "email": f"p{n}@example.com"})
        for n in range(2, 5002)
    ]
    batches = list(
        RecordProcessor(members, build_plan(None), ConsentPolicy()).batches(blocks(records))
    )
    assert len(batches) >= 2
    assert all(len(batch.body) <= MAX_REQUEST_BYTES for batch in batches)
    assert all(len(batch) < 5000 for batch in batches)
    assert sum(len(batch) for batch in batches) == 5000


def test_event_data_batches_hold_at_most_100_events() -> None:
    events = ConversionEvents(DeliveryTarget("conversions", "Purchase", "CD-1"), clock=lambda: NOW)
    records = [
        Record(n, {"email": f"p{n}@example.com", "timestamp": "2026-11-26T10:00:00Z"})
        for n in range(2, 253)
    ]
    batches = list(
        RecordProcessor(events, build_plan(None), ConsentPolicy()).batches(blocks(records))
    )
    assert [len(batch) for batch in batches] == [100, 100, 51]
