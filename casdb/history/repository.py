"""The repository: datasets, their versions and history, in one content-addressed store.

    <repo>/
      config                          format version (JSON)
      objects/ab/cdef...              structural objects and partitions (zstd)
      blobs/ab/cdef...                media and attachment bytes, read-only
      refs/<dataset>/tags/<version>   immutable
      refs/<dataset>/heads/<branch>   moving; ``main`` by default
      statcache/                      the stat cache, a file per source folder (safe to delete)
      tmp/  locks/

Example:
    >>> import tempfile
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/repo")
    >>> repo.datasets()
    []
"""

from __future__ import annotations

import contextlib
import difflib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Self

from casdb.core.atomic import atomic_write, sync_filesystem
from casdb.core.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound, storage_error
from casdb.core.ids import is_prefix
from casdb.core.names import check_dataset, version_key
from casdb.history import dag, trees
from casdb.history.log import LogEntry, log_entries
from casdb.history.snapshot import Snapshot
from casdb.model.graph import COMMIT
from casdb.model.objects import Commit
from casdb.store import reachability
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.store.refs import RefStore
from casdb.store.tombstones import Tombstone, purged_blobs, tombstones

if TYPE_CHECKING:
    import pandas as pd

    from casdb.core.locking import FileLock

FORMAT = 1
LAYOUT = ("objects", "blobs", "refs", "tmp", "locks")
STATCACHE = "statcache"
"""The stat cache's folder (:mod:`casdb.commit.statcache`); safe to delete."""


class BaseRepository:
    """A local casdb repository, the plumbing: store, refs, tombstones, resolve, log, diff,
    snapshot. Every layer above takes this; :class:`casdb.Repository` (the porcelain) adds
    commit, push, pull, purge and clone, and the remote view (:mod:`casdb.remote.view`) is one
    whose objects come from a remote.

    It is also the object source of a checkout (:class:`casdb.checkouts.source.ObjectSource`):
    a local repository has every object already, so fetching, syncing refs and repairing do
    nothing here.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/repo"
        >>> _ = BaseRepository.init(path)
        >>> BaseRepository(path).path.name
        'repo'
    """

    records_checkouts = True
    holds_blobs = True
    """Every blob of its versions that was not purged is in ``store`` (nothing to fetch)."""
    """Checkouts from here are recorded (``<repo>/checkouts``) so that purge finds their copies."""

    _cloning = False
    """True only for the clone in progress itself (:mod:`casdb.remote.cloning`), which may open a
    repository that still holds the clone marker."""

    def __init__(self, path: str | Path) -> None:
        self.path = local_path(path)
        if not self._cloning:
            _check_not_cloning(self.path)
        config = self.path / "config"
        try:
            settings = json.loads(config.read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"no casdb repository at {self.path} (create one with 'casdb init')") from exc
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{config} is unreadable: {exc}") from exc
        if not isinstance(settings, dict) or settings.get("format") != FORMAT:
            raise IntegrityError(f"{config}: unsupported repository format {settings!r:.80}")
        self.settings = settings
        self.backend = LocalBackend(self.path)
        self.store = ObjectStore(self.backend)
        self.refs = RefStore(self.backend)

    @classmethod
    def init(cls, path: str | Path) -> Self:
        """Create an empty repository at ``path`` (a new or empty folder)."""
        path = local_path(path)
        _check_not_cloning(path)
        if (path / "config").exists():
            raise AlreadyExists(f"{path} is a casdb repository already")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InvalidInput(f"{path} exists and is not an empty folder")
        make_layout(path)
        return cls(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- reading ------------------------------------------------------------------------------

    def datasets(self) -> list[str]:
        """Names of the datasets in the repository."""
        return self.refs.datasets()

    def versions(self, dataset: str) -> list[str]:
        """Published versions of ``dataset``, oldest first (natural version order)."""
        self.check_known(dataset)
        return sorted(self.refs.tags(dataset), key=version_key)

    def branches(self, dataset: str) -> dict[str, str]:
        """Branch -> head commit id."""
        self.check_known(dataset)
        return self.refs.heads(dataset)

    def resolve(self, dataset: str, version: str | None = None) -> str:
        """The commit id of a version, a branch, or a commit id prefix; None: the ``main`` head.

        Example:
            >>> import tempfile, pathlib
            >>> src = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (src / "db.yaml").write_text("name: demo\\n")
            >>> import casdb
            >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/r")
            >>> c = repo.commit(src, dataset="demo", version="1.0.0")
            >>> repo.resolve("demo", "1.0.0") == repo.resolve("demo") == c.id
            True
        """
        self.check_known(dataset)
        if version is None:
            head = self.refs.get(dataset, "heads/main")
            if head is not None:
                return head
            tags = self.refs.tags(dataset)
            if not tags:
                raise NotFound(f"{dataset} has no main branch and no versions")
            return tags[max(tags, key=version_key)]
        for ref in (f"tags/{version}", f"heads/{version}"):
            found = self.refs.get(dataset, ref) if _safe_ref(version) else None
            if found is not None:
                return found
        if is_prefix(version):
            matches = {cid for cid in self._reachable_commits(dataset) if cid.startswith(version)}
            if len(matches) == 1:
                return matches.pop()
            if len(matches) > 1:
                raise InvalidInput(f"commit prefix {version!r} of {dataset} is ambiguous")
        names = list(self.refs.tags(dataset)) + list(self.refs.heads(dataset))
        close = difflib.get_close_matches(version, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise NotFound(f"{dataset} has no version, branch or commit {version!r}{hint}")

    def get_commit(self, commit_id: str) -> Commit:
        """The commit object with this id."""
        return self.store.get(commit_id, "commit")

    def snapshot(self, dataset: str, version: str | None = None) -> Snapshot:
        """One version of ``dataset``: header, tables and media index."""
        return Snapshot(self.store, dataset, self.resolve(dataset, version))

    def header(self, dataset: str, version: str | None = None) -> dict:
        """The db.yaml mapping of a version."""
        return self.snapshot(dataset, version).header

    def table(self, dataset: str, table_id: str, version: str | None = None) -> pd.DataFrame:
        """A table of a version as a DataFrame with audformat's dtypes, rows in the file's order."""
        return self.snapshot(dataset, version).table(table_id)

    def media(self, dataset: str, version: str | None = None) -> pd.DataFrame:
        """The media index of a version: file -> blob, bytes, format, sampling rate, channels,
        bit depth, duration (like audb's dependencies)."""
        return self.snapshot(dataset, version).media()

    def log(self, dataset: str, branch: str = "main", limit: int | None = None) -> list[LogEntry]:
        """History of a branch, newest first, with version tags and media changes per commit."""
        self.check_known(dataset)
        head = self.refs.get(dataset, f"heads/{branch}")
        if head is None:
            raise NotFound(f"{dataset} has no branch {branch!r}")
        return log_entries(self.store, head, self.refs.tags(dataset), limit)

    def history(self, dataset: str, commit_id: str, limit: int | None = None) -> list[LogEntry]:
        """The history of one commit (first parents, newest first), as :meth:`log` gives a
        branch's."""
        self.check_known(dataset)
        return log_entries(self.store, commit_id, self.refs.tags(dataset), limit)

    def diff(self, dataset: str, old: str, new: str) -> dag.Diff:
        """Media, tables and header changes from version ``old`` to version ``new``.

        Each changed table carries its row-level diff (``diff.tables[name].rows``): DataFrames
        of the rows added and removed, and of the values changed (row, column, old, new).
        """
        a = self.get_commit(self.resolve(dataset, old))
        b = self.get_commit(self.resolve(dataset, new))
        return dag.diff(self.store, a, b, rows=True)

    def writing(self) -> FileLock:
        """Held (shared) by every writer of the store while it works; gc holds it exclusively
        from its mark to the end of its sweep, so nothing a writer reuses can be swept."""
        from casdb.core.locking import FileLock

        return FileLock(self.path / "locks" / "gc.lock", timeout=None, shared=True)

    def purged(self) -> list[Tombstone]:
        """The tombstones of purged blobs, oldest first."""
        return tombstones(self)

    def purged_paths(self, commit_id: str) -> list[str]:
        """Paths of a commit whose bytes were purged (empty when nothing was ever purged)."""
        blobs = purged_blobs(self)
        if not blobs:
            return []
        commit = self.get_commit(commit_id)
        return sorted(p for p, e in trees.walk(self.store, commit.tree) if e.id in blobs)

    def delete_blobs(self, blobs: set[str]) -> int:
        """Delete ``blobs`` from the store (purged bytes); return how many were there.

        The stat cache goes too: it vouches for blobs being stored (it is only a cache)."""
        deleted = 0
        for blob in blobs:
            try:
                self.store.blob_path(blob).unlink()
                deleted += 1
            except FileNotFoundError:
                pass
        self.forget_stat_cache()
        return deleted

    def forget_stat_cache(self) -> None:
        """Delete the stat cache (after blobs left the store: it may vouch for them)."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.path / STATCACHE)

    # -- the object source of a checkout (casdb.checkouts.source): all here already ----------

    def sync_refs(self, dataset: str) -> None:
        """Nothing to mirror: the refs are this repository's own."""

    def fetch_version(self, commit_id: str, progress: bool | None = None) -> None:
        """Nothing to fetch: every object of a version is in the store."""

    def ensure_blobs(self, wanted: dict[str, int], progress: bool | None = None,
                     publish: bool = True) -> None:
        """Nothing to fetch: every blob not purged is in the store."""

    def repair_blobs(self, blobs: list[str]) -> list[str]:
        """No copy to repair from at this level (:class:`casdb.Repository` asks its remotes)."""
        return []

    def read_blobs(self, wanted: dict[str, int], folder: Path) -> dict[str, str]:
        """Nothing to fetch: a blob the store lacks is nowhere else at this level."""
        return {}

    @property
    def location(self) -> str:
        return str(self.path)

    # -- helpers ------------------------------------------------------------------------------

    def check_known(self, dataset: str) -> None:
        """``NotFound`` (naming close matches) unless ``dataset`` has refs here."""
        check_dataset(dataset)
        if not self.refs.exists(dataset):
            close = difflib.get_close_matches(dataset, self.datasets(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFound(f"no dataset {dataset!r} in {self.path}{hint}")

    def _reachable_commits(self, dataset: str) -> list[str]:
        heads = list(self.refs.tags(dataset).values()) + list(self.refs.heads(dataset).values())
        return reachability.walk(self.store, [(h, COMMIT) for h in heads],
                                 commits_only=True, strict=True).commits


def make_layout(path: Path) -> None:
    """Create the folders and the config of a repository at ``path`` (what exists is kept)."""
    try:
        for name in LAYOUT:
            (path / name).mkdir(parents=True, exist_ok=True)
        for top in ("objects", "blobs"):  # all fan-out folders now, not one by one later
            for i in range(256):
                (path / top / f"{i:02x}").mkdir(exist_ok=True)
        sync_filesystem(path)
    except OSError as exc:
        raise storage_error(exc, str(path)) from exc
    if not (path / "config").exists():
        atomic_write(path / "config", json.dumps({"format": FORMAT}, indent=2).encode() + b"\n",
                     tmp_dir=path / "tmp")


CLONE_MARKER = ".casdb-clone"
"""Written first into the folder of a clone, removed last: the clone is not finished yet."""


def cloning_url(path: Path) -> str | None:
    """The URL of the clone in progress (or interrupted) at ``path``; None if there is none."""
    marker = path / CLONE_MARKER
    try:
        data = json.loads(marker.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{marker} is unreadable ({exc}): delete {path} and clone "
                             "again") from exc
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise IntegrityError(f"{marker} is damaged: delete {path} and clone again")
    return data["url"]


def _check_not_cloning(path: Path) -> None:
    url = cloning_url(path)
    if url is not None:
        import shlex

        raise NotFound(f"{path}: clone interrupted (or still running): rerun "
                       f"'casdb clone {shlex.quote(url)} {shlex.quote(str(path))}' to finish it")


def local_path(location: str | Path) -> Path:
    text = str(location)
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif "://" in text:
        from casdb.store.backends.base import redact
        from casdb.store.backends.registry import plugins, scheme_of, unsupported_url

        if scheme_of(text) != "s3" and scheme_of(text) not in plugins():
            raise unsupported_url(text)
        raise InvalidInput(f"{redact(text)} is a remote: clone it (casdb clone URL PATH), or load "
                           "from it (casdb.load(NAME, repo=URL), casdb --repo URL checkout NAME)")
    return Path(text).expanduser().absolute()


def _safe_ref(name: str) -> bool:
    return "/" not in name and name not in ("", ".", "..")
