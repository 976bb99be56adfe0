"""Every input record is accepted or rejected exactly once (issue 2, item 8).

Random mixes of good, bad and malformed records go through :class:`RecordProcessor`; each batch
then gets a random API answer (some items refused) or fails as a whole. Whatever happens, the
tally balances and the per-line fates plus the accepted lines are exactly the lines read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import Delivery, Destination
from adm_ingest.mapping import build_plan
from adm_ingest.outcomes import FAILED, REJECTED
from adm_ingest.processing import RecordProcessor
from adm_ingest.records import Rejection
from adm_ingest.request_times import series
from tests.property.core_strategies import DESTINATIONS, POLICIES, record_streams
from tests.record_support import Record, blocks

API_CODES = st.sampled_from(["INVALID_INPUT", "DUPLICATE", None])
MINUTES = ["2026-12-01T23:59Z", "2026-12-02T00:00Z", "2026-12-02T00:07Z"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    destination=DESTINATIONS,
    policy=POLICIES,
    stream=record_streams(),
    answers=st.data(),
)
def test_every_record_ends_accepted_or_rejected_exactly_once(
    destination: Destination,
    policy: ConsentPolicy,
    stream: list[Record | Rejection],
    answers: st.DataObject,
) -> None:
    # Small batches so most streams make several requests.
    max_items = answers.draw(st.integers(min_value=1, max_value=7), label="max_items")
    destination.wire = replace(destination.wire, max_items=max_items)
    processor = RecordProcessor(destination, build_plan(None), policy)
    accepted_lines: list[int] = []
    for batch in processor.batches(blocks(stream)):
        if answers.draw(st.integers(0, 9), label="batch fails") == 0:
            processor.record_failure(batch, "retries_exhausted")
            continue
        refused = answers.draw(
            st.dictionaries(
                # Out-of-range indexes stand for a confused API answer; they must be ignored.
                st.integers(min_value=-1, max_value=len(batch) + 1),
                API_CODES.map(lambda code: f"adm_{code}" if code else "adm_rejected"),
            ),
            label="refused items",
        )
        minute = answers.draw(st.sampled_from(MINUTES), label="answered at")
        processor.record_delivery(batch, Delivery(status=207, rejected=refused), minute=minute)
        accepted_lines += [line for i, line in enumerate(batch.lines) if i not in refused]

    tally = processor.tally
    all_lines = [record.line for record in stream]
    assert tally.read == len(stream)
    assert tally.balanced
    assert tally.accepted == len(accepted_lines)
    # Every request counted by status is counted by the minute its answer came, too.
    by_time = Counter({status: 0 for status in tally.requests})
    for point in series(tally.request_minutes):
        by_time.update(point["requests"])
    assert by_time == tally.requests

    outcomes = Counter(fate.outcome for fate in tally.fates)
    assert outcomes[REJECTED] == tally.rejected_total
    assert outcomes[FAILED] == tally.failed_total
    assert set(outcomes) <= {REJECTED, FAILED}  # accepted records leave no fate behind

    every_line = [fate.line for fate in tally.fates] + accepted_lines
    assert sorted(every_line) == sorted(all_lines)  # each line exactly once
    assert len(set(every_line)) == len(every_line)


@settings(max_examples=40, deadline=None)
@given(destination=DESTINATIONS, stream=record_streams())
def test_reader_rejections_keep_their_line_and_reason(
    destination: Destination, stream: list[Record | Rejection]
) -> None:
    processor = RecordProcessor(destination, build_plan(None), ConsentPolicy())
    list(processor.batches(blocks(stream)))
    fates = {(fate.line, fate.reason) for fate in processor.tally.fates}
    for record in stream:
        if isinstance(record, Rejection):
            assert (record.line, str(record.reason)) in fates
