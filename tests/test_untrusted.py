"""The path rule (casdb.core.paths), db.yaml bounds (size, alias bombs), and damaged files of a
checked-out folder: each refused with a one-line casdb error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb
from casdb.api import Repository
from casdb.core.errors import IntegrityError, InvalidDataset
from casdb.core.paths import check_name, check_relpath, check_relpath_array, check_relpaths
from casdb.model.encoding import decode, encode
from casdb.model.objects import DIR, FILE, Tree, TreeEntry
from casdb.tables.header import MAX_YAML_BYTES, parse_header
from casdb.testing.crafted import UNSAFE_PATHS
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset

ID = "ab" * 32
SAFE = ["a.wav", "audio/000/000001.wav", "ü/ß.flac", "a..b", ".hidden/x", "x" * 255,
        "d/" * 100 + "x", "C", "spk 1/a b.wav"]


@pytest.mark.parametrize("path", SAFE)
def test_safe_paths_pass_every_form_of_the_check(path):
    import pyarrow as pa

    assert check_relpath(path, "t") == path
    check_relpath_array(pa.array([path]), "t")
    assert check_relpaths([path], "t") == [path]


@pytest.mark.parametrize("path", UNSAFE_PATHS, ids=range(len(UNSAFE_PATHS)))
def test_unsafe_paths_fail_every_form_of_the_check(path):
    import pyarrow as pa

    with pytest.raises(IntegrityError, match="^where: unsafe path"):
        check_relpath(path, "where")
    with pytest.raises(IntegrityError):
        check_relpath_array(pa.array(["ok.wav", path, "z.wav"]), "where")
    with pytest.raises(IntegrityError):
        check_relpaths(["ok.wav", path], "where")
    with pytest.raises(IntegrityError):
        check_name(path, "where")


def test_a_name_has_no_slash():
    with pytest.raises(IntegrityError, match="a '/' in a name"):
        check_name("a/b", "tree entry")


@pytest.mark.parametrize("entries", [
    [TreeEntry("b", FILE, ID, 1), TreeEntry("a", FILE, ID, 1)],  # out of order
    [TreeEntry("a", FILE, ID, 1), TreeEntry("a", DIR, ID, 1)],  # twice
    [TreeEntry("a", "link", ID, 1)],
    [TreeEntry("a", FILE, ID, -1)],
    [TreeEntry("a", FILE, ID, 1, 5)],  # a file counts 1
    [TreeEntry("a", DIR, ID, True)],
])
def test_malformed_trees_are_refused(entries):
    with pytest.raises(IntegrityError, match="malformed tree"):
        decode(encode(Tree(entries=tuple(entries))))


# -- db.yaml ------------------------------------------------------------------------------

def _bomb(levels: int = 9) -> str:
    lines = ["name: x", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    text = _bomb()
    assert len(text) < 1024  # 1 KB that expands to 9**9 (387 million) strings
    (tmp_path / "db.yaml").write_text(text)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InvalidDataset, match="alias bomb"):
        parse_header(tmp_path / "db.yaml")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20, peak
    assert elapsed < 5  # generous: refused after composing ~100 nodes, not expanding them


def test_the_cli_refuses_an_alias_bomb_in_one_line(tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.05, sampling_rate=8000)
    header = (src / "db.yaml").read_text()
    (src / "db.yaml").write_text(header + "\n".join(_bomb().splitlines()[1:]) + "\n")
    done = subprocess.run([str(Path(sys.executable).parent / "casdb"), "--repo",
                           str(tmp_path / "repo"), "init"], capture_output=True, text=True)
    done = subprocess.run([str(Path(sys.executable).parent / "casdb"), "--repo",
                           str(tmp_path / "repo"), "commit", str(src), "--dataset", "d"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "alias bomb" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_aliases_within_bounds_load(tmp_path):
    (tmp_path / "db.yaml").write_text("name: x\nmeta:\n  a: &x {q: [1, 2]}\n  b: *x\n")
    assert parse_header(tmp_path / "db.yaml")["meta"]["b"] == {"q": [1, 2]}


@pytest.mark.parametrize("text,match", [
    ("name: x\na: &a [1, *a]\n", "contains itself"),
    ("name: x\nd: 2020-13-45\n", "cannot be read|not valid"),
    ("name: x\na: " + "[" * 5000 + "]" * 5000 + "\n", "nested|not valid YAML"),
    ("name: x\ntables:\n  ../x: {type: filewise}\n", "cannot name a file"),
])
def test_bad_yaml_is_invalid_dataset(tmp_path, text, match):
    (tmp_path / "db.yaml").write_text(text)
    with pytest.raises(InvalidDataset, match=match):
        parse_header(tmp_path / "db.yaml")


def test_yaml_size_is_bounded(tmp_path):
    with open(tmp_path / "db.yaml", "wb") as f:
        f.write(b"name: x\n")
        f.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(InvalidDataset, match="larger than 16 MiB"):
        parse_header(tmp_path / "db.yaml")


def test_yaml_that_is_not_utf8(tmp_path):
    (tmp_path / "db.yaml").write_bytes(b"name: \xff\n")
    with pytest.raises(InvalidDataset, match="not UTF-8"):
        parse_header(tmp_path / "db.yaml")


def test_commit_refuses_names_a_checkout_would_refuse(tmp_path):
    src = make_dataset(tmp_path / "src", files=2, duration=0.05, sampling_rate=8000)
    (src / "a\\b.txt").write_text("x")
    os.mkdir(src / "C:")
    (src / "C:" / "x.txt").write_text("x")
    repo = Repository.init(tmp_path / "repo")
    with pytest.raises(InvalidDataset, match=r"drive letter.*a backslash"):
        repo.commit(src, dataset="d")


# -- a checked-out folder -----------------------------------------------------------------

@pytest.fixture
def checked_out(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    repo.commit(make_dataset(tmp_path / "src", files=3, duration=0.05, sampling_rate=8000),
                dataset="synth", version="1.0.0")
    ds = casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "cache", link="copy")
    return repo, ds.root


@pytest.mark.parametrize("name", ["db.emotion.parquet", "db.speaker.parquet"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_corrupt_cached_table_names_the_file_and_cache_verify(checked_out, name, damage):
    repo, root = checked_out
    path = root / name
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
        data[len(data) // 3] ^= 0xFF
    else:
        data = bytearray(b"not parquet at all")
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    # a warm load re-hashes the tables: even a flip parquet cannot notice is refused
    with pytest.raises(IntegrityError, match=f"{name}.*casdb cache verify"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent)["emotion"].get()


def test_a_corrupt_checkout_media_index_is_integrity_error(checked_out):
    repo, root = checked_out
    path = root / ".casdb" / "files.json"
    path.chmod(0o644)
    path.write_bytes(b'{"format": 1, "file": [')
    with pytest.raises(IntegrityError, match="files.json is damaged"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files  # noqa: B018


def _files_json(root):
    import json

    return json.loads((root / ".casdb" / "files.json").read_bytes())


@pytest.mark.parametrize(("column", "value", "why"), [
    ("file", "../../escape.wav", "unsafe"),
    ("local", "/etc/passwd", "unsafe"),
    ("blob", "AB" * 32, "not an id"),
    ("blob", "ab" * 31, "not an id"),
    ("blob", 7, "not an id"),
    ("bytes", -1, "not a count"),
    ("bytes", True, "not a count"),
    ("converted", 0, "true or false"),
])
def test_a_crafted_file_list_is_refused(checked_out, column, value, why):
    """files.json built with the encoder casdb writes it with, one value made wrong."""
    import json

    repo, root = checked_out
    data = _files_json(root)
    data[column][0] = value
    path = root / ".casdb" / "files.json"
    path.chmod(0o644)
    path.write_bytes(json.dumps(data).encode())
    with pytest.raises(IntegrityError, match=why):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files  # noqa: B018


@pytest.mark.parametrize("change", ["short column", "missing column", "format", "not a dict",
                                    "nested deeply", "swapped between files"])
def test_a_file_list_of_the_wrong_shape_is_refused(checked_out, change):
    import json

    repo, root = checked_out
    data = _files_json(root)
    if change == "short column":
        data["blob"].pop()
    elif change == "missing column":
        del data["converted"]
    elif change == "format":
        data["format"] = 2
    elif change == "swapped between files":  # each file would still match the blob listed
        for column in ("local", "blob", "bytes"):
            data[column][0], data[column][1] = data[column][1], data[column][0]
    elif change == "not a dict":
        data = list(data)
    path = root / ".casdb" / "files.json"
    path.chmod(0o644)
    if change == "nested deeply":
        path.write_bytes(b"[" * 100_000)
    else:
        path.write_bytes(json.dumps(data).encode())
    with pytest.raises(IntegrityError, match="files.json is damaged"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files  # noqa: B018


@pytest.mark.parametrize("column", ["file", "blob"])
def test_an_old_media_index_without_its_columns_is_refused(checked_out, column):
    """A folder from before files.json whose media index lacks a column: refused, on a load and
    in purge's look at the cache, with a casdb error."""
    import pyarrow.parquet as pq

    from casdb.checkouts.purging import purge_cache

    repo, root = checked_out
    (root / ".casdb" / "files.json").unlink()
    path = root / ".casdb" / "media.parquet"
    table = pq.read_table(path)
    path.chmod(0o644)
    pq.write_table(table.drop_columns([column]), path)
    with pytest.raises(IntegrityError, match="media.parquet is damaged"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files  # noqa: B018
    removed, _ = purge_cache(root.parent.parent.parent, {"ab" * 32})
    assert removed == [root]  # unreadable: it may hold the bytes, and it is the cache's own


def test_a_folder_from_before_the_file_list_is_read_through_its_media_index(checked_out):
    repo, root = checked_out
    before = casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files
    (root / ".casdb" / "files.json").unlink()
    again = casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent)
    assert again.files == before
    path = root / ".casdb" / "media.parquet"
    path.chmod(0o644)
    path.write_bytes(b"PAR1garbagePAR1")  # then the media index is what is checked
    with pytest.raises(IntegrityError, match="media.parquet is damaged"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=root.parent.parent.parent).files  # noqa: B018


def _alphabet():
    from hypothesis import strategies as st

    # Characters that matter to the rule, plus some ordinary and multi-byte ones.
    return st.text(st.sampled_from(list("ab./\\:C\x00\n\x7fé€😀")), max_size=12)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_alphabet(), max_size=6))
def test_fast_list_check_agrees_with_the_one_by_one_check(paths):
    """check_relpaths and check_relpath_array take shortcuts; they must refuse exactly the
    lists in which check_relpath refuses a value."""
    import pyarrow as pa

    def refuses(call) -> bool:
        try:
            call()
        except IntegrityError:
            return True
        return False

    expected = any(refuses(lambda p=p: check_relpath(p, "t")) for p in paths)
    assert refuses(lambda: check_relpaths(paths, "t")) == expected
    assert refuses(lambda: check_relpath_array(pa.array(paths, pa.string()), "t")) == expected
