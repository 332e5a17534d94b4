"""casdb.stream and random access (docs/streaming.md): batches, order, shards, budget, errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb
from casdb.checkouts.streaming import order
from casdb.testing.corrupt import files_holding
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset

FLAVOUR = {"sampling_rate": 8000}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A repository with 11 files (0.3 s, 16 kHz) and a folder remote it was pushed to."""
    base = tmp_path_factory.mktemp("stream")
    repo = casdb.Repository.init(base / "repo")
    repo.commit(make_dataset(base / "src", files=11, duration=0.3), dataset="d",
                version="1.0.0")
    repo.remote_add("origin", str(base / "remote"))
    repo.push("origin")
    return repo, base / "remote", base / "src"


def _rows(batches) -> list:
    return [key for batch in batches for key in (batch[0] if isinstance(batch, tuple)
                                                 else batch).index]


def test_every_row_once_in_table_order(made, tmp_path):
    repo, _, src = made
    batches = list(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=4,
                                cache_root=tmp_path, audio="none"))
    table = repo.snapshot("d").table("emotion")
    assert [len(b) for b in batches] == [4, 4, 3]
    assert _rows(batches) == list(table.index)
    assert batches[0].index.name == "file" and list(batches[0].columns) == list(table.columns)
    assert batches[0]["emotion"].tolist() == table["emotion"].iloc[:4].tolist()


def test_paths_hold_the_files_bytes_until_the_next_batch(made, tmp_path):
    repo, _, src = made
    stream = casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=5,
                          cache_root=tmp_path)
    seen = []
    for frame, paths in stream:
        for file, path in zip(frame.index, paths, strict=True):
            assert Path(path).name == Path(file).name  # its own name (and extension)
            assert Path(path).read_bytes() == (src / file).read_bytes()
        seen.append(paths)
    assert not any(os.path.exists(p) for p in seen[0])  # released once the next was asked for
    assert not (tmp_path / ".streams").exists() or not os.listdir(tmp_path / ".streams")


def test_arrays_match_the_checked_out_flavour(made, tmp_path):
    repo, _, _ = made
    ds = casdb.load("d", "1.0.0", repo=repo, flavour=FLAVOUR, cache_root=tmp_path / "c")
    by_file = {}
    for frame, audio in casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=3,
                                     flavour=FLAVOUR, audio="arrays", cache_root=tmp_path):
        for file, a in zip(frame.index, audio, strict=True):
            by_file[file] = a
    assert len(by_file) == 11
    for file, a in by_file.items():
        want, rate = sf.read(ds.root / file, dtype="float32", always_2d=True)
        assert a.sampling_rate == rate == 8000 and a.array.dtype == np.float32
        np.testing.assert_array_equal(a.array, want.T)


def test_segments_decode_only_their_span(made, tmp_path):
    repo, _, src = made
    batches = list(casdb.stream("d", "1.0.0", repo=repo, tables="segments", batch_size=20,
                                audio="arrays", cache_root=tmp_path))
    (frame, audio), = batches
    assert frame.index.names == ["file", "start", "end"]
    for (file, start, end), a in zip(frame.index, audio, strict=True):
        full, rate = sf.read(src / file, dtype="float32", always_2d=True)
        first, last = round(start.total_seconds() * rate), round(end.total_seconds() * rate)
        np.testing.assert_array_equal(a.array, full[first:last].T)


def test_no_tables_streams_the_media_files(made, tmp_path):
    repo, _, _ = made
    rows = _rows(casdb.stream("d", "1.0.0", repo=repo, batch_size=4, cache_root=tmp_path))
    assert rows == sorted(repo.snapshot("d").media().index)


def test_media_narrows_the_rows(made, tmp_path):
    repo, _, _ = made
    rows = _rows(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", media=r"0000(0|1)\.",
                              cache_root=tmp_path, audio="none"))
    assert rows == ["audio/000/000000.wav", "audio/000/000001.wav"]


def test_order_is_a_function_of_seed_and_epoch(made, tmp_path):
    repo, _, _ = made

    def rows(**kw):
        return _rows(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=3,
                                  shuffle=True, audio="none", cache_root=tmp_path, **kw))

    first = rows(seed=7, epoch=0)
    assert first == rows(seed=7, epoch=0)
    assert sorted(first) == sorted(rows(seed=7, epoch=1)) and first != rows(seed=7, epoch=1)
    assert first != rows(seed=8, epoch=0)


def test_shards_partition_the_rows(made, tmp_path):
    repo, _, _ = made
    shards = [_rows(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=2,
                                 shuffle=True, seed=3, shard=(k, 3), audio="none",
                                 cache_root=tmp_path)) for k in range(3)]
    everything = [r for s in shards for r in s]
    assert sorted(everything) == sorted(repo.snapshot("d").table("emotion").index)
    assert len(set(everything)) == len(everything)


@settings(max_examples=examples(50), deadline=None)
@given(rows=st.integers(0, 200), count=st.integers(1, 9), seed=st.integers(0, 2**32),
       epoch=st.integers(0, 5))
def test_order_of_shards_is_an_exact_partition(rows, count, seed, epoch):
    parts = [order(rows, True, seed, epoch, (k, count)) for k in range(count)]
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(rows))
    assert [len(p) for p in parts] == [len(range(k, rows, count)) for k in range(count)]


def test_start_resumes_at_a_batch(made, tmp_path):
    repo, _, _ = made

    def batches(start):
        return [list(b.index) for b in casdb.stream(
            "d", "1.0.0", repo=repo, tables="emotion", batch_size=3, shuffle=True, seed=1,
            start=start, audio="none", cache_root=tmp_path)]

    full = batches(0)
    assert batches(2) == full[2:]
    assert batches(len(full)) == []


def test_breaking_out_releases_the_spool(made, tmp_path):
    repo, remote, _ = made
    stream = casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", batch_size=2,
                          cache_root=tmp_path, cache_budget=10**6, flavour=FLAVOUR)
    for _frame, paths in stream:
        assert os.path.exists(paths[0])
        break
    stream.close()
    assert os.listdir(tmp_path / ".streams") == []
    assert not stream._thread.is_alive()


def test_budget_from_a_remote_is_never_exceeded(made, tmp_path):
    repo, remote, src = made
    size = (src / "audio/000/000000.wav").stat().st_size
    budget = 3 * size + 100
    stream = casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", batch_size=2,
                          cache_root=tmp_path, cache_budget=budget, prefetch=3)
    peak = 0
    for frame, paths in stream:
        spool = tmp_path / ".streams"
        on_disk = {os.stat(p).st_ino: os.stat(p).st_size for d in spool.iterdir()
                   for p in d.rglob("*") if p.is_file()}
        peak = max(peak, sum(on_disk.values()))
        for file, path in zip(frame.index, paths, strict=True):
            assert Path(path).read_bytes() == (src / file).read_bytes()
    assert 0 < peak <= budget and stream.peak_bytes <= budget
    # nothing fetched into the remote's object cache: the budget's files were all released
    caches = list((tmp_path / ".remotes").glob("*/blobs/*/*"))
    assert caches == []


def test_arrays_with_a_budget_smaller_than_a_batch(made, tmp_path):
    repo, remote, _ = made
    want = {f: a.array for frame, audio in casdb.stream(
        "d", "1.0.0", repo=repo, tables="emotion", batch_size=11, audio="arrays",
        cache_root=tmp_path / "a") for f, a in zip(frame.index, audio, strict=True)}
    stream = casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", batch_size=11,
                          audio="arrays", cache_root=tmp_path / "b", cache_budget=25_000)
    got = {f: a.array for frame, audio in stream for f, a in zip(frame.index, audio,
                                                                   strict=True)}
    assert got.keys() == want.keys()
    for f in want:
        np.testing.assert_array_equal(got[f], want[f])
    assert stream.peak_bytes <= 25_000


def test_without_a_budget_blobs_stay_for_the_next_epoch(made, tmp_path):
    _, remote, _ = made
    list(casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", batch_size=4,
                      cache_root=tmp_path))
    assert len(list((tmp_path / ".remotes").glob("*/blobs/*/*"))) == 11


def test_stream_from_s3(made, tmp_path, s3_url):
    repo, _, src = made
    repo.remote_add("s3", s3_url)
    repo.push("s3")
    stream = casdb.stream("d", "1.0.0", repo=s3_url, tables="emotion", batch_size=4,
                          shuffle=True, seed=2, cache_root=tmp_path, cache_budget=200_000)
    files = []
    for frame, paths in stream:
        for file, path in zip(frame.index, paths, strict=True):
            assert Path(path).read_bytes() == (src / file).read_bytes()
            files.append(file)
    assert sorted(files) == sorted(repo.snapshot("d").table("emotion").index)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"batch_size": -3}, "batch_size must be a positive integer"),
    ({"batch_size": True}, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer"),
    ({"shard": (2, 2)}, "the index must be in 0..count-1"),
    ({"shard": (0, 0)}, "the index must be in 0..count-1"),
    ({"shard": 3}, "shard must be (index, count)"),
    ({"audio": "tensors"}, "audio must be one of paths, arrays, none"),
    ({"prefetch": -1}, "prefetch must be 0 or more"),
    ({"cache_budget": 0}, "cache_budget must be a positive number of bytes"),
    ({"start": -1}, "start must be a batch index"),
    ({"tables": "speaker"}, "is a misc table"),
])
def test_bad_arguments_are_invalid_input(made, tmp_path, kwargs, message):
    repo, _, _ = made
    args = {"tables": "emotion", **kwargs}
    with pytest.raises(casdb.InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        casdb.stream("d", "1.0.0", repo=repo, cache_root=tmp_path, **args)
    assert not (tmp_path / ".streams").exists() or not os.listdir(tmp_path / ".streams")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tables": "emotions"}, "no table 'emotions'"),
    ({"version": "9.9.9"}, "9.9.9"),
    ({"media": "nothing-matches"}, "no media"),
])
def test_unknown_names_are_not_found(made, tmp_path, kwargs, message):
    repo, _, _ = made
    args = {"version": "1.0.0", "tables": "emotion", **kwargs}
    with pytest.raises(casdb.NotFound, match=message):
        casdb.stream("d", repo=repo, cache_root=tmp_path, **args)


def test_a_budget_smaller_than_one_file(made, tmp_path):
    _, remote, _ = made
    for audio in ("arrays", "paths"):
        with pytest.raises(casdb.InvalidInput, match="cache_budget"):
            casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", audio=audio,
                         batch_size=1, cache_root=tmp_path, cache_budget=1000)


def test_a_batch_larger_than_the_budget_names_the_way_out(made, tmp_path):
    _, remote, _ = made
    with pytest.raises(casdb.InvalidInput, match="lower batch_size"):
        casdb.stream("d", "1.0.0", repo=str(remote), tables="emotion", batch_size=8,
                     cache_root=tmp_path, cache_budget=30_000)


def test_a_stream_is_iterated_once(made, tmp_path):
    repo, _, _ = made
    stream = casdb.stream("d", "1.0.0", repo=repo, tables="emotion", audio="none",
                          cache_root=tmp_path)
    list(stream)
    with pytest.raises(casdb.InvalidInput, match="iterated once"):
        list(stream)


def test_a_damaged_blob_in_the_store_is_refused(tmp_path):
    repo = casdb.Repository.init(tmp_path / "r")
    src = make_dataset(tmp_path / "src", files=3, duration=0.2)
    repo.commit(src, dataset="d", version="1.0.0")
    blob = repo.snapshot("d").media().loc["audio/000/000001.wav", "blob"]
    path = repo.store.blob_path(blob)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(casdb.IntegrityError, match="damaged"):
        list(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", cache_root=tmp_path / "c"))


def test_corrupt_bytes_on_a_remote_are_refused(tmp_path):
    repo = casdb.Repository.init(tmp_path / "r")
    src = make_dataset(tmp_path / "src", files=3, duration=0.2)
    repo.commit(src, dataset="d", version="1.0.0")
    repo.remote_add("o", str(tmp_path / "remote"), audio_codec="none")  # raw bytes searched
    repo.push("o")
    needle = (src / "audio/000/000002.wav").read_bytes()[-64:]
    (held,) = files_holding(tmp_path / "remote", needle)
    data = bytearray(held.read_bytes())
    data[data.index(needle) + 10] ^= 0xFF
    os.chmod(held, 0o644)
    held.write_bytes(bytes(data))
    with pytest.raises(casdb.IntegrityError, match="arrived corrupt"):
        list(casdb.stream("d", "1.0.0", repo=str(tmp_path / "remote"), tables="emotion",
                          cache_root=tmp_path / "c", cache_budget=10**6))
    assert os.listdir(tmp_path / "c" / ".streams") == []


def test_spools_of_dead_processes_are_removed(made, tmp_path):
    repo, _, _ = made
    dead = tmp_path / ".streams" / "999999999-abc"
    (dead / "x").mkdir(parents=True)
    list(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", audio="none",
                      cache_root=tmp_path))
    assert not dead.exists()


# -- random access on casdb.Dataset ------------------------------------------------------------


def test_random_access_fetches_only_the_file_asked_for(made, tmp_path):
    _, remote, src = made
    ds = casdb.load("d", "1.0.0", repo=str(remote), only_metadata=True, cache_root=tmp_path,
                    flavour=FLAVOUR)
    assert ds.rows() == 11 and ds.rows("segments") == 11
    row, audio = ds.item(4)
    assert row.name == "audio/000/000004.wav" or row.name.endswith("audio/000/000004.wav")
    assert audio.sampling_rate == 8000 and audio.array.shape == (1, 2400)
    fetched = list((tmp_path / ".remotes").glob("*/blobs/*/*"))
    assert len(fetched) == 1  # that file's blob, nothing else
    full = casdb.load("d", "1.0.0", repo=str(remote), cache_root=tmp_path / "full",
                      flavour=FLAVOUR)
    want, _ = sf.read(full.root / "audio/000/000004.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(audio.array, want.T)


def test_random_access_of_segments_and_folder_files(made, tmp_path):
    repo, _, src = made
    ds = casdb.load("d", "1.0.0", repo=repo, cache_root=tmp_path)
    row, audio = ds.item(-1, "segments")
    full, rate = sf.read(src / "audio/000/000010.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(audio.array, full[:round(0.1 * rate)].T)
    # a file by its path in the folder, or by its path in the version
    by_local = ds.audio(ds.files[0])
    by_name = ds.audio("audio/000/000000.wav", start=0.1)
    np.testing.assert_array_equal(by_local.array[:, round(0.1 * rate):], by_name.array)


def test_a_dataset_pickles_and_reopens_its_repository(made, tmp_path):
    _, remote, _ = made
    ds = casdb.load("d", "1.0.0", repo=str(remote), only_metadata=True, cache_root=tmp_path)
    ds.item(0)
    again = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(again.item(1)[1].array, ds.item(1)[1].array)


def test_random_access_refuses_bad_input(made, tmp_path):
    repo, _, _ = made
    ds = casdb.load("d", "1.0.0", repo=repo, only_metadata=True, cache_root=tmp_path)
    with pytest.raises(casdb.InvalidInput, match="out of range"):
        ds.item(11)
    with pytest.raises(casdb.InvalidInput, match="out of range"):
        ds.item("0")
    with pytest.raises(casdb.InvalidInput, match="misc table"):
        ds.item(0, "speaker")
    with pytest.raises(casdb.NotFound, match="no table"):
        ds.rows("emotions")
    with pytest.raises(casdb.NotFound, match="not a media file"):
        ds.audio("audio/nope.wav")
    alone = casdb.Dataset(ds.root)
    with pytest.raises(casdb.NotFound, match="no repository to fetch it from"):
        alone.audio("audio/000/000000.wav")


def test_streaming_keeps_the_stores_fingerprints_valid(made, tmp_path):
    """A stream names files by symbolic links: the blobs' ctime, and so their fingerprints,
    stay as they were, and the next check needs no re-hash."""
    repo, _, _ = made
    list(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", cache_root=tmp_path))
    blobs = list(repo.snapshot("d").media()["blob"])
    list(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", cache_root=tmp_path))
    check = repo.store.verifier()
    assert repo.store.check_blobs(blobs, check) == [] and check.rehashed == 0


def test_purged_files_are_left_out(tmp_path):
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(make_dataset(tmp_path / "src", files=4, duration=0.1), dataset="d",
                version="1.0.0")
    repo.purge("d", ["audio/000/000002.wav"], "consent withdrawn")
    rows = _rows(casdb.stream("d", "1.0.0", repo=repo, tables="emotion", cache_root=tmp_path))
    assert rows == ["audio/000/000000.wav", "audio/000/000001.wav", "audio/000/000003.wav"]
    ds = casdb.load("d", "1.0.0", repo=repo, only_metadata=True, cache_root=tmp_path / "c")
    with pytest.raises(casdb.NotFound, match="purged"):
        ds.audio("audio/000/000002.wav")


def _wav_bytes(tmp: Path) -> bytes:
    path = tmp / "x.wav"
    sf.write(path, np.linspace(-0.5, 0.5, 400, dtype="float32"), 8000, subtype="PCM_16")
    return path.read_bytes()


@settings(max_examples=examples(150), deadline=None)
@given(data=st.data())
def test_decoding_fuzzed_bytes_is_audio_or_invalid_dataset(tmp_path_factory, data):
    """What a stream or random access decodes comes from the store (hash checked, but committed
    by anyone): damaged WAV bytes decode or raise InvalidDataset, nothing else."""
    from casdb.checkouts.fetching import decode
    from casdb.testing.fuzz import damaged

    tmp = tmp_path_factory.mktemp("fuzz")
    blob = data.draw(damaged([_wav_bytes(tmp)]))
    path = tmp / "f.wav"
    path.write_bytes(blob)
    start = data.draw(st.one_of(st.none(), st.floats(0, 0.1)))
    try:
        audio = decode(str(path), start, None)
    except casdb.InvalidDataset as exc:
        assert "\n" not in str(exc)
    else:
        assert audio.array.dtype == np.float32 and audio.array.ndim == 2


def test_undecodable_media_are_an_error_at_their_batch(tmp_path):
    src = make_dataset(tmp_path / "src", files=3, duration=0.1)
    (src / "audio/000/000001.wav").write_bytes(b"RIFF not really a wave file")
    repo = casdb.Repository.init(tmp_path / "r")
    repo.commit(src, dataset="d", version="1.0.0", allow_undecodable=True)
    for flavour in (None, FLAVOUR):
        stream = casdb.stream("d", "1.0.0", repo=repo, tables="emotion", batch_size=1,
                              audio="arrays", flavour=flavour, cache_root=tmp_path / "c")
        got = []
        with pytest.raises(casdb.InvalidDataset, match="000001.wav"):
            for frame, _audio in stream:
                got.append(frame.index[0])
        assert got == ["audio/000/000000.wav"]  # the batch before it arrived
        assert os.listdir(tmp_path / "c" / ".streams") == []
