"""Round trips of every object encoding, canonical bytes, and malformed input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casdb.core.errors import IntegrityError
from casdb.core.ids import hash_bytes
from casdb.core.paths import is_safe_relpath
from casdb.model.encoding import FORMAT, TABLE_ORDER_FORMAT, decode, encode, pack, unpack
from casdb.model.objects import (
    DIR,
    FILE,
    Column,
    Commit,
    Header,
    Partition,
    Run,
    Table,
    Tree,
    TreeChild,
    TreeEntry,
)

ids = st.binary(min_size=32, max_size=32).map(bytes.hex)
texts = st.text(min_size=1, max_size=40)
# Stored names must be safe path components (casdb.core.paths): the decoder refuses anything else.
names = texts.filter(lambda n: is_safe_relpath(n) and "/" not in n)
datasets = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,20}", fullmatch=True)
sizes = st.integers(min_value=0, max_value=2**62)


def _entry(name: str, kind: str, object_id: str, size: int, count: int) -> TreeEntry:
    return TreeEntry(name, kind, object_id, size, 1 if kind == FILE else count)


entries = st.builds(_entry, names, st.sampled_from([FILE, DIR]), ids, sizes,
                    st.integers(min_value=1, max_value=10**9))
leaves = st.lists(entries, max_size=20, unique_by=lambda e: e.name).map(
    lambda es: Tree(entries=tuple(sorted(es, key=lambda e: e.name))))
index_nodes = st.builds(
    lambda children, level: Tree(children=tuple(sorted(children, key=lambda c: c.first)),
                                 level=level),
    st.lists(st.builds(TreeChild, names, ids, st.integers(min_value=1, max_value=10**9)),
             min_size=1, max_size=20, unique_by=lambda c: c.first),
    st.integers(min_value=1, max_value=8),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(max_size=30), st.dates(),
    st.datetimes(timezones=st.just(dt.UTC)),
)
plain = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers(-5, 5)), inner, max_size=5),
    ),
    max_leaves=30,
)
headers = st.dictionaries(st.text(max_size=12), plain, max_size=8).map(Header)
keys = st.tuples(st.text(max_size=10), st.integers(min_value=0, max_value=2**62))
columns = st.builds(Column, texts, st.sampled_from(["string", "int64", "double", "duration[ns]"]))


@st.composite
def tables(draw) -> Table:
    index = tuple(draw(st.lists(columns, min_size=1, max_size=3)))
    values = tuple(draw(st.lists(columns, max_size=4)))
    width = len(index) + len(values)
    runs = draw(st.lists(st.builds(Run, st.integers(min_value=1, max_value=10**7), keys, keys,
                                   st.lists(ids, min_size=width, max_size=width).map(tuple)),
                         max_size=5))
    return Table(draw(texts), draw(st.sampled_from(["filewise", "segmented", "misc"])), index,
                 values, tuple(runs))


# some tables remember a row order: one order partition per run
tables_or_ordered = st.one_of(tables(), tables().filter(lambda t: t.runs).flatmap(
    lambda t: st.lists(ids, min_size=len(t.runs), max_size=len(t.runs)).map(
        lambda order: Table(t.name, t.type, t.index, t.columns, t.runs, tuple(order)))))


partitions = st.binary(max_size=500).map(Partition)
commits = st.builds(
    Commit, datasets, ids, ids, st.lists(st.tuples(names, ids), max_size=4).map(tuple),
    st.lists(ids, max_size=2).map(tuple), st.text(max_size=20),
    st.integers(min_value=0, max_value=2**40), st.integers(min_value=-720, max_value=840),
    st.text(max_size=200), st.one_of(st.none(), ids),
)
objects = st.one_of(leaves, index_nodes, headers, tables_or_ordered, partitions, commits)


@given(objects)
def test_round_trip(obj):
    data = encode(obj)
    assert decode(data) == obj
    # Canonical: encoding the decoded object gives the same bytes, hence the same id.
    assert encode(decode(data)) == data
    if not isinstance(obj, Header):  # the header keeps db.yaml's key order instead
        assert pack(unpack(data)) == data  # the fast path writes what pack() writes


@given(st.dictionaries(st.text(max_size=8), st.integers(), min_size=2, max_size=10))
def test_key_order_of_plain_values_does_not_change_the_bytes(mapping):
    reversed_mapping = dict(reversed(list(mapping.items())))
    assert hash_bytes(pack(mapping)) == hash_bytes(pack(reversed_mapping))


@given(st.dictionaries(st.text(max_size=8), st.dictionaries(st.text(max_size=4), st.integers()),
                       min_size=2, max_size=10))
def test_header_keeps_its_key_order_at_every_depth(mapping):
    """db.yaml's order is content: it orders tables and columns."""
    back = decode(encode(Header(mapping))).data
    assert list(back) == list(mapping)
    assert all(list(back[k]) == list(mapping[k]) for k in mapping)


@given(plain)
def test_plain_values_round_trip(value):
    assert unpack(pack(value)) == _listify(value)


def _listify(value):
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    return value


def test_expect_checks_the_type():
    with pytest.raises(IntegrityError, match="expected a commit"):
        decode(encode(Header({"name": "x"})), "commit")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xc1", pack({"type": "tree"}),
                                  pack({"type": "nope", "format": 1}),
                                  pack({"type": "tree", "format": 99, "level": 0})])
def test_malformed_bytes_are_integrity_errors(data):
    with pytest.raises(IntegrityError):
        decode(data)


def test_unencodable_value_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot encode"):
        pack({"x": object()})


def _table(order=()) -> Table:
    run = Run(2, ("a.wav",), ("b.wav",), ("ab" * 32, "cd" * 32))
    return Table("t", "filewise", (Column("file", "string"),), (Column("x", "int64"),),
                 (run, run), order)


def test_a_table_in_sorted_order_keeps_format_1_and_the_bytes_of_older_casdb():
    """Objects written before row orders existed decode (as sorted) to the same id."""
    old = pack({"type": "table", "format": 1, "name": "t", "table_type": "filewise",
                "index": [["file", "string"]], "columns": [["x", "int64"]],
                "runs": [[2, ["a.wav"], ["b.wav"], [bytes.fromhex("ab" * 32),
                                                    bytes.fromhex("cd" * 32)]]] * 2})
    assert decode(old) == _table() and encode(_table()) == old
    assert unpack(encode(_table(("ef" * 32, "01" * 32))))["format"] == TABLE_ORDER_FORMAT


@pytest.mark.parametrize("fields", [
    {"format": TABLE_ORDER_FORMAT},  # format 2 without an order
    {"format": TABLE_ORDER_FORMAT, "order": []},
    {"format": TABLE_ORDER_FORMAT, "order": [bytes(32)]},  # one partition for two runs
    {"format": TABLE_ORDER_FORMAT, "order": ["x", "y"]},  # not ids
    {"format": 3, "order": [bytes(32)] * 2},  # a format this casdb does not know
])
def test_malformed_table_orders_are_integrity_errors(fields):
    good = unpack(encode(_table(("ef" * 32, "01" * 32))))
    good.pop("order")
    with pytest.raises(IntegrityError):
        decode(pack({**good, **fields}))


def test_only_tables_have_format_2():
    fields = unpack(encode(Header({"name": "x"})))
    assert fields["format"] == FORMAT
    with pytest.raises(IntegrityError, match="unsupported header format 2"):
        decode(pack({**fields, "format": TABLE_ORDER_FORMAT}))
