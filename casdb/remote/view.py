"""Loading straight from a remote, without a clone: a local object cache per remote.

``casdb.load(..., repo="s3://bucket/prefix")`` (or a remote folder) opens the remote and a local
repository under the checkout cache that mirrors its refs and holds only the objects checkouts
needed so far:

    <cache>/.remotes/<hash of the URL>/     a casdb repository (objects, blobs, mirrored refs)

(the folder comes from the cache layout, :func:`casdb.checkouts.layout.remote_cache`).

A checkout fetches the version's commit, header, tables and media index (no folder trees, no
history), then the blobs of the media it places, and nothing it holds already. Once a version is
checked out, it loads with the remote out of reach, like any cached version.

Whether a location is a remote at all is told by :func:`casdb.remote.marker.is_remote_url`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.checkouts.layout import remote_cache
from casdb.core.errors import BackendError, NotFound
from casdb.core.ids import hash_bytes
from casdb.core.names import check_dataset
from casdb.history.repository import BaseRepository
from casdb.history.snapshot import Snapshot
from casdb.remote.marker import is_remote_url  # noqa: F401 (also offered here)
from casdb.remote.repair import repair_blobs
from casdb.remote.transfer import blobs_to_folder, fetch, get_blobs
from casdb.store.tombstones import purged_blobs, save_tombstones

if TYPE_CHECKING:
    from casdb.model.objects import Commit
    from casdb.remote.layout import Remote

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
    holds_blobs = False  # blobs are fetched on demand

    def __init__(self, path: Path, remote: Remote) -> None:
        super().__init__(path)
        self.remote = remote
        self._synced: set[str] = set()
        self._fetched: set[tuple[str, bool, bool]] = set()
        self._where: dict | None = None

    # -- browsing: what the plumbing reads, fetched first (refs and metadata, never media) --

    def datasets(self) -> list[str]:
        """The datasets on the remote."""
        return self.remote.datasets()

    def check_known(self, dataset: str) -> None:
        """``NotFound`` unless the remote has ``dataset``; its refs are mirrored here (once per
        view: a view is a snapshot of the remote's refs)."""
        check_dataset(dataset)
        if dataset not in self._synced:
            self.sync_refs(dataset)

    def get_commit(self, commit_id: str) -> Commit:
        """The commit, its header, tables and media index fetched if missing."""
        self._fetch([commit_id], history=False, trees=False)
        return super().get_commit(commit_id)

    def snapshot(self, dataset: str, version: str | None = None) -> Snapshot:
        commit_id = self.resolve(dataset, version)
        self._fetch([commit_id], history=False, trees=False)
        return Snapshot(self.store, dataset, commit_id)

    def log(self, dataset: str, branch: str = "main", limit: int | None = None) -> list:
        self.check_known(dataset)
        head = self.refs.get(dataset, f"heads/{branch}")
        if head is not None:  # the history with its folder trees: log counts file changes
            self._fetch([head], history=True, trees=True)
        return super().log(dataset, branch, limit)

    def history(self, dataset: str, commit_id: str, limit: int | None = None) -> list:
        self.check_known(dataset)
        self._fetch([commit_id], history=True, trees=True)
        return super().history(dataset, commit_id, limit)

    def diff(self, dataset: str, old: str, new: str):
        ids = [self.resolve(dataset, old), self.resolve(dataset, new)]
        self._fetch(ids, history=False, trees=True)
        return super().diff(dataset, old, new)

    def purged(self) -> list:
        """The remote's tombstones."""
        return self.remote.tombstones()

    def purged_paths(self, commit_id: str) -> list[str]:
        if purged_blobs(self):
            self._fetch([commit_id], history=False, trees=True)
        return super().purged_paths(commit_id)

    def _reachable_commits(self, dataset: str) -> list[str]:
        heads = list(self.refs.tags(dataset).values()) + list(self.refs.heads(dataset).values())
        self._fetch(heads, history=True, trees=False)
        return super()._reachable_commits(dataset)

    def _fetch(self, roots: list[str], *, history: bool, trees: bool,
               progress: bool | None = None) -> None:
        """Objects under ``roots`` this cache lacks (no blobs), once per view and request."""
        todo = [r for r in roots if (r, history, trees) not in self._fetched]
        if todo:
            fetch(self, self.remote, todo, history=history, trees=trees, blobs=False,
                  progress=progress)
            self._fetched.update((r, history, trees) for r in todo)

    # -- the object source of a checkout ------------------------------------------------------

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
        self._synced.add(dataset)

    def fetch_version(self, commit_id: str, progress: bool | None = None) -> None:
        """The commit, header, tables and media index (no folder trees, no history)."""
        self._fetch([commit_id], history=False, trees=False, progress=progress)

    def ensure_blobs(self, wanted: dict[str, int], progress: bool | None = None,
                     publish: bool = True) -> None:
        """The blobs ``wanted`` (id -> size) that the cache lacks, fetched, verified and
        published (``publish=False``: staged, for the caller to publish)."""
        try:
            self._with_index(wanted, lambda where: get_blobs(
                self, self.remote, wanted, where=where, progress=progress))
            if publish:
                self.store.publish()
        except BaseException:
            self.store.discard()
            raise

    def repair_blobs(self, blobs: list[str]) -> list[str]:
        """Damaged blobs replaced by verified copies from the remote."""
        return repair_blobs(self, blobs, [self.remote])

    def read_blobs(self, wanted: dict[str, int], folder: Path) -> dict[str, str]:
        """Blobs fetched from the remote into ``folder`` (verified), not kept in the cache.
        The remote's index is read once per view, again when a blob is not in it (pushed
        since)."""
        return self._with_index(wanted, lambda where: blobs_to_folder(
            self.remote, wanted, folder, where))

    def _with_index(self, wanted: dict[str, int], read):
        """``read(index)`` with the remote's index, read once per view (a stream asks for blobs
        batch by batch) and again when a blob is not in it (pushed since) or its pack is gone
        (a remote gc repacked it since)."""
        if self._where is None or any(b not in self._where for b in wanted):
            self._where = self.remote.index()
            return read(self._where)
        try:
            return read(self._where)
        except (NotFound, BackendError):
            self._where = self.remote.index()
            return read(self._where)

    @property
    def location(self) -> str:
        return self.remote.url
