"""The sandbox faults the e2e fault matrix relies on: random shares of 429 / 5xx / dropped
connections, accept-then-drop (applied, never answered) and periodic token revocation."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from adm_local.sandbox import SandboxServer
from adm_local.sandbox.auth import SandboxAccount, TokenIssuer
from adm_local.sandbox.faults import FaultKind, Faults
from tests.sandbox.sandbox_http import Api, token_form

MEMBER = {
    "action": "CREATE",
    "externalUserId": "user-1",
    "userIdentity": {"hashedPiis": [{"em": "a" * 64}]},
}


def test_accept_then_drop_applies_the_request_and_sends_nothing_back(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.sandbox.faults.set(accept_then_drop=1, path="/adm/audiences/")

    with pytest.raises(requests.ConnectionError):
        onboarded.members(dataset_id, [MEMBER])

    assert set(onboarded.sandbox.state()["datasets"][dataset_id]["members"]) == {"user-1"}
    last = onboarded.sandbox.requests[-1]
    assert (last.status, last.fault) == (None, "accept_then_drop")
    assert onboarded.members(dataset_id, [MEMBER]).status_code == 200  # used up


def test_a_dropped_connection_is_recorded_as_that_fault(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.sandbox.faults.set(drop_connections=1, path="/adm/audiences/")

    with pytest.raises(requests.ConnectionError):
        onboarded.members(dataset_id, [MEMBER])

    assert onboarded.sandbox.state()["datasets"][dataset_id]["members"] == {}
    assert onboarded.sandbox.requests[-1].fault == "drop_connection"


def test_shares_fault_that_fraction_of_requests_one_fault_per_request() -> None:
    faults = Faults(expire_tokens=lambda: None)
    faults.set(rate_limit_share=0.10, server_error_share=0.05, accept_then_drop_share=0.03, seed=7)

    kinds = Counter(
        decision.fault.kind if decision.fault else None
        for decision in (faults.decide("POST", "/adm/audiences/x/members") for _ in range(20_000))
    )

    assert kinds[FaultKind.RATE_LIMIT] == pytest.approx(2000, rel=0.1)
    assert kinds[FaultKind.SERVER_ERROR] == pytest.approx(1000, rel=0.15)
    assert kinds[FaultKind.ACCEPT_THEN_DROP] == pytest.approx(600, rel=0.2)
    assert kinds[None] == 20_000 - sum(v for k, v in kinds.items() if k is not None)
    # Shares never hit the token endpoint unless scoped to it, and stop when cleared.
    assert all(faults.decide("POST", "/auth/o2/token").fault is None for _ in range(200))
    faults.clear()
    assert all(faults.decide("POST", "/adm/x").fault is None for _ in range(200))


def test_shares_are_repeatable_with_a_seed() -> None:
    def run() -> list[str | None]:
        faults = Faults(expire_tokens=lambda: None)
        faults.set(server_error_share=0.5, status=503, seed=42)
        return [
            str(d.fault.status) if d.fault else None
            for d in map(faults.decide, ["GET"] * 50, ["/a"] * 50)
        ]

    assert run() == run()


@pytest.mark.parametrize(
    "settings",
    [{"rate_limit_share": 1.5}, {"server_error_share": -0.1},
     {"rate_limit_share": 0.6, "server_error_share": 0.6}, {"revoke_tokens_every": 0}],
)  # fmt: skip
def test_impossible_shares_and_intervals_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(expire_tokens=lambda: None, revoke_tokens_every=lambda _: None).set(**settings)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_periodic_revocation_revokes_what_was_issued_then_each_token_its_seconds_after_grant() -> (
    None
):
    clock = FakeClock()
    issuer = TokenIssuer(SandboxAccount(), clock=clock)
    form = token_form_for(issuer.account)
    old = issuer.grant(form)["access_token"]

    issuer.revoke_every(0.5)  # at 1000.0: everything issued so far
    assert issuer.client_of(f"Bearer {old}") is None
    clock.now = 1000.2
    fresh = issuer.grant(form)["access_token"]
    assert issuer.client_of(f"Bearer {fresh}") == issuer.account.client_id
    clock.now = 1000.69
    assert issuer.client_of(f"Bearer {fresh}") == issuer.account.client_id
    clock.now = 1000.7  # 0.5 s after its grant
    assert issuer.client_of(f"Bearer {fresh}") is None
    # A token granted just after a refusal is good for its whole 0.5 s, as a real refresh is.
    newer = issuer.grant(form)["access_token"]
    clock.now = 1001.19
    assert issuer.client_of(f"Bearer {newer}") is not None

    issuer.revoke_every(None)  # stopping keeps what was revoked revoked
    clock.now = 1003.0
    assert issuer.client_of(f"Bearer {fresh}") is None
    assert issuer.client_of(f"Bearer {newer}") is not None


def token_form_for(account: SandboxAccount) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "client_id": account.client_id,
        "client_secret": account.client_secret,
    }


def test_revocation_over_http_answers_401_until_a_new_token_is_granted(
    sandbox: SandboxServer,
) -> None:
    token = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=10).json()
    headers = {
        "Authorization": f"Bearer {token['access_token']}",
        "Amazon-Advertising-API-ClientId": sandbox.account.client_id,
    }
    assert requests.get(f"{sandbox.url}/managerAccounts", headers=headers, timeout=10).ok

    control = requests.post(
        f"{sandbox.url}/_sandbox/faults", json={"revoke_tokens_every": 60}, timeout=10
    )
    assert control.status_code == 204

    refused = requests.get(f"{sandbox.url}/managerAccounts", headers=headers, timeout=10)
    assert refused.status_code == 401
    token = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=10).json()
    headers["Authorization"] = f"Bearer {token['access_token']}"
    assert requests.get(f"{sandbox.url}/managerAccounts", headers=headers, timeout=10).ok
