"""The streaming decoder of SIEM answers against the standard library's verdict, in process.

msgspec decodes blocks cut where the braces balance; ijson takes over whenever a block cannot
be cut or decoded. Whatever the bytes, the items are the stdlib's, in order, and a body the
stdlib refuses is refused too.
"""

from __future__ import annotations

import io
import json
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_proofpoint_tap import envelope
from tap_proofpoint_tap.envelope import EnvelopeError, stream_arrays

pytestmark = pytest.mark.fast

KEY = "clicksBlocked"
NASTY = ["},", "}, {", '"},{"', "{", "}", "[", "]", '"clicksPermitted":[', "\\", "é", "\n"]


def body(items: list, *, compact: bool = False) -> bytes:
    envelope = {KEY: items, "queryEndTime": "2026-01-01T00:00:00Z"}
    return json.dumps(envelope, separators=(",", ":") if compact else None).encode()


def streamed(raw: bytes) -> list:
    return [item for _, item in stream_arrays(io.BytesIO(raw), frozenset({KEY}))]


def parsed(raw: bytes) -> list:
    return json.loads(raw, parse_float=Decimal)[KEY]


strings = st.lists(st.sampled_from([*NASTY, "a", "b", " ", "x"]), max_size=12).map("".join)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=12,
)
events = st.dictionaries(strings, values, min_size=1, max_size=6)


@given(
    st.lists(events | values, max_size=300),
    st.integers(min_value=200, max_value=5_000),
    st.booleans(),
)
def test_any_array_streams_as_the_stdlib_reads_it(items, block, compact):
    raw = body(items, compact=compact)
    original = envelope.BLOCK
    envelope.BLOCK = block  # small blocks: many cuts, many of them inside items
    try:
        assert streamed(raw) == parsed(raw)
    finally:
        envelope.BLOCK = original


@pytest.mark.parametrize("note", ["", "}"])  # "}": every nested cut's braces balance
def test_an_item_larger_than_a_block_with_many_nested_objects_streams_in_linear_time(note):
    parts = [{"md5": f"{n:032x}", "x": "}, {"} for n in range(12_000)]
    big = {"note": note, "id": "big", "messageParts": parts}
    raw = body([{"id": "a"}, big, {"id": "b"}] * 3)
    started = time.perf_counter()
    assert streamed(raw) == parsed(raw)
    assert time.perf_counter() - started < 5  # the cut-retrying decoder took 87 s on one item


def test_a_lone_surrogate_is_read_as_before_without_a_second_request():
    raw = body([{"id": str(n), "u": "ok"} for n in range(20_000)])
    raw = raw.replace(b'"id": "7"', b'"id": "7", "s": "\\ud800"')
    assert [item["id"] for item in streamed(raw)] == [str(n) for n in range(20_000)]


@pytest.mark.parametrize("size", [10, 20_000])
def test_a_comma_before_the_end_of_an_array_is_refused_whatever_its_size(size):
    raw = json.dumps({KEY: [{"id": str(n)} for n in range(size)]}).encode()
    raw = raw.replace(b"}]}", b"},]}")
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(EnvelopeError):
        streamed(raw)


def test_numbers_keep_the_stdlibs_values():
    raw = body([{"score": 1.10, "big": 2**70, "e": 1e5}] * 30_000)
    assert streamed(raw) == parsed(raw)
    assert isinstance(streamed(raw)[0]["score"], Decimal)
