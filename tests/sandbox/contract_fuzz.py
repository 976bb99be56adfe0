"""The sandbox stands up to a contract fuzzer: Schemathesis, driven by Amazon's OpenAPI structure.

Not collected by the suite itself (no ``test_`` prefix): ``test_contract_fuzz.py`` runs this
module in a pytest process of its own, without xdist — under ``pytest -n 2`` Schemathesis'
parametrized tests ran only their first operation. Run it directly with
``pytest -n 0 tests/sandbox/contract_fuzz.py`` (what ``make fuzz`` does, with more examples).

A test double that crashes turns a client bug into a "network error" the client retries, so
whatever a client sends — valid, invalid, absurd — must get an answer: the documented 2xx/4xx
with the API's error body, never a 5xx (faults are off here) and never a dropped connection.

Three runs over every documented operation (``/_sandbox/openapi.json``, rebuilt from the
committed ``api-schema.json``):

* **authenticated** — a real LwA token, the documented headers and the seeded account ids, and a
  live dataset id for ``{dataSetId}``, so bodies get past the 401/403/404 gates into the routes;
* **raw paths** — authenticated, but path parameters as the fuzzer makes them (odd characters);
* **anonymous** — no token and no account headers: everything must stop at the 401 gate.

Bounded for ``make test`` (a fixed seed, a few examples per operation, the coverage and fuzzing
phases); ``make fuzz`` runs the same tests with ``ADM_FUZZ_EXAMPLES`` raised and the examples,
coverage and fuzzing phases on. (Schemathesis' stateful phase is left out: it infers a single
link, create sharing rule → revoke it, whose first call needs a live dataset id it cannot know.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from adm_local.sandbox import SandboxServer
from adm_local.sandbox.auth import SandboxAccount
from adm_local.sandbox.openapi import openapi_document
from tests.sandbox.sandbox_http import grant_token

ACCOUNT = SandboxAccount()
EXAMPLES = int(os.environ.get("ADM_FUZZ_EXAMPLES", "12"))
PHASES = os.environ.get("ADM_FUZZ_PHASES", "coverage,fuzzing").split(",")
SEED = int(os.environ.get("ADM_FUZZ_SEED", "20261201"))

ACCOUNT_PARAMETERS = {
    "header.Amazon-Advertising-API-ClientId": ACCOUNT.client_id,
    "header.Amazon-Ads-Manager-Account-ID": ACCOUNT.manager_account_id,
    "header.Amazon-Ads-AccountId": ACCOUNT.advertiser_account_id,
    "header.Amazon-Advertising-API-Scope": ACCOUNT.profile_id,
}
"""What an authorized client always sends: the token's client and the seeded account."""


def _schema(parameters: dict[str, str], examples: int = EXAMPLES) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},
            "parameters": parameters,
            "generation": {
                "mode": "all",  # valid and invalid requests
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                phase: {"enabled": phase in PHASES} for phase in ("examples", "coverage", "fuzzing")
            },
            "suppress-health-check": ["all"],
        }
    )
    return schemathesis.openapi.from_dict(openapi_document(), config=config)


AUTHENTICATED = _schema({**ACCOUNT_PARAMETERS, "path.accountId": ACCOUNT.advertiser_account_id})
RAW_PATHS = _schema(ACCOUNT_PARAMETERS).include(path_regex=r"\{")
ANONYMOUS = _schema({}, examples=max(EXAMPLES // 3, 3))


REACHED: set[tuple[str, int]] = set()
"""(operation, status) pairs the fuzz tests got."""


class LiveSandbox:
    """One onboarded sandbox for the module, a token for it and a dataset that stays alive."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.token = grant_token(server)
        self.session = requests.Session()
        self._dataset_id: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def dataset_id(self) -> str:
        """An existing audience dataset (recreated when a fuzzed DELETE removed it)."""
        if self._dataset_id not in self.server.state()["datasets"]:
            response = self.session.post(
                self.server.url + "/adm/audiences",
                json={"name": f"fuzz-target-{len(self.server.requests)}", "countryCode": "US"},
                headers={**self.auth, "Amazon-Advertising-API-ClientId": ACCOUNT.client_id},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            self._dataset_id = response.json()["dataSetId"]
        return self._dataset_id

    def send(self, case: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``case``; fail on a 5xx, a dropped connection or a schema-breaking reply."""
        crashes, violations = len(self.server.internal_errors), len(self.server.schema_violations)
        response = case.call(
            base_url=self.server.url, session=self.session, headers=headers, timeout=30
        )
        self.check(case, response, crashes, violations)
        REACHED.add((case.operation.label, response.status_code))

    def check(self, case: Any, response: Any, crashes: int = 0, violations: int = 0) -> None:
        """Fail unless the reply is no 5xx, and the sandbox neither failed on the request nor
        sent a reply breaking the documented schema (since those counts)."""
        assert self.server.internal_errors[crashes:] == []
        assert self.server.schema_violations[violations:] == []
        case.validate_response(response, checks=[not_a_server_error])


@pytest.fixture(scope="module")
def live() -> Iterator[LiveSandbox]:
    with SandboxServer(port=0, onboarded=True, log_stream=None) as server:
        yield LiveSandbox(server)


@AUTHENTICATED.parametrize()
def test_authenticated_requests_get_a_documented_answer(case: Any, live: LiveSandbox) -> None:
    if "dataSetId" in (case.path_parameters or {}):
        case.path_parameters["dataSetId"] = live.dataset_id()

    live.send(case, headers=live.auth)


@RAW_PATHS.parametrize()
def test_odd_path_parameters_get_a_documented_answer(case: Any, live: LiveSandbox) -> None:
    live.send(case, headers=live.auth)


@ANONYMOUS.parametrize()
def test_anonymous_requests_get_a_documented_answer(case: Any, live: LiveSandbox) -> None:
    live.send(case)


def test_the_fuzzing_got_past_the_gates() -> None:
    # Runs last in this module (pytest keeps file order): a fuzzer stuck at 401/403/404 would
    # prove nothing about the routes.
    if not REACHED:
        pytest.skip("run with the fuzz tests above (alone it has nothing to look at)")

    assert {
        ("POST /adm/audiences/{dataSetId}/members", 200),
        ("POST /accounts/{accountId}/dsp/conversionDefinitions", 207),
        ("POST /accounts/{accountId}/dsp/conversionDefinitions/eventData", 207),
        ("POST /adm/sharingRules/list", 200),
    } <= REACHED
