"""Whatever a client sends gets an answer: the documented 4xx with the API's error body.

Regressions of what the contract fuzzer (``test_contract_fuzz.py``) and hand-made traps found:
each used to raise inside the sandbox, which closed the connection without a response — a
"network error" the client under test would have retried.
"""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import pytest
import requests

from adm_local.sandbox import SandboxServer, routes
from tests.sandbox.sandbox_http import (
    DEFINITION_JSON,
    MEMBERS_JSON,
    METRICS_JSON,
    Api,
    authenticated_session,
    token_form,
)

SHA = "a" * 64


def exchange(sandbox: SandboxServer, request: bytes) -> bytes:
    """Send raw bytes, return everything the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def raw_request(api: Api, head: str) -> bytes:
    """``head`` (request line and headers, ``\n``-separated) with the session's auth headers,
    ``Connection: close`` and latin-1 encoded, as HTTP/1.1 headers are."""
    auth = [f"{name}: {value}" for name, value in api.session.headers.items()
            if name.startswith(("Authorization", "Amazon"))]  # fmt: skip
    line, *headers = head.split("\n")
    lines = [line, "Host: sandbox", *auth, *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def adm_error(response: requests.Response) -> dict[str, Any]:
    """The ADM error body ``{code, details, message, errors}``; fails on any other shape."""
    body = response.json()
    assert set(body) >= {"code", "details", "message", "errors"}, body
    return body


# -- bodies that passed the schema and crashed a route --------------------------------------


def test_a_null_value_under_an_undocumented_hashed_pii_key_is_a_per_member_error(
    onboarded: Api,
) -> None:
    # The schema documents em, ph, … but does not forbid other keys, so {"": null} passes it;
    # the digest check then called re.match(None).
    dataset = onboarded.create_audience()
    members = [{"action": "CREATE", "externalUserId": "u1",
                "userIdentity": {"hashedPiis": [{"em": SHA, "": None}]}}]  # fmt: skip

    response = onboarded.members(dataset, members)

    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert (error["index"], error["code"]) == (0, "INVALID_HASHED_PII")


def test_a_null_hashed_pii_set_is_400_naming_where(onboarded: Api) -> None:
    dataset = onboarded.create_audience()

    response = onboarded.members(dataset, [{"userIdentity": {"hashedPiis": [None]}}])

    assert response.status_code == 400
    messages = [e["errorMessage"] for e in adm_error(response)["errors"]]
    assert "body.members[0].userIdentity.hashedPiis[0]: violates type 'object'" in messages


def test_conversion_definitions_without_a_body_is_400(api: Api) -> None:
    # The OpenAPI marks this body optional; the route then read the items of None.
    account = api.sandbox.account
    response = api.session.post(
        f"{api.sandbox.url}/accounts/{account.advertiser_account_id}/dsp/conversionDefinitions",
        headers={"Content-Type": DEFINITION_JSON}, timeout=10,
    )  # fmt: skip

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "requestId", "errors"}  # the DSP error shape
    assert body["message"] == "request body is required"


# -- JSON that Python reads but the API does not -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"maxResults": NaN}', "NaN is not a JSON number"),
        (b'{"maxResults": Infinity}', "Infinity is not a JSON number"),
        (b'{"maxResults": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"maxResults": 1e400}', "a number is out of range"),
        (b'{"maxResults": ' + b"9" * 5000 + b"}", "a number is out of range"),
        (b'{"nextToken": "\xff\xfe"}', "not UTF-8"),
        ('{"maxResults": 1}'.encode("utf-16"), "not UTF-8"),
        (b"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM (decode using utf-8-sig) at position 0"),
    ],
    ids=[
        "nan",
        "infinity",
        "minus-infinity",
        "float-overflow",
        "5000-digit-int",
        "latin-1",
        "utf-16",
        "bom",
    ],
)
def test_bodies_that_are_not_rfc_json_are_400(onboarded: Api, raw: bytes, problem: str) -> None:
    response = onboarded.session.post(
        onboarded.sandbox.url + "/adm/sharingRules/list", data=raw,
        headers={"Content-Type": "application/json"}, timeout=10,
    )  # fmt: skip

    assert response.status_code == 400
    body = adm_error(response)
    assert body["message"] == "request body is not valid JSON"
    assert body["errors"][0]["errorMessage"] == f"body: {problem}"


@pytest.mark.parametrize("body", [[], "members", 7, None, True])
def test_bodies_that_are_not_objects_are_400(onboarded: Api, body: Any) -> None:
    dataset = onboarded.create_audience()

    response = onboarded.session.post(
        f"{onboarded.sandbox.url}/adm/audiences/{dataset}/members", data=json.dumps(body),
        headers={"Content-Type": MEMBERS_JSON}, timeout=10,
    )  # fmt: skip

    assert response.status_code == 400
    assert adm_error(response)["errors"][0]["errorMessage"] == "body: violates type 'object'"


def test_a_missing_required_body_is_400(onboarded: Api) -> None:
    dataset = onboarded.create_audience()

    response = onboarded.session.post(
        f"{onboarded.sandbox.url}/adm/audiences/{dataset}/members",
        headers={"Content-Type": MEMBERS_JSON}, timeout=10,
    )  # fmt: skip

    assert response.status_code == 400
    assert adm_error(response)["message"] == "request body is required"


# -- query parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["inf", "-inf", "1e400", "nan", "ten"])
def test_a_limit_that_is_no_finite_number_is_400(onboarded: Api, limit: str) -> None:
    # int(float("inf")) raised OverflowError in the route.
    response = onboarded.call("GET", "/adm/audiences", params={"limit": limit})

    assert response.status_code == 400, response.text
    [error] = adm_error(response)["errors"]
    assert error["errorMessage"] == "query.limit: violates type 'number'"


@pytest.mark.parametrize("max_results", ["0", "101", "-1", "1e9"])
def test_max_results_outside_its_documented_range_is_400(onboarded: Api, max_results: str) -> None:
    response = onboarded.call(
        "POST", "/adm/datasets/list", {}, content_type=METRICS_JSON,
        params={"maxResults": max_results},
    )  # fmt: skip

    assert response.status_code == 400
    [error] = adm_error(response)["errors"]
    assert error["errorMessage"].startswith("query.maxResults: violates m")


# -- the token endpoint ---------------------------------------------------------------------


def test_non_ascii_credentials_are_refused_not_crashed(sandbox: SandboxServer) -> None:
    # secrets.compare_digest raises TypeError on non-ASCII str.
    response = requests.post(
        sandbox.token_url, data=token_form(sandbox, client_id="amzn1.é", client_secret="ß"),
        timeout=10,
    )  # fmt: skip

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# -- HTTP framing and methods ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "PUT", "QUERY", "BREW"])
def test_undocumented_methods_on_a_documented_path_are_405_with_allow(
    onboarded: Api, method: str
) -> None:
    response = onboarded.session.request(method, onboarded.sandbox.url + "/adm/terms", timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PATCH"
    if method == "HEAD":
        assert response.content == b""
    else:
        assert adm_error(response)["code"] == "MethodNotAllowed"


def test_any_method_on_an_unknown_path_is_404(api: Api) -> None:
    response = api.session.request("OPTIONS", api.sandbox.url + "/adm/nothing", timeout=10)

    assert response.status_code == 404


@pytest.mark.parametrize("length", ["abc", "-1", "1.5", "²", " "])
def test_a_malformed_content_length_is_400_and_closes_the_connection(
    onboarded: Api, length: str
) -> None:
    # int("abc") used to raise; "-1" read the socket to its end (a hang on keep-alive).
    head = f"POST /adm/sharingRules/list HTTP/1.1\nContent-Type: application/json\nContent-Length: {length}"

    reply = exchange(onboarded.sandbox, raw_request(onboarded, head))

    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nConnection: close\r\n" in reply
    assert b"Content-Length must be a non-negative integer" in reply


def test_a_chunked_body_is_411_length_required(onboarded: Api) -> None:
    head = ("POST /adm/sharingRules/list HTTP/1.1\nContent-Type: application/json\n"
            "Transfer-Encoding: chunked")  # fmt: skip

    reply = exchange(onboarded.sandbox, raw_request(onboarded, head) + b"2\r\n{}\r\n0\r\n\r\n")

    assert reply.startswith(b"HTTP/1.1 411 ")
    assert b"\r\nConnection: close\r\n" in reply


def test_odd_characters_in_a_path_parameter_are_404(onboarded: Api) -> None:
    reply = exchange(
        onboarded.sandbox, raw_request(onboarded, "GET /adm/audiences/%ZZ%00\xff..%2F HTTP/1.1")
    )

    assert reply.startswith(b"HTTP/1.1 404 ")
    assert b'"code": "ResourceNotFoundException"' in reply


# -- the last line of defence ---------------------------------------------------------------


def test_a_bug_in_a_route_is_a_logged_500_in_the_error_shape_not_a_dropped_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(state: Any, request: Any) -> Any:
        raise KeyError("someone@example.com")  # what a careless route might raise

    monkeypatch.setitem(routes.ROUTES, "GET /adm/terms", broken)
    log = io.StringIO()
    with (
        SandboxServer(port=0, log_stream=log) as sandbox,
        authenticated_session(sandbox) as session,
    ):
        response = session.get(sandbox.url + "/adm/terms", timeout=10)
        after = session.get(sandbox.url + "/adm/datarooms", timeout=10)

        assert response.status_code == 500
        body = adm_error(response)
        assert (body["code"], body["message"]) == (
            "InternalServerError",
            "the sandbox failed on this request",
        )
        assert sandbox.internal_errors == [
            "GET /adm/terms: KeyError at test_sandbox_robustness.py:"
            f"{broken.__code__.co_firstlineno + 1} in broken"
        ]
        assert after.status_code == 404  # the sandbox keeps serving
    assert "INTERNAL ERROR GET /adm/terms: KeyError" in log.getvalue()
    assert "someone@example.com" not in log.getvalue()  # the exception's text is not logged
