"""The public API: one function per CLI command, one argument order, result types exported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import casdb
from casdb.api import Repository
from casdb.testing.synth import make_dataset

CLI = Path(casdb.__file__).parent / "cli"


@pytest.fixture
def published(tmp_path) -> Repository:
    repo = Repository.init(tmp_path / "repo")
    repo.commit(make_dataset(tmp_path / "src", files=3, duration=0.1, sampling_rate=8000),
                dataset="synth", version="1.0.0")
    return repo


def test_every_public_name_resolves_and_import_stays_light():
    for name in casdb.__all__:
        assert getattr(casdb, name) is not None, name
    code = ("import sys, casdb; print(sorted(m for m in ('pandas', 'pyarrow', 'soundfile') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_commands_call_only_public_functions():
    """No command module reaches into the machinery for what the API offers."""
    internal = {"casdb.maintenance.fsck", "casdb.maintenance.gc", "casdb.maintenance.remotegc", "casdb.checkouts.cachecheck", "casdb.history.summary",
                "casdb.checkouts.materialise"}
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in internal, f"{path.name} imports {node.module}"


def test_load_and_checkout_take_their_arguments_in_one_order(published, tmp_path):
    ds = casdb.load("synth", "1.0.0", repo=published, cache_root=tmp_path / "c")
    out = casdb.checkout("synth", "1.0.0", tmp_path / "dest", repo=published,
                         cache_root=tmp_path / "c")
    assert isinstance(out, casdb.Checkout) and sorted(p.name for p in out.path.glob("db.*")) == \
        sorted(p.name for p in Path(ds.root).glob("db.*"))
    with pytest.raises(casdb.InvalidInput):
        casdb.checkout(published, "synth")  # the old order: a repository is not a dataset name


def test_inspection_and_maintenance_functions(published, tmp_path):
    card = casdb.info("synth", "1.0.0", repo=published)
    assert isinstance(card, casdb.Summary) and card.media.files == 3
    report = casdb.fsck(repo=published)
    assert isinstance(report, casdb.FsckReport) and report.ok
    swept = casdb.gc(repo=published, grace="0s", dry_run=True)
    assert isinstance(swept, casdb.GcReport) and swept.objects == 0
    root = tmp_path / "cache"
    casdb.load("synth", "1.0.0", repo=published, cache_root=root)
    (row,) = casdb.cache_ls(cache_root=root)
    assert isinstance(row, casdb.CacheSummary) and row.files == 3
    (checked,) = casdb.cache_verify(repo=published, cache_root=root)
    assert isinstance(checked, casdb.VerifyReport) and checked.ok
    evicted = casdb.cache_evict("0", cache_root=root, dry_run=True)
    assert isinstance(evicted, casdb.Eviction) and evicted.folders == [row.path]
