"""The AEP destination's commit of a batch AEP closed on its own: a batch left ``loading`` too
long is ``abandoned`` by AEP, and ABORT / COMPLETE of it is a 400. The commit leaves it (the
poll reports its state) instead of failing for ever, which would leave the file without a final
report; a refusal of a batch that is still open is a failure as before."""

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

    def __init__(self, status: dict[str, str], refused: set[str]) -> None:
        self.status = status
        self.refused = refused
        self.actions: list[tuple[str, str]] = []

    def _act(self, action: str, batch_id: str) -> None:
        self.actions.append((action, batch_id))
        if batch_id in self.refused:
            raise AepApiError(400, "BadRequestError", f"batch is {self.status[batch_id]}")

    def abort_batch(self, batch_id: str) -> None:
        self._act("ABORT", batch_id)

    def complete_batch(self, batch_id: str) -> None:
        self._act("COMPLETE", batch_id)

    def get_batch(self, batch_id: str) -> Batch:
        return Batch(batch_id, self.status[batch_id])

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


def test_a_refused_action_on_a_batch_still_open_fails_the_commit() -> None:
    client = RefusingClient({"B-0": "loading", "B-1": "loading"}, refused={"B-0"})

    with pytest.raises(DeliveryFailed):
        _commit(client, failed=0)
