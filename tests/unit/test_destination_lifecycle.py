"""Every destination, driven through its whole lifecycle with a fake client: open the file,
deliver a batch, commit, poll — and its errors classified into the pipeline's neutral outcomes.

A new destination joins :data:`DESTINATIONS` and this test enumerates it: it must bring a fake
of its client (:data:`FAKE_CLIENTS`, by client key) and an example key of its route.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from adm_ingest.adm.errors import (
    AuthError,
    BadRequest,
    DeadlineExceeded,
    NotFound,
    RetryableError,
    ServerError,
    Throttled,
)
from adm_ingest.adm.models import EventsResult, ItemError, MembersResult
from adm_ingest.attempts import AttemptStats
from adm_ingest.destinations import (
    DESTINATIONS,
    CommitState,
    DeliveryFailed,
    DeliveryTarget,
    Destination,
    FailureClass,
    FileContext,
    destination_class,
    destination_for,
)
from adm_ingest.mapping_config import MappingConfig
from adm_ingest.pipeline.routing import INPUT_PREFIXES, route
from adm_ingest.records import ConsentSignals, PreparedRecord

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EMAIL_DIGEST = hashlib.sha256(b"jane.doe@example.com").hexdigest()
RECORD = PreparedRecord(
    line=2,
    country="US",
    hashed_sets=[{"email": EMAIL_DIGEST}],
    consent=ConsentSignals(),
    attributes={"external_id": "crm-1", "timestamp": "2026-11-27T11:00:00Z", "value": "12.50"},
)
EXAMPLE_KEYS = {
    "audience_members": "audiences/vip/crm.csv",
    "audience_removals": "audiences/vip/delete/unsubscribes.csv",
    "conversions": "conversions/offline-purchase/orders.csv",
    "identity_deletions": "deletions/gdpr.jsonl",
    "aep": "aep/loyalty-profiles/crm.csv",
}
TARGET_ATTRIBUTES = {"aep": {"dataset_class": "profile"}}
"""What a destination's registry entry says of its target, where it needs it."""


class FakeAepClient:
    """The AEP batch calls the destination makes, recorded; every batch succeeds."""

    def __init__(self, *, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.error = error
        self.batches: dict[str, str] = {}

    def _call(self, name: str, detail: str = "") -> None:
        self.calls.append((name, detail))
        if self.error is not None:
            raise self.error

    def list_batches(self, *, external_id: str) -> list[Any]:
        self._call("list_batches", external_id)
        return []

    def create_batch(self, dataset_id: str, **_: Any) -> Any:
        self._call("create_batch", dataset_id)
        self.batches["B-1"] = "loading"
        return type("Created", (), {"id": "B-1"})()

    def put_file(self, batch_id: str, dataset_id: str, name: str, body: Any) -> None:
        self._call("put_file", name)

    def complete_batch(self, batch_id: str) -> None:
        self._call("complete_batch", batch_id)
        self.batches[batch_id] = "success"

    def get_batch(self, batch_id: str) -> Any:
        from adm_ingest.aep.models import Batch

        self._call("get_batch", batch_id)
        return Batch(batch_id, self.batches[batch_id])

    def take_stats(self) -> AttemptStats:
        return AttemptStats(by_outcome={"200": 1} if self.calls else {})


class FakeAdmClient:
    """ADM's three ingestion calls, recorded; each answers as ADM does when all is well —
    or refuses item ``refuse`` — or raises ``error``."""

    def __init__(self, *, refuse: int | None = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []
        self.refuse = refuse
        self.error = error

    def _answer(self, call: str, target: str | None, body: bytes) -> list[ItemError]:
        self.calls.append((call, target, orjson.loads(body)))
        if self.error is not None:
            raise self.error
        return [] if self.refuse is None else [ItemError(self.refuse, "INVALID_EMAIL", "…")]

    def ingest_members(self, data_set_id: str, body: bytes) -> MembersResult:
        return MembersResult("ingress-1", self._answer("members", data_set_id, body))

    def ingest_conversion_events(self, body: bytes) -> EventsResult:
        return EventsResult([], self._answer("events", None, body))

    def delete_identities(self, body: bytes) -> None:
        self._answer("identities", None, body)

    def take_stats(self) -> AttemptStats:
        return AttemptStats(by_outcome={"200": 1} if self.calls else {})


FAKE_CLIENTS: dict[str, Callable[..., Any]] = {"adm": FakeAdmClient, "aep": FakeAepClient}
"""A fake client for each client key."""


def destination_of(cls: type[Destination]) -> Destination:
    attributes = TARGET_ATTRIBUTES.get(cls.name, {})
    target = (
        DeliveryTarget(cls.name, "vip", "DS-1", attributes)
        if cls.namespace
        else DeliveryTarget(cls.name)
    )
    return destination_for(target, clock=lambda: NOW)


def one_batch(destination: Destination) -> Any:
    batcher = destination.batcher()
    encoder = destination.row_encoder(MappingConfig({}))
    if encoder is None:
        item = destination.encode(RECORD)
    else:  # the destination's own record path: the same person as a source row
        encoder.layout_for(("Email", "First Name"))
        item = encoder.encode_row(RECORD.line, ["jane.doe@example.com", "Jane"])
    assert isinstance(item, bytes), item
    assert batcher.add(item, RECORD.line) is None
    return batcher.flush()


ALL = pytest.mark.parametrize("cls", DESTINATIONS, ids=lambda cls: cls.name)


ADM = pytest.mark.parametrize(
    "cls", [cls for cls in DESTINATIONS if cls.client_key == "adm"], ids=lambda cls: cls.name
)


@ADM
def test_each_adm_destination_goes_through_the_whole_lifecycle(cls: type[Destination]) -> None:
    destination = destination_of(cls)
    client = FAKE_CLIENTS[cls.client_key]()
    file = FileContext("f" * 32, EXAMPLE_KEYS[cls.name], destination.target, records=1)

    session = destination.open_file(client, file)
    delivery = destination.deliver(client, one_batch(destination), session)
    commit = destination.commit(client, file, session)
    state = destination.poll(client, file, commit.session)

    assert delivery.rejected == {}
    assert delivery.attempts.by_outcome == {"200": 1}
    assert len(client.calls) == 1  # ADM's destinations finish at deliver: one request in all
    assert session == {} and commit.state is CommitState.DONE and not commit.pending
    assert state.terminal and state.succeeded


@ADM
def test_an_item_the_remote_system_refuses_comes_back_by_its_index(
    cls: type[Destination],
) -> None:
    destination = destination_of(cls)
    if cls.client_key == "adm" and cls.name == "identity_deletions":
        pytest.skip("ADM's identity deletion answers 202 for the whole body, no item verdicts")
    delivery = destination.deliver(FakeAdmClient(refuse=0), one_batch(destination), {})
    assert delivery.rejected == {0: "adm_INVALID_EMAIL"}


ADM_ERRORS = [
    (AuthError("refresh token revoked"), FailureClass.NEEDS_HUMAN, "auth", False),
    (Throttled(429, "TOO_MANY_REQUESTS", "slow down"), FailureClass.TRANSIENT, "throttled", False),
    (ServerError(503, "UNAVAILABLE", "later"), FailureClass.TRANSIENT, "server_error", False),
    (DeadlineExceeded("the invocation ends"), FailureClass.TRANSIENT, "out_of_time", False),
    (
        RetryableError("no answer", maybe_delivered=True),
        FailureClass.TRANSIENT,
        "no_response",
        True,
    ),
    (
        BadRequest(400, "INVALID_ARGUMENT", "bad body"),
        FailureClass.PERMANENT,
        "adm_400_INVALID_ARGUMENT",
        False,
    ),
    (
        NotFound(404, "NOT_FOUND", "no such dataset"),
        FailureClass.PERMANENT,
        "adm_404_NOT_FOUND",
        False,
    ),
]


@pytest.mark.parametrize(
    ("error", "failure", "reason", "maybe_delivered"),
    ADM_ERRORS,
    ids=[type(case[0]).__name__ for case in ADM_ERRORS],
)
@pytest.mark.parametrize("cls", [cls for cls in DESTINATIONS if cls.client_key == "adm"])
def test_adm_errors_are_classified_inside_the_destination(
    cls: type[Destination],
    error: Exception,
    failure: FailureClass,
    reason: str,
    maybe_delivered: bool,
) -> None:
    destination = destination_of(cls)
    with pytest.raises(DeliveryFailed) as raised:
        destination.deliver(FakeAdmClient(error=error), one_batch(destination), {})
    assert raised.value.failure is failure
    assert raised.value.reason == reason
    assert raised.value.maybe_delivered is maybe_delivered
    assert raised.value.attempts.by_outcome == {"200": 1}  # the attempts ride on the failure


@ALL
def test_an_error_that_is_not_the_clients_is_a_bug_and_propagates(cls: type[Destination]) -> None:
    destination = destination_of(cls)
    file = FileContext("f" * 32, EXAMPLE_KEYS[cls.name], destination.target, records=1)
    session = destination.open_file(FAKE_CLIENTS[cls.client_key](), file)
    with pytest.raises(ZeroDivisionError):
        destination.deliver(
            FAKE_CLIENTS[cls.client_key](error=ZeroDivisionError()), one_batch(destination), session
        )


# -- the declaration ---------------------------------------------------------------------------


@ALL
def test_each_destination_routes_its_own_files(cls: type[Destination]) -> None:
    found = route(EXAMPLE_KEYS[cls.name])
    assert found.destination is cls
    assert destination_class(cls.name) is cls
    assert cls.route.top in INPUT_PREFIXES


def test_destination_names_are_unique_and_every_client_key_has_a_fake() -> None:
    names = [cls.name for cls in DESTINATIONS]
    assert len(set(names)) == len(names)
    assert {cls.client_key for cls in DESTINATIONS} <= set(FAKE_CLIENTS)
    assert set(EXAMPLE_KEYS) == set(names)


def test_a_more_specific_route_comes_before_the_route_it_refines() -> None:
    for position, cls in enumerate(DESTINATIONS):
        for later in DESTINATIONS[position + 1 :]:
            assert cls.route.match(EXAMPLE_KEYS[later.name]) is None, (
                f"{cls.name}'s route would take {later.name}'s files"
            )
