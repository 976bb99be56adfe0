"""The ledger keeps when requests were answered (moto): a chunk's ``request_minutes`` add into
its file's map once, an item from an older release without the map still counts, a chunk with
too many minutes for one update folds its oldest instead of failing, a redrive takes a
dead-lettered chunk's minutes back out, and the report's series sums to the requests."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from adm_ingest.ledger import _MAX_EXPRESSION, DeadLetter, Ledger, _chunk_update
from adm_ingest.ledger_redrive import RedriveLedger
from adm_ingest.outcomes import Tally
from adm_ingest.records import Reason
from adm_ingest.report import build_report
from adm_ingest.request_times import format_minute, parse_key, parse_minute
from tests.unit.test_ledger_redrive import pointer
from tests.unit.test_ledger_report import FILE_ID, entry

START = parse_minute("2026-12-01T14:12Z") or 0


@pytest.fixture
def ledger(moto_ledger: Ledger) -> Ledger:
    moto_ledger.register_file(entry())
    return moto_ledger


def answered(*requests: tuple[int, str], read: int = 5) -> Tally:
    """A chunk's tally whose requests were answered at START + offset minutes."""
    tally = Tally(read=read, accepted=read)
    for offset, status in requests:
        tally.count_request(status, format_minute(START + offset))
    return tally


def statuses(counts: Any) -> Counter[str]:
    totals: Counter[str] = Counter()
    for key, count in dict(counts).items():
        parsed = parse_key(key)
        assert parsed is not None, key
        totals[parsed[1]] += count
    return totals


def test_chunks_add_their_minutes_once_and_the_report_series_sums_to_the_requests(
    ledger: Ledger,
) -> None:
    first = answered((0, "429"), (0, "200"), (1, "200"))
    second = answered((1, "200"), (3, "503"))
    assert ledger.complete_chunk(FILE_ID, 0, first, status="done")
    assert ledger.complete_chunk(FILE_ID, 1, second, status="done")
    assert not ledger.complete_chunk(FILE_ID, 1, second, status="done")  # counted once
    ledger.record_split(FILE_ID, chunks_total=2, records_total=10)
    file = ledger.claim_finalization(FILE_ID, "owner")
    assert file is not None
    assert file.request_minutes == {
        "2026-12-01T14:12Z 200": 1,
        "2026-12-01T14:12Z 429": 1,
        "2026-12-01T14:13Z 200": 2,
        "2026-12-01T14:15Z 503": 1,
    }
    report = build_report(file, minimum_audience_size=1)
    assert report["requests_over_time"] == [
        {"minute": "2026-12-01T14:12Z", "requests": {"200": 1, "429": 1}},
        {"minute": "2026-12-01T14:13Z", "requests": {"200": 2}},
        {"minute": "2026-12-01T14:15Z", "requests": {"503": 1}},
    ]
    summed: Counter[str] = Counter()
    for point in report["requests_over_time"]:
        summed.update(point["requests"])
    assert summed == report["requests_by_status"] == {"200": 3, "429": 1, "503": 1}


def test_an_item_registered_without_the_map_still_counts_the_minutes(ledger: Ledger) -> None:
    """An item written before this release has no ``request_minutes``: DynamoDB refuses a path
    under it, so the ledger adds the missing maps and applies the chunk once."""
    ledger._resource_table.update_item(
        Key={"pk": f"file#{FILE_ID}", "sk": "file"}, UpdateExpression="REMOVE request_minutes"
    )
    chunk = answered((0, "200"), (0, "200"))
    assert ledger.complete_chunk(FILE_ID, 0, chunk, status="done")
    assert not ledger.complete_chunk(FILE_ID, 0, chunk, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert file.request_minutes == {"2026-12-01T14:12Z 200": 2}
    assert (file.requests, file.read, file.chunks_done) == ({"200": 2}, 5, 1)


def test_a_chunk_with_too_many_minutes_folds_the_oldest_instead_of_failing(
    ledger: Ledger,
) -> None:
    # A pathological chunk: 300 requests over five hours, beside every other counter at length.
    chunk = answered(*((minute, "200") for minute in range(300)), (299, "429"), read=300)
    chunk.rejected.update({reason.value: 1 for reason in Reason})
    chunk.countries.update({f"C{i:02d}": 50 - i for i in range(40)})
    chunk.coverage.invalid.update({f"field{i}": 1 for i in range(8)})
    expression, _, _, counted = _chunk_update(0, chunk)
    assert len(expression) <= _MAX_EXPRESSION
    minutes = counted["maps"]["request_minutes"]
    assert 2 <= len(minutes) < 300
    assert statuses(minutes) == {"200": 300, "429": 1}  # nothing lost, only folded
    assert minutes["2026-12-01T19:11Z 200"] == 1  # the newest minutes stay exact
    assert minutes["2026-12-01T19:11Z 429"] == 1
    # The countries keep room of their own: the most frequent stay exact.
    assert counted["maps"]["countries"]["C00"] == 50
    assert ledger.complete_chunk(FILE_ID, 0, chunk, status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None and file.request_minutes == minutes


def test_a_redrive_takes_the_dead_lettered_chunks_minutes_back_out(ledger: Ledger) -> None:
    ledger.record_split(FILE_ID, chunks_total=2, records_total=10)
    assert ledger.complete_chunk(FILE_ID, 0, answered((0, "200")), status="done")
    before = ledger.get_file(FILE_ID)
    assert before is not None
    failed = answered((0, "200"), (2, "400"))  # one minute shared, one its own
    failed.failed["adm_400_BAD"] += 1
    record = DeadLetter(pointer(1, 7).to_message(), 0, (8, 10))
    assert ledger.complete_chunk(FILE_ID, 1, failed, status="failed", dead_letter=record)
    chunk = ledger.get_chunk(FILE_ID, 1)
    assert chunk is not None and chunk.dead_letter is not None
    assert chunk.dead_letter.counted["maps"]["request_minutes"] == {
        "2026-12-01T14:12Z 200": 1,
        "2026-12-01T14:14Z 400": 1,
    }
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")

    records = RedriveLedger(ledger)
    records.open(FILE_ID, "run-1")
    assert records.reverse(FILE_ID, chunk, "run-1")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    # The shared minute is decremented, the chunk's own is removed (no zero left behind).
    assert file.request_minutes == before.request_minutes == {"2026-12-01T14:12Z 200": 1}
    assert file.requests == before.requests
