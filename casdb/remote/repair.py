"""Repairing damaged or missing blobs of a local store from a remote that has them.

A checkout that finds a blob damaged (its fingerprint changed and its bytes no longer hash to
its id) asks the remotes it knows for a good copy before giving up: the remote whose object
cache the repository is (a load straight from a remote), else every remote configured with
``casdb remote add``. A copy is put in place only after its hash matched
(:meth:`casdb.store.objectstore.ObjectStore.replace_blob`).

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> repair_blobs(BaseRepository.init(tempfile.mkdtemp() + "/r"), ["ab" * 32], [])
    []
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from casdb.core.errors import Error

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository
    from casdb.remote.layout import Remote


def repair_blobs(repo: BaseRepository, blobs: list[str], remotes: list[Remote]) -> list[str]:
    """Replace each of ``blobs`` in ``repo``'s store by a verified copy from one of
    ``remotes``; return those repaired. Remotes that fail or lack a blob are skipped."""
    todo = list(dict.fromkeys(blobs))
    repaired: list[str] = []
    if not todo:
        return repaired
    for remote in remotes:
        try:
            where = remote.index()
        except Error:
            continue
        for blob in [b for b in todo if b in where]:
            tmp = repo.store.stage.temp()
            try:
                repo.backend.make_dir(repo.backend.tmp)
                entry = where[blob]
                if entry.pack is None:
                    remote.read_blob(blob, tmp, entry)
                else:
                    data = dict(remote.read_blobs(where, [blob]))[blob]
                    with open(tmp, "wb") as f:
                        f.write(data)
                repo.store.replace_blob(blob, tmp)
            except (Error, OSError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                continue
            repaired.append(blob)
            todo.remove(blob)
        if not todo:
            break
    return repaired
