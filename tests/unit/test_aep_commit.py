"""The AEP destination's commit of batches AEP will not finish: a batch left ``loading`` too
long is ``abandoned`` by AEP, and ABORT / COMPLETE of it is a 400; a batch without files
cannot be completed ("106: Dataset file is empty": every row rejected before upload). The
commit leaves the first (the poll reports its state) and aborts the second (the poll then
decides by the other batches) instead of failing for ever, which would leave the file without
a final report; other refusals fail the commit as before."""

from __future__ import annotations

from typing import Any

import pytest

from adm_ingest.aep.errors import AepApiError
from adm_ingest.aep.models import Batch
from adm_ingest.destinations.aep import AepBatches
from adm_ingest.destinations.base import CommitState, DeliveryFailed, DeliveryTarget, FileContext

SESSION = {"dataset": "DS-1", "batches": "B-0,B-1", "parts_per_batch": "400"}


class RefusingClient:
    """ABORT / COMPLETE refused with a 400 for the batches in ``refused``; ``status``: what
    Catalog then says of each batch."""

    def __init__(self, status: dict[str, str], refused: set[Any]) -> None:
        self.status = status
        self.refused = refused
        self.actions: list[tuple[str, str]] = []

    def _act(self, action: str, batch_id: str) -> None:
        self.actions.append((action, batch_id))
        if (action, batch_id) in self.refused or batch_id in self.refused:
            raise AepApiError(400, "BadRequestError", f"batch is {self.status[batch_id]}")

    def abort_batch(self, batch_id: str) -> None:
        self._act("ABORT", batch_id)
        self.status[batch_id] = "aborted"

    def complete_batch(self, batch_id: str) -> None:
        self._act("COMPLETE", batch_id)
        self.status[batch_id] = "success"

    def get_batch(self, batch_id: str) -> Batch:
        return Batch(batch_id, self.status[batch_id])

    def row_errors(self, batch_id: str) -> list[Any]:
        return []

    def take_stats(self) -> Any:
        return None


def _commit(client: RefusingClient, *, failed: int) -> Any:
    target = DeliveryTarget("aep", "profiles", "DS-1", {"dataset_class": "profile"})
    file = FileContext("f" * 32, "aep/profiles/crm.csv", target, records=10, failed=failed)
    return AepBatches(target).commit(client, file, dict(SESSION))


@pytest.mark.parametrize(("failed", "action"), [(0, "COMPLETE"), (3, "ABORT")])
def test_a_batch_aep_abandoned_is_left_as_it_is_and_the_others_are_committed(
    failed: int, action: str
) -> None:
    client = RefusingClient({"B-0": "abandoned", "B-1": "loading"}, refused={"B-0"})

    commit = _commit(client, failed=failed)

    assert commit.state is CommitState.PENDING  # the poll reports the abandoned batch
    assert client.actions == [(action, "B-0"), (action, "B-1")]


def test_a_batch_aep_will_not_complete_empty_is_aborted_and_decides_nothing() -> None:
    client = RefusingClient({"B-0": "loading", "B-1": "loading"}, refused={("COMPLETE", "B-1")})

    commit = _commit(client, failed=0)

    assert client.actions == [("COMPLETE", "B-0"), ("COMPLETE", "B-1"), ("ABORT", "B-1")]
    assert commit.session["empty_batches"] == "B-1"
    target = DeliveryTarget("aep", "profiles", "DS-1", {"dataset_class": "profile"})
    file = FileContext("f" * 32, "aep/profiles/crm.csv", target, records=10)
    state = AepBatches(target).poll(client, file, dict(commit.session))
    assert (state.terminal, state.status, state.succeeded) == (True, "success", True)
    # Its chunks are refused all the same: a row it did hold would be failed, not dropped.
    assert [(c.first, c.last) for c in state.refused_chunks] == [(400, None)]
    assert state.facts["empty_batches"] == "B-1"


def test_a_file_with_every_batch_empty_is_remotely_empty_not_failed() -> None:
    client = RefusingClient(
        {"B-0": "loading", "B-1": "loading"}, refused={("COMPLETE", "B-0"), ("COMPLETE", "B-1")}
    )

    commit = _commit(client, failed=0)

    target = DeliveryTarget("aep", "profiles", "DS-1", {"dataset_class": "profile"})
    file = FileContext("f" * 32, "aep/profiles/crm.csv", target, records=10)
    state = AepBatches(target).poll(client, file, dict(commit.session))
    assert (state.status, state.succeeded) == ("empty", True)


def test_a_refused_action_on_a_batch_still_open_fails_the_commit() -> None:
    # ABORT refused on an open batch: nothing explains it, the commit fails (and is retried).
    client = RefusingClient({"B-0": "loading", "B-1": "loading"}, refused={"B-0"})

    with pytest.raises(DeliveryFailed):
        _commit(client, failed=3)
