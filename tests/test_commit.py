"""Committing folders: versions, history, the stat cache, and every bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from casdb.core.errors import AlreadyExists, InvalidDataset, InvalidInput, NotFound
from casdb.core.ids import hash_bytes
from casdb.history import trees
from casdb.maintenance.fsck import check
from casdb.testing.synth import file_name, write_audio, write_tables


def snapshot(repo) -> dict[str, bytes]:
    """Every file of the repository but tmp/, locks/ and the stat cache, with its bytes."""
    out = {}
    for dirpath, _, files in os.walk(repo.path):
        rel = Path(dirpath).relative_to(repo.path)
        if rel.parts[:1] in (("tmp",), ("locks",)):
            continue
        for name in files:
            if "statcache" not in dirpath:
                out[str(rel / name)] = (Path(dirpath) / name).read_bytes()
    return out


def test_commit_stores_media_tables_and_header(repo, source):
    result = repo.commit(source, dataset="synth", version="1.0.0", message="first")
    assert result.files == 12 and result.tables == 3 and result.new_files == 12
    commit = repo.get_commit(repo.resolve("synth", "1.0.0"))
    stored = {p: e.id for p, e in trees.walk(repo.store, commit.tree)}
    assert stored == {file_name(i): hash_bytes((source / file_name(i)).read_bytes()) for i in range(12)}
    assert repo.store.get(commit.header, "header").data["name"] == "synth"
    emotion = repo.table("synth", "emotion", "1.0.0")
    assert emotion.index.name == "file" and len(emotion) == 12
    assert check(repo).ok


def test_history_versions_and_diff(repo, source):
    first = repo.commit(source, dataset="synth", version="1.0.0")
    write_audio(source / file_name(12), 99, 0.2, 8000, 1)
    write_audio(source / file_name(0), 98, 0.2, 8000, 1)
    (source / file_name(5)).unlink()
    write_tables(source, [i for i in range(13) if i != 5], seed=1)
    second = repo.commit(source, dataset="synth", version="1.10.0", message="more")
    repo.commit(source, dataset="synth", version="1.9.0", allow_empty=True)
    assert repo.versions("synth") == ["1.0.0", "1.9.0", "1.10.0"]
    assert repo.get_commit(second.id).parents == (first.id,)
    log = repo.log("synth")
    assert [e.versions for e in log] == [["1.9.0"], ["1.10.0"], ["1.0.0"]]
    assert (log[1].added, log[1].changed, log[1].removed) == (1, 1, 1)
    assert (log[0].added, log[0].changed, log[0].removed) == (0, 0, 0)
    d = repo.diff("synth", "1.0.0", "1.10.0")
    assert {(c.path, c.kind) for c in d.media} == {
        (file_name(12), "added"), (file_name(0), "changed"), (file_name(5), "removed")}
    assert set(d.tables) == {"emotion", "segments"} and not d.header_changed
    assert repo.resolve("synth", first.id[:8]) == first.id
    assert repo.resolve("synth") == repo.resolve("synth", "main")


def test_unchanged_files_are_not_read_again(repo, source):
    repo.commit(source, dataset="synth", version="1")
    again = repo.commit(source, dataset="synth", version="2")
    assert again.hashed_files == 0 and again.new_files == 0
    write_audio(source / file_name(3), 77, 0.2, 8000, 1)
    os.utime(source / file_name(3), (1e9, 1e9))
    third = repo.commit(source, dataset="synth", version="3")
    assert third.hashed_files == 1 and third.new_files == 1


def test_recently_modified_files_are_rehashed(repo, source):
    """A file modified just now could change again within one mtime tick: never trust it."""
    write_audio(source / file_name(1), 5, 0.2, 8000, 1)
    repo.commit(source, dataset="synth", version="1")
    assert repo.commit(source, dataset="synth", version="2").hashed_files == 1


def test_same_bytes_edited_in_place_with_same_mtime_are_noticed(repo, source):
    repo.commit(source, dataset="synth", version="1")
    path = source / file_name(2)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    tmp = path.with_suffix(".new")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, path)  # a new inode, as editors and copy tools write
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = repo.commit(source, dataset="synth", version="2")
    assert result.hashed_files == 1 and result.new_files == 1


def test_new_branch_starts_from_main(repo, source):
    main = repo.commit(source, dataset="synth", version="1")
    write_tables(source, range(12), seed=3)
    dev = repo.commit(source, dataset="synth", branch="relabel")
    assert repo.get_commit(dev.id).parents == (main.id,)
    assert repo.branches("synth") == {"main": main.id, "relabel": dev.id}
    assert [e.id for e in repo.log("synth", branch="relabel")] == [dev.id, main.id]


def test_dedup_across_datasets(repo, source):
    repo.commit(source, dataset="a")
    result = repo.commit(source, dataset="b")
    assert result.new_files == 0
    assert repo.datasets() == ["a", "b"]


# -- bad input: one clear error, nothing stored changed ------------------------------------------

EMO = b"file,emotion,confidence,speaker\n"


def committed(repo, source):
    repo.commit(source, dataset="synth", version="1.0.0")
    return snapshot(repo)


def assert_unchanged(repo, before):
    after = snapshot(repo)
    assert {k: v for k, v in after.items() if k.startswith("refs")} == {
        k: v for k, v in before.items() if k.startswith("refs")}
    for key, data in before.items():
        assert after[key] == data, key
    assert check(repo).ok


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda s: (s / "db.yaml").unlink(), "has no db.yaml"),
        (lambda s: (s / "db.yaml").write_text("name: [unclosed\n"), "not valid YAML at line"),
        (lambda s: (s / "db.yaml").write_text("- a list\n"), "must hold a mapping"),
        (lambda s: (s / "db.yaml").write_text("name: x\ntables:\n  t: {type: weird}\n"), "unknown type 'weird'"),
        (lambda s: (s / "db.emotion.csv").unlink(), "table 'emotion' is declared"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + b'"a.wav,x\n'), "cannot parse"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + b'a.wav,anger,0.5\n'), "cannot parse"),
        (lambda s: (s / "db.emotion.csv").write_text("file,emotion\na.wav,anger\n"),
         "has no column 'confidence'"),
        (lambda s: (s / "db.emotion.csv").write_bytes(
            EMO + f"{file_name(1)},anger,0.1,spk1\n{file_name(2)},anger,high,spk1\n".encode()),
         "column 'confidence', row 2: 'high' is not a valid number"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + f"{file_name(1)},joy,0.1,spk1\n".encode()),
         "column 'emotion', row 1: 'joy' is not a label of scheme 'emotion'"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + f"{file_name(1)},anger,1.5,spk1\n".encode()),
         "column 'confidence', row 1: 1.5 is above the maximum 1.0"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + f"{file_name(1)},anger,0.5,spk9\n".encode()),
         "column 'speaker', row 1: 'spk9' is not a label of scheme 'speaker'"),
        (lambda s: (s / "db.speaker.csv").write_text("speaker,age,gender\nspk0,old,female\n"),
         "table 'speaker', column 'age', row 1: 'old' is not a valid integer"),
        (lambda s: (s / "db.speaker.csv").write_text("speaker,age,gender\nspk0,-3,female\n"),
         "column 'age', row 1: -3 is below the minimum 0"),
        (lambda s: ((s / "db.yaml").write_text((s / "db.yaml").read_text().replace(
            "age: {dtype: int, minimum: 0}", f"age: {{dtype: int, minimum: 0, maximum: {2**53}}}")),
            (s / "db.speaker.csv").write_text(f"speaker,age,gender\nspk0,{2**53 + 1},female\n")),
         f"column 'age', row 1: {2**53 + 1} is above the maximum {2**53}"),  # exact past 2**53
        (lambda s: (s / file_name(4)).unlink(), f"row 5: media '{file_name(4)}' is not in the folder"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + b"../outside.wav,anger,0.1,spk1\n"),
         "escapes the dataset folder"),
        (lambda s: (s / "db.emotion.csv").write_bytes(
            EMO + f"{file_name(1)},anger,0.1,spk1\n{file_name(1)},sadness,0.1,spk1\n".encode()),
         f"row 2: duplicated index entry '{file_name(1)}'"),
        (lambda s: (s / "db.segments.csv").write_text(
            f"file,start,end,emotion\n{file_name(1)},0 days 00:00:02,0 days 00:00:01,anger\n"),
         "table 'segments', row 1: segment of"),
        (lambda s: (s / "db.segments.csv").write_text(
            f"file,start,end,emotion\n{file_name(1)},soon,0 days 00:00:01,anger\n"),
         "table 'segments', column 'start', row 1: 'soon' is not a valid time"),
        (lambda s: (s / "db.emotion.csv").write_bytes(EMO + b",anger,0.1,spk1\n"),
         "index 'file', row 1: value is missing"),
        (lambda s: (s / "db.yaml").write_text((s / "db.yaml").read_text()
                                              + "attachments:\n  doc: {path: docs/missing.pdf}\n"),
         "attachment 'doc': docs/missing.pdf is not in the folder"),
        (lambda s: (s / "db.yaml").write_text((s / "db.yaml").read_text()
                                              + "attachments:\n  doc: {path: ../x}\n"),
         "attachment 'doc' has no valid path"),
        (lambda s: (s / "link.wav").symlink_to("/etc/hostname"), "outside the dataset folder"),
        (lambda s: (s / "linkdir").symlink_to(s / "audio"), "symlink to a folder"),
        (lambda s: os.mkfifo(s / "pipe"), "neither a file nor a folder"),
    ],
)
def test_bad_folder_is_a_clear_error_and_stores_nothing(repo, source, breakage, message):
    before = committed(repo, source)
    breakage(source)
    with pytest.raises(InvalidDataset, match=message.replace("[", r"\[").replace("(", r"\(")) as info:
        repo.commit(source, dataset="synth", version="2.0.0")
    assert "\n" not in str(info.value)
    assert_unchanged(repo, before)
    assert "2.0.0" not in repo.versions("synth")


def test_integers_past_2_53_compare_exactly_with_a_bound(repo, source):
    """A bound is compared as an integer with an integer column (as a float it would refuse,
    or crash on, values past 2**53)."""
    (source / "db.speaker.csv").write_text(
        "speaker,age,gender\n" + "".join(f"spk{i},{2**53 + i},female\n" for i in range(5)))
    repo.commit(source, dataset="synth", version="2.0.0")
    assert repo.versions("synth")[-1] == "2.0.0"


def test_symlink_inside_the_folder_is_followed(repo, source):
    (source / "copy.wav").symlink_to(source / file_name(0))
    repo.commit(source, dataset="synth")
    commit = repo.get_commit(repo.resolve("synth"))
    ids = {p: e.id for p, e in trees.walk(repo.store, commit.tree)}
    assert ids["copy.wav"] == ids[file_name(0)]


def test_existing_version_is_refused(repo, source):
    before = committed(repo, source)
    with pytest.raises(AlreadyExists, match="synth 1.0.0 exists already"):
        repo.commit(source, dataset="synth", version="1.0.0")
    assert_unchanged(repo, before)


@pytest.mark.parametrize("kwargs", [{"dataset": "../x"}, {"dataset": "a b"}, {"dataset": ""},
                                    {"dataset": "ok", "version": "1/2"},
                                    {"dataset": "ok", "version": ".."},
                                    {"dataset": "ok", "branch": "x.lock"}])
def test_invalid_names_are_refused(repo, source, kwargs):
    before = committed(repo, source)
    with pytest.raises(InvalidInput, match="invalid"):
        repo.commit(source, **kwargs)
    assert_unchanged(repo, before)


def test_source_that_is_not_a_folder(repo, tmp_path):
    with pytest.raises(InvalidDataset, match="is not a folder"):
        repo.commit(tmp_path / "nope", dataset="x")


def test_unknown_names_are_not_found_with_suggestions(repo, source):
    repo.commit(source, dataset="synth", version="1.0.0")
    with pytest.raises(NotFound, match="did you mean synth"):
        repo.versions("synht")
    with pytest.raises(NotFound, match="did you mean 1.0.0"):
        repo.resolve("synth", "1.0")


@pytest.mark.slow  # ~5 s: a child process as another user, on disk
def test_unreadable_file_is_refused():
    """Run as an unprivileged user when we are root, since root reads any file."""
    import tempfile

    from casdb.api import Repository
    from casdb.testing.synth import make_dataset

    top = Path(tempfile.mkdtemp(prefix="casdb-perm-"))
    try:
        top.chmod(0o777)
        repo = Repository.init(top / "repo")
        source = make_dataset(top / "src", files=3, duration=0.1, sampling_rate=8000)
        before = committed(repo, source)
        secret = source / "secret.wav"
        secret.write_bytes(b"x")
        for dirpath, dirs, files in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(dirpath, d), 0o777)
            for f in files:
                os.chmod(os.path.join(dirpath, f), 0o666)
        secret.chmod(0)
        code = textwrap.dedent(f"""
            import sys
            from casdb.testing.privileges import drop_privileges
            from casdb.api import Repository
            from casdb.core.errors import InvalidDataset
            drop_privileges()  # after importing all: a clone may lie where others cannot read
            try:
                Repository({str(repo.path)!r}).commit({str(source)!r}, dataset="synth", version="2")
            except InvalidDataset as exc:
                print(exc); sys.exit(3)
        """)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 3, result.stderr
        assert "cannot read secret.wav" in result.stdout
        assert_unchanged(repo, before)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_header_value_that_cannot_be_stored(repo, source):
    before = committed(repo, source)
    (source / "db.yaml").write_text((source / "db.yaml").read_text() + "keywords: !!set {a, b}\n")
    with pytest.raises(InvalidDataset, match="cannot store"):
        repo.commit(source, dataset="synth", version="2")
    assert_unchanged(repo, before)


def test_damaged_stat_cache_is_rebuilt(repo, source):
    repo.commit(source, dataset="synth", version="1")
    for cache in (repo.path / "statcache").iterdir():
        cache.chmod(0o644)
        cache.write_bytes(b"this is not a cache" * 100)
    result = repo.commit(source, dataset="synth", version="2")
    assert result.hashed_files == 12 and result.new_files == 0
    assert repo.commit(source, dataset="synth", version="3").hashed_files == 0


def test_file_url_and_version_order(tmp_path, source):
    from casdb.api import Repository
    from casdb.core.names import version_key

    repo = Repository.init(f"file://{tmp_path}/r")
    for v in ["1.0.0", "1.0.0.post1", "1.0.0rc1", "1.10.0", "1.9.0"]:
        repo.commit(source, dataset="synth", version=v)
    assert Repository(tmp_path / "r").versions("synth") == [
        "1.0.0rc1", "1.0.0", "1.0.0.post1", "1.9.0", "1.10.0"]
    assert version_key("2") > version_key("1.99")
    with pytest.raises(InvalidInput, match="is a remote: clone it"):
        Repository("s3://bucket/x")


def test_log_limit_and_table_changes(repo, source):
    repo.commit(source, dataset="synth", version="1")
    write_tables(source, range(12), seed=2)
    repo.commit(source, dataset="synth", version="2")
    assert repo.log("synth", limit=0) == []
    latest = repo.log("synth", limit=1)
    assert len(latest) == 1 and latest[0].tables == ["emotion", "segments"]
    assert (latest[0].added, latest[0].changed, latest[0].removed) == (0, 0, 0)


def test_media_index_probes_audio_and_other_files(repo, source):
    (source / "docs").mkdir()
    (source / "docs" / "readme.txt").write_text("not audio")
    import numpy as np
    import soundfile as sf

    sf.write(source / "audio" / "x.flac", np.zeros((4410, 2)), 44100, subtype="PCM_24")
    repo.commit(source, dataset="synth", version="1")
    media = repo.media("synth", "1")
    assert len(media) == 14 and media.index.name == "file"
    wav = media.loc[file_name(0)]
    assert (wav["format"], wav["sampling_rate"], wav["channels"], wav["bit_depth"]) == ("wav", 8000, 1, 16)
    assert wav["duration"] == pytest.approx(0.2)
    assert wav["blob"] == hash_bytes((source / file_name(0)).read_bytes())
    flac = media.loc["audio/x.flac"]
    assert (flac["format"], flac["sampling_rate"], flac["channels"], flac["bit_depth"]) == ("flac", 44100, 2, 24)
    assert flac["duration"] == pytest.approx(0.1)
    txt = media.loc["docs/readme.txt"]
    assert (txt["format"], txt["sampling_rate"], txt["duration"]) == ("txt", 0, 0.0)
    # An unchanged tree shares the parent's index; a change re-probes only the new blob.
    repo.commit(source, dataset="synth", version="2")
    assert repo.get_commit(repo.resolve("synth", "2")).media == repo.get_commit(repo.resolve("synth", "1")).media
    write_audio(source / file_name(1), 5, 0.5, 16000, 2)
    repo.commit(source, dataset="synth", version="3")
    row = repo.media("synth", "3").loc[file_name(1)]
    assert (row["sampling_rate"], row["channels"], row["duration"]) == (16000, 2, 0.5)


def test_same_bytes_different_extensions_and_pickle_caches(repo, source):
    (source / "notes.txt").write_text("same")
    (source / "notes.md").write_text("same")
    (source / "db.emotion.pkl").write_bytes(b"audformat's cache")
    repo.commit(source, dataset="synth", version="1")
    media = repo.media("synth", "1")
    assert media.loc["notes.txt", "format"] == "txt" and media.loc["notes.md", "format"] == "md"
    assert "db.emotion.pkl" not in media.index


def test_labels_from_a_misc_table_with_two_levels(repo, source):
    text = (source / "db.yaml").read_text().replace("levels: {speaker: str}",
                                                     "levels: {speaker: str, session: str}")
    (source / "db.yaml").write_text(text)
    (source / "db.speaker.csv").write_text("speaker,session,age,gender\nspk0,a,20,female\n")
    with pytest.raises(InvalidDataset, match="whose index has more than one level"):
        repo.commit(source, dataset="synth")


def test_nothing_changed_records_nothing(repo, source):
    first = repo.commit(source, dataset="synth", version="1.0.0")
    before = snapshot(repo)
    again = repo.commit(source, dataset="synth", message="again")
    assert not again.changed and again.id == first.id and again.at == "1.0.0"
    assert again.summary() == f"nothing to commit, synth is at 1.0.0 ({first.id[:10]})"
    assert snapshot(repo) == before  # no object, blob or ref written
    assert [e.id for e in repo.log("synth")] == [first.id]


def test_nothing_changed_with_a_version_tags_the_parent(repo, source):
    first = repo.commit(source, dataset="synth", version="1.0.0")
    tagged = repo.commit(source, dataset="synth", version="1.0.1")
    assert not tagged.changed and tagged.id == first.id
    assert repo.resolve("synth", "1.0.1") == first.id
    assert repo.branches("synth") == {"main": first.id}
    with pytest.raises(AlreadyExists):
        repo.commit(source, dataset="synth", version="1.0.1")
    dev = repo.commit(source, dataset="synth", branch="dev")  # a new branch starts at the parent
    assert not dev.changed and repo.branches("synth") == {"main": first.id, "dev": first.id}


def test_allow_empty_records_a_commit(repo, source):
    first = repo.commit(source, dataset="synth", version="1.0.0")
    empty = repo.commit(source, dataset="synth", message="empty", allow_empty=True)
    assert empty.changed and empty.id != first.id
    assert repo.get_commit(empty.id).parents == (first.id,)
    assert repo.get_commit(empty.id).tree == repo.get_commit(first.id).tree
    assert repo.branches("synth") == {"main": empty.id}


def test_a_changed_table_or_header_is_a_change(repo, source):
    first = repo.commit(source, dataset="synth", version="1.0.0")
    write_tables(source, range(12), seed=3)  # relabelled: same files, new table
    relabelled = repo.commit(source, dataset="synth")
    assert relabelled.changed and relabelled.id != first.id
    header = (source / "db.yaml").read_text()
    (source / "db.yaml").write_text(header.replace("name: synth", "name: synth2", 1))
    renamed = repo.commit(source, dataset="synth")
    assert renamed.changed and renamed.id != relabelled.id


def test_probe_memory_keeps_the_verdicts_of_a_commit(repo, source):
    from casdb.commit.statcache import StatCache

    repo.commit(source, dataset="synth", version="1.0.0")
    memory = StatCache.of(repo).probes()  # read back: a re-commit need not open the blobs again
    blobs = {hash_bytes((source / file_name(i)).read_bytes()) for i in range(12)}
    assert blobs <= memory.keys() and all(memory[b].problem == "" for b in blobs)
