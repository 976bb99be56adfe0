"""Request and response validation against the committed structural API schema.

``api-schema.json`` is generated from Amazon's OpenAPI files by ``scripts/gen_api_schema.py``;
the sandbox validates what it receives *and what it sends* against it. It deliberately does not
import the ``adm_ingest`` client or model: if the client and the sandbox both read the same
Python types they could drift away from the API together, unnoticed.

Violation messages name the JSON location and the failed constraint, never the offending
value — the value could be a raw e-mail address a buggy client forgot to hash.

Two validators, one verdict. ``jsonschema`` (:func:`reference_violations`) is the reference: it
lists every violation with the messages the error bodies document, but needs ~0.6 s for one
5,000-member request. ``jsonschema-rs`` (:class:`FastCheck`) only answers valid/invalid, ~200×
faster. :func:`violations` asks the fast one first and returns ``[]`` when it accepts; otherwise
the reference decides and describes. The fast check shares the reference's ``multipleOf`` and
format checks (Python callbacks) and is otherwise at least as strict, so this never accepts what
the reference rejects — ``tests/sandbox/test_sandbox_fast_validation.py`` checks exactly that.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft4Validator, ValidationError, validators

SCHEMA_FILE = Path(__file__).with_name("api-schema.json")


def is_decimal_multiple(number: float, divisor: float) -> bool:
    """``multipleOf`` in decimal arithmetic, on the numbers' shortest decimal spellings.

    Binary floats say ``19.99`` is "not a multiple of ``0.01``"; the real API accepts cents, and
    so must we. Both validators call this one function, so they cannot disagree on it.
    """
    try:
        return Decimal(str(number)) % Decimal(str(divisor)) == 0
    except InvalidOperation:  # quotient too large for the context: cannot be a clean multiple
        return False


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "number") and not is_decimal_multiple(instance, divisor):
        yield ValidationError(f"is not a multiple of {divisor}")


ApiValidator = validators.extend(Draft4Validator, {"multipleOf": _multiple_of})
"""OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few annotations; decimals fixed."""


@dataclass(frozen=True)
class Violation:
    """One failed constraint: where (a JSON path such as ``members[3].action``) and what."""

    location: str
    constraint: str

    def __str__(self) -> str:
        return f"{self.location}: {self.constraint}"


def _location(error: ValidationError, root: str) -> str:
    text = root
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text or "body"


def _constraint(error: ValidationError) -> str:
    """Describe the failed keyword from the schema side only (no instance values)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "required":
        present = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in expected if name not in present]
        return "missing required property " + ", ".join(repr(name) for name in missing)
    if keyword == "enum":
        return (
            f"must be one of {len(expected)} allowed values"
            if len(expected) > 8
            else ("must be one of " + ", ".join(map(str, expected)))
        )
    if keyword == "oneOf":
        return "must match exactly one of the documented shapes"
    if keyword in {"type", "pattern", "format", "minLength", "maxLength", "minItems", "maxItems",
                   "minimum", "maximum", "multipleOf"}:  # fmt: skip
        return f"violates {keyword} {expected!r}"
    return f"violates {keyword}"


def reference_violations(
    schema: Mapping[str, Any], instance: Any, root: str = "body"
) -> list[Violation]:
    """Every constraint ``instance`` breaks, in document order, value-free (``jsonschema``)."""
    validator = ApiValidator(schema, format_checker=ApiValidator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    # dict.fromkeys: de-duplicate (one ``required`` error per missing name) keeping order.
    found = dict.fromkeys(Violation(_location(e, root), _constraint(e)) for e in errors)
    return list(found)


class _DecimalMultipleOf:
    """jsonschema-rs ``multipleOf`` keyword, replaced by :func:`is_decimal_multiple`."""

    def __init__(self, parent_schema: Any, value: Any, schema_path: Any) -> None:
        self.divisor = value

    def validate(self, instance: Any) -> None:
        is_number = isinstance(instance, int | float) and not isinstance(instance, bool)
        if is_number and not is_decimal_multiple(instance, self.divisor):
            raise ValueError(f"is not a multiple of {self.divisor}")


FORMAT_NAMES = tuple(ApiValidator.FORMAT_CHECKER.checkers)
"""Formats the reference checks; the fast check calls the same functions for them."""


def _reference_format(name: str) -> Callable[[str], bool]:
    checker = ApiValidator.FORMAT_CHECKER
    return lambda text: checker.conforms(text, name)


class FastCheck:
    """A schema compiled by jsonschema-rs: a yes/no answer, no error descriptions.

    Formats the reference checks (``date-time``, …) are checked by the reference's own
    functions, ``multipleOf`` by :func:`is_decimal_multiple`; unknown formats (``int64``) are
    ignored by both. Get instances from :func:`fast_check`, which caches them per schema.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._validator = jsonschema_rs.Draft4Validator(
            schema,
            validate_formats=True,
            formats={name: _reference_format(name) for name in FORMAT_NAMES},
            keywords={"multipleOf": _DecimalMultipleOf},
        )

    def accepts(self, instance: Any) -> bool:
        """True only when ``instance`` is valid; False when invalid *or* not checkable here."""
        try:
            return self._validator.is_valid(instance)
        except (ValueError, TypeError, OverflowError):
            # Values Rust cannot hold (lone surrogates, …): let the reference judge them.
            return False


@lru_cache(maxsize=256)
def _fast_check_for(schema_text: str) -> FastCheck:
    return FastCheck(json.loads(schema_text))


def fast_check(schema: Mapping[str, Any]) -> FastCheck:
    """The compiled :class:`FastCheck` of ``schema`` (compiled once per distinct schema)."""
    # Keyed by canonical text: request schemas are rebuilt per request (batch envelopes), and
    # serializing one costs microseconds where compiling costs milliseconds.
    return _fast_check_for(json.dumps(schema, sort_keys=True))


def violations(schema: Mapping[str, Any], instance: Any, root: str = "body") -> list[Violation]:
    """Every constraint ``instance`` breaks, in document order, value-free.

    Same result as :func:`reference_violations`, fast when there is nothing to report.
    """
    if fast_check(schema).accepts(instance):
        return []
    return reference_violations(schema, instance, root)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError("a number is out of range")
    return number


def parse_json(raw: bytes) -> Any:
    """A request body as JSON (RFC 8259): UTF-8, no ``NaN``/``Infinity``, numbers in range.

    ``json.loads`` alone is laxer than the API: it guesses UTF-16/32 from the bytes, accepts
    ``NaN`` and ``Infinity``, reads ``1e400`` as infinity (which ``json.dumps`` would then echo
    back as invalid JSON) and raises a bare ``ValueError`` on integers of more than 4,300 digits.
    Every refusal is a ``ValueError`` whose message names the problem, never the value.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ValueError(f"{error.msg} at position {error.pos}") from None
    except ValueError as error:
        if "integer string conversion" in str(error):
            raise ValueError("a number is out of range") from None
        raise


def _query_value(text: str, schema: Mapping[str, Any]) -> Any:
    """A query string value typed as its schema says, or ``text`` when it does not parse (the
    schema check then reports the type)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return number if math.isfinite(number) else text
    except ValueError:
        return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def query_violations(
    parameters: Mapping[str, Parameter], query: Mapping[str, str]
) -> list[Violation]:
    """What the documented query parameters break: missing required ones, types, ranges."""
    found: list[Violation] = []
    for name, parameter in sorted(parameters.items()):
        if name not in query:
            if parameter.required:
                found.append(Violation(f"query.{name}", "missing required parameter"))
            continue
        value = _query_value(query[name], parameter.schema)
        found.extend(violations(parameter.schema, value, root=f"query.{name}"))
    return found


def envelope_and_items(schema: Mapping[str, Any], array_property: str | None) -> tuple[dict, dict]:
    """Split a batch schema into (envelope with unconstrained items, the item schema).

    Batch endpoints answer 207 with per-item errors: the envelope (array bounds, ``source``, …)
    is validated as a whole, each item on its own so one bad item does not sink its batch.
    """
    envelope = json.loads(json.dumps(schema))
    if array_property is None:
        item_schema = envelope.get("items", {})
        envelope["items"] = {}
    else:
        item_schema = envelope["properties"][array_property].get("items", {})
        envelope["properties"][array_property]["items"] = {}
    return envelope, item_schema


@dataclass(frozen=True)
class Parameter:
    """A documented header, path or query parameter."""

    name: str
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    """One documented API operation, as recorded in ``api-schema.json``."""

    key: str
    """``"<METHOD> <path template>"``, e.g. ``"POST /adm/audiences/{dataSetId}/members"``."""
    method: str
    path: str
    spec: str
    """Which OpenAPI file it comes from; selects the error shape (ADM vs DSP)."""
    document: Mapping[str, Any]

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """Regex matching concrete paths; each ``{name}`` becomes a named group."""
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

    @property
    def is_dsp(self) -> bool:
        """True for DSP conversions operations, whose errors use the ``DspErrorV1`` shape."""
        return self.spec.startswith("Conversions")

    def headers(self) -> list[Parameter]:
        """The documented header parameters (name as documented, ``required`` flag)."""
        return [
            Parameter(name, bool(spec["required"]), spec["schema"])
            for name, spec in self.document["parameters"]["header"].items()
        ]

    def query_parameters(self) -> dict[str, Parameter]:
        """The documented query parameters by name."""
        return {
            name: Parameter(name, bool(spec["required"]), spec["schema"])
            for name, spec in self.document["parameters"]["query"].items()
        }

    @property
    def request_content_types(self) -> dict[str, Mapping[str, Any]]:
        """Accepted request media types and their body schemas (empty: no body documented)."""
        return dict(self.document.get("requestBody", {}).get("content", {}))

    @property
    def request_body_required(self) -> bool:
        return bool(self.document.get("requestBody", {}).get("required", False))

    def response_content_types(self, status: int) -> dict[str, Mapping[str, Any]]:
        """Documented response media types and schemas for ``status`` (may be empty)."""
        response = self.document["responses"].get(str(status), {})
        return dict(response.get("content", {}))


class ApiSchema:
    """The operations of ``api-schema.json``, with path matching."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.operations = [
            Operation(key, spec["method"], spec["path"], spec["spec"], spec)
            for key, spec in sorted(document["operations"].items())
        ]

    @classmethod
    def load(cls, path: Path = SCHEMA_FILE) -> ApiSchema:
        """Read the committed schema file."""
        return cls(json.loads(path.read_text("utf-8")))

    def methods_of(self, path: str) -> list[str]:
        """The documented methods of a concrete path (the ``Allow`` header of a 405)."""
        return sorted({op.method for op in self.operations if op.pattern.match(path)})

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """Find the operation for ``method path``.

        Returns ``(operation, path parameters, path_known)``; ``operation`` is ``None`` when
        nothing matches, and ``path_known`` then tells 405 (the path exists for another method)
        from 404. Literal segments win over ``{parameters}`` (``/adm/datasets/list`` is not a
        dataset id).
        """
        candidates: list[tuple[int, Operation, dict[str, str]]] = []
        for operation in self.operations:
            found = operation.pattern.match(path)
            if found:
                candidates.append((len(found.groupdict()), operation, found.groupdict()))
        for _, operation, params in sorted(candidates, key=lambda c: (c[0], c[1].key)):
            if operation.method == method:
                return operation, params, True
        return None, {}, bool(candidates)
