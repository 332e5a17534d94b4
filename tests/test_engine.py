"""The engine of the heavy loops: the built-in pools or a Dask cluster (docs/scale.md).

The cluster tests start a real ``distributed.LocalCluster`` (2 single-threaded worker
processes) once for the module; they are slow-marked (the cluster start alone costs seconds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import casdb
from casdb.api import Repository
from casdb.core.config import Config
from casdb.core.engine import open_engine, parse_engine
from casdb.core.errors import EngineError, InvalidInput
from casdb.testing.cli import run_casdb
from casdb.testing.dask import closed_port, local_cluster, worker_pids
from casdb.testing.synth import make_dataset

FLAVOUR = {"sampling_rate": 16000, "mixdown": True}


def digests(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every audio file under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.wav"))}


def content(repo, commit_id: str):
    """The commit object without its time (the only field two commits of the same folder made
    in different seconds differ in): tree, header, tables, media index, parents, author."""
    return dataclasses.replace(repo.store.get(commit_id, "commit"), time=0)


def listing(repo: Path) -> list[str]:
    """Every file under the repository (what a failed run must not have added to)."""
    return sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())


# -- quick: spellings, the lazy import, an unreachable scheduler ------------------------------


def test_import_casdb_does_not_import_dask():
    code = ("import sys, casdb, casdb.api, casdb.core.engine\n"
            "casdb.load; casdb.Repository\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    helped = subprocess.run([sys.executable, "-X", "importtime", "-c",
                             "from casdb.cli import main; main(['--help'])"],
                            capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "casdb.cli" in helped.stderr and "Usage" in helped.stdout
    assert "distributed" not in helped.stderr and " dask" not in helped.stderr


@pytest.mark.parametrize("spec", ["dask:/x", "spark://h:1", "dask://h", "dask://h:0",
                                  "dask://h:70000", "dask://:8786", "tcp://h:1", "dask://h:1/x",
                                  "thread", 3])
def test_bad_spellings_are_invalid_input(spec, tmp_path):
    with pytest.raises(InvalidInput):
        parse_engine(spec)
    repo = Repository.init(tmp_path / "r")
    src = make_dataset(tmp_path / "src", files=1, duration=0.1)
    with pytest.raises(InvalidInput):
        repo.commit(src, dataset="d", version="1.0.0", engine=spec)
    assert repo.datasets() == []


@given(st.text(max_size=40) | st.builds("dask://{}:{}".format, st.text(max_size=12),
                                          st.integers(-5, 70000)))
def test_any_spelling_is_an_address_or_invalid_input(spec):
    try:
        address = parse_engine(spec)
    except InvalidInput as exc:
        assert "\n" not in str(exc)
        return
    assert address is None or (address.startswith("tcp://") and spec.strip().startswith("dask://"))


def test_spellings_that_are_accepted():
    assert parse_engine(None) is None and parse_engine("threads") is None
    assert parse_engine(" local ") is None
    assert parse_engine("dask://sched.lab:8786") == "tcp://sched.lab:8786"
    assert parse_engine("dask://[::1]:8786") == "tcp://[::1]:8786"


def test_engine_in_config_file_is_checked(tmp_path):
    assert Config.parse(b"engine: dask://h:8786\n").engine == "dask://h:8786"
    with pytest.raises(InvalidInput, match="engine"):
        Config.parse(b"engine: spark://h:1\n")
    with pytest.raises(InvalidInput, match="engine"):
        Config.parse(b"engine: [1]\n")


def test_unreachable_scheduler_is_one_line_and_stores_nothing(tmp_path):
    repo_path = tmp_path / "r"
    repo = Repository.init(repo_path)
    src = make_dataset(tmp_path / "src", files=3, duration=0.1)
    before = listing(repo_path)
    engine = f"dask://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler") as info:
        repo.commit(src, dataset="d", version="1.0.0", engine=engine)
    assert time.monotonic() - started < 20
    assert "\n" not in str(info.value)
    assert listing(repo_path) == before and repo.datasets() == []
    done = run_casdb("commit", str(src), "-d", "d", "-v", "1.0.0", "--engine", engine,
                     repo=repo_path)
    assert done.returncode == EngineError.exit_code == 9
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot reach the Dask scheduler" in done.stderr
    assert listing(repo_path) == before
    bad = run_casdb("commit", str(src), "-d", "d", "--engine", "spark://x:1", repo=repo_path)
    assert bad.returncode == InvalidInput.exit_code and "Traceback" not in bad.stderr


def test_environment_names_the_engine(tmp_path, monkeypatch):
    repo = Repository.init(tmp_path / "r")
    src = make_dataset(tmp_path / "src", files=1, duration=0.1)
    monkeypatch.setenv("CASDB_ENGINE", f"dask://127.0.0.1:{closed_port()}")
    with pytest.raises(EngineError):
        repo.commit(src, dataset="d", version="1.0.0")
    # an explicit engine wins over the environment
    assert repo.commit(src, dataset="d", version="1.0.0", engine="threads").files == 1


def test_unreachable_scheduler_on_checkout_writes_no_folder(tmp_path):
    repo = Repository.init(tmp_path / "r")
    repo.commit(make_dataset(tmp_path / "src", files=2, duration=0.1), dataset="d",
                version="1.0.0")
    cache = tmp_path / "cache"
    with pytest.raises(EngineError):
        casdb.load("d", "1.0.0", repo=repo, cache_root=cache, flavour=FLAVOUR,
                   engine=f"dask://127.0.0.1:{closed_port()}")
    assert not (cache / "d").exists() and not (cache / ".derived").exists()


# -- a real LocalCluster -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(workers=2) as (running, address):
        yield running, address


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A repository with one version of 48 stereo 48 kHz files, and its source folder."""
    base = tmp_path_factory.mktemp("corpus")
    src = make_dataset(base / "src", files=48, duration=1.0, sampling_rate=48000, channels=2)
    repo = Repository.init(base / "repo")
    repo.commit(src, dataset="d", version="1.0.0")
    return repo, src


@pytest.mark.slow
def test_commit_on_dask_gives_the_same_ids(cluster, corpus, tmp_path):
    _, address = cluster
    _, src = corpus
    threads_repo = Repository.init(tmp_path / "threads")
    threads = threads_repo.commit(src, dataset="d", version="1.0.0", engine="threads")
    dask_repo = Repository.init(tmp_path / "dask")
    on_dask = dask_repo.commit(src, dataset="d", version="1.0.0", engine=address)
    assert content(dask_repo, on_dask.id) == content(threads_repo, threads.id)
    assert on_dask.id == threads.id or threads_repo.store.get(threads.id, "commit").time != \
        dask_repo.store.get(on_dask.id, "commit").time
    assert on_dask.new_files == threads.new_files == 48
    assert not list((tmp_path / "dask" / "tmp").iterdir())  # every copy adopted
    assert casdb.fsck(repo=dask_repo).ok
    # a re-commit after touching one file: the stat cache skips the rest
    (src / "db.yaml").touch()
    again = dask_repo.commit(src, dataset="d", version="1.0.1", engine=address)
    assert again.new_files == 0


@pytest.mark.slow
def test_conversion_on_dask_is_identical(cluster, corpus, tmp_path):
    _, address = cluster
    repo, _ = corpus
    local = casdb.load("d", "1.0.0", repo=repo, cache_root=tmp_path / "a", flavour=FLAVOUR)
    remote = casdb.load("d", "1.0.0", repo=repo, cache_root=tmp_path / "b", flavour=FLAVOUR,
                        engine=address)
    assert digests(local.root) == digests(remote.root) and len(digests(local.root)) == 48


@pytest.mark.slow
def test_client_object_is_used_and_left_open(cluster, corpus, tmp_path):
    from distributed import Client

    running, _ = cluster
    repo, _ = corpus
    with Client(running, set_as_default=False) as client:
        out = casdb.checkout("d", "1.0.0", tmp_path / "dest", repo=repo,
                             cache_root=tmp_path / "cache", flavour={"sampling_rate": 8000},
                             engine=client)
        assert out.converted == 48
        assert client.status == "running"
        with open_engine(client) as engine:
            assert engine.client is client


@pytest.mark.slow
def test_cli_with_a_dask_engine(cluster, corpus, tmp_path):
    _, address = cluster
    repo, src = corpus
    repo_path = tmp_path / "r"
    assert run_casdb("init", str(repo_path)).returncode == 0
    done = run_casdb("commit", str(src), "-d", "d", "-v", "1.0.0", "--engine", address,
                     repo=repo_path)
    assert done.returncode == 0, done.stderr
    assert content(Repository(repo_path), done.stdout.splitlines()[0]) == content(
        repo, repo.resolve("d", "1.0.0"))
    out = run_casdb("checkout", "d@1.0.0", str(tmp_path / "dest"), "--sampling-rate", "16000",
                    "--mixdown", "--cache", str(tmp_path / "cache"), "--engine", address,
                    repo=repo_path)
    assert out.returncode == 0, out.stderr
    local = casdb.load("d", "1.0.0", repo=repo, cache_root=tmp_path / "c", flavour=FLAVOUR)
    assert digests(tmp_path / "dest") == digests(local.root)


@pytest.mark.slow
def test_worker_killed_mid_conversion(cluster, tmp_path):
    from distributed import Client

    running, address = cluster
    src = make_dataset(tmp_path / "src", files=160, duration=2.0, sampling_rate=48000,
                       channels=2)
    repo = Repository.init(tmp_path / "repo")
    repo.commit(src, dataset="k", version="1.0.0")
    expected = digests(casdb.load("k", "1.0.0", repo=repo, cache_root=tmp_path / "a",
                                  flavour=FLAVOUR).root)
    with Client(running, set_as_default=False) as client:
        pids = worker_pids(client)
        assert len(pids) == 2
        derived = tmp_path / "b" / ".derived"
        killed: list[int] = []

        def kill_when_started() -> None:
            # once some files are in place, kill one worker (its nanny starts a new one)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if derived.exists() and sum(1 for p in derived.rglob("*") if p.is_file()) >= 16:
                    victim = sorted(pids.values())[0]
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        out = casdb.load("k", "1.0.0", repo=repo, cache_root=tmp_path / "b", flavour=FLAVOUR,
                         engine=client)
        killer.join()
        assert killed, "the conversion finished before a worker could be killed"
        assert digests(out.root) == expected and len(expected) == 160
        client.wait_for_workers(2, timeout=60)
        assert killed[0] not in worker_pids(client).values()
    # nothing half-written is left in the derived store's folders
    leftovers = [p for p in (tmp_path / "b" / ".derived").rglob("*")
                 if p.is_file() and "." in p.name]
    assert leftovers == []
