"""Removing purged bytes from a checkout cache: version folders that hold them (checked out
again without them on the next load), converted copies, and remote object caches' copies.

Example:
    >>> import tempfile, pathlib
    >>> purge_cache(pathlib.Path(tempfile.mkdtemp()), {"ab" * 32})
    ([], 0)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from casdb.checkouts import layout as cache
from casdb.core.errors import IntegrityError, InvalidInput
from casdb.core.fileops import make_tree_writable


def purge_cache(root: Path, blobs: set[str]) -> tuple[list[Path], int]:
    """Remove cache folders holding any of ``blobs``, converted copies, and remote-cache copies."""
    removed = []
    for entry in cache.entries(root):
        if entry.state is not None and not _cache_folder(root, entry):
            continue  # a folder of casdb's making but not this cache's (a DEST checkout)
        try:
            held = set(cache.read_files(entry.path)["blob"])
        except IntegrityError:
            held = blobs  # unreadable: it may hold the bytes, and it is the cache's own folder
        if blobs & held:
            make_tree_writable(entry.path)
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    derived = 0
    for top in (root / cache.DERIVED, root / cache.REMOTES):
        if not top.is_dir():
            continue
        for dirpath, _, files in os.walk(top):
            folder = os.path.basename(dirpath)
            for name in files:
                if folder + name in blobs:
                    os.unlink(os.path.join(dirpath, name))
                    derived += 1
    return removed, derived


def _cache_folder(root: Path, entry) -> bool:
    """Whether ``entry`` sits where the cache puts the version its state names: a recorded
    root may be any folder, and user folders under it are not the cache's to delete."""

    state = entry.state
    try:
        return entry.path == cache.folder(root, state.dataset, state.version, state.flavour)
    except (InvalidInput, TypeError):
        return False
