"""The index hash that cuts stored tables into runs (casdb.tables.partitions.key_hashes), and
the commit path that builds Arrow arrays without pyarrow importing pandas."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.tables import arrays
from casdb.tables.partitions import _PRIME, KEY_HASH, key_hashes
from casdb.testing.profiles import examples

M = 2**64


def _mix(v: int) -> int:
    v ^= v >> 30
    v = v * 0xBF58476D1CE4E5B9 % M
    v ^= v >> 27
    v = v * 0x94D049BB133111EB % M
    return v ^ (v >> 31)


def _text(value: str) -> int:
    data = value.encode()
    total = sum((b + 1) * pow(_PRIME, i, M) for i, b in enumerate(data)) % M
    return _mix(total ^ (len(data) * 0xD6E8FEB86659FD93 % M))


def test_the_hash_is_pinned():
    """Run boundaries follow this hash: a change moves them in every table stored afterwards,
    so it must be deliberate (and KEY_HASH raised)."""
    t = pa.table({"file": arrays.strings(["a.wav", "b/c.wav", "", None]),
                  "start": arrays.numbers([0, 1_500_000_000, 7, None], "int64")
                  .cast(pa.duration("ns")),
                  "n": arrays.numbers([1.5, -0.0, 2.0, 3.0], "float64")})
    assert KEY_HASH == 2
    assert key_hashes(t, ["file"]).tolist() == [
        8742004200449583643, 16715466223929700781, 0, 16294208416658607535]
    assert key_hashes(t, ["file", "start"]).tolist() == [
        9692405767878710668, 13619148160460967224, 16076243606207012249, 15418133254579348628]
    assert key_hashes(t, ["n"]).tolist() == [
        3809513479710695148, 14658121826652134612, 3018660636515116697, 2489459117443220256]


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)),
                                              max_size=40)), max_size=60),
       st.integers(0, 10), st.booleans())
def test_text_hashes_match_the_definition(values, cut, large):
    """Vectorised over Arrow's buffers (offsets, slices, large strings, nulls) = the formula."""
    column = arrays.strings(values)
    if large:
        column = column.cast(pa.large_string())
    column = column.slice(min(cut, len(values)))
    table = pa.table({"file": column})
    got = key_hashes(table, ["file"]).tolist()
    want = [_mix(0 * 0x2545F4914F6CDD1D + (0x9E3779B97F4A7C15 if v is None else _text(v)))
            for v in values[min(cut, len(values)):]]
    assert got == want


def test_text_hashes_across_blocks():
    """More rows than one block of the vectorised hash, values of many lengths."""
    values = [f"audio/{i % 977:03d}/{'x' * (i % 50)}{i}.wav" for i in range(70_000)]
    got = key_hashes(pa.table({"file": arrays.strings(values)}), ["file"])
    for i in (0, 1, 65_535, 65_536, 65_537, 69_999):
        assert int(got[i]) == _mix(_text(values[i]))
    assert len(set(got.tolist())) == len(values)  # no collision among 70k keys


def test_equal_keys_hash_equal_whatever_the_type_of_the_buffers():
    a = pa.table({"k": arrays.numbers([5, 6, 7], "int64")})
    b = pa.table({"k": arrays.numbers([5, 6, 7], "int32")})
    dictionary = pa.table({"k": arrays.strings(["x", "y", "x"]).dictionary_encode()})
    plain = pa.table({"k": arrays.strings(["x", "y", "x"])})
    assert key_hashes(a, ["k"]).tolist() == key_hashes(b, ["k"]).tolist()
    assert key_hashes(dictionary, ["k"]).tolist() == key_hashes(plain, ["k"]).tolist()


def test_arrays_from_buffers():
    assert arrays.strings(["a", None, "é"]).to_pylist() == ["a", None, "é"]
    assert arrays.numbers([1, None, 3], "int64").to_pylist() == [1, None, 3]
    assert arrays.view(arrays.numbers([1, 2, 3], "int64").slice(1)).tolist() == [2, 3]
    assert arrays.scalar(3, pa.int32()).as_py() == 3
    assert arrays.scalar("x", pa.string()).as_py() == "x"


def test_a_commit_that_changes_tables_does_not_import_pandas(tmp_path):
    """Removing files and rewriting the tables (read, checked, stored, media index rebuilt)
    runs on pyarrow alone: pandas' import cost more than the rest of such a commit."""
    code = f"""
import sys
from pathlib import Path
from casdb.api import Repository
from casdb.testing.synth import make_dataset, file_name, write_tables
src = make_dataset(Path({str(tmp_path / 'src')!r}), files=12, duration=0.05,
                   sampling_rate=8000)
repo = Repository.init(Path({str(tmp_path / 'repo')!r}))
assert "pandas" not in sys.modules, "imported before the commit"
repo.commit(src, dataset="synth", version="1.0.0")
(src / file_name(3)).unlink()
for name in ("db.emotion.csv", "db.segments.csv", "db.speaker.csv"):
    (src / name).unlink(missing_ok=True)
write_tables(src, [i for i in range(12) if i != 3])
result = repo.commit(src, dataset="synth", version="2.0.0")
assert result.changed and result.files < 15
print("pandas" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_index_types_of_misc_tables_hash_without_error():
    """Unsigned integers past int64, bytes that are not UTF-8, dates, times and anything else a
    parquet misc table may hold as its index."""
    import datetime

    cases = [
        pa.array([1, 2**63 + 5, None], pa.uint64()),
        pa.array([b"a", b"\xff", None], pa.binary()),
        pa.array([datetime.date(2020, 1, 1), None], pa.date32()),
        pa.array([datetime.date(2020, 1, 1)], pa.date64()),
        pa.array([datetime.time(1, 2, 3)], pa.time32("s")),
        pa.array([datetime.time(1, 2, 3)], pa.time64("us")),
        pa.array([[1], [2], None], pa.list_(pa.int64())),
    ]
    for column in cases:
        hashes = key_hashes(pa.table({"k": column}), ["k"]).tolist()
        assert len(hashes) == len(column)
        assert len(set(hashes)) == len(column)  # distinct keys, distinct hashes here
    small = arrays.numbers([1, 7], "int64")
    assert key_hashes(pa.table({"k": small.cast(pa.uint64())}), ["k"]).tolist() == \
        key_hashes(pa.table({"k": small}), ["k"]).tolist()  # unsigned = signed where both fit


def test_a_float_column_sliced_hashes_like_the_same_values():
    column = arrays.numbers([1.5, 2.5, 3.5, 4.5], "float64").cast(pa.float32())
    assert key_hashes(pa.table({"k": column.slice(1, 2)}), ["k"]).tolist() == key_hashes(
        pa.table({"k": column.slice(1, 2).take(arrays.numbers([0, 1], "int64"))}), ["k"]).tolist()


def test_distinct_keys_of_text_levels_that_hold_the_separator():
    from casdb.tables.files import _distinct_keys

    a = arrays.strings(["x\x1fy", "x"])
    b = arrays.strings(["z", "y\x1fz"])
    assert _distinct_keys(pa.table({"a": a, "b": b}), ["a", "b"]) == 2  # joined alike, not equal
    same = pa.table({"a": arrays.strings(["x", "x"]), "b": arrays.strings(["z", "z"])})
    assert _distinct_keys(same, ["a", "b"]) == 1
