"""Validate XDM rows before upload, against a compact form compiled once from the dataset's schema.

Setup fetches the dataset's schema from the Schema Registry with
``Accept: application/vnd.adobe.xed-full+json; version=1`` (field groups and data types resolved
into nested ``properties``), and :func:`compile_schema` reduces it to a :class:`ValidatorForm`:
constraints only, no titles, descriptions or examples, small enough to live in the dataset's
registry item (:meth:`ValidatorForm.to_json`). The worker calls :func:`validate` on every row; a
row with a problem is rejected as ``invalid_xdm: <path> <rule>`` (:attr:`XdmProblem.reason`) and is
never uploaded.

Semantics (each a decision, written down):

* **Unknown fields are rejected** (rule ``unknown``) unless the object says
  ``additionalProperties: true``. A dataset stores the schema's fields only, so a field outside
  it is at best dropped by AEP and at worst fails the batch; either way it is almost always a
  mapping typo (``homeAddress.postCode``), and the issue's promise is "never a failed batch for a
  typo". Maps (``meta:xdmType: map``, ``additionalProperties: {type…}``) accept any key and check
  every value.
* **``meta:enum`` is not a constraint**: it holds display names, and without ``enum`` it is
  "suggested values", which "do not constrain the values that it can ingest" (Experience League,
  *Manage suggested values in the API*). Only ``enum`` restricts values.
* **Null and empty strings are problems** (rules ``null``, ``empty``): "Platform does not accept
  null or empty values for any ingested field… the key for that field should be excluded"
  (AEP-NOTES §7).
* **Types are JSON types, strictly**: an integer is an ``int`` (never a ``bool``, never ``1.0``);
  a number is an ``int`` or a finite ``float``; the mapping step has already coerced source text.
  Integer ranges are the schema's ``minimum``/``maximum`` intersected with the range of its
  ``meta:xdmType`` (byte, short, int, long).
* **``pattern`` is unanchored, as in JSON Schema and ECMA-262** (``re.search``, not
  ``re.fullmatch``): a schema that means the whole value writes ``^…$``. To match ECMA, ``$``
  means the end of the value (not "before a final newline", Python's reading) and ``\\d``,
  ``\\w`` are ASCII. A pattern Python cannot compile is :class:`UnsupportedSchema`.
* **Formats**: ``date`` is ``YYYY-MM-DD`` and a real calendar day; ``date-time`` is RFC 3339
  (``T``, seconds required, at most 9 fractional digits, ``Z`` or ``±HH:MM``; second 60 is
  refused, as AEP's Java parser does); ``email`` is ``local@domain`` without spaces; ``uri`` has
  an RFC 3986 scheme; ``uri-reference`` (XDM's ``_id``) has no spaces or control characters.
* **Problems carry paths and rule names, never values** (rows hold PII). Array items are
  ``path[]``, map values ``path.*`` (a map's keys are data); an unknown field is named only when
  its name looks like an XDM field name, else it is ``?``.
* Anything else the validator does not understand — ``oneOf``/``anyOf``/``allOf``/``not``, a
  ``$ref`` left unresolved, ``patternProperties``, an unknown ``type`` or ``format``, a ``type``
  list — raises :class:`UnsupportedSchema` naming the path and the construct, at setup. Keys
  that are not JSON Schema keywords (``meta:*``, ``title``…) are annotations and are ignored.

Speed: the form compiles, once per form, into closures with every problem (path and rule)
built ahead, so a valid row costs type checks and set comparisons, and no allocation. Most rows
are valid, so the form also compiles into one straight-line function that only answers "valid
or not" (:func:`_compile_accept`): no call per object or field, which is most of what the
closures cost. Only a row it does not accept goes through the closures, which find its problems.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

__all__ = [
    "FORM_VERSION",
    "UnsupportedSchema",
    "ValidatorForm",
    "XdmProblem",
    "compile_schema",
    "validate",
]

FORM_VERSION: Final = 1

# XDM's integer subtypes: `integer` plus a range (Experience League, XDM field constraints).
_XDM_INTEGER_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "byte": (-128, 127),
    "short": (-32768, 32767),
    "int": (-2147483648, 2147483647),
    "long": (-9007199254740992, 9007199254740992),
}
_TYPES: Final = {"string": "s", "integer": "i", "number": "n", "boolean": "b"}
_FORMATS: Final = frozenset({"date", "date-time", "email", "uri", "uri-reference"})
# JSON Schema keywords this validator does not implement: meeting one is a setup error.
_UNSUPPORTED_KEYWORDS: Final = frozenset(
    {
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "propertyNames",
        "dependencies",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "additionalItems",
        "prefixItems",
        "contains",
        "const",
        "multipleOf",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "contentEncoding",
        "contentMediaType",
    }
)
_SHOWN_FIELD_NAME: Final = re.compile(r"_?[A-Za-z][A-Za-z0-9_]{0,63}")


class UnsupportedSchema(ValueError):
    """The schema uses a construct the validator does not understand (a setup-time error)."""

    def __init__(self, path: str, construct: str) -> None:
        super().__init__(f"XDM schema at {path or '<root>'}: unsupported {construct}")
        self.path = path
        self.construct = construct


@dataclass(frozen=True, slots=True)
class XdmProblem:
    """Why a row does not fit the schema: where (a dotted path) and which rule, never the value."""

    path: str
    rule: str

    @property
    def reason(self) -> str:
        """The worker's rejection reason: ``invalid_xdm: homeAddress.postalCode maxLength``."""
        return f"invalid_xdm: {self.path} {self.rule}"


Check = Callable[[object, list[XdmProblem]], None]
Accept = Callable[[object], bool]
"""True only for a row the checker would find no problem in (False: ask the checker)."""


class ValidatorForm:
    """The compact, JSON-serializable constraints of one XDM schema, and their compiled checker.

    Node shape (short keys, absent means "no constraint"): ``t`` type (``s`` string, ``i``
    integer, ``n`` number, ``b`` boolean, ``o`` object, ``a`` array); strings ``minLen``,
    ``maxLen``, ``pat``, ``fmt``, ``enum``; integers and numbers ``min``, ``max``, ``enum``;
    objects ``props`` (name → node), ``req`` (names), ``extra`` (a node for every other key, or
    ``true`` for anything; absent rejects other keys); arrays ``items``, ``minItems``,
    ``maxItems``.
    """

    __slots__ = ("_accept", "_check", "root")

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root: Mapping[str, Any] = root
        self._check: Check | None = None
        self._accept: Accept | None = None

    def to_json(self) -> str:
        """The form as compact JSON, for the dataset's registry entry."""
        return json.dumps(
            {"v": FORM_VERSION, "root": self.root}, separators=(",", ":"), sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> ValidatorForm:
        """A form read back from :meth:`to_json`; a form of another version is refused."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != FORM_VERSION:
            raise ValueError(f"not an XDM validator form of version {FORM_VERSION}")
        form = cls(data["root"])
        form.checker()  # a damaged form fails here, not on the first row
        return form

    def checker(self) -> Check:
        """The compiled checker (built on first use, then reused for every row)."""
        if self._check is None:
            check = _compile_object(self.root, "")  # a damaged form raises here, first
            self._accept = _compile_accept(self.root)
            self._check = check
        return self._check

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorForm) and self.root == other.root

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"ValidatorForm({len(self.to_json())} bytes)"


def validate(form: ValidatorForm, row: Mapping[str, object]) -> list[XdmProblem]:
    """Every problem of ``row`` against ``form``; empty when the row is valid.

    Order: per object, its missing required fields, then its unknown fields, then its present
    fields in the row's order (depth first). The worker records the first.
    """
    check = form.checker()
    accept = form._accept
    if accept is not None and accept(row):
        return []
    problems: list[XdmProblem] = []
    check(row, problems)
    return problems


# -- schema → form ---------------------------------------------------------------------------


def compile_schema(full_schema: Mapping[str, Any]) -> ValidatorForm:
    """The validator form of a schema as the Schema Registry returns it in ``xed-full`` form.

    Raises :class:`UnsupportedSchema` (naming the path and the construct) for anything the
    validator would otherwise have to guess about.
    """
    root = _node(full_schema, "")
    if root.get("t") != "o":
        raise UnsupportedSchema("", "root that is not an object")
    return ValidatorForm(root)


def _node(schema: object, path: str) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise UnsupportedSchema(path, "schema that is not an object")
    for key in schema:
        if str(key).strip() in _UNSUPPORTED_KEYWORDS:
            raise UnsupportedSchema(path, f"keyword {str(key).strip()!r}")
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    if not isinstance(kind, str):
        raise UnsupportedSchema(path, f"type {kind!r}")
    if kind == "object":
        return _object_node(schema, path)
    if kind == "array":
        return _array_node(schema, path)
    code = _TYPES.get(kind)
    if code is None:
        raise UnsupportedSchema(path, f"type {kind!r}")
    node: dict[str, Any] = {"t": code}
    for key in ("properties", "items", "additionalProperties"):
        if key in schema:
            raise UnsupportedSchema(path, f"{key!r} on a {kind}")
    if code == "s":
        _string_constraints(schema, path, node)
    elif code in ("i", "n"):
        _numeric_constraints(schema, path, node, integer=code == "i")
    else:
        _reject_string_and_numeric_keywords(schema, path, kind)
    if "enum" in schema:
        node["enum"] = _enum(schema["enum"], path, code)
    return node


def _object_node(schema: Mapping[str, Any], path: str) -> dict[str, Any]:
    node: dict[str, Any] = {"t": "o"}
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise UnsupportedSchema(path, "'properties' that is not an object")
    props = {str(name): _node(sub, _join(path, str(name))) for name, sub in properties.items()}
    if props:
        node["props"] = props
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise UnsupportedSchema(path, "'required' that is not a list of names")
    for name in required:
        if name not in props:
            # A required field the schema does not define: no row could be known to satisfy it.
            raise UnsupportedSchema(_join(path, name), "required field without a definition")
    if required:
        node["req"] = list(dict.fromkeys(required))
    extra = schema.get("additionalProperties", False)
    if extra is True or extra == {}:
        node["extra"] = True
    elif isinstance(extra, Mapping):
        node["extra"] = _node(extra, f"{path}.*" if path else "*")
    elif extra is not False:
        raise UnsupportedSchema(path, "'additionalProperties' that is not a schema or boolean")
    if schema.get("meta:xdmType") == "map" and not isinstance(node.get("extra"), dict):
        raise UnsupportedSchema(path, "map without a typed 'additionalProperties'")
    return node


def _array_node(schema: Mapping[str, Any], path: str) -> dict[str, Any]:
    items = schema.get("items")
    if items is None:
        raise UnsupportedSchema(path, "array without 'items'")
    if isinstance(items, list):
        raise UnsupportedSchema(path, "tuple 'items'")
    node: dict[str, Any] = {"t": "a", "items": _node(items, f"{path}[]")}
    for key in ("minItems", "maxItems"):
        if key in schema:
            node[key] = _count(schema[key], path, key)
    return node


def _string_constraints(schema: Mapping[str, Any], path: str, node: dict[str, Any]) -> None:
    for key in ("minimum", "maximum"):
        if key in schema:
            raise UnsupportedSchema(path, f"{key!r} on a string")
    if "minLength" in schema:
        node["minLen"] = _count(schema["minLength"], path, "minLength")
    if "maxLength" in schema:
        node["maxLen"] = _count(schema["maxLength"], path, "maxLength")
    if "pattern" in schema:
        pattern = schema["pattern"]
        if not isinstance(pattern, str):
            raise UnsupportedSchema(path, "'pattern' that is not a string")
        try:
            _ecma_regex(pattern)
        except re.error:
            raise UnsupportedSchema(path, "pattern this validator cannot compile") from None
        node["pat"] = pattern
    if "format" in schema:
        fmt = schema["format"]
        if fmt not in _FORMATS:
            raise UnsupportedSchema(path, f"format {fmt!r}")
        node["fmt"] = fmt


def _numeric_constraints(
    schema: Mapping[str, Any], path: str, node: dict[str, Any], *, integer: bool
) -> None:
    for key in ("minLength", "maxLength", "pattern", "format"):
        if key in schema:
            raise UnsupportedSchema(path, f"{key!r} on a number")
    low = _bound(schema.get("minimum"), path, "minimum")
    high = _bound(schema.get("maximum"), path, "maximum")
    xdm_type = schema.get("meta:xdmType")
    if integer and isinstance(xdm_type, str) and xdm_type in _XDM_INTEGER_RANGES:
        type_low, type_high = _XDM_INTEGER_RANGES[xdm_type]
        low = type_low if low is None else max(low, type_low)
        high = type_high if high is None else min(high, type_high)
    if low is not None:
        node["min"] = low
    if high is not None:
        node["max"] = high


def _reject_string_and_numeric_keywords(schema: Mapping[str, Any], path: str, kind: str) -> None:
    for key in ("minLength", "maxLength", "pattern", "format", "minimum", "maximum"):
        if key in schema:
            raise UnsupportedSchema(path, f"{key!r} on a {kind}")


def _enum(values: object, path: str, code: str) -> list[Any]:
    expected: dict[str, tuple[type, ...]] = {
        "s": (str,),
        "i": (int,),
        "n": (int, float),
        "b": (bool,),
    }
    if not isinstance(values, list) or not values:
        raise UnsupportedSchema(path, "'enum' that is not a non-empty list")
    for value in values:
        if isinstance(value, bool) != (code == "b") or not isinstance(value, expected[code]):
            raise UnsupportedSchema(path, "'enum' value of another type than the field")
    return values


def _count(value: object, path: str, key: str) -> int:
    if type(value) is not int or value < 0:
        raise UnsupportedSchema(path, f"{key!r} that is not a non-negative integer")
    return value


def _bound(value: object, path: str, key: str) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedSchema(path, f"{key!r} that is not a number")
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- form → closures ---------------------------------------------------------------------------


def _compile(node: Mapping[str, Any], path: str) -> Check:
    kind = node["t"]
    if kind == "o":
        return _compile_object(node, path)
    if kind == "a":
        return _compile_array(node, path)
    if kind == "s":
        return _compile_string(node, path)
    if kind in ("i", "n"):
        return _compile_number(node, path, integer=kind == "i")
    if kind == "b":
        return _compile_boolean(node, path)
    raise ValueError(f"damaged XDM validator form at {path or '<root>'}")


def _type_failure(path: str) -> Callable[[object], XdmProblem]:
    null, wrong = XdmProblem(path, "null"), XdmProblem(path, "type")
    return lambda value: null if value is None else wrong


def _compile_object(node: Mapping[str, Any], path: str) -> Check:
    children = {
        name: _compile(sub, _join(path, name)) for name, sub in node.get("props", {}).items()
    }
    required = frozenset(node.get("req", ()))
    missing = [(name, XdmProblem(_join(path, name), "required")) for name in node.get("req", ())]
    extra_node = node.get("extra")
    extra: Check | None = None
    known: frozenset[str] | None = frozenset(children)
    if extra_node is True:
        known = None
    elif extra_node is not None:
        extra = _compile(extra_node, f"{path}.*" if path else "*")
        known = None
    failure = _type_failure(path)

    def check(value: object, problems: list[XdmProblem]) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):
            problems.append(failure(value))
            return
        keys = value.keys()
        if required and not keys >= required:
            problems.extend(problem for name, problem in missing if name not in keys)
        if known is not None and not keys <= known:
            problems.extend(_unknown(path, key) for key in keys if key not in known)
        for key, item in value.items():
            child = children.get(key)
            if child is not None:
                child(item, problems)
            elif extra is not None:
                extra(item, problems)

    return check


def _unknown(path: str, key: object) -> XdmProblem:
    shown = key if isinstance(key, str) and _SHOWN_FIELD_NAME.fullmatch(key) else "?"
    return XdmProblem(_join(path, shown), "unknown")


def _compile_array(node: Mapping[str, Any], path: str) -> Check:
    item_check = _compile(node["items"], f"{path}[]")
    min_items: int | None = node.get("minItems")
    max_items: int | None = node.get("maxItems")
    too_few, too_many = XdmProblem(path, "minItems"), XdmProblem(path, "maxItems")
    failure = _type_failure(path)

    def check(value: object, problems: list[XdmProblem]) -> None:
        if type(value) is not list:
            problems.append(failure(value))
            return
        if min_items is not None and len(value) < min_items:
            problems.append(too_few)
        if max_items is not None and len(value) > max_items:
            problems.append(too_many)
        for item in value:
            item_check(item, problems)

    return check


def _compile_string(node: Mapping[str, Any], path: str) -> Check:
    min_len: int | None = node.get("minLen")
    max_len: int | None = node.get("maxLen")
    search = _ecma_regex(node["pat"]).search if "pat" in node else None
    valid_format = _FORMAT_CHECKS[node["fmt"]] if "fmt" in node else None
    allowed = frozenset(node["enum"]) if "enum" in node else None
    failure = _type_failure(path)
    empty, short, long = (XdmProblem(path, rule) for rule in ("empty", "minLength", "maxLength"))
    mismatch, bad_format, not_listed = (XdmProblem(path, r) for r in ("pattern", "format", "enum"))

    def check(value: object, problems: list[XdmProblem]) -> None:
        if type(value) is not str:
            problems.append(failure(value))
            return
        if not value:
            problems.append(empty)
            return
        if min_len is not None and len(value) < min_len:
            problems.append(short)
        if max_len is not None and len(value) > max_len:
            problems.append(long)
        if search is not None and search(value) is None:
            problems.append(mismatch)
        if valid_format is not None and not valid_format(value):
            problems.append(bad_format)
        if allowed is not None and value not in allowed:
            problems.append(not_listed)

    return check


def _compile_number(node: Mapping[str, Any], path: str, *, integer: bool) -> Check:
    low: int | float | None = node.get("min")
    high: int | float | None = node.get("max")
    allowed = frozenset(node["enum"]) if "enum" in node else None
    failure = _type_failure(path)
    below, above, not_listed = (XdmProblem(path, r) for r in ("minimum", "maximum", "enum"))

    def check(value: object, problems: list[XdmProblem]) -> None:
        number: float
        if type(value) is int or (not integer and type(value) is float and math.isfinite(value)):
            number = value
        else:
            problems.append(failure(value))
            return
        if low is not None and number < low:
            problems.append(below)
        if high is not None and number > high:
            problems.append(above)
        if allowed is not None and number not in allowed:
            problems.append(not_listed)

    return check


def _compile_boolean(node: Mapping[str, Any], path: str) -> Check:
    allowed = frozenset(node["enum"]) if "enum" in node else None
    failure = _type_failure(path)
    not_listed = XdmProblem(path, "enum")

    def check(value: object, problems: list[XdmProblem]) -> None:
        if type(value) is not bool:
            problems.append(failure(value))
        elif allowed is not None and value not in allowed:
            problems.append(not_listed)

    return check


# -- form → one accepting function -------------------------------------------------------------
#
# The form becomes the source of one function, ``accept(v0)``, with a nested block per object
# and a line per constraint, each ``return False`` when the value does not certainly pass. Only
# the structure is written into the source: every name, bound, pattern, enum and format check
# of the form is a constant the function refers to as ``_k<n>``, so nothing from the schema is
# ever read as code. The function must be sound — True only when the closures would find no
# problem — and may be cautious: a Mapping that is not a dict is left to the closures.

_MISSING: Final = object()


class _Source:
    """The lines of the accepting function and the constants they name."""

    def __init__(self) -> None:
        self.lines = ["def accept(v0):"]
        self.constants: dict[str, object] = {"_MISSING": _MISSING, "_isfinite": math.isfinite}
        self._variables = 0

    def constant(self, value: object) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self) -> str:
        self._variables += 1
        return f"v{self._variables}"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def fail_if(self, depth: int, condition: str) -> None:
        self.line(depth, f"if {condition}: return False")


def _compile_accept(root: Mapping[str, Any]) -> Accept | None:
    """The accepting function of the form, or None (the closures alone) when Python will not
    compile it — a form nested deeper than a function's blocks may be."""
    source = _Source()
    _emit(source, root, "v0", 1)
    source.line(1, "return True")
    try:
        code = compile("\n".join(source.lines), "<xdm validator form>", "exec")
    except (SyntaxError, RecursionError, MemoryError):
        return None
    namespace: dict[str, Any] = dict(source.constants)
    exec(code, namespace)
    accept: Accept = namespace["accept"]
    return accept


def _emit(source: _Source, node: Mapping[str, Any], var: str, depth: int) -> None:
    """The lines that return False unless ``var`` certainly satisfies ``node`` (the closures'
    rules, :func:`_compile`, one for one)."""
    kind = node["t"]
    if kind == "o":
        _emit_object(source, node, var, depth)
    elif kind == "a":
        source.fail_if(depth, f"type({var}) is not list")
        for key, operator in (("minItems", "<"), ("maxItems", ">")):
            if key in node:
                source.fail_if(depth, f"len({var}) {operator} {source.constant(node[key])}")
        item = source.variable()
        source.line(depth, f"for {item} in {var}:")
        _emit(source, node["items"], item, depth + 1)
    elif kind == "s":
        source.fail_if(depth, f"type({var}) is not str or not {var}")
        if "minLen" in node:
            source.fail_if(depth, f"len({var}) < {source.constant(node['minLen'])}")
        if "maxLen" in node:
            source.fail_if(depth, f"len({var}) > {source.constant(node['maxLen'])}")
        if "pat" in node:
            search = source.constant(_ecma_regex(node["pat"]).search)
            source.fail_if(depth, f"{search}({var}) is None")
        if "fmt" in node:
            source.fail_if(depth, f"not {source.constant(_FORMAT_CHECKS[node['fmt']])}({var})")
        _emit_enum(source, node, var, depth)
    elif kind in ("i", "n"):
        if kind == "i":
            source.fail_if(depth, f"type({var}) is not int")
        else:
            number = f"type({var}) is int or (type({var}) is float and _isfinite({var}))"
            source.fail_if(depth, f"not ({number})")
        if "min" in node:
            source.fail_if(depth, f"{var} < {source.constant(node['min'])}")
        if "max" in node:
            source.fail_if(depth, f"{var} > {source.constant(node['max'])}")
        _emit_enum(source, node, var, depth)
    elif kind == "b":
        source.fail_if(depth, f"type({var}) is not bool")
        _emit_enum(source, node, var, depth)
    else:
        raise ValueError("damaged XDM validator form")


def _emit_object(source: _Source, node: Mapping[str, Any], var: str, depth: int) -> None:
    props: Mapping[str, Any] = node.get("props", {})
    extra = node.get("extra")
    source.fail_if(depth, f"type({var}) is not dict")
    if node.get("req"):
        source.fail_if(depth, f"not {var}.keys() >= {source.constant(frozenset(node['req']))}")
    if extra is None:
        source.fail_if(depth, f"not {var}.keys() <= {source.constant(frozenset(props))}")
    for name, sub in props.items():
        child = source.variable()
        source.line(depth, f"{child} = {var}.get({source.constant(name)}, _MISSING)")
        source.line(depth, f"if {child} is not _MISSING:")
        _emit(source, sub, child, depth + 1)
    if isinstance(extra, Mapping):
        item = source.variable()
        if props:
            key = source.variable()
            source.line(depth, f"for {key}, {item} in {var}.items():")
            source.line(depth + 1, f"if {key} not in {source.constant(frozenset(props))}:")
            _emit(source, extra, item, depth + 2)
        else:
            source.line(depth, f"for {item} in {var}.values():")
            _emit(source, extra, item, depth + 1)


def _emit_enum(source: _Source, node: Mapping[str, Any], var: str, depth: int) -> None:
    if "enum" in node:
        source.fail_if(depth, f"{var} not in {source.constant(frozenset(node['enum']))}")


# -- patterns and formats ----------------------------------------------------------------------


def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with ECMA-262's reading of ``$`` (end of input) and ASCII classes."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out), re.ASCII)


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))",
    re.ASCII,
)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*", re.ASCII)
_URI_REFERENCE = re.compile(r"[^\s\x00-\x1f\x7f]+")


def _is_day(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    match = _DATE.fullmatch(value)
    return match is not None and _is_day(*match.groups())


def _is_date_time(value: str) -> bool:
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second, offset_hour, offset_minute = match.groups()
    if not _is_day(year, month, day) or int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        return False
    return offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)


_FORMAT_CHECKS: Final[Mapping[str, Callable[[str], bool]]] = {
    "date": _is_date,
    "date-time": _is_date_time,
    "email": lambda value: _EMAIL.fullmatch(value) is not None,
    "uri": lambda value: _URI.fullmatch(value) is not None,
    "uri-reference": lambda value: _URI_REFERENCE.fullmatch(value) is not None,
}
