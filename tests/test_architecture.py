"""The layering of docs/architecture.md, as the import-linter contract in pyproject.toml checks
it: the contract holds for the package, and it does catch what it is there to catch (an upward
import inside a function, a cycle between two modules of one layer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "casdb", tmp_path / "casdb",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_its_layers():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(copy):
    ids = copy / "casdb" / "core" / "ids.py"
    ids.write_text(ids.read_text() + "\n\ndef _up():\n    from casdb.checkouts import materialise\n")
    out = _lint(copy)
    assert out.returncode != 0
    assert "casdb.core.ids -> casdb.checkouts.materialise" in out.stdout


def test_a_cycle_inside_a_layer_breaks_the_contract(copy):
    placed = copy / "casdb" / "checkouts" / "placed.py"
    placed.write_text(placed.read_text() + "\n\ndef _back():\n    from casdb.checkouts import cachecheck\n")
    out = _lint(copy)
    assert out.returncode != 0
    assert "No cycles are allowed in casdb.checkouts" in out.stdout


def test_few_modules_sit_directly_in_the_package():
    top = sorted(p.name for p in (ROOT / "casdb").glob("*.py"))
    assert len(top) <= 15, top


@pytest.mark.parametrize("package", ["casdb", "casdb.api"])
def test_every_exported_name_resolves(package):
    import importlib

    module = importlib.import_module(package)
    assert set(module._LAZY) <= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_no_module_imports_another_modules_private_names():
    import ast

    found = []
    for path in sorted((ROOT / "casdb").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("casdb"):
                found += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                          for a in node.names if a.name.startswith("_")]
    assert not found


@pytest.mark.parametrize("package", ["casdb", "casdb.api"])
def test_no_exported_name_is_also_a_submodule(package):
    # Importing a submodule sets it as an attribute of its package, which would then hide an
    # exported function of the same name (casdb.api.splits, the module, hid the accessor).
    import importlib
    import pkgutil

    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    assert not set(module.__all__) & submodules


def test_the_training_adapters_may_not_reach_into_the_internals(copy):
    hf = copy / "casdb" / "hf.py"
    hf.write_text(hf.read_text() + "\n\ndef _inside():\n    from casdb.checkouts import dataset\n")
    out = _lint(copy)
    assert out.returncode != 0
    assert "casdb.hf is not allowed to import casdb.checkouts" in out.stdout
