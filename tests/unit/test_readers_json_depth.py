"""Specification of JSON nesting limits in adm_ingest.readers (issue #10, finding 2).

Records are flat objects; a JSON record (an array element, a JSON line) nested deeper than
``max_depth`` is rejected ``too_deep`` with its number, without being built, and reading goes on
with the next one. Only what cannot be delimited into records is a file-level error.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adm_ingest.readers import (
    MAX_JSON_DEPTH,
    MAX_SKIPPED_DEPTH,
    FileFormatError,
    open_records,
)
from adm_ingest.records import Reason, Rejection
from adm_ingest.settings import Settings
from tests.record_support import Record, flat
from tests.unit.test_readers import read, rec

NOT_OBJECT = "a JSON value that is not an object"
NESTED = "a nested object or array value"


def too_deep(number: int, limit: int = MAX_JSON_DEPTH) -> Rejection:
    return Rejection(number, Reason.TOO_DEEP, f"nested deeper than {limit} levels")


def objects(depth: int, inner: bytes = b"1") -> bytes:
    """``{"a":{"a":…1…}}``: ``depth`` objects, one inside the other."""
    return b'{"a":' * depth + inner + b"}" * depth


def arrays(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


# --- golden: JSON arrays -----------------------------------------------------------------------


@pytest.mark.parametrize("step", [None, 1, 7])
def test_a_too_deep_element_is_rejected_with_its_number_and_reading_continues(
    step: int | None,
) -> None:
    data = (
        b"["
        + b",".join(
            [
                b'{"email":"a@x.com"}',
                arrays(65),  # one level over the limit: a list of lists
                objects(64),  # exactly at the limit: an ordinary nested value
                b'{"email":"b@x.com","deep":'
                + objects(64)
                + b',"after":"c"}',  # 65 with the record
                arrays(64),  # at the limit: just not an object
                b'{"email":"c@x.com"}',
            ]
        )
        + b"]"
    )
    assert read(data, step) == [
        rec(1, email="a@x.com"),
        too_deep(2),
        Rejection(3, Reason.MALFORMED_RECORD, NESTED),
        too_deep(4),
        Rejection(5, Reason.NOT_AN_OBJECT, NOT_OBJECT),
        rec(6, email="c@x.com"),
    ]


def test_elements_nested_a_hundred_thousand_deep_are_skipped_not_built() -> None:
    data = b"[" + arrays(100_000) + b"," + objects(100_000) + b',{"email":"a@x.com"}]'
    assert read(data) == [too_deep(1), too_deep(2), rec(3, email="a@x.com")]


def test_the_limit_is_the_max_depth_argument() -> None:
    data = b"[" + objects(2) + b"," + objects(3) + b"]"
    assert read(data, max_depth=2) == [
        Rejection(1, Reason.MALFORMED_RECORD, NESTED),
        too_deep(2, 2),
    ]
    assert read(data, max_depth=1) == [too_deep(1, 1), too_deep(2, 1)]


def test_flat_values_become_strings_and_a_later_null_removes_a_duplicate_key() -> None:
    data = (
        b'[{"s":"x","i":12,"big":9223372036854775807,"f":1.5,"e":1e16,"t":true,'
        b'"n":false,"gone":null,"dup":"first","dup":null,"d2":null,"d2":"last"}, "str", null]'
    )
    assert read(data) == [
        rec(
            1,
            s="x",
            i="12",
            big="9223372036854775807",
            f="1.5",
            e="1e+16",
            t="true",
            n="false",
            d2="last",
        ),
        Rejection(2, Reason.NOT_AN_OBJECT, NOT_OBJECT),
        Rejection(3, Reason.NOT_AN_OBJECT, NOT_OBJECT),
    ]


def test_element_numbers_continue_from_first_line() -> None:
    data = b'[{"a":"1"},' + arrays(70) + b"]"
    assert read(data, first_line=11, format="json") == [rec(11, a="1"), too_deep(12)]


# --- golden: JSON Lines ------------------------------------------------------------------------


@pytest.mark.parametrize("step", [None, 1, 5])
def test_a_too_deep_json_line_is_rejected_and_the_next_line_is_read(step: int | None) -> None:
    data = b"\n".join(
        [
            b'{"email":"a@x.com"}',
            objects(65),
            objects(64),
            arrays(100),  # not an object, but too deep says more
            arrays(2000),  # deeper than orjson parses at all
            objects(5000),  # … and so is this one (30 KB, under MAX_RECORD_BYTES)
            b'{"email":"b@x.com"}',
        ]
    )
    assert read(data, step) == [
        rec(1, email="a@x.com"),
        too_deep(2),
        Rejection(3, Reason.MALFORMED_RECORD, NESTED),
        too_deep(4),
        too_deep(5),
        too_deep(6),
        rec(7, email="b@x.com"),
    ]


def test_a_deep_line_over_the_record_size_limit_is_too_large_first() -> None:
    data = objects(100_000) + b'\n{"email":"a@x.com"}\n'
    too_large = Rejection(1, Reason.RECORD_TOO_LARGE, "longer than 131072 bytes")
    assert read(data) == [too_large, rec(2, email="a@x.com")]


def test_json_lines_honour_max_depth() -> None:
    assert read(objects(2) + b"\n" + objects(3), format="jsonl", max_depth=2) == [
        Rejection(1, Reason.MALFORMED_RECORD, NESTED),
        too_deep(2, 2),
    ]


# --- golden: file-level ------------------------------------------------------------------------


def test_a_json_array_file_whose_top_level_is_a_deep_object_is_a_file_error() -> None:
    records = open_records(io.BytesIO(objects(100_000)), format="json")
    with pytest.raises(FileFormatError, match="top-level JSON value is an object, not an array"):
        next(records)


def test_an_element_too_deep_to_skip_is_a_file_error_naming_the_limit() -> None:
    data = b'[{"email":"a@x.com"},' + b"[" * (MAX_SKIPPED_DEPTH + 1)
    records = open_records(io.BytesIO(data))
    assert flat([next(records)]) == [rec(1, email="a@x.com")]
    with pytest.raises(
        FileFormatError, match=r"element 2 is nested more than 1,000,000 levels deep"
    ):
        next(records)


def test_max_depth_must_allow_a_flat_object() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        open_records(io.BytesIO(b"[]"), max_depth=0)


def test_the_setting_defaults_to_the_readers_constant_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAX_JSON_DEPTH", raising=False)
    assert Settings.from_env().max_json_depth == MAX_JSON_DEPTH == 64
    monkeypatch.setenv("MAX_JSON_DEPTH", "8")
    assert Settings.from_env().max_json_depth == 8


# --- properties --------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63) + 1, 2**63 - 1)  # yajl (ijson) refuses integers outside int64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
)
keys = st.text(st.characters(blacklist_categories=("Cs",)), max_size=4)
small_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Element:
    """A top-level element: ``wrappers`` containers (objects or arrays) around ``inner``."""

    inner: object
    wrappers: int
    wrapper: str  # "object" or "array"

    def encode(self) -> bytes:
        body = orjson.dumps(self.inner)
        return (
            objects(self.wrappers, body)
            if self.wrapper == "object"
            else arrays(self.wrappers, body)
        )

    def depth(self) -> int:
        return self.wrappers + value_depth(self.inner)

    def expected(self, number: int, max_depth: int) -> Record | Rejection:
        """What the reader must make of it: the rules, applied to the Python value."""
        if self.depth() > max_depth:
            return too_deep(number, max_depth)
        value = self.inner  # not too deep, so few enough wrappers to build
        for _ in range(self.wrappers):
            value = {"a": value} if self.wrapper == "object" else [value]
        if not isinstance(value, dict):
            return Rejection(number, Reason.NOT_AN_OBJECT, NOT_OBJECT)
        if any(isinstance(v, dict | list) for v in value.values()):
            return Rejection(number, Reason.MALFORMED_RECORD, NESTED)
        return Record(number, as_strings(value))


def value_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(value_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(value_depth, value), default=0)
    return 0


def as_strings(record: dict[str, object]) -> dict[str, str]:
    out = {}
    for key, value in record.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


elements = st.builds(
    Element,
    small_values | st.dictionaries(keys, scalars, max_size=4),
    st.integers(0, 3) | st.integers(60, 70) | st.integers(1000, 1100),
    st.sampled_from(["object", "array"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(elements, min_size=1, max_size=8), st.integers(1, 80), st.integers(1, 64))
def test_every_top_level_element_has_exactly_one_outcome(
    items: list[Element], max_depth: int, step: int
) -> None:
    expected = [item.expected(n, max_depth) for n, item in enumerate(items, 1)]
    array = b"[" + b",".join(item.encode() for item in items) + b"]"
    assert read(array, step, max_depth=max_depth) == expected
    # The same values as JSON lines read the same (a line's number is its element's).
    lines = b"\n".join(item.encode() for item in items)
    assert read(lines, step, format="jsonl", max_depth=max_depth) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(elements, min_size=1, max_size=6),
    st.integers(1, 80),
    st.data(),
)
def test_damaged_arrays_raise_nothing_but_file_format_errors(
    items: list[Element], max_depth: int, data: st.DataObject
) -> None:
    array = bytearray(b"[" + b",".join(item.encode() for item in items) + b"]")
    cut = data.draw(st.integers(0, len(array)))
    if data.draw(st.booleans()):
        del array[cut:]
    else:
        array[cut:cut] = data.draw(st.binary(min_size=1, max_size=3))
    outcomes: list[Record | Rejection] = []
    with contextlib.suppress(FileFormatError):
        outcomes.extend(
            flat(open_records(io.BytesIO(bytes(array)), format="json", max_depth=max_depth))
        )
    assert [o.line for o in outcomes] == list(range(1, len(outcomes) + 1))
