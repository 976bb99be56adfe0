"""Size limits, injected faults, control endpoints, request log, stderr log and the CLI."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_local.sandbox import MAX_BODY_BYTES, SandboxServer
from tests.sandbox.sandbox_http import MEMBERS_JSON, Api, authenticated_session, grant_token

HASH = "0" * 64


def test_body_over_10_mb_is_413(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    padding = "x" * (MAX_BODY_BYTES + 1 - len('{"members": [], "pad": ""}'))
    body = json.dumps({"members": [], "pad": padding}).encode()
    assert len(body) == MAX_BODY_BYTES + 1

    response = onboarded.session.post(
        f"{onboarded.sandbox.url}/adm/audiences/{dataset_id}/members",
        data=body,
        headers={"Content-Type": MEMBERS_JSON},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert onboarded.sandbox.state()["datasets"][dataset_id]["memberCount"] == 0


def test_more_than_10000_members_is_400(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    member = {"action": "CREATE", "externalUserId": "u", "userIdentity": {"hashedPiis": []}}

    response = onboarded.members(dataset_id, [member] * 10_001)

    assert response.status_code == 400
    assert "body.members: violates maxItems 10000" in response.text


def test_rate_limit_fault_answers_429_with_retry_after_then_recovers(api: Api) -> None:
    api.sandbox.faults.set(rate_limit=2, retry_after=1)

    statuses = [api.call("GET", "/adm/terms") for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "1"
    assert statuses[0].json()["code"] == "TooManyRequestsException"


def test_rate_limit_without_retry_after_sends_no_header(api: Api) -> None:
    api.sandbox.faults.set(rate_limit=1)

    response = api.call("GET", "/adm/terms")

    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_rate_limit_on_a_dsp_call_uses_the_dsp_error_shape(api: Api) -> None:
    api.sandbox.faults.set(rate_limit=1)

    response = api.dsp("/list", {}, "application/vnd.dspconversiondefinition.v1+json")

    assert response.status_code == 429
    assert set(response.json()) == {"message", "requestId", "errors"}


def test_server_error_fault_uses_the_given_status(api: Api) -> None:
    api.sandbox.faults.set(server_errors=2, status=503)

    statuses = [api.call("GET", "/adm/terms").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_faults_can_be_scoped_to_a_path_prefix_and_methods(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.sandbox.faults.set(server_errors=1, path="/adm/audiences/", methods=["POST"])

    assert onboarded.call("GET", "/adm/terms").status_code == 200
    assert onboarded.call("GET", f"/adm/audiences/{dataset_id}").status_code == 200
    assert onboarded.members(dataset_id, []).status_code == 500
    assert onboarded.members(dataset_id, []).status_code == 400  # minItems 1: fault used up


def test_unscoped_faults_spare_the_token_endpoint(sandbox: SandboxServer) -> None:
    sandbox.faults.set(rate_limit=1)

    assert grant_token(sandbox).startswith("Atza|")
    assert sandbox.faults.snapshot()["counted"][0]["remaining"] == 1


def test_the_token_endpoint_can_be_faulted_explicitly(sandbox: SandboxServer) -> None:
    sandbox.faults.set(server_errors=1, path="/auth/o2/token")

    with pytest.raises(requests.HTTPError):
        grant_token(sandbox)
    assert grant_token(sandbox)


def test_latency_fault_delays_responses_until_cleared(api: Api) -> None:
    api.sandbox.faults.set(latency=0.3)

    started = time.monotonic()
    api.call("GET", "/adm/terms")
    delayed = time.monotonic() - started
    api.sandbox.faults.clear()
    started = time.monotonic()
    api.call("GET", "/adm/terms")

    assert delayed >= 0.3
    assert time.monotonic() - started < 0.3


def test_dropped_connection_closes_without_a_response(api: Api) -> None:
    api.sandbox.faults.set(drop_connections=1)

    with pytest.raises(requests.ConnectionError):
        api.call("GET", "/adm/terms")
    assert api.call("GET", "/adm/terms").status_code == 200
    assert [r.status for r in api.sandbox.requests[-2:]] == [None, 200]


def test_accept_then_drop_applies_the_request_and_sends_no_answer(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.sandbox.faults.set(accept_then_drop=1, path=f"/adm/audiences/{dataset_id}/")
    member = {
        "action": "CREATE",
        "externalUserId": "taken-but-unanswered",
        "userConsent": {"geo": {"countryCode": "US"}},
        "userIdentity": {"hashedPiis": [{"em": HASH}]},
    }

    with pytest.raises(requests.ConnectionError):
        onboarded.members(dataset_id, [member])

    assert onboarded.sandbox.requests[-1].status is None
    assert onboarded.sandbox.state()["datasets"][dataset_id]["memberCount"] == 1
    assert onboarded.members(dataset_id, [member]).status_code == 200  # used up; idempotent
    assert onboarded.sandbox.state()["datasets"][dataset_id]["memberCount"] == 1


def test_control_endpoints_over_http(onboarded: Api) -> None:
    url = onboarded.sandbox.url
    onboarded.create_audience()

    faulted = requests.post(f"{url}/_sandbox/faults", json={"rate_limit": 1}, timeout=10)
    state = requests.get(f"{url}/_sandbox/state", timeout=10).json()
    assert faulted.status_code == 204
    assert len(state["datasets"]) == 1
    assert state["faults"]["counted"][0]["kind"] == "rate_limit"

    assert requests.post(f"{url}/_sandbox/reset", timeout=10).status_code == 204
    state = requests.get(f"{url}/_sandbox/state", timeout=10).json()
    assert state["datasets"] == {} and state["dataRoom"] is None
    assert state["faults"]["counted"] == []

    bad = requests.post(f"{url}/_sandbox/faults", json={"explode": True}, timeout=10)
    assert bad.status_code == 400


def test_requests_are_recorded_with_headers_but_not_bodies(onboarded: Api) -> None:
    onboarded.create_audience()

    last = onboarded.sandbox.requests[-1]

    assert (last.method, last.path, last.status) == ("POST", "/adm/audiences", 201)
    assert last.headers["Amazon-Advertising-API-ClientId"] == onboarded.sandbox.account.client_id
    assert not hasattr(last, "body")


def test_stderr_log_names_method_path_and_status_only() -> None:
    stream = io.StringIO()
    with (
        SandboxServer(port=0, log_stream=stream, onboarded=True) as sandbox,
        authenticated_session(sandbox) as session,
    ):
        api = Api(sandbox, session)
        dataset_id = api.create_audience()
        unhashed = {"em": "jane.doe@example.com"}
        api.members(
            dataset_id,
            [
                {
                    "action": "CREATE",
                    "externalUserId": "crm-1",
                    "userIdentity": {"hashedPiis": [unhashed]},
                }
            ],
        )

    lines = stream.getvalue().splitlines()
    assert f"adm-sandbox POST /adm/audiences/{dataset_id}/members -> 200" in lines
    assert "jane.doe" not in stream.getvalue()


def test_onboarded_sandbox_skips_terms_and_data_room() -> None:
    with (
        SandboxServer(port=0, onboarded=True, log_stream=None) as ready,
        authenticated_session(ready) as session,
    ):
        assert Api(ready, session).create_audience()
        assert ready.schema_violations == []


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(count=st.integers(min_value=0, max_value=9), size=st.integers(min_value=1, max_value=4))
def test_following_next_tokens_visits_every_dataset_once_in_order(
    onboarded: Api, count: int, size: int
) -> None:
    for dataset_id in list(onboarded.sandbox.state()["datasets"]):
        onboarded.call("DELETE", f"/adm/datasets/{dataset_id}")
    created = [onboarded.create_audience(f"Audience{n:02d}") for n in range(count)]

    seen: list[str] = []
    params: dict[str, object] = {"limit": size}
    while True:
        body = onboarded.call("GET", "/adm/audiences", params=params).json()
        assert len(body["dataSets"]) <= size
        seen += [dataset["dataSetId"] for dataset in body["dataSets"]]
        if "nextToken" not in body:
            break
        params["nextToken"] = body["nextToken"]

    assert seen == created


def test_command_line_serves_with_configured_faults() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "adm_local.sandbox", "--port", "0", "--rate-limit", "1",
         "--retry-after", "2"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = re.search(r"listening on (http://\S+)", banner)
        assert url is not None, banner
        sandbox_url = url.group(1)

        response = requests.get(f"{sandbox_url}/managerAccounts", timeout=10)

        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
    finally:
        process.terminate()
        process.wait(timeout=10)
