"""Collection rules for the whole tree (tests/ and the doctests of casdb/)."""

from __future__ import annotations

from pathlib import Path

# The adapters' modules import torch, datasets or Ray when imported (2-4 s each, in every test
# worker, before a single test runs): their doctests are left to the full suite, like the
# tests marked slow. Their own test modules run in the quick subset too.
_HEAVY_DOCTESTS = {"torch.py", "hf.py", "ray.py"}


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    quick = "not slow" in (config.getoption("markexpr", "") or "")
    if (quick and collection_path.name in _HEAVY_DOCTESTS
            and collection_path.parent.name == "casdb"):
        return True
    return None
