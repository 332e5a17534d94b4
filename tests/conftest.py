"""Shared fixtures: repositories, synthetic datasets, and ways to run the CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from casdb.api import Repository
from casdb.testing.files import age
from casdb.testing.profiles import load_profile
from casdb.testing.synth import make_dataset

load_profile()  # dev, or $HYPOTHESIS_PROFILE (ci): before the test modules read it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts SeaweedFS (directly or through s3_env / s3_url) ``s3``."""
    for item in items:
        if "seaweed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.s3)


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
