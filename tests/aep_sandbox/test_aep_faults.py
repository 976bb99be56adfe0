"""Injected faults (the ADM sandbox's machinery): 429 with Retry-After, 5xx bursts, latency,
dropped connections, and faulting the IMS token endpoint itself."""

from __future__ import annotations

import time

import pytest
import requests

from adm_local.aep_sandbox import AepSandboxServer
from tests.aep_sandbox.aep_http import CATALOG, Aep, new_token, platform_headers, token_form


def test_429_with_retry_after_then_the_call_goes_through(aep: Aep) -> None:
    aep.sandbox.faults.set(rate_limit=2, retry_after=3)

    replies = [aep.call("GET", f"{CATALOG}/dataSets") for _ in range(3)]

    assert [reply.status_code for reply in replies] == [429, 429, 200]
    assert replies[0].headers["Retry-After"] == "3"
    assert replies[0].json()["error_code"] == "429050"


def test_a_5xx_burst_scoped_to_a_path_via_the_control_endpoint(aep: Aep) -> None:
    control = requests.post(
        aep.sandbox.url + "/_sandbox/faults",
        json={"server_errors": 2, "status": 503, "path": "/data/foundation/import"},
        timeout=5,
    )
    assert control.status_code == 204

    catalog = aep.call("GET", f"{CATALOG}/dataSets")
    imports = [aep.call("POST", "/data/foundation/import/batches", json={}) for _ in range(3)]

    assert catalog.status_code == 200
    assert [reply.status_code for reply in imports] == [503, 503, 400]


def test_latency_delays_the_answer(aep: Aep) -> None:
    aep.sandbox.faults.set(latency=0.3)

    started = time.monotonic()
    reply = aep.call("GET", f"{CATALOG}/dataSets")

    assert reply.ok
    assert time.monotonic() - started >= 0.3


def test_a_dropped_connection_is_a_connection_error(aep: Aep) -> None:
    aep.sandbox.faults.set(drop_connections=1)

    with pytest.raises(requests.ConnectionError):
        aep.call("GET", f"{CATALOG}/dataSets")

    assert aep.call("GET", f"{CATALOG}/dataSets").ok
    assert [r.status for r in aep.sandbox.requests][-2:] == [None, 200]


def test_api_faults_spare_ims_unless_it_is_named(sandbox: AepSandboxServer) -> None:
    sandbox.faults.set(rate_limit=1)
    assert requests.post(sandbox.token_url, data=token_form(sandbox), timeout=5).ok

    sandbox.faults.set(server_errors=1, path="/ims/token/v3")
    faulted = requests.post(sandbox.token_url, data=token_form(sandbox), timeout=5)

    assert faulted.status_code == 500
    assert requests.post(sandbox.token_url, data=token_form(sandbox), timeout=5).ok


def test_control_endpoints_show_state_and_reset_it(aep: Aep) -> None:
    dataset = aep.create_dataset("Loyalty", aep.sandbox.schemas[0].id)
    aep.sandbox.faults.set(latency=5)
    control = aep.sandbox.url + "/_sandbox"

    before = requests.get(f"{control}/state", timeout=5).json()
    reset = requests.post(f"{control}/reset", timeout=5)
    after = requests.get(f"{control}/state", timeout=5).json()

    assert list(before["datasets"]) == [dataset]
    assert before["faults"]["latency"] == [{"seconds": 5, "path": None}]
    assert before["tokens_issued"] == 1
    assert reset.status_code == 204
    assert (after["datasets"], after["faults"]["latency"]) == ({}, [])
    assert requests.post(f"{control}/faults", json={"bogus": 1}, timeout=5).status_code == 400


def test_periodic_revocation_expires_tokens_mid_run(sandbox: AepSandboxServer) -> None:
    headers = platform_headers(sandbox, new_token(sandbox))
    sandbox.faults.set(revoke_tokens_every=0.3)
    fresh = platform_headers(sandbox, new_token(sandbox))

    def status(h: dict[str, str]) -> int:
        return requests.get(sandbox.url + f"{CATALOG}/dataSets", headers=h, timeout=5).status_code

    assert (status(headers), status(fresh)) == (401, 200)
    time.sleep(0.35)
    assert status(fresh) == 401


def test_accept_then_drop_applies_the_call_without_answering(aep: Aep) -> None:
    aep.sandbox.faults.set(accept_then_drop=1, methods=["POST"])

    with pytest.raises(requests.ConnectionError):
        aep.create_dataset("Loyalty", aep.sandbox.schemas[0].id)

    assert [d["name"] for d in aep.call("GET", f"{CATALOG}/dataSets").json().values()] == [
        "Loyalty"
    ]
