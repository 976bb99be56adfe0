"""Consent sources through the ledger: each chunk's ``consent_sources`` add into the file
item's map (also for a file item registered before the map existed), the report carries them
top-level, and a redrive takes a dead-lettered chunk's share back out exactly."""

from __future__ import annotations

import pytest

from adm_ingest.ledger import DeadLetter, Ledger
from adm_ingest.ledger_redrive import RedriveLedger
from adm_ingest.outcomes import Tally
from adm_ingest.report import build_report
from tests.unit.test_ledger_redrive import pointer
from tests.unit.test_ledger_report import FILE_ID, claim, entry, tally


@pytest.fixture
def ledger(moto_ledger: Ledger) -> Ledger:
    return moto_ledger


def chunk(read: int, consent: dict[str, int]) -> Tally:
    """A chunk whose records were all sent, by where their consent came from."""
    result = tally(read=read, accepted=read, valid={"email": read}, requests={"200": 1})
    result.consent_sources.update(consent)
    result.country_sources.update({"record": read})
    return result


def test_consent_sources_add_up_across_chunks_into_the_report(ledger: Ledger) -> None:
    ledger.register_file(entry())
    assert ledger.complete_chunk(FILE_ID, 0, chunk(5, {"record": 3, "none": 2}), status="done")
    assert ledger.complete_chunk(FILE_ID, 1, chunk(4, {"mapping_default": 4}), status="done")
    ledger.record_split(FILE_ID, chunks_total=2, records_total=9)
    file = claim(ledger)
    assert file is not None
    assert file.consent_sources == {"record": 3, "none": 2, "mapping_default": 4}
    report = build_report(file)
    assert report["consent_sources"] == {"mapping_default": 4, "none": 2, "record": 3}
    assert list(report["consent_sources"]) == sorted(report["consent_sources"])


def test_a_file_item_without_the_consent_map_still_counts_it(ledger: Ledger) -> None:
    """An item registered by a release before consent sources lacks the map; DynamoDB refuses
    ``consent_sources.record = …`` under it, so the ledger adds the missing maps and retries."""
    ledger.register_file(entry())
    ledger._resource_table.update_item(
        Key={"pk": f"file#{FILE_ID}", "sk": "file"}, UpdateExpression="REMOVE consent_sources"
    )
    assert (
        "consent_sources"
        not in ledger._resource_table.get_item(Key={"pk": f"file#{FILE_ID}", "sk": "file"})["Item"]
    )
    assert ledger.complete_chunk(FILE_ID, 0, chunk(3, {"record": 3}), status="done")
    assert not ledger.complete_chunk(FILE_ID, 0, chunk(3, {"record": 3}), status="done")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    assert (file.read, file.consent_sources, file.country_sources) == (
        3,
        {"record": 3},
        {"record": 3},
    )


def test_a_redrive_takes_the_dead_lettered_chunks_consent_sources_back_out(
    ledger: Ledger,
) -> None:
    ledger.register_file(entry())
    ledger.record_split(FILE_ID, chunks_total=2, records_total=10)
    ledger.complete_chunk(FILE_ID, 0, chunk(5, {"record": 3, "none": 2}), status="done")
    failed = chunk(5, {"record": 1, "mapping_default": 4})
    failed.accepted = 0
    failed.failed.update({"not_delivered": 5})
    record = DeadLetter(pointer(1, 7).to_message(), 0, (7, 11))
    assert ledger.complete_chunk(FILE_ID, 1, failed, status="failed", dead_letter=record)
    assert ledger.claim_finalization(FILE_ID, "owner") is not None
    ledger.mark_reported(FILE_ID, "complete_with_failures", owner="owner")
    counted = ledger.get_chunk(FILE_ID, 1)
    assert counted is not None and counted.dead_letter is not None
    assert counted.dead_letter.counted["maps"]["consent_sources"] == {
        "record": 1,
        "mapping_default": 4,
    }
    before = ledger.get_file(FILE_ID)
    assert before is not None
    assert before.consent_sources == {"record": 4, "none": 2, "mapping_default": 4}

    records = RedriveLedger(ledger)
    records.open(FILE_ID, "run-1")
    assert records.reverse(FILE_ID, counted, "run-1")
    file = ledger.get_file(FILE_ID)
    assert file is not None
    # "mapping_default" held only the chunk's count: removed, not left at zero.
    assert file.consent_sources == {"record": 3, "none": 2}
    assert file.read == 5
