"""Shared fixtures: repositories, synthetic datasets, and ways to run the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from casdb.api import Repository
from casdb.testing.files import age
from casdb.testing.profiles import load_profile
from casdb.testing.purging import SECRET
from casdb.testing.synth import make_dataset, write_audio, write_tables

collect_ignore = ["plugin_pkg"]
"""A test package (tests/test_config.py puts it on sys.path itself): collecting it for doctests
would put it on sys.path for the whole run, installing its backends for every test."""

load_profile()  # dev, or $HYPOTHESIS_PROFILE (ci): before the test modules read it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts SeaweedFS (directly or through s3_env / s3_url) ``s3``."""
    for item in items:
        if "seaweed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.s3)


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch, tmp_path_factory) -> None:
    """The config file of the machine running the tests (~/.config/casdb/config.yaml) never
    applies: tests that want one write their own (tests/test_config.py)."""
    monkeypatch.delenv("CASDB_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "no-config"))


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.init(tmp_path / "repo")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = make_dataset(tmp_path / "src", files=12, duration=0.2, sampling_rate=8000)
    age(root)
    return root


@pytest.fixture
def cli(repo: Repository):
    """Run the CLI in-process on ``repo``; returns click's Result (exit_code, stdout, stderr)."""
    from casdb.cli import cli as group

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(group, ["--repo", str(repo.path), *args], catch_exceptions=False)

    return run


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(size)``: a real tmpfs of that size (``"3m"``), unmounted at the end; skips the
    test where this machine cannot mount one (root in a container usually can)."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        path = tmp_path / f"tmpfs-{len(mounts)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """A real S3 server (SeaweedFS) for the whole session, on free ports of 127.0.0.1."""
    from casdb.testing.seaweed import SeaweedFS

    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot start SeaweedFS: {exc}")
    server.create_bucket("casdb")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_client(seaweed):
    """A boto3 client of the test server: reads and writes around the backend under test."""
    return seaweed.client()


@pytest.fixture
def s3_env(seaweed, monkeypatch):
    """The environment that points casdb at the test server (credentials as AWS variables)."""
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    return seaweed


_PREFIX = iter(range(1_000_000))


@pytest.fixture
def s3_url(s3_env) -> str:
    """A fresh, empty prefix in the test bucket."""
    return f"s3://casdb/t{os.getpid()}-{next(_PREFIX)}"


# -- repositories that several test files start from (tests/ and tests/cli/) ------------------


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A synthetic dataset of 4 short files (not aged)."""
    return make_dataset(tmp_path / "src", files=4, duration=0.1, sampling_rate=8000)


@pytest.fixture
def two_versions(repo: Repository, tmp_path: Path) -> Repository:
    """1.0.0 with 12 files; 2.0.0 adds 3 files and re-records one."""
    src = make_dataset(tmp_path / "src", files=12, duration=0.1, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    for i in range(12, 15):
        write_audio(src / f"audio/000/{i:06d}.wav", 1000 + i, 0.1, 8000, 1)
    write_audio(src / "audio/000/000003.wav", 99, 0.1, 8000, 1)
    write_tables(src, range(15), seed=1)
    age(src)
    repo.commit(src, dataset="synth", version="2.0.0")
    return repo


@pytest.fixture
def stereo(tmp_path) -> Repository:
    """synth 1.0.0: 8 stereo files at 48 kHz and a file that is not audio."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=8, duration=0.5, sampling_rate=48000, channels=2)
    (src / "notes.txt").write_text("not audio")
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo


@pytest.fixture
def small(repo, tmp_path) -> tuple[Repository, Path]:
    """The ``repo`` fixture with synth 1.0.0 (4 files), and its source folder (aged: the stat
    cache trusts it)."""
    src = make_dataset(tmp_path / "src", files=4, duration=0.2, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo, src


@pytest.fixture
def versions(tmp_path) -> Repository:
    """synth 1.0.0 .. 3.0.0 all hold SECRET; dataset copy holds the same bytes elsewhere."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=8, duration=0.3, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    for n, v in ((8, "2.0.0"), (9, "3.0.0")):
        write_audio(src / f"audio/000/{n:06d}.wav", 100 + n, 0.3, 8000, 1)
        write_tables(src, range(n + 1), seed=n)
        age(src)
        repo.commit(src, dataset="synth", version=v)
    other = tmp_path / "other"
    (other / "renamed").mkdir(parents=True)
    shutil.copy(src / SECRET, other / "renamed" / "x.wav")
    (other / "db.yaml").write_text("name: other\n")
    repo.commit(other, dataset="copy", version="1")
    return repo
