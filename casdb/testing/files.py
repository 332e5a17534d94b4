"""File-system helpers for tests: making files look old, listing the media a checkout placed.

Example:
    >>> import tempfile, pathlib, time
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "f").write_bytes(b"x")
    >>> age(root, 60); (root / "f").stat().st_mtime < time.time() - 59
    True
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def age(root: str | Path, seconds: float = 3600) -> None:
    """Set every file's mtime back, so the stat cache trusts it (it distrusts racy recent files)."""
    past = time.time() - seconds
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past))


def make_old(root: Path, seconds: float = 7200) -> None:
    """Age every file under ``root`` (what gc's grace period looks at)."""
    past = time.time() - seconds
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past))


def media_on_disk(root: Path) -> list[str]:
    """The WAV files under ``root``, relative and sorted (what a checkout placed)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))


def put(root: Path, *parts: bytes, data: bytes = b"RIFF") -> None:
    """Write ``data`` to ``root/parts...``, the parts given as bytes (names that need not be
    UTF-8); folders made as needed."""
    path = os.path.join(os.fsencode(root), *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
