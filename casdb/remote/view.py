"""Loading straight from a remote, without a clone: a local object cache per remote.

``casdb.load(..., repo="s3://bucket/prefix")`` (or a remote folder) opens the remote and a local
repository under the checkout cache that mirrors its refs and holds only the objects checkouts
needed so far:

    <cache>/.remotes/<hash of the URL>/     a casdb repository (objects, blobs, mirrored refs)

(the folder comes from the cache layout, :func:`casdb.checkouts.layout.remote_cache`).

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

from casdb.checkouts.layout import remote_cache
from casdb.core.errors import NotFound
from casdb.core.ids import hash_bytes
from casdb.history.repository import BaseRepository
from casdb.remote.repair import repair_blobs
from casdb.remote.transfer import fetch, get_blobs
from casdb.store.tombstones import purged_blobs, save_tombstones

if TYPE_CHECKING:
    from casdb.remote.layout import Remote

def is_remote_url(location: str | Path) -> bool:
    """Whether ``location`` names a remote (a URL such as ``s3://``, or a folder holding a casdb
    remote)."""
    from casdb.remote.layout import MARKER

    text = str(location)
    if "://" in text and not text.lower().startswith("file://"):
        return True  # s3:// or a plug-in's scheme (an unknown one fails clearly when opened)
    path = Path(text[len("file://"):] if text.startswith("file://") else text).expanduser()
    return "://" not in text.replace("file://", "", 1) and (path / MARKER).is_file()


def open_remote(url: str, cache_root: Path) -> RemoteView:
    """The object cache of the remote at ``url`` (created on first use)."""
    from casdb.history.repository import make_layout
    from casdb.remote.layout import Remote
    from casdb.store.backends.base import redact

    path = remote_cache(cache_root, hash_bytes(redact(url).encode())[:16])
    remote = Remote.open(url, cache=path / "remote-index")
    if not (path / "config").exists():
        make_layout(path)  # keeps what exists: a load killed while creating it is no obstacle
    return RemoteView(path, remote)


class RemoteView(BaseRepository):
    """A remote seen through its local object cache: the object source of checkouts that load
    straight from a remote (:class:`casdb.checkouts.source.ObjectSource`)."""

    records_checkouts = False  # no purge runs on an object cache

    def __init__(self, path: Path, remote: Remote) -> None:
        super().__init__(path)
        self.remote = remote

    def __repr__(self) -> str:
        return f"RemoteView({self.remote.url!r})"

    def sync_refs(self, dataset: str) -> None:
        """Mirror the remote's refs of ``dataset``; the remote's purges apply here too."""
        remote = self.remote
        refs = remote.refs(dataset)
        if not refs:
            close = difflib.get_close_matches(dataset, remote.datasets(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFound(f"no dataset {dataset!r} on {remote.url}{hint}")
        stones = remote.tombstones()
        if stones:
            new = {t.blob for t in stones} - purged_blobs(self)
            if new:
                save_tombstones(self, stones)
                self.delete_blobs(new)
        self.refs.mirror(dataset, refs)

    def fetch_version(self, commit_id: str, progress: bool | None = None) -> None:
        """The commit, header, tables and media index (no folder trees, no history)."""
        fetch(self, self.remote, [commit_id], history=False, trees=False, progress=progress)

    def ensure_blobs(self, wanted: dict[str, int], progress: bool | None = None) -> None:
        """The blobs ``wanted`` (id -> size) that the cache lacks, fetched and published."""
        try:
            get_blobs(self, self.remote, wanted, progress=progress)
            self.store.publish()
        except BaseException:
            self.store.discard()
            raise

    def repair_blobs(self, blobs: list[str]) -> list[str]:
        """Damaged blobs replaced by verified copies from the remote."""
        return repair_blobs(self, blobs, [self.remote])
