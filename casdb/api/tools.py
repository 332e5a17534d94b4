"""Inspection and upkeep, one public function per CLI command: :func:`info` (``show``),
:func:`fsck`, :func:`gc`, :func:`cache_ls`, :func:`cache_verify`, :func:`cache_evict`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casdb.api.repository import Repository, open_local
from casdb.checkouts import layout as cache
from casdb.core.names import check_dataset

if TYPE_CHECKING:
    from casdb.checkouts.cachecheck import Eviction, Report
    from casdb.checkouts.cachecheck import Summary as CacheSummary
    from casdb.history.summary import Summary
    from casdb.maintenance.fsck import FsckReport
    from casdb.maintenance.gc import GcReport
    from casdb.maintenance.remotegc import RemoteGcReport


def info(dataset: str, version: str | None = None, *,
         repo: Repository | str | Path | None = None) -> Summary:
    """The data card of one version (``casdb show``): header fields, tables, schemes, media.

    Example:
        >>> import tempfile
        >>> from casdb.api.repository import Repository
        >>> from casdb.testing.synth import make_dataset
        >>> r = Repository.init(tempfile.mkdtemp() + "/r")
        >>> _ = r.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.1), dataset="d",
        ...              version="1.0.0")
        >>> info("d", repo=r).media.files
        2
    """
    from casdb.api.search import find
    from casdb.history.repository import BaseRepository
    from casdb.history.summary import summarize

    check_dataset(dataset)
    source = repo if isinstance(repo, BaseRepository) else find(dataset, repo)
    return summarize(source, dataset, version)


def fsck(*, repo: Repository | str | Path | None = None, verify_blobs: bool = True) -> FsckReport:
    """Re-verify every object reachable from every ref (``casdb fsck``); blobs are re-hashed
    unless ``verify_blobs`` is False."""
    from casdb.maintenance.fsck import check

    return check(open_local(repo), verify_blobs=verify_blobs)


def gc(*, repo: Repository | str | Path | None = None, grace: float | str = 3600.0,
       dry_run: bool = False, remote: str | None = None) -> GcReport | RemoteGcReport:
    """Delete what no ref reaches (``casdb gc``): in the repository, or on its ``remote``.
    ``grace`` (seconds, or text such as ``"1h"``) spares what changed that recently."""
    from casdb.maintenance.gc import collect, parse_duration

    seconds = parse_duration(grace) if isinstance(grace, str) else float(grace)
    local = open_local(repo)
    if remote is not None:
        from casdb.maintenance.remotegc import collect_remote

        return collect_remote(local.remote(remote), grace=seconds, dry_run=dry_run)
    return collect(local, grace=seconds, dry_run=dry_run)


def cache_ls(dataset: str | None = None, *,
             cache_root: str | Path | None = None) -> list[CacheSummary]:
    """The checked-out folders in the cache (of ``dataset``), for ``casdb cache ls``."""
    from casdb.checkouts.cachecheck import summaries

    return list(summaries(cache.cache_root(cache_root), dataset))


def cache_verify(dataset: str | None = None, *, repo: Repository | str | Path | None = None,
                 cache_root: str | Path | None = None, repair: bool = True) -> list[Report]:
    """Re-hash the cache's files (``casdb cache verify``) and repair them unless ``repair`` is
    False. Files are re-placed from ``repo`` (None: ``$CASDB_REPO`` or the default, if it
    exists); without a repository only what needs none is repaired (remote object caches)."""
    from casdb.checkouts.cachecheck import verify
    from casdb.core.errors import Error

    local = None
    if repair:
        try:
            local = open_local(repo)
        except Error:
            if repo is not None:
                raise
    return verify(cache.cache_root(cache_root), local, dataset, repair=repair)


def cache_evict(max_size: int | str, *, cache_root: str | Path | None = None,
                dry_run: bool = False) -> Eviction:
    """Remove least-recently-loaded folders until the cache fits ``max_size`` bytes (or text
    such as ``"10G"``), then unlinked converted files (``casdb cache evict``)."""
    from casdb.checkouts.cachecheck import evict
    from casdb.core.units import parse_size

    size = parse_size(max_size) if isinstance(max_size, str) else int(max_size)
    return evict(cache.cache_root(cache_root), size, dry_run=dry_run)
