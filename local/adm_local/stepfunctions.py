"""Run the repository's real Step Functions definitions on moto, with in-process Lambdas.

moto's Step Functions engine executes ASL (Choice, Map, Retry, Catch, ``sns:publish``…) when
``execute_state_machine`` is on, but it cannot run a Python Lambda without Docker. This harness
routes moto's Lambda invocations to handler functions in this process by patching
``moto.awslambda_simple.models.LambdaSimpleBackend.invoke`` (the Docker-free Lambda backend) —
a patch that lives only here, never in Lambda code. A handler's exception becomes a Lambda
function error whose ``errorType`` is the exception's class name, exactly as the Python Lambda
runtime reports it, so the definition's Retry/Catch clauses see the same error names as on AWS.

Works with in-process ``mock_aws(config=MOTO_CONFIG)`` and with a moto server
(``ThreadedMotoServer`` in this process: call :func:`configure_moto_server` first).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from moto.awslambda_simple.models import LambdaSimpleBackend

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
"""moto config that makes Step Functions execute definitions and Lambda run without Docker."""

Handler = Callable[[Any, Any], Any]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class DefinitionError(ValueError):
    """A definition could not be rendered: a placeholder without a value, or invalid JSON."""


def render_definition(template: str | Path, substitutions: Mapping[str, Any]) -> str:
    """The ASL text with every ``${Name}`` replaced, as CloudFormation's DefinitionSubstitutions.

    ``template`` is a path to the ASL file or its text. Values are inserted verbatim
    (``str(value)``), so numbers land unquoted where the file has them unquoted.

    Raises:
        DefinitionError: a placeholder has no substitution, or the result is not JSON.
    """
    text = template.read_text(encoding="utf-8") if isinstance(template, Path) else template
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in substitutions})
    if missing:
        raise DefinitionError(f"no substitution for {', '.join(missing)}")
    rendered = _PLACEHOLDER.sub(lambda match: str(substitutions[match.group(1)]), text)
    try:
        json.loads(rendered)
    except json.JSONDecodeError as error:
        raise DefinitionError(f"rendered definition is not JSON: {error}") from None
    return rendered


def placeholders(template: str | Path) -> set[str]:
    """The ``${Name}`` placeholder names a definition uses."""
    text = template.read_text(encoding="utf-8") if isinstance(template, Path) else template
    return set(_PLACEHOLDER.findall(text))


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object handlers use (Powertools reads these)."""

    function_name: str
    timeout_s: float = 60.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


class LambdaRouter:
    """Maps Lambda function names to in-process handlers while :meth:`installed` is active.

    ``handlers`` is keyed by function name (the last part of a function ARN). Every invocation
    is recorded in :attr:`invocations` as ``(function name, event)``.
    """

    def __init__(self, handlers: Mapping[str, Handler], *, timeout_s: float = 60.0) -> None:
        self.handlers = dict(handlers)
        self.timeout_s = timeout_s
        self.invocations: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def invoke(
        self,
        function_name: str,
        body: bytes | str | None,
        response_headers: dict[str, str],
    ) -> bytes:
        """Run the handler for ``function_name`` on the JSON ``body``; a Lambda-style reply."""
        name = _function_name(function_name)
        event = json.loads(body) if body else {}
        with self._lock:
            self.invocations.append((name, event))
        handler = self.handlers.get(name)
        if handler is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload("ResourceNotFoundException", f"no local handler for {name}")
        context = LocalLambdaContext(
            function_name=name, timeout_s=self.timeout_s, invoked_function_arn=function_name
        )
        try:
            result = handler(event, context)
        except Exception as error:  # the Lambda runtime turns any exception into this reply
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload(type(error).__name__, str(error))
        return json.dumps(result).encode("utf-8")

    @contextmanager
    def installed(self) -> Iterator[LambdaRouter]:
        """Route moto's (Docker-free) Lambda invocations to this router until exit."""
        router = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            return router.invoke(function_name, body, response_headers)

        original = LambdaSimpleBackend.invoke
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]  # moto has no hook
        try:
            yield self
        finally:
            LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]  # undo the patch

    def count(self, function_name: str) -> int:
        """How many times ``function_name`` was invoked."""
        return sum(1 for name, _ in self.invocations if name == function_name)


def _function_name(name_or_arn: str) -> str:
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>] or a bare name
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode("utf-8")


def configure_moto_server(endpoint_url: str) -> None:
    """Make a moto server (running in this process) execute definitions and Lambdas locally.

    Posts :data:`MOTO_CONFIG` to ``/moto-api/config`` and sets ``MOTO_PORT``, which the engine
    uses to call the server's own services (it defaults to 5000).
    """
    response = requests.post(f"{endpoint_url}/moto-api/config", json=MOTO_CONFIG, timeout=10)
    response.raise_for_status()
    port = urlparse(endpoint_url).port
    if port is not None:
        os.environ["MOTO_PORT"] = str(port)


def deploy_state_machine(sfn: Any, *, name: str, definition: str, role_arn: str) -> str:
    """Create the state machine, or update its definition when one of that name exists."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                arn = str(machine["stateMachineArn"])
                sfn.update_state_machine(stateMachineArn=arn, definition=definition)
                return arn
    created = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)
    return str(created["stateMachineArn"])


@dataclass(frozen=True)
class Execution:
    """A finished execution: status, parsed output, and for failures the error and cause."""

    arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class ExecutionTimeout(TimeoutError):
    """The execution did not finish in time (it keeps running in moto's thread)."""


def run_execution(
    sfn: Any,
    state_machine_arn: str,
    execution_input: Any,
    *,
    timeout_s: float = 120.0,
    poll_s: float = 0.05,
) -> Execution:
    """Start an execution with ``execution_input`` (JSON-serialized) and wait for it to finish."""
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        # Always named: moto would otherwise name every execution "None" (and refuse a second).
        name=f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(execution_input),
    )
    arn = str(started["executionArn"])
    give_up = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] in _FINISHED:
            break
        if time.monotonic() > give_up:
            raise ExecutionTimeout(f"execution {arn} still {described['status']}")
        time.sleep(poll_s)
    output = described.get("output")
    return Execution(
        arn=arn,
        status=str(described["status"]),
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
