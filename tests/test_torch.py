"""casdb.torch: a map-style and an iterable PyTorch dataset over a version, read through
DataLoader workers (real processes) and simulated distributed ranks."""

from __future__ import annotations

import os
import pickle
from collections import Counter

import numpy as np
import pytest

import casdb
from casdb.api import Repository
from casdb.testing.synth import make_dataset

torch = pytest.importorskip("torch")
ctorch = pytest.importorskip("casdb.torch")
DataLoader = torch.utils.data.DataLoader

FLAVOUR = {"sampling_rate": 8000}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Repository:
    tmp = tmp_path_factory.mktemp("torch")
    repo = Repository.init(tmp / "repo")
    repo.commit(make_dataset(tmp / "src", files=8, duration=0.05, sampling_rate=16000,
                             channels=2),
                dataset="synth", version="1.0.0")
    return repo


@pytest.fixture(scope="module")
def expected(published, tmp_path_factory):
    """The table and the checked-out files in the flavour, read by soundfile."""
    import soundfile as sf

    ds = casdb.load("synth", "1.0.0", repo=published, flavour=FLAVOUR, full_path=False,
                    cache_root=tmp_path_factory.mktemp("plain"))
    table = ds["emotion"].get()
    audio = {}
    for file in table.index:
        array, rate = sf.read(os.path.join(ds.root, file), dtype="float32", always_2d=True)
        audio[file] = (array.T, rate)
    return table, audio


def _check(sample, table, audio):
    file = sample["file"]
    row = table.loc[file]
    assert sample["emotion"] == row["emotion"] and sample["speaker"] == row["speaker"]
    assert sample["confidence"] == pytest.approx(row["confidence"])
    array, rate = audio[file]
    assert sample["sampling_rate"] == rate == 8000
    assert sample["audio"].dtype == torch.float32 and tuple(sample["audio"].shape) == array.shape
    np.testing.assert_allclose(sample["audio"].numpy(), array, atol=1e-6)


def _unbatched(loader):
    """The samples of a DataLoader (batch_size=None: one sample per item)."""
    return list(loader)


def test_map_dataset_through_two_workers_gives_every_row_once(published, expected, tmp_path):
    table, audio = expected
    data = ctorch.MapDataset("synth", "1.0.0", repo=published, flavour=FLAVOUR,
                             cache_root=tmp_path)
    assert len(data) == len(table)
    samples = _unbatched(DataLoader(data, batch_size=None, shuffle=True, num_workers=2))
    assert Counter(s["file"] for s in samples) == Counter(table.index)
    for sample in samples:
        _check(sample, table, audio)
    # batches with the default collate (the files have one length)
    batch = next(iter(DataLoader(data, batch_size=4)))
    assert tuple(batch["audio"].shape) == (4, 2, 400) and len(batch["emotion"]) == 4


def test_map_dataset_pickles_and_transforms(published, expected, tmp_path):
    table, audio = expected
    data = ctorch.MapDataset("synth", "1.0.0", repo=published, flavour=FLAVOUR,
                             cache_root=tmp_path, transform=lambda s: (s["audio"].mean(), s))
    again = pickle.loads(pickle.dumps(ctorch.MapDataset(
        "synth", "1.0.0", repo=published, flavour=FLAVOUR, cache_root=tmp_path)))
    _check(again[-1], table, audio)
    mean, sample = data[3]
    assert mean == sample["audio"].mean()
    _check(sample, table, audio)


def test_map_dataset_of_a_segmented_table_gives_the_segment(published, tmp_path):
    data = ctorch.MapDataset("synth", "1.0.0", repo=published, table="segments",
                             flavour=FLAVOUR, cache_root=tmp_path)
    sample = data[0]
    assert (sample["start"], sample["end"]) == (0.0, 0.1)
    assert tuple(sample["audio"].shape) == (2, 400)  # 0.1 s asked; the file holds 0.05 s


def test_iterable_dataset_through_two_workers_gives_every_row_once(published, expected,
                                                                   tmp_path):
    table, audio = expected
    # with a budget: the converted files are released once consumed
    data = ctorch.IterableDataset("synth", "1.0.0", repo=published, flavour=FLAVOUR,
                                  batch_size=3, cache_root=tmp_path, cache_budget=1 << 20)
    assert data.rows == len(table)
    samples = _unbatched(DataLoader(data, batch_size=None, num_workers=2))
    assert Counter(s["file"] for s in samples) == Counter(table.index)
    for sample in samples:
        _check(sample, table, audio)
    # workers started by spawn or forkserver get the dataset pickled
    again = pickle.loads(pickle.dumps(data))
    assert sorted(s["file"] for s in again) == sorted(table.index)


def test_two_ranks_of_two_workers_partition_the_rows(published, expected, tmp_path):
    table, _ = expected
    seen = []
    for rank in (0, 1):
        data = ctorch.IterableDataset("synth", "1.0.0", repo=published, flavour=FLAVOUR,
                                      rank=rank, world_size=2, batch_size=2, seed=5, epoch=1,
                                      cache_root=tmp_path)
        seen.append([s["file"] for s in DataLoader(data, batch_size=None, num_workers=2)])
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert Counter(seen[0] + seen[1]) == Counter(table.index)


def test_order_is_a_function_of_seed_and_epoch(published, tmp_path):
    def order(seed, epoch, **kw):
        data = ctorch.IterableDataset("synth", "1.0.0", repo=published, seed=seed,
                                      cache_root=tmp_path, **kw)
        data.set_epoch(epoch)
        return [s["file"] for s in data]

    first = order(1, 0)
    assert order(1, 0) == first
    assert order(1, 1) != first and sorted(order(1, 1)) == sorted(first)
    assert order(2, 0) != first
    plain = order(1, 0, shuffle=False)
    assert plain == sorted(plain)


def test_rank_comes_from_the_environment(published, tmp_path, monkeypatch):
    data = ctorch.IterableDataset("synth", "1.0.0", repo=published, cache_root=tmp_path)
    assert data.shard() == (0, 1)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert data.shard() == (2, 3)
    files = [s["file"] for s in data]
    assert 0 < len(files) < data.rows
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(casdb.InvalidInput, match="rank"):
        data.shard()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(casdb.InvalidInput, match="RANK"):
        list(data)


def test_bad_input_is_a_one_line_casdb_error(published, tmp_path):
    kw = {"repo": published, "cache_root": tmp_path}
    bad = [
        (ctorch.IterableDataset, dict(batch_size=0), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(batch_size=-2), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(rank=2, world_size=2), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(rank=-1, world_size=2), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(rank=0, world_size=0), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(rank=0), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(epoch=-1), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(seed=1.5), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(shuffle="yes"), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(cache_budget=0), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(prefetch=-1), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(table="speaker"), casdb.InvalidInput),
        (ctorch.IterableDataset, dict(table="nope"), casdb.NotFound),
        (ctorch.MapDataset, dict(table="nope"), casdb.NotFound),
        (ctorch.MapDataset, dict(table="speaker"), casdb.InvalidInput),
        (ctorch.MapDataset, dict(table=["emotion"]), casdb.InvalidInput),
        (ctorch.MapDataset, dict(transform=3), casdb.InvalidInput),
        (ctorch.MapDataset, dict(version="9.9.9"), casdb.NotFound),
    ]
    for cls, extra, error in bad:
        args = {"version": "1.0.0", **kw, **extra}
        with pytest.raises(error) as info:
            cls("synth", args.pop("version"), **args)
        assert "\n" not in str(info.value), (cls, extra)
    data = ctorch.MapDataset("synth", "1.0.0", **kw)
    for index in (8, -9, 100):
        with pytest.raises(IndexError) as info:
            data[index]
        assert isinstance(info.value, casdb.InvalidInput) and "\n" not in str(info.value)
    with pytest.raises(casdb.InvalidInput):
        data["0"]
    stream = ctorch.IterableDataset("synth", "1.0.0", **kw)
    with pytest.raises(casdb.InvalidInput):
        stream.set_epoch(-1)


class _Converting(torch.utils.data.Dataset):
    """Each item loads the version in a flavour: several conversions in a DataLoader worker."""

    def __init__(self, repo, root):
        self.repo, self.root = repo, root

    def __len__(self):
        return 1

    def __getitem__(self, index):
        ds = casdb.load("synth", "1.0.0", repo=self.repo, flavour={"sampling_rate": 4000},
                        cache_root=self.root)
        return len(ds.files)


def test_a_dataloader_worker_converts_a_flavour(published, tmp_path):
    # a DataLoader worker is a daemonic process, which may not start a process pool
    loader = DataLoader(_Converting(published, tmp_path), batch_size=None, num_workers=1)
    assert list(loader) == [8]


def _rank_files(rank, store, repo, cache, queue):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        data = ctorch.IterableDataset("synth", "1.0.0", repo=repo, cache_root=cache, seed=3)
        loader = DataLoader(data, batch_size=None, num_workers=2)
        queue.put((rank, data.shard(), [s["file"] for s in loader]))
    finally:
        dist.destroy_process_group()


def test_ranks_of_an_initialised_process_group_partition_the_rows(published, expected,
                                                                   tmp_path):
    import multiprocessing

    table, _ = expected
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [context.Process(target=_rank_files,
                             args=(rank, tmp_path / "store", str(published.path),
                                   tmp_path / f"cache{rank}", queue))
             for rank in (0, 1)]
    for p in procs:
        p.start()
    got = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert [shard for _, shard, _ in got] == [(0, 2), (1, 2)]  # from the group, not the env
    files = [f for _, _, found in got for f in found]
    assert got[0][2] and got[1][2] and Counter(files) == Counter(table.index)


def test_the_version_is_pinned_when_the_dataset_is_built(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    repo.commit(make_dataset(tmp_path / "a", files=3, duration=0.02), dataset="d",
                version="1.0.0")
    data = ctorch.IterableDataset("d", repo=repo, cache_root=tmp_path / "c")
    repo.commit(make_dataset(tmp_path / "b", files=5, duration=0.02, seed=1), dataset="d",
                version="2.0.0")
    assert data.version == "1.0.0" and len(list(data)) == 3
    assert len(list(ctorch.IterableDataset("d", repo=repo, cache_root=tmp_path / "c"))) == 5
