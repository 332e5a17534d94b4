"""Purging media from every version: the bytes go, the versions stay.

A recording may have to go (a speaker withdrew consent). In a content-addressed store the same
bytes can sit under other paths, in other versions and in other datasets, so a purge:

1. finds the blobs of the given paths (in any version of the dataset), then every dataset,
   version and path that holds the same bytes, and reports them (``dry_run`` stops here);
2. records a tombstone per blob in ``<repo>/purged`` (blob id, dataset, paths, reason, date),
   before deleting anything, so an interrupted purge is finished by running it again;
3. deletes the blobs from the repository, and in every checkout cache that loaded from it (the
   one given, and each one :mod:`casdb.checkouts.records` recorded) every version folder that holds them
   (it is checked out again without them on the next load), every converted copy, and the
   copies in remote object caches; folders the user checked out into (``DEST``) are listed, not
   deleted;
4. deletes them from every remote it can reach; a remote out of reach is purged by the next push
   or pull (:func:`apply_remote`), and never receives the bytes again.

Older versions keep loading: without the purged files, and without their rows unless
``removed_media=True`` asks to keep them (like audb). ``fsck`` counts purged blobs as expected
absences. A commit of a folder holding purged bytes (under any name) is refused
(:func:`refuse_purged`), and a pull never fetches them.

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> tombstones(BaseRepository.init(tempfile.mkdtemp() + "/r"))
    []
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.checkouts import records
from casdb.checkouts.purging import purge_cache
from casdb.core.errors import BackendError, IntegrityError, InvalidInput, NotFound
from casdb.core.names import version_key
from casdb.history import trees
from casdb.model.graph import COMMIT
from casdb.remote import config
from casdb.remote.purges import apply_remote
from casdb.store import reachability
from casdb.store.tombstones import Tombstone, purged_blobs, save_tombstones, tombstones

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository

@dataclass
class PurgeReport:
    holders: list[tuple[str, str, str]] = field(default_factory=list)
    """``(dataset, version or commit, path)`` holding the purged bytes."""
    holder_blob: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """Which blob each holder holds."""
    blobs: list[str] = field(default_factory=list)
    deleted_blobs: int = 0
    cache_folders: list[Path] = field(default_factory=list)
    derived: int = 0
    cache_roots: list[Path] = field(default_factory=list)
    """Cache roots cleaned: the one given (or the default) and every one recorded as having
    loaded from this repository (:mod:`casdb.checkouts.records`) that still exists."""
    checkouts: list[Path] = field(default_factory=list)
    """Folders checked out with ``casdb checkout NAME DEST`` that still hold purged files: user
    data, not deleted; delete them (or the files) yourself."""
    problems: list[str] = field(default_factory=list)
    """What kept the purge from reaching every copy (an unreadable record of checkouts)."""
    remotes: dict[str, str] = field(default_factory=dict)
    """Remote name -> ``purged`` or why not (it will be purged on the next push or pull)."""
    dry_run: bool = False


def _commits(repo: BaseRepository, dataset: str | None = None) -> list[tuple[str, str, str]]:
    """``(dataset, label, commit id)`` of every commit reachable from the refs (of one dataset)."""
    out, seen = [], set()
    for ds in [dataset] if dataset else repo.datasets():
        tags = repo.refs.tags(ds)
        label = {}
        for version, cid in tags.items():
            label.setdefault(cid, version)
        heads = list(tags.values()) + list(repo.refs.heads(ds).values())
        found = reachability.walk(repo.store, [(h, COMMIT) for h in heads], commits_only=True,
                                  strict=True)
        for cid in found.commits:
            if (ds, cid) not in seen:
                seen.add((ds, cid))
                out.append((ds, label.get(cid, cid[:10]), cid))
    return out


def _files(repo: BaseRepository, commit_id: str) -> dict[str, str]:
    """Path -> blob of a commit's tree."""
    commit = repo.get_commit(commit_id)
    return {path: entry.id for path, entry in trees.walk(repo.store, commit.tree)}


def plan(repo: BaseRepository, dataset: str, paths: list[str]) -> PurgeReport:
    """The blobs of ``paths`` in any version of ``dataset``, and every holder of those bytes."""
    repo.check_known(dataset)
    if not paths:
        raise InvalidInput("name at least one path to purge")
    blobs: dict[str, set[str]] = {}
    found: set[str] = set()
    for _, _, cid in _commits(repo, dataset):
        files = _files(repo, cid)
        for p in paths:
            if p in files:
                blobs.setdefault(files[p], set()).add(p)
                found.add(p)
    missing = [p for p in paths if p not in found]
    if missing:
        raise NotFound(f"{dataset} has no file {missing[0]!r} in any version"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    report = PurgeReport(blobs=sorted(blobs))
    for ds, label, cid in _commits(repo):
        for path, blob in _files(repo, cid).items():
            if blob in blobs:
                report.holders.append((ds, label, path))
                report.holder_blob[(ds, label, path)] = blob
    report.holders.sort(key=lambda h: (h[0], version_key(h[1]), h[2]))
    return report


def purge(repo: BaseRepository, dataset: str, paths: list[str], reason: str, *,
          dry_run: bool = False, cache_root: Path | None = None) -> PurgeReport:
    """Purge the bytes of ``paths`` (see the module docstring); ``reason`` is required."""
    if not reason or not reason.strip():
        raise InvalidInput("give a reason for the purge (--reason)")
    report = plan(repo, dataset, paths)
    report.dry_run = dry_run
    if dry_run:
        report.checkouts = _checkouts(repo, set(report.blobs), report)
        return report
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stones = tombstones(repo)
    known = {t.blob for t in stones}
    for blob in report.blobs:
        if blob not in known:
            mine = [h for h in report.holders if report.holder_blob[h] == blob]
            held = sorted({p for ds, _, p in mine if ds == dataset} & set(paths)) or paths
            stones.append(Tombstone(blob, dataset, held, reason.strip(), date,
                                    [" ".join(h) for h in mine]))
    save_tombstones(repo, stones)  # first: an interrupted purge is finished by running it again
    finish(repo, report, cache_root)
    return report


def finish(repo: BaseRepository, report: PurgeReport | None = None,
           cache_root: Path | None = None) -> PurgeReport:
    """Delete every tombstoned blob from the repository, the cache and the reachable remotes."""
    from casdb.checkouts.layout import cache_root as default_root

    report = report or PurgeReport()
    blobs = purged_blobs(repo)
    report.deleted_blobs += repo.delete_blobs(blobs)
    roots = [cache_root if cache_root is not None else default_root()]
    roots += [r for r in _recorded(repo, report).caches if r.is_dir()]
    for root in dict.fromkeys(r.absolute() for r in roots):  # each once, the given one first
        folders, derived = purge_cache(root, blobs)
        report.cache_roots.append(root)
        report.cache_folders += folders
        report.derived += derived
    report.checkouts = _checkouts(repo, blobs, report)
    for name in config.configured(repo):
        try:
            apply_remote(repo, config.open_named(repo, name))
            report.remotes[name] = "purged"
        except (BackendError, NotFound, OSError) as exc:
            report.remotes[name] = f"not reached ({exc}); purged on the next push or pull"
    return report


def _recorded(repo: BaseRepository, report: PurgeReport):
    """The recorded cache roots and checkout folders; a damaged record is a problem reported,
    not a reason to stop half-way (the tombstones are written already)."""
    try:
        return records.read(repo)
    except IntegrityError as exc:
        if str(exc) not in report.problems:
            report.problems.append(str(exc))
        return records.Recorded()


def _checkouts(repo: BaseRepository, blobs: set[str], report: PurgeReport) -> list[Path]:
    """Recorded ``DEST`` checkout folders that hold any of ``blobs``."""
    return records.holding(_recorded(repo, report).folders, blobs)
