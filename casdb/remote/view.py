"""Loading straight from a remote, without a clone: a local object cache per remote.

``casdb.load(..., repo="s3://bucket/prefix")`` (or a remote folder) opens the remote and a local
repository under the checkout cache that mirrors its refs and holds only the objects checkouts
needed so far:

    <cache>/.remotes/<hash of the URL>/     a casdb repository (objects, blobs, mirrored refs)

A checkout fetches the version's commit, header, tables and media index (no folder trees, no
history), then the blobs of the media it places, and nothing it holds already. Once a version is
checked out, it loads with the remote out of reach, like any cached version.

Example:
    >>> is_remote_url("s3://bucket/corpora"), is_remote_url("/data/casdb")
    (True, False)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import NotFound
from casdb.core.ids import hash_bytes

if TYPE_CHECKING:
    from casdb.history.repository import Repository
    from casdb.remote.layout import Remote

REMOTES = ".remotes"


def is_remote_url(location: str | Path) -> bool:
    """Whether ``location`` names a remote (``s3://``, or a folder holding a casdb remote)."""
    from casdb.remote.layout import MARKER

    text = str(location)
    if text.startswith("s3://"):
        return True
    path = Path(text[len("file://"):] if text.startswith("file://") else text).expanduser()
    return "://" not in text.replace("file://", "", 1) and (path / MARKER).is_file()


def open_remote(url: str, cache_root: Path) -> Repository:
    """The object cache of the remote at ``url`` (created on first use); ``repo.source`` is it."""
    from casdb.history.repository import Repository
    from casdb.remote.layout import Remote
    from casdb.store.backends.base import redact

    path = cache_root / REMOTES / hash_bytes(redact(url).encode())[:16]
    remote = Remote.open(url, cache=path / "remote-index")
    if not (path / "config").exists():
        from casdb.history.repository import make_layout

        make_layout(path)  # keeps what exists: a load killed while creating it is no obstacle
    repo = Repository(path)
    repo.source = remote
    return repo


def sync_refs(repo: Repository, dataset: str) -> None:
    """Mirror the remote's refs of ``dataset`` into the object cache."""
    remote: Remote = repo.source
    refs = remote.refs(dataset)
    if not refs:
        close = difflib.get_close_matches(dataset, remote.datasets(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise NotFound(f"no dataset {dataset!r} on {remote.url}{hint}")
    stones = remote.tombstones()
    if stones:  # the remote's purges apply to its object cache too
        from casdb.maintenance.purge import finish_local
        from casdb.store.tombstones import purged_blobs, save_tombstones

        new = {t.blob for t in stones} - purged_blobs(repo)
        if new:
            save_tombstones(repo, stones)
            finish_local(repo, new)
    for ref, commit in refs.items():
        key = f"refs/{dataset}/{ref}"
        if repo.refs.get(dataset, ref) != commit:
            repo.backend.put(key, (commit + "\n").encode())
