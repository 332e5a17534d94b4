"""Leftovers in a store: unreachable objects and blobs, as a commit that lost a race leaves
them (for gc tests), and a check that a refused commit left nothing at all.

Example (not run here: it commits a dataset)::

    objects, blobs = garbage(repo, tmp_path)
    make_old(repo.path)          # casdb.testing.files: past gc's grace period
    assert collect(repo, grace=0).blobs == len(blobs)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casdb.testing.synth import make_dataset

if TYPE_CHECKING:
    from casdb.api import Repository


def garbage(repo: Repository, tmp_path: Path) -> tuple[set[str], set[str]]:
    """A commit that lost a race: its objects and blobs are in the store, no ref reaches them."""
    src = make_dataset(tmp_path / "lost", files=5, duration=0.1, seed=77)
    before = (set(repo.store.object_ids()), set(repo.store.blob_ids()))
    import shutil

    repo.commit(src, dataset="lost", version="1")
    shutil.rmtree(repo.path / "refs" / "lost")  # as if the commit had lost the compare-and-swap
    return set(repo.store.object_ids()) - before[0], set(repo.store.blob_ids()) - before[1]


def nothing_stored(repo: Repository) -> bool:
    """No dataset, object or blob in ``repo``: what a refused first commit must leave."""
    return (repo.datasets() == [] and not list(repo.store.object_ids())
            and not list(repo.store.blob_ids()))


def loose(repo: Repository, objects: int, blobs: int, seed: int = 0) -> tuple[set[str], set[str]]:
    """``objects`` objects and ``blobs`` blobs written straight through the store, no ref
    reaching them (spread over the fan-out folders, as a large store's garbage is)."""
    import random

    from casdb.core.ids import hash_bytes
    from casdb.model.objects import Header

    rng = random.Random(seed)
    store = repo.store
    object_ids = {store.put(Header({"name": f"loose-{seed}-{i}"})) for i in range(objects)}
    blob_ids = set()
    for _ in range(blobs):
        data = rng.randbytes(rng.randint(1, 200))
        blob_id = hash_bytes(data)
        store.put_blob_bytes(blob_id, data)
        blob_ids.add(blob_id)
    store.publish()
    return object_ids, blob_ids
