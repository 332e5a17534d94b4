"""Fuzzing every decoder of stored or fetched data: whatever the bytes, a decoder returns a value
or raises a casdb.Error, never a raw TypeError, KeyError, ArrowInvalid, UnicodeDecodeError,
JSONDecodeError or OSError.

Inputs mix random bytes, valid encodings with bytes flipped, cut, inserted or deleted, and
valid msgpack / JSON whose fields have the wrong types (casdb.testing.fuzz).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

import blake3
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casdb.core.errors import Error
from casdb.model import compression, encoding
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
    TreeEntry,
)
from casdb.testing.fuzz import damaged, plain, retyped_json, retyped_msgpack
from casdb.testing.profiles import examples

FUZZ = settings(max_examples=examples(300), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
ID = "ab" * 32


def only_casdb_errors(call: Callable[[], object]) -> None:
    """Run ``call``: a value or a casdb.Error are fine, anything else fails the test."""
    try:
        call()
    except Error:
        pass


# -- structural objects ---------------------------------------------------------------------

OBJECTS = [
    Tree(entries=(TreeEntry("a.wav", FILE, ID, 10), TreeEntry("b", DIR, ID, 20, 3))),
    Tree(children=(), level=1),
    Header({"name": "x", "tables": {"t": {"type": "filewise"}}}),
    Table("t", "filewise", (Column("file", "string"),), (Column("e", "string"),),
          (Run(2, ("a",), ("b",), (ID, ID)),)),
    Partition(b"\x00" * 20),
    Commit("d", ID, ID, (("t", ID),), (ID,), "me", 1, 60, "msg", ID),
]
ENCODED = [encoding.encode(o) for o in OBJECTS]


@FUZZ
@given(st.one_of(damaged(ENCODED), retyped_msgpack([encoding.unpack(e) for e in ENCODED])))
def test_fuzz_objects(data):
    only_casdb_errors(lambda: encoding.decode(data))


# -- compression frames ---------------------------------------------------------------------

FRAMES = [compression.compress(e) for e in ENCODED] + [compression.compress(b"")]


@FUZZ
@given(damaged(FRAMES))
def test_fuzz_compression_frames(data):
    only_casdb_errors(lambda: compression.decompress(data))


# -- pack indexes ---------------------------------------------------------------------------

INDEX = [[ID, "o", 0, 10], ["cd" * 32, "b", 10, 5]]


@FUZZ
@given(st.one_of(damaged([compression.compress(msgpack.packb(INDEX))]),
                 retyped_msgpack([INDEX]).map(compression.compress)))
def test_fuzz_pack_indexes(data):
    from casdb.remote.layout import parse_pack_index

    only_casdb_errors(lambda: parse_pack_index(data, "idx"))


# -- remote refs ----------------------------------------------------------------------------

@functools.cache
def _remote():
    from casdb.remote.layout import Remote

    return Remote.create(tempfile.mkdtemp())


ref_names = st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=30).filter(
    lambda n: n not in (".", "..") and len(n.encode("utf-8", "surrogatepass")) < 200)


@FUZZ
@given(st.sampled_from(["tags", "heads", "other"]), ref_names,
       damaged([(ID + "\n").encode()]))
def test_fuzz_remote_refs(kind, name, value):
    import shutil

    remote = _remote()
    root = Path(remote.backend.root) / "refs"
    shutil.rmtree(root, ignore_errors=True)
    try:
        (root / "synth" / kind).mkdir(parents=True)
        (root / "synth" / kind / name).write_bytes(value)
    except (OSError, UnicodeEncodeError):
        return  # a name this file system cannot hold cannot be listed either
    only_casdb_errors(lambda: remote.refs("synth"))
    only_casdb_errors(remote.datasets)


# -- tombstones -----------------------------------------------------------------------------

STONES = [{"blob": ID, "dataset": "synth", "paths": ["audio/a.wav"], "reason": "consent",
           "date": "2026-01-01T00:00:00Z", "holders": ["synth 1.0.0 audio/a.wav"]}]


@FUZZ
@given(st.one_of(damaged([__import__("json").dumps(STONES).encode()]), retyped_json([STONES])))
def test_fuzz_tombstones(data):
    from casdb.store.tombstones import parse_tombstones

    only_casdb_errors(lambda: parse_tombstones(data, "purged"))


# -- cache state ----------------------------------------------------------------------------

STATE = {"format": 1, "dataset": "synth", "version": "1.0.0", "commit": ID, "flavour": "original",
         "tables": {"emotion": "all"}, "media": ["audio/a.wav"], "rows": ["audio/a.wav"],
         "requests": ["[null,null,false]"], "files": {"db.yaml": ID}, "complete": True,
         "link": {"hardlink": 1}, "conversion": {}}


@functools.cache
def _folder() -> Path:
    path = Path(tempfile.mkdtemp())
    (path / ".casdb").mkdir()
    return path


@FUZZ
@given(st.one_of(damaged([__import__("json").dumps(STATE).encode()]), retyped_json([STATE])))
def test_fuzz_cache_state(data):
    from casdb.checkouts import layout as cache

    folder = _folder()
    (folder / ".casdb" / "state.json").write_bytes(data)
    only_casdb_errors(lambda: cache.read_state(folder))


# -- stat cache -----------------------------------------------------------------------------

def _framed(payload: bytes) -> bytes:
    return blake3.blake3(payload).digest() + compression.compress(payload)


STAT_HEAD = {"format": 3, "root": "/data", "listing": "x" * 64, "tree": [ID, 10, 2],
             "tables": {"k": {"emotion": ID}}}
STAT_BODY = {"format": 3, "root": "/data", "files": {"a.wav": [10, 5, 7, ID]},
             "dirs": {"d" * 64: [ID, 10, 1]}}
STAT_PROBES = {"format": 3, "root": "", "probes": {ID: ["wav", 16000, 1, 16, 1.5]}}


@FUZZ
@given(st.sampled_from(["head", "body", "probes"]),
       st.one_of(damaged([_framed(msgpack.packb(v)) for v in (STAT_HEAD, STAT_BODY,
                                                              STAT_PROBES)]),
                 retyped_msgpack([STAT_HEAD, STAT_BODY, STAT_PROBES]).map(_framed)))
def test_fuzz_statcache(part, data):
    from casdb.commit.statcache import StatCache

    cache = StatCache(_folder() / "statcache")
    root = "" if part == "probes" else "/data"
    cache._path(root, part).parent.mkdir(exist_ok=True)
    cache._path(root, part).write_bytes(data)
    only_casdb_errors(lambda: cache.head("/data"))
    only_casdb_errors(lambda: cache.load("/data"))
    only_casdb_errors(cache.probes)


# -- db.yaml --------------------------------------------------------------------------------

@FUZZ
@given(st.one_of(damaged([__import__("casdb.testing.synth").testing.synth.header().encode()]),
                 st.text(max_size=300).map(str.encode), plain.map(lambda v: repr(v).encode())))
def test_fuzz_yaml_header(data):
    from casdb.tables.header import parse_header

    path = _folder() / "db.yaml"
    path.write_bytes(data)
    only_casdb_errors(lambda: parse_header(path))


# -- partitions (one column of a table) -----------------------------------------------------

@functools.cache
def _partition() -> bytes:
    import pyarrow as pa

    from casdb.tables.partitions import encode_column

    return encode_column(pa.chunked_array([pa.array(["a", "b"] * 10)]), "file")


@FUZZ
@given(st.data())
def test_fuzz_partitions(data):
    from casdb.tables.partitions import decode_column

    blob = data.draw(damaged([_partition()]))
    only_casdb_errors(lambda: decode_column(None, ID, blob))


# -- cached tables and metadata in a checked-out folder -------------------------------------

@functools.cache
def _checkout() -> tuple[Path, dict[str, bytes]]:
    import casdb
    from casdb.api import Repository
    from casdb.testing.synth import make_dataset

    base = Path(tempfile.mkdtemp())
    repo = Repository.init(base / "repo")
    repo.commit(make_dataset(base / "src", files=3, duration=0.05, sampling_rate=8000),
                dataset="synth", version="1.0.0")
    ds = casdb.load("synth", "1.0.0", repo=repo, cache_root=base / "cache", link="copy")
    names = ["db.emotion.parquet", "db.speaker.parquet", ".casdb/media.parquet",
             ".casdb/files.json", ".casdb/header"]
    for name in names:
        (ds.root / name).chmod(0o644)
    return ds.root, {n: (ds.root / n).read_bytes() for n in names}


@pytest.mark.slow  # ~4 s: every example reads a whole checked-out folder
@FUZZ
@given(st.data())
def test_fuzz_cached_tables(data):
    from casdb.checkouts.dataset import Dataset

    root, originals = _checkout()
    name = data.draw(st.sampled_from(sorted(originals)))
    blob = data.draw(damaged([originals[name]]))
    (root / name).write_bytes(blob)
    try:
        def read() -> None:
            ds = Dataset(root)
            ds.files  # noqa: B018
            for table in ds.tables + ds.misc_tables:
                ds[table].get()

        only_casdb_errors(read)
    finally:
        (root / name).write_bytes(originals[name])
