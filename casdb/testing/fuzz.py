"""Hypothesis strategies for fuzzing decoders: random bytes, damaged valid encodings, and valid
msgpack / JSON whose values have the wrong types.

Example:
    >>> from hypothesis import given
    >>> @given(damaged([b"abc"]))
    ... def test(data):
    ...     assert isinstance(data, bytes)
    >>> test()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
              st.text(max_size=20), st.binary(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(st.one_of(st.text(max_size=10),
                                                      st.integers(-(2**63), 2**64 - 1)),
                                            inner, max_size=6)),
    max_leaves=25,
)
"""Any value msgpack can hold (ints, floats, text, bytes, lists, maps)."""

json_plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=6),
                            st.dictionaries(st.text(max_size=10), inner, max_size=6)),
    max_leaves=25,
)
"""Any value JSON can hold."""


@st.composite
def _mutated(draw, valid: Sequence[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(list(valid))))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at:at + draw(st.integers(1, 8))]
    return bytes(data)


def damaged(valid: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, or one of ``valid`` with bytes flipped, cut, inserted or deleted."""
    return st.one_of(st.binary(max_size=300), _mutated(valid))


@st.composite
def _retyped(draw, valid: Sequence[Any]) -> Any:
    """A valid value (a map or list) with one field replaced by a value of any type."""
    import copy

    value = copy.deepcopy(draw(st.sampled_from(list(valid))))
    node = value
    for _ in range(draw(st.integers(0, 3))):  # walk down a little, then replace a field there
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(
            node, list) else []
        containers = [c for c in children if isinstance(c, (dict, list)) and c]
        if not containers:
            break
        node = draw(st.sampled_from(containers))
    replacement = draw(plain)
    if isinstance(node, dict) and node:
        node[draw(st.sampled_from(sorted(node, key=repr)))] = replacement
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = replacement
    return value


def retyped_msgpack(valid: Sequence[Any], pack=None) -> st.SearchStrategy[bytes]:
    """Valid msgpack of plain values, with one field of a valid value given another type."""
    import msgpack

    pack = pack or (lambda v: msgpack.packb(v, use_bin_type=True))
    return st.one_of(plain.map(pack), _retyped(valid).map(pack))


def retyped_json(valid: Sequence[Any]) -> st.SearchStrategy[bytes]:
    """Valid JSON, with one field of a valid value given another type."""
    import json

    def dump(v: Any) -> bytes:
        return json.dumps(v, default=lambda b: b.hex() if isinstance(b, bytes) else str(b)).encode()

    return st.one_of(json_plain.map(dump), _retyped(valid).map(dump))
