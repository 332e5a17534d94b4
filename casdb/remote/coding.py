"""Blobs prepared for a push: read and, on a remote that codes audio, FLAC-coded on all cores
ahead of the uploads, so coding overlaps the network (libsndfile and blake3 release the GIL).

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> list(prepared(repo.store, [], "flac"))
    []
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.remote.layout import AUDIO, BLOB

if TYPE_CHECKING:
    from casdb.store.objectstore import ObjectStore

AHEAD = 128 << 20
"""Bytes read (and coded) ahead of the uploads at most."""


def workers() -> int:
    """Threads that code: one per core."""
    return os.cpu_count() or 1


_BIG = threading.BoundedSemaphore(workers())


def prepare_big(path: Path, blob: str, codec: str) -> tuple[str, bytes]:
    """:func:`prepare` for a big blob: at most one per core at once (each holds its file, its
    record and the rebuilt copy in memory), whatever the number of upload threads."""
    with _BIG:
        return prepare(path, blob, codec)


def prepare(path: Path, blob: str, codec: str) -> tuple[str, bytes]:
    """``(kind, bytes to store)`` of the blob in ``path``: a coded record (kind ``a``) when
    ``codec`` is ``flac`` and coding is exact and smaller, else the file's bytes (``b``)."""
    data = path.read_bytes()
    if codec == "flac":
        from casdb.remote.audiocodec import encode

        record = encode(data, blob)
        if record is not None:
            return AUDIO, record
    return BLOB, data


def prepared(store: ObjectStore, blobs: list[str], codec: str,
             sizes: dict[str, int] | None = None) -> Iterator[tuple[str, str, bytes]]:
    """``(blob, kind, bytes to store)`` for ``blobs`` in order, prepared on all cores while
    the caller uploads (at most :data:`AHEAD` bytes ahead)."""
    sizes = sizes or {}
    with ThreadPoolExecutor(workers()) as pool:
        pending: deque = deque()
        ahead = 0
        todo = iter(blobs)
        while True:
            for blob in todo:
                n = sizes.get(blob, 1 << 20)
                pending.append((blob, n, pool.submit(prepare, store.blob_path(blob), blob, codec)))
                ahead += n
                if ahead >= AHEAD:
                    break
            if not pending:
                return
            blob, n, future = pending.popleft()
            ahead -= n
            kind, data = future.result()
            yield blob, kind, data
