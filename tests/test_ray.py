"""casdb.ray: a version read as a Ray Dataset on a real local Ray instance (2 CPUs).

Starting Ray costs 2.5 to 4.2 s on the 2-core machine (docs/scale.md), so the tests that run
tasks are slow-marked and share one instance (a module fixture, shut down at the end). Bad
input needs no instance: :func:`casdb.ray.read` rejects it on the driver, before Ray plans
anything.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import casdb
from casdb.api import Repository
from casdb.testing.synth import make_dataset

ray = pytest.importorskip("ray")
casdb_ray = pytest.importorskip("casdb.ray")

FLAVOUR = {"sampling_rate": 8000, "mixdown": True}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A repository with synth 1.0.0 (7 files of two channels at 16 kHz) and its path."""
    base = tmp_path_factory.mktemp("ray")
    repo = Repository.init(base / "repo")
    repo.commit(make_dataset(base / "src", files=7, duration=0.15, sampling_rate=16000,
                             channels=2), dataset="synth", version="1.0.0")
    return repo.path


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module, without the dashboard, shut down at the end."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def _reference(repo: Path, cache: Path, flavour) -> casdb.Dataset:
    """The same version checked out the ordinary way, in the same flavour: what rows must match."""
    return casdb.load("synth", "1.0.0", repo=repo, flavour=flavour, cache_root=cache)


def _read_wav(path: str) -> np.ndarray:
    import soundfile

    data, _ = soundfile.read(path, dtype="float32", always_2d=True)
    return data.T  # (channels, samples), as casdb.Audio holds it


def _plain(blocks) -> list[dict]:
    """The rows of Arrow blocks (or rows already) with their arrays as lists (comparable)."""
    rows = [row for b in blocks for row in (b.to_pylist() if hasattr(b, "to_pylist") else [b])]
    return [{k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in row.items()}
            for row in rows]


def test_import_casdb_does_not_import_ray():
    code = "import sys, casdb; casdb.Flavour; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_every_row_once_with_its_labels_and_audio_in_the_flavour(published, local_ray, tmp_path):
    ds = casdb_ray.read("synth", "1.0.0", repo=published, table="emotion", flavour=FLAVOUR,
                        cache_root=tmp_path / "cache", batch_size=2, override_num_blocks=3)
    rows = ds.take_all()
    ref = _reference(published, tmp_path / "ref", FLAVOUR)
    table = ref["emotion"].get()  # full paths: the reference's own folder
    expected = {os.path.relpath(f, ref.root): row for f, row in table.iterrows()}
    assert Counter(r["file"] for r in rows) == Counter(dict.fromkeys(expected, 1))
    for r in rows:
        want = expected[r["file"]]
        assert [r[c] for c in table.columns] == [want[c] for c in table.columns], r["file"]
        assert r["sampling_rate"] == 8000
        audio = np.asarray(r["audio"])
        assert audio.dtype == np.float32 and audio.shape[0] == 1  # mixed down
        np.testing.assert_array_equal(audio, _read_wav(os.path.join(ref.root, r["file"])))


@pytest.mark.slow
def test_segments_and_the_media_files(published, local_ray, tmp_path):
    segments = casdb_ray.read("synth", "1.0.0", repo=published, table="segments",
                              cache_root=tmp_path / "cache", override_num_blocks=2).take_all()
    ref = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "ref")
    expected = Counter((os.path.relpath(f, ref.root), s, e) for f, s, e in
                       ref["segments"].get().index)
    assert Counter((r["file"], r["start"], r["end"]) for r in segments) == expected
    for r in segments:  # the row's segment only, at the original 16 kHz, both channels
        seconds = (r["end"] - r["start"]).total_seconds()
        audio = np.asarray(r["audio"])
        assert audio.shape[0] == 2 and abs(audio.shape[1] - seconds * 16000) <= 1
    files = casdb_ray.read("synth", "1.0.0", repo=published, audio="paths",
                           cache_root=tmp_path / "cache").take_all()
    assert sorted(r["file"] for r in files) == sorted(os.path.relpath(f, ref.root)
                                                      for f in ref.files)


@pytest.mark.slow
def test_paths_point_at_local_files_with_the_checked_out_bytes(published, local_ray, tmp_path):
    rows = casdb_ray.read("synth", "1.0.0", repo=published, table="emotion", audio="paths",
                          flavour=FLAVOUR, cache_root=tmp_path / "cache").take_all()
    ref = _reference(published, tmp_path / "ref", FLAVOUR)
    assert len(rows) == len(ref["emotion"].df) and "audio" not in rows[0]
    for r in rows:
        assert os.path.isabs(r["path"]) and os.path.isfile(r["path"])
        assert Path(r["path"]).is_relative_to(tmp_path / "cache")
        assert filecmp.cmp(r["path"], os.path.join(ref.root, r["file"]), shallow=False)


@pytest.mark.slow
def test_a_remote_is_read_by_its_url_and_a_branch_is_pinned(published, local_ray, tmp_path):
    repo = Repository(published)
    remote = tmp_path / "remote"
    repo.remote_add("shared", str(remote))
    repo.push("shared")
    spec, _, _ = casdb_ray.plan("synth", "main", repo=str(remote), table="emotion",
                                cache_root=tmp_path / "cache")
    assert spec.location == str(remote) and spec.version == "1.0.0"  # main's commit is tagged
    rows = casdb_ray.read("synth", "main", repo=str(remote), table="emotion",
                          cache_root=tmp_path / "cache").take_all()
    ref = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "ref",
                     only_metadata=True)
    assert Counter(r["file"] for r in rows) == Counter(
        os.path.relpath(f, ref.root) for f in ref["emotion"].get().index)


@pytest.mark.slow
def test_a_worker_killed_mid_task_costs_its_shard_only(published, local_ray, tmp_path):
    """Ray retries the task of a killed worker; the read gives every row once, as without."""
    from casdb.testing.rayfaults import KilledOnce

    args = {"repo": published, "table": "emotion", "flavour": FLAVOUR, "audio": "arrays",
            "cache_root": tmp_path / "cache", "batch_size": 2, "cache_budget": None}
    spec, rows, size = casdb_ray.plan("synth", "1.0.0", **args)
    marker = tmp_path / "killed"
    killed = ray.data.read_datasource(KilledOnce(spec, rows, size, marker=marker),
                                      override_num_blocks=2).take_all()
    assert marker.exists()  # the worker did die (after its first block)
    quiet = casdb_ray.read("synth", "1.0.0", **args, override_num_blocks=2).take_all()
    assert len(killed) == rows
    key = lambda r: r["file"]  # noqa: E731
    assert _plain(sorted(killed, key=key)) == _plain(sorted(quiet, key=key))


def test_a_branch_is_pinned_to_its_commit_when_the_read_is_planned(tmp_path):
    """Tasks that run after the branch moved still read the commit the driver resolved."""
    from casdb.testing.synth import write_tables

    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=3, duration=0.05, sampling_rate=8000)
    repo.commit(src, dataset="synth", version="1.0.0")
    write_tables(src, range(3), seed=1)
    planned = repo.commit(src, dataset="synth")  # main, untagged
    spec, rows, _ = casdb_ray.plan("synth", "main", repo=repo.path, table="emotion",
                                    flavour=None, audio="arrays", cache_root=tmp_path / "c",
                                    batch_size=8, cache_budget=None)
    assert spec.version == planned.id
    write_tables(src, range(3), seed=2)
    repo.commit(src, dataset="synth")  # main moves on before the tasks run
    got = {os.path.basename(r["file"]): r["emotion"]
           for r in _plain(casdb_ray.read_shard(spec, 0, 1))}

    def labels(version: str) -> dict[str, str]:
        table = casdb.load_table("synth", "emotion", version, repo=repo,
                                 cache_root=tmp_path / "ref")
        return {os.path.basename(f): str(v) for f, v in table["emotion"].items()}

    assert got == labels(planned.id)
    assert got != labels("main")  # the move did change the labels


def test_a_task_is_idempotent(published, tmp_path):
    """A retried task (same shard, same spec) yields the same blocks, without Ray."""
    spec, rows, size = casdb_ray.plan("synth", "1.0.0", repo=published, table="emotion",
                                 flavour=FLAVOUR, audio="arrays", cache_root=tmp_path / "c",
                                 batch_size=3, cache_budget=200_000)
    first = list(casdb_ray.read_shard(spec, 1, 2))
    again = list(casdb_ray.read_shard(spec, 1, 2))
    assert _plain(first) == _plain(again) and len(_plain(first)) > 0
    both = first + list(casdb_ray.read_shard(spec, 0, 2))
    assert sum(b.num_rows for b in both) == rows == 7
    # the size Ray plans its tasks by is the decoded audio (plus a little per row)
    decoded = sum(np.asarray(r["audio"], np.float32).nbytes for r in _plain(both))
    assert decoded <= size - rows * casdb_ray.PATH_ROW_BYTES <= decoded * 1.01


def test_read_tasks_partition_the_rows_as_their_metadata_says(published, tmp_path):
    """Each task holds at least a batch, and reads exactly the rows its metadata announces;
    together the tasks read every row once (called here directly, as a worker calls them)."""
    spec, rows, size = casdb_ray.plan("synth", "1.0.0", repo=published, table="segments",
                                       flavour=None, audio="arrays", cache_root=tmp_path / "c",
                                       batch_size=2, cache_budget=None)
    source = casdb_ray.CasdbDatasource(spec, rows, size)
    assert len(source.get_read_tasks(200)) == -(-rows // 2)  # not one per row
    tasks = source.get_read_tasks(3)
    assert len(tasks) == 3
    seen = Counter()
    for task in tasks:
        blocks = list(task())
        assert sum(b.num_rows for b in blocks) == task.metadata.num_rows
        seen.update((r["file"], r["start"], r["end"]) for b in blocks for r in b.to_pylist())
    assert sum(seen.values()) == rows and set(seen.values()) == {1}


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"table": "nope"}, casdb.NotFound),
    ({"version": "9.9.9"}, casdb.NotFound),
    ({"flavour": {"sampling_rate": -8000}}, casdb.InvalidInput),
    ({"flavour": {"colour": "blue"}}, casdb.InvalidInput),
    ({"flavour": "16k"}, casdb.InvalidInput),
    ({"audio": "waveforms"}, casdb.InvalidInput),
    ({"table": "speaker"}, casdb.InvalidInput),  # a misc table: no media
    ({"table": ["emotion"]}, casdb.InvalidInput),
    ({"batch_size": 0}, casdb.InvalidInput),
    ({"audio": "paths", "cache_budget": 10_000_000}, casdb.InvalidInput),
    # smaller than one converted file (a local original file takes no cache: any budget fits)
    ({"cache_budget": 100, "flavour": FLAVOUR}, casdb.InvalidInput),
    ({"cache_budget": 0}, casdb.InvalidInput),
    ({"repo": 42}, casdb.InvalidInput),
])
def test_bad_input_fails_on_the_driver(published, tmp_path, kwargs, error):
    args = {"version": "1.0.0", "repo": published, "table": "emotion",
            "cache_root": tmp_path / "cache", **kwargs}
    version = args.pop("version")
    with pytest.raises(error) as caught:
        casdb_ray.read("synth", version, **args)
    # raised by read() itself on the driver: a task's error would come wrapped by Ray
    assert not isinstance(caught.value, ray.exceptions.RayError)


def test_an_unknown_dataset_or_repository_fails_on_the_driver(published, tmp_path):
    with pytest.raises(casdb.NotFound):
        casdb_ray.read("other", repo=published, cache_root=tmp_path / "c")
    with pytest.raises(casdb.NotFound):
        casdb_ray.read("synth", repo=tmp_path / "nothing", cache_root=tmp_path / "c")
