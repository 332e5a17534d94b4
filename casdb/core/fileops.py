"""Copying bytes between open files in the kernel: a reflink (copy-on-write clone) where the
file system has them, else ``copy_file_range``. The store and the checkout both use these.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> _ = open(f"{d}/a", "wb").write(b"bytes")
    >>> with open(f"{d}/a", "rb") as src, open(f"{d}/b", "wb") as dst:
    ...     copy_range(src, dst) or stream(src, dst)
    True
    >>> open(f"{d}/b", "rb").read()
    b'bytes'
"""

from __future__ import annotations

import errno
import fcntl
import os
from typing import BinaryIO

FICLONE = 0x40049409
NO_REFLINK = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
              errno.EPERM)
"""Errors meaning "this file system (pair) cannot reflink", not "this copy failed"."""
NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)
CHUNK = 1 << 20


def reflink(src: BinaryIO, dst: BinaryIO) -> bool:
    """Clone ``src`` into the empty ``dst``; False if the file system cannot (other errors raise)."""
    try:
        fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
    except OSError as exc:
        if exc.errno in NO_REFLINK:
            return False
        raise
    return True


def copy_range(src: BinaryIO, dst: BinaryIO) -> bool:
    """Copy ``src`` into ``dst`` in the kernel; False if it cannot here, with ``dst`` emptied
    and both files rewound for :func:`stream` (other errors raise)."""
    try:
        while os.copy_file_range(src.fileno(), dst.fileno(), 1 << 30):
            pass
    except OSError as exc:
        if exc.errno not in NO_COPY_RANGE:
            raise
        src.seek(0)
        dst.seek(0)
        dst.truncate()
        return False
    return True


def stream(src: BinaryIO, dst: BinaryIO) -> bool:
    """Copy ``src`` into ``dst`` through Python, a chunk at a time; returns True."""
    while chunk := src.read(CHUNK):
        dst.write(chunk)
    return True


def make_tree_writable(path: str | os.PathLike) -> None:
    """Make every folder under ``path`` writable, so that its files can be deleted (the files
    themselves may stay read-only: deleting a name needs write access to its folder only)."""
    for dirpath, _, _ in os.walk(path):
        try:
            os.chmod(dirpath, 0o755)
        except OSError:
            pass
