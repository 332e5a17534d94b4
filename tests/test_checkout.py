"""Checkout and load: the folder, the cache, links, partial loads, resumption and concurrency."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import casdb
from casdb.api import Repository
from casdb.checkouts import layout as cache
from casdb.checkouts.selection import Request
from casdb.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound, StorageError
from casdb.testing.files import media_on_disk
from casdb.testing.synth import make_dataset


def load(repo, *args, **kw):
    kw.setdefault("cache_root", repo.path.parent / "cache")
    return casdb.load("synth", *args, repo=repo, **kw)


def test_load_gives_tables_files_and_header(two_versions):
    ds = load(two_versions, "1.0.0")
    assert ds.root == two_versions.path.parent / "cache" / "synth" / "1.0.0" / "original"
    assert (ds.dataset, ds.version, ds.name) == ("synth", "1.0.0", "synth")
    assert ds.description == "Synthetic sines with emotion labels." and ds.languages == ["eng"]
    assert ds.tables == ["emotion", "segments"] and ds.misc_tables == ["speaker"]
    assert len(ds.files) == 12 and all(os.path.isfile(f) for f in ds.files)
    assert ds.files[0] == str(ds.root / "audio/000/000000.wav")

    emotion = ds["emotion"].get()
    expected = two_versions.table("synth", "emotion", "1.0.0")
    assert list(emotion.index) == [str(ds.root / f) for f in expected.index]
    pd.testing.assert_frame_equal(emotion.reset_index(drop=True), expected.reset_index(drop=True))
    segments = ds["segments"].get()
    assert list(segments.index.names) == ["file", "start", "end"]
    assert str(segments.index.levels[1].dtype) == "timedelta64[ns]"
    assert ds["speaker"].get().index.name == "speaker"

    relative = load(two_versions, "1.0.0", full_path=False)
    assert relative.files[0] == "audio/000/000000.wav"
    pd.testing.assert_frame_equal(relative["emotion"].get(), expected)


def test_latest_version_and_unknown_names(two_versions):
    assert load(two_versions).version == "2.0.0"
    with pytest.raises(NotFound, match="did you mean synth"):
        casdb.load("synt", repo=two_versions, cache_root=two_versions.path.parent / "c")
    with pytest.raises(NotFound, match="did you mean 1.0.0"):
        load(two_versions, "1.0.1")
    with pytest.raises(NotFound, match="no table 'emotions'.*did you mean emotion"):
        load(two_versions, "1.0.0", tables=["emotions"])
    with pytest.raises(NotFound, match="no media of synth matches 'nothing'"):
        load(two_versions, "1.0.0", media="nothing")
    with pytest.raises(NotFound, match="no media file 'audio/x.wav'"):
        load(two_versions, "1.0.0", media=["audio/x.wav"])
    with pytest.raises(InvalidInput, match="invalid media regular expression"):
        load(two_versions, "1.0.0", media="(")
    with pytest.raises(InvalidInput, match="unknown link mode"):
        load(two_versions, "1.0.0", link="symlink")
    assert not (two_versions.path.parent / "cache" / "synth" / "1.0.0").exists()  # none created
    # Once the version is cached, requests are still checked against it.
    load(two_versions, "1.0.0")
    with pytest.raises(NotFound, match="no table 'emotions'"):
        load(two_versions, "1.0.0", tables=["emotions"])


def test_untagged_commit_and_branch(two_versions, tmp_path):
    head = two_versions.resolve("synth")
    ds = load(two_versions, head[:12])
    assert ds.version == "2.0.0"  # the commit is tagged: the folder takes the tag
    src = make_dataset(tmp_path / "other", files=2, duration=0.1)
    result = two_versions.commit(src, dataset="synth", branch="dev")
    ds = load(two_versions, "dev")
    assert ds.version == f"commit-{result.id[:16]}" and len(ds.files) == 2


def test_media_are_read_only_hardlinks_of_the_store(two_versions):
    ds = load(two_versions, "1.0.0")
    media = two_versions.media("synth", "1.0.0")
    for f in ds.files[:3]:
        rel = os.path.relpath(f, ds.root)
        blob = two_versions.store.blob_path(media.loc[rel, "blob"])
        assert os.path.samefile(f, blob)
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o444
    assert ds.state.link == {"hardlink": 12}


def test_forced_copy_and_refused_reflink(two_versions):
    ds = load(two_versions, "1.0.0", link="copy")
    assert ds.state.link == {"copy": 12}
    media = two_versions.media("synth", "1.0.0")
    f = ds.files[0]
    assert not os.path.samefile(f, two_versions.store.blob_path(media.iloc[0]["blob"]))
    assert Path(f).read_bytes() == two_versions.store.blob_path(media.iloc[0]["blob"]).read_bytes()
    # ext4 (this machine) has no reflinks: forcing one is a clear error, nothing is marked done.
    if not _can_reflink(two_versions.path):
        with pytest.raises(StorageError, match="cannot reflink"):
            load(two_versions, "2.0.0", link="reflink")
        assert cache.read_state(ds.root.parent.parent / "2.0.0" / "original") is None


def _can_reflink(path: Path) -> bool:
    from casdb.checkouts.linking import Linker

    (path / "probe").write_bytes(b"x")
    try:
        Linker("reflink", tmp_dir=path).place(path / "probe", path / "probe2")
        return True
    except StorageError:
        return False


def test_switching_versions_links_only(two_versions):
    v2 = load(two_versions, "2.0.0")
    v1 = load(two_versions, "1.0.0")
    assert v1.root != v2.root and len(v1.files) == 12 and len(v2.files) == 15
    # The shared files are the same bytes (the same blob) in both folders.
    assert os.path.samefile(v1.root / "audio/000/000000.wav", v2.root / "audio/000/000000.wav")
    assert not os.path.samefile(v1.root / "audio/000/000003.wav", v2.root / "audio/000/000003.wav")


def test_switching_versions_reuses_cached_copies(two_versions):
    v1 = load(two_versions, "1.0.0", link="copy")
    v2 = load(two_versions, "2.0.0", link="copy")
    # 11 files are the same in both versions: linked from the 1.0.0 folder, 4 are copied.
    assert v2.state.link == {"reused": 11, "copy": 4}
    assert os.path.samefile(v1.root / "audio/000/000000.wav", v2.root / "audio/000/000000.wav")


def test_audformat_reads_the_folder(tmp_path):
    import audformat

    from casdb.testing.richdb import build_db

    build_db(tmp_path / "db", "csv")
    repo = Repository.init(tmp_path / "repo")
    repo.commit(tmp_path / "db", dataset="unittest", version="1.0.0")
    ds = casdb.load("unittest", repo=repo, cache_root=tmp_path / "cache", full_path=False)
    db = audformat.Database.load(str(ds.root))
    assert sorted(db.tables) == ds.tables and sorted(db.misc_tables) == ds.misc_tables
    for table in list(db.tables) + list(db.misc_tables):
        pd.testing.assert_frame_equal(db[table].get(), ds[table].get(), obj=table)
    assert db.files.sort_values().tolist() == sorted(set(db.files))
    assert (ds.root / "extra" / "folder" / "sub" / "notes.md").read_text() == "# notes"
    # Label mapping through schemes equals audformat's, for a misc table and a label dict.
    for table, mapping in (("people", {"speaker": "age"}),
                           ("people", {"speaker": ["speaker", "age"]}),
                           ("files", {"label_map_int": "prop1"}),
                           ("files", {"label_map_str": ["prop1", "prop2"]})):
        pd.testing.assert_frame_equal(ds[table].get(map=mapping), db[table].get(map=mapping))


def test_map_errors(two_versions):
    ds = load(two_versions, "1.0.0")
    with pytest.raises(InvalidInput, match="cannot map 'speaker' to 'height'"):
        ds["emotion"].get(map={"speaker": "height"})
    with pytest.raises(InvalidInput, match="provides no mapping"):
        ds["emotion"].get(map={"emotion": "x"})
    got = ds["emotion"].get(map={"speaker": ["age", "gender"]})
    assert list(got.columns) == ["emotion", "confidence", "age", "gender"]
    assert str(got["age"].dtype) == "Int64" and got["age"].iloc[1] == 21


def test_checked_out_folder_commits_back_to_the_same_objects(two_versions, tmp_path):
    out = casdb.checkout("synth", "1.0.0", tmp_path / "dest", repo=two_versions)
    result = two_versions.commit(out.path, dataset="copy", version="1.0.0")
    a = two_versions.get_commit(two_versions.resolve("synth", "1.0.0"))
    b = two_versions.get_commit(result.id)
    assert (a.tree, a.header, a.tables, a.media) == (b.tree, b.header, b.tables, b.media)


# -- partial loading ---------------------------------------------------------------------------


def test_only_metadata_then_everything(two_versions):
    ds = load(two_versions, "1.0.0", only_metadata=True)
    assert media_on_disk(ds.root) == [] and len(ds["emotion"].get()) == 12
    assert len(ds.files) == 12  # named by the tables, not on disk
    assert not ds.state.complete
    full = load(two_versions, "1.0.0")
    assert len(media_on_disk(full.root)) == 12 and full.state.complete


def test_tables_bring_only_their_media(tmp_path):
    src = make_dataset(tmp_path / "src", files=6, duration=0.1)
    # A table naming only two files.
    (src / "db.yaml").write_text((src / "db.yaml").read_text().replace(
        "misc_tables:", "  few:\n    type: filewise\n    columns:\n"
        "      emotion: {scheme_id: emotion}\nmisc_tables:"))
    (src / "db.few.csv").write_text("file,emotion\naudio/000/000001.wav,anger\n"
                                    "audio/000/000004.wav,neutral\n")
    repo = Repository.init(tmp_path / "repo")
    repo.commit(src, dataset="synth", version="1.0.0")
    ds = load(repo, "1.0.0", tables=["few"])
    assert ds.tables == ["few"] and ds.misc_tables == ["speaker"]  # labels' table comes along
    assert media_on_disk(ds.root) == ["audio/000/000001.wav", "audio/000/000004.wav"]
    assert ds.files == [str(ds.root / "audio/000/000001.wav"), str(ds.root / "audio/000/000004.wav")]
    assert sorted(p.name for p in ds.root.glob("db.*")) == [
        "db.few.parquet", "db.speaker.parquet", "db.yaml"]
    import audformat

    assert sorted(audformat.Database.load(str(ds.root)).tables) == ["few"]
    with pytest.raises(NotFound, match="no table 'emotion'"):
        ds["emotion"]
    # Asking for more adds the rest; the earlier request still sees only its part.
    full = load(repo, "1.0.0")
    assert len(media_on_disk(full.root)) == 6 and full.tables == ["emotion", "segments", "few"]
    assert load(repo, "1.0.0", tables=["few"]).tables == ["few"]


def test_media_selection_filters_rows_and_grows(two_versions):
    first = load(two_versions, "1.0.0", media=r"00000[0-2]\.wav")
    assert media_on_disk(first.root) == [f"audio/000/00000{i}.wav" for i in range(3)]
    assert len(first["emotion"].get()) == 3 and len(first["segments"].get()) == 3
    assert len(first["speaker"].get()) == 5  # misc tables are not filtered
    listed = load(two_versions, "1.0.0", media=["audio/000/000010.wav"])
    assert len(listed["emotion"].get()) == 1 and len(listed.files) == 1
    # The folder holds both selections, and its tables their rows (audformat sees the union).
    assert len(media_on_disk(listed.root)) == 4
    import audformat

    assert len(audformat.Database.load(str(listed.root))["emotion"].get()) == 4
    # The first request, repeated, still gives its own rows.
    again = load(two_versions, "1.0.0", media=r"00000[0-2]\.wav")
    assert len(again["emotion"].get()) == 3


# -- the cache: offline, resumption, concurrency ---------------------------------------------


def test_cached_version_loads_without_the_repository(two_versions, tmp_path):
    load(two_versions, "1.0.0")
    load(two_versions, "2.0.0", only_metadata=True)
    gone = tmp_path / "moved"
    shutil.move(two_versions.path, gone)
    cache_root = tmp_path / "cache"
    ds = casdb.load("synth", "1.0.0", repo=two_versions.path, cache_root=cache_root)
    assert len(ds["emotion"].get()) == 12 and all(os.path.exists(f) for f in ds.files)
    latest = casdb.load("synth", repo=two_versions.path, cache_root=cache_root)
    assert latest.version == "1.0.0"  # 2.0.0 is cached only as metadata
    meta = casdb.load("synth", repo=two_versions.path, cache_root=cache_root, only_metadata=True)
    assert meta.version == "2.0.0"
    with pytest.raises(NotFound, match="no casdb repository"):
        casdb.load("synth", "2.0.0", repo=two_versions.path, cache_root=cache_root)


def test_cache_root_from_environment(two_versions, tmp_path, monkeypatch):
    monkeypatch.setenv("CASDB_CACHE", str(tmp_path / "env-cache"))
    ds = casdb.load("synth", "1.0.0", repo=two_versions)
    assert ds.root == tmp_path / "env-cache" / "synth" / "1.0.0" / "original"
    monkeypatch.delenv("CASDB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "casdb"


def test_conflicting_cache_folder(two_versions, tmp_path):
    load(two_versions, "1.0.0")
    other = Repository.init(tmp_path / "other")
    other.commit(make_dataset(tmp_path / "o", files=2, duration=0.1), dataset="synth",
                 version="1.0.0")
    with pytest.raises(Conflict, match="another repository"):
        casdb.checkout("synth", "1.0.0", cache_root=tmp_path / "cache",
                       request=Request(tables=("segments",)), repo=other)


LOADER = textwrap.dedent("""
    import sys, casdb
    from casdb.api import checkout
    out = checkout("synth", "1.0.0", repo=sys.argv[1], cache_root=sys.argv[2], link=sys.argv[3])
    print(out.placed, len(out.tables_written))
""")


@pytest.mark.slow  # about 3 s: several loading processes
def test_concurrent_loads_write_once(two_versions, tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", LOADER, str(two_versions.path),
                          str(tmp_path / "cache"), "copy"], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate()[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(int(o[0]) for o in outs) == [0, 0, 0, 12]
    assert sorted(int(o[1]) for o in outs) == [0, 0, 0, 3]
    ds = load(two_versions, "1.0.0")
    assert len(media_on_disk(ds.root)) == 12


@pytest.mark.slow
def test_interrupted_load_resumes(repo, tmp_path):
    from casdb.checkouts.cachecheck import verify

    src = make_dataset(tmp_path / "src", files=300, duration=1.0, sampling_rate=48000, channels=2)
    repo.commit(src, dataset="synth", version="1.0.0")
    folder = tmp_path / "cache" / "synth" / "1.0.0" / "original"
    audio = folder / "audio" / "000"
    mid_copy = 0
    for when in ("copying", 0.3, 0.9, 1.2):
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
        proc = subprocess.Popen([sys.executable, "-c", LOADER, str(repo.path),
                                 str(tmp_path / "cache"), "copy"], stdout=subprocess.PIPE)
        if when == "copying":  # kill as soon as the first media are in place
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (audio.is_dir() and os.listdir(audio)):
                time.sleep(0.002)
        else:
            time.sleep(when)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = cache.read_state(folder)
        assert state is None or state.complete  # never a partial folder claiming to be done
        placed = len(media_on_disk(folder)) if folder.exists() else 0
        mid_copy += 0 < placed < 300
        out = casdb.checkout("synth", "1.0.0", cache_root=tmp_path / "cache",
                                 link="copy", repo=repo)
        assert out.state.complete and out.placed == (0 if state else 300 - placed)
        assert all(r.ok and not r.repaired for r in verify(tmp_path / "cache", repo))
        ds = casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "cache")
        assert len(ds.files) == 300 and len(ds["emotion"].get()) == 300
    assert mid_copy >= 1  # at least the first kill landed while media were being placed


# -- destination folders ----------------------------------------------------------------------


def test_checkout_to_a_folder(two_versions, tmp_path):
    dest = tmp_path / "dest"
    out = casdb.checkout("synth", "2.0.0", dest, repo=two_versions)
    assert out.path == dest and len(media_on_disk(dest)) == 15 and out.state.complete
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    with pytest.raises(AlreadyExists, match="not empty"):
        casdb.checkout("synth", "2.0.0", tmp_path / "full", repo=two_versions)
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(AlreadyExists, match="not a folder"):
        casdb.checkout("synth", "2.0.0", tmp_path / "file", repo=two_versions)
    # A forced copy makes files the user can edit; links stay read-only.
    edit = casdb.checkout("synth", "2.0.0", tmp_path / "edit", link="copy", repo=two_versions)
    assert stat.S_IMODE(os.stat(edit.path / "audio/000/000000.wav").st_mode) & 0o200


@pytest.mark.slow  # ~5 s: a child process as another user, on disk
def test_no_write_permission(tmp_path):
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="casdb-perm-"))  # outside tmp_path: others may enter
    try:
        repo = Repository.init(base / "repo")
        repo.commit(make_dataset(base / "src", files=3, duration=0.1), dataset="synth",
                    version="1.0.0")
        top = base / "ro"
        top.mkdir()
        for dirpath, _, files in os.walk(base):
            os.chmod(dirpath, 0o755)
            for f in files:
                os.chmod(os.path.join(dirpath, f), 0o444)
        top.chmod(0o555)
        code = textwrap.dedent(f"""
            import sys
            import casdb
            from casdb.testing.privileges import drop_privileges
            from casdb.core.errors import StorageError
            drop_privileges()  # after importing all: the checkout may lie where others cannot read
            try:
                casdb.load("synth", "1.0.0", repo={str(repo.path)!r},
                           cache_root={str(top / "cache")!r})
            except StorageError as exc:
                print(exc); sys.exit(8)
        """)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 8, result.stderr
        assert "Permission denied" in result.stdout and not (top / "cache").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def small_filesystem(tmpfs):
    return tmpfs("200k")


def test_disk_full_then_resume(two_versions, small_filesystem):
    # The cache is on another file system: media are copied, and 12 files do not fit in 200k
    # next to what the tables take... so make them not fit, then give room and resume.
    ds_root = small_filesystem / "cache"
    big = two_versions.media("synth", "2.0.0")["bytes"].sum()
    assert big > 0
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * (200 * 1024 - 60 * 1024))
    with pytest.raises(StorageError, match="No space left"):
        casdb.load("synth", "2.0.0", repo=two_versions, cache_root=ds_root)
    folder = ds_root / "synth" / "2.0.0" / "original"
    assert cache.read_state(folder) is None
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_filesystem)], check=True)
    ds = casdb.load("synth", "2.0.0", repo=two_versions, cache_root=ds_root)
    assert ds.state.complete and len(media_on_disk(ds.root)) == 15
    assert set(ds.state.link) <= {"copy"}


# -- cache ls and verify ----------------------------------------------------------------------


def test_cache_ls_and_verify_repairs(two_versions, tmp_path):
    from casdb.checkouts.cachecheck import summaries, verify

    root = tmp_path / "cache"
    v1 = load(two_versions, "1.0.0", link="copy")
    v2 = load(two_versions, "2.0.0", media=r"00001[0-4]")
    rows = {s.version: s for s in summaries(root)}
    assert rows["1.0.0"].files == 12 and rows["1.0.0"].complete
    assert rows["2.0.0"].files == 5 and not rows["2.0.0"].complete
    assert all(r.ok and not r.repaired for r in verify(root, two_versions))

    edited = v1.root / "audio/000/000001.wav"
    edited.chmod(0o644)
    edited.write_bytes(b"RIFF edited")
    (v1.root / "audio/000/000002.wav").unlink()
    (v1.root / "db.emotion.parquet").write_bytes(b"not parquet")
    reports = verify(root, None)  # without the repository: found, not repaired
    assert sum(len(r.broken) for r in reports) == 3
    reports = verify(root, two_versions)
    assert sorted(x.split(" ")[0] for r in reports for x in r.repaired) == [
        "audio/000/000001.wav", "audio/000/000002.wav", "db.emotion.parquet"]
    assert all(r.ok for r in verify(root, two_versions))
    blob = two_versions.media("synth", "1.0.0").loc["audio/000/000001.wav", "blob"]
    assert edited.read_bytes() == two_versions.store.blob_path(blob).read_bytes()
    assert len(casdb.load("synth", "1.0.0", repo=two_versions, cache_root=root)["emotion"].get()) == 12

    # A hardlinked file edited in place is the store's blob: reported, never "repaired".
    shared = v2.root / "audio/000/000010.wav"
    os.chmod(shared, 0o644)
    with open(shared, "r+b") as f:
        f.write(b"X")
    reports = verify(root, two_versions)
    broken = [x for r in reports for x in r.broken]
    assert len(broken) == 1 and "corrupt in the store too" in broken[0]
