"""Damaging files on purpose, as a disk, a careless edit or an attacker would (for tests).

Example:
    >>> import random, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"abc")
    >>> undo = flip_byte(p, random.Random(0))
    >>> p.read_bytes() != b"abc", undo() or p.read_bytes()
    (True, b'abc')
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path


def files_holding(root: str | Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle`` (where purged bytes survive)."""
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                if needle in path.read_bytes():
                    out.append(path)
            except OSError:
                pass
    return out


def flip_byte(path: str | Path, rng: random.Random, keep_mtime: bool = True) -> Callable[[], None]:
    """Flip one random bit of one random byte of ``path`` in place (through any hardlink, as root
    would, read-only mode or not), keeping its size and, if asked, its mtime; return a function
    that puts the byte back."""
    path = str(path)
    st = os.stat(path)
    offset = rng.randrange(st.st_size)
    bit = 1 << rng.randrange(8)
    os.chmod(path, st.st_mode | 0o200)

    def write(mask: int) -> None:
        with open(path, "r+b") as f:
            f.seek(offset)
            old = f.read(1)[0]
            f.seek(offset)
            f.write(bytes([old ^ mask]))
        if keep_mtime:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    write(bit)
    os.chmod(path, st.st_mode)

    def undo() -> None:
        os.chmod(path, st.st_mode | 0o200)
        write(bit)
        os.chmod(path, st.st_mode)

    return undo


def flip_bit_at(path: str | Path, offset: int = -1) -> None:
    """Flip the lowest bit of the byte at ``offset`` (made writable first: stored files are
    read-only); the deterministic sibling of :func:`flip_byte`."""
    os.chmod(path, 0o644)
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0x01
    Path(path).write_bytes(bytes(data))
