"""File names that are not UTF-8 are refused at commit, naming the file; UTF-8 names (any
script) go through commit, push, clone and checkout unchanged."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casdb.api import Repository, checkout
from casdb.commit.scan import scan
from casdb.commit.statcache import FolderCache, Head, StatCache
from casdb.core.errors import InvalidDataset
from casdb.maintenance.fsck import check
from casdb.testing.files import put
from casdb.testing.garbage import nothing_stored
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset


def test_a_name_that_is_not_utf8_is_refused_at_commit(repo, tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    put(src, b"audio", b"caf\xe9.wav")
    put(src, b"d\xfcr", b"inner.wav")  # a folder: named once, not each file in it
    with pytest.raises(InvalidDataset) as info:
        repo.commit(src, dataset="d", version="1")
    message = str(info.value)
    assert message.startswith("2 file names are not UTF-8")
    assert r"b'audio/caf\xe9.wav'" in message and r"b'd\xfcr'" in message
    assert "inner" not in message and "rename them to UTF-8" in message
    assert message.isascii() and "\n" not in message
    assert nothing_stored(repo) and check(repo).ok


def test_a_dataset_folder_whose_path_is_not_utf8_is_refused(repo, tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    moved = os.path.join(os.fsencode(tmp_path), b"s\xe9rc")
    os.rename(src, moved)
    for given_as in (moved, os.fsdecode(moved)):
        with pytest.raises(InvalidDataset, match=r"path of the dataset folder is not UTF-8: "
                                                 r"b'.*s\\xe9rc'"):
            repo.commit(given_as, dataset="d", version="1")
    assert nothing_stored(repo)


NAME_BYTES = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))
# names the path rule refuses for another reason than their encoding (control characters,
# backslashes, drive letters: tests/test_untrusted.py) are left out here
NAME_BYTES = NAME_BYTES.filter(lambda b: b"\\" not in b and b[1:2] != b":" and not any(
    c < 0x20 or c == 0x7F for c in b))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME_BYTES, min_size=1, max_size=4, unique=True))
def test_scan_lists_utf8_names_and_refuses_the_others(tmp_path, names):
    root = tmp_path / os.urandom(6).hex()
    root.mkdir()
    (root / "db.yaml").write_text("name: n\n")
    for name in names:
        put(root, b"m", name)
    bad = []
    for name in names:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(b"m/" + name)
    if bad:
        with pytest.raises(InvalidDataset) as info:
            scan(root)
        assert all(repr(b) in str(info.value) for b in sorted(bad)[:5])
    else:
        assert [f.path for f in scan(root).files] == sorted("m/" + n.decode() for n in names)


def test_utf8_names_go_through_push_clone_and_checkout(repo, tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    names = ["audio/café.txt", "données/日本語.txt", "Ελληνικά/ü ü.bin"]
    for i, name in enumerate(names):
        put(src, *(os.fsencode(p) for p in name.split("/")), data=bytes([i]) * 10)
    repo.commit(src, dataset="d", version="1")
    repo.remote_add("origin", str(tmp_path / "remote"))
    repo.push()
    clone = Repository.clone(str(tmp_path / "remote"), tmp_path / "clone")
    dest = tmp_path / "co"
    checkout("d", "1", dest=dest, cache_root=tmp_path / "cache", repo=clone)
    for i, name in enumerate(names):
        assert (dest / name).read_bytes() == bytes([i]) * 10


def test_the_stat_cache_takes_any_folder_path(tmp_path):
    cache = StatCache(tmp_path / "sc")
    folder = os.fsdecode(b"/data/caf\xe9")  # surrogates: never written as msgpack strings
    cache.save(folder, Head(listing="x"), FolderCache(files={"a.wav": (1, 2, 3, "ab" * 32)}), 10**19)
    assert cache.head(folder).listing == "x" and cache.head("/data/café").listing is None
    assert cache.load(folder).files["a.wav"][3] == "ab" * 32
