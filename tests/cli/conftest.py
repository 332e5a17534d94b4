"""Fixtures for the CLI tests (tests/cli/): the repository most of them start from."""

from __future__ import annotations

import pytest

from casdb.api import Repository
from casdb.testing.files import age
from casdb.testing.synth import make_dataset


@pytest.fixture
def published(tmp_path) -> Repository:
    """synth 1.0.0: 12 files (as tests/test_remote.py's ``published``, whose CLI test counts
    them; the CLI tests from test_verified.py and test_placement_attacks.py need any version)."""
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=12, duration=0.2, sampling_rate=8000)
    age(src)
    repo.commit(src, dataset="synth", version="1.0.0")
    return repo
