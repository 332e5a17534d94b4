"""Where a checkout gets its objects: the object-source protocol.

A checkout reads a version from a repository-like source and asks it, at fixed points, to
bring what the version needs. The local repository (:class:`casdb.history.repository.
BaseRepository`) has everything already and does nothing at those points; the remote view
(:class:`casdb.remote.view.RemoteView`) mirrors a remote's refs and fetches the objects and
blobs a checkout needs; :class:`casdb.Repository` repairs damaged blobs from its configured
remotes. The checkout layer knows only this protocol, never a remote.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from casdb.store.objectstore import ObjectStore
    from casdb.store.refs import RefStore


class ObjectSource(Protocol):
    """A repository a checkout reads from."""

    path: Path
    store: ObjectStore
    refs: RefStore
    records_checkouts: bool
    holds_blobs: bool
    """Whether ``store`` holds every blob of the versions (a repository), or blobs are fetched
    on demand (a remote's object cache)."""
    """Whether checkouts are recorded in ``<path>/checkouts`` for purge to find their copies
    (not in a remote's object cache: no purge runs there)."""

    def check_known(self, dataset: str) -> None:
        """``NotFound`` unless ``dataset`` has refs."""

    def resolve(self, dataset: str, version: str | None = None) -> str:
        """The commit id of a version, branch or commit prefix."""

    def sync_refs(self, dataset: str) -> None:
        """Make the refs of ``dataset`` current (a remote's mirrored here)."""

    def fetch_version(self, commit_id: str, progress: bool | None = None) -> None:
        """Bring the commit, header, tables and media index of a version into ``store``."""

    def ensure_blobs(self, wanted: dict[str, int], progress: bool | None = None,
                     publish: bool = True) -> None:
        """Bring the blobs ``wanted`` (id -> size) into ``store``, verified; published, or with
        ``publish=False`` staged (readable through ``store.blob_file``) until the caller's
        ``store.publish()`` (a stream publishes once in a while, not per batch)."""

    def repair_blobs(self, blobs: list[str]) -> list[str]:
        """Replace damaged blobs by verified copies where one exists; return those repaired."""

    def read_blobs(self, wanted: dict[str, int], folder: Path) -> dict[str, str]:
        """A file per blob of ``wanted`` (id -> size) that ``store`` lacks, fetched into
        ``folder`` and verified against its id, not kept in the store (the caller deletes
        them); blobs no source has are left out."""

    @property
    def location(self) -> str:
        """What opens this source again in another process: a path or a remote URL."""
