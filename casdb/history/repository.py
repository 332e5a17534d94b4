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
    >>> repo = Repository.init(tempfile.mkdtemp() + "/repo")
    >>> repo.datasets()
    []
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.commit.statcache import StatCache
from casdb.core.atomic import atomic_write, sync_filesystem
from casdb.core.errors import AlreadyExists, IntegrityError, InvalidInput, NotFound, storage_error
from casdb.core.ids import is_prefix
from casdb.core.names import check_dataset, version_key
from casdb.history import dag
from casdb.history.log import LogEntry, log_entries
from casdb.history.snapshot import Snapshot
from casdb.model.objects import Commit
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.store.refs import RefStore

if TYPE_CHECKING:
    import pandas as pd

    from casdb.commit.committer import CommitResult
    from casdb.core.locking import FileLock

FORMAT = 1
LAYOUT = ("objects", "blobs", "refs", "tmp", "locks")


class Repository:
    """A local casdb repository.

    ``source`` is None, or the :class:`casdb.remote.layout.Remote` whose object cache this
    repository is (:mod:`casdb.remote.view`).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/repo"
        >>> _ = Repository.init(path)
        >>> Repository(path).path.name
        'repo'
    """

    source = None

    _cloning = False
    """True only for the clone in progress itself (:mod:`casdb.remote.cloning`), which may open a
    repository that still holds the clone marker."""

    def __init__(self, path: str | Path) -> None:
        self.path = _local_path(path)
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
        self.statcache = StatCache(self.path / "statcache")

    @classmethod
    def init(cls, path: str | Path) -> Repository:
        """Create an empty repository at ``path`` (a new or empty folder)."""
        path = _local_path(path)
        _check_not_cloning(path)
        if (path / "config").exists():
            raise AlreadyExists(f"{path} is a casdb repository already")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InvalidInput(f"{path} exists and is not an empty folder")
        make_layout(path)
        return cls(path)

    def __repr__(self) -> str:
        return f"Repository({str(self.path)!r})"

    # -- writing ------------------------------------------------------------------------------

    def commit(
        self,
        source: str | Path,
        *,
        dataset: str,
        version: str | None = None,
        branch: str = "main",
        message: str = "",
        author: str | None = None,
        progress: bool | None = None,
        allow_undecodable: bool = False,
    ) -> CommitResult:
        """Commit the audformat folder ``source`` as a new version of ``dataset``.

        The parent is the head of ``branch`` (for a new branch, the head of ``main``). With
        ``version``, the commit is also tagged; a version is never re-published
        (``AlreadyExists``). If another writer moved the branch meanwhile, nothing is changed and
        ``Conflict`` is raised.

        A media file whose name or header claims audio that libsndfile cannot decode (a text or
        empty file named ``.wav``, a cut-off header, a truncated WAV) is ``InvalidDataset``
        listing the files, unless it is declared as an attachment in db.yaml or
        ``allow_undecodable`` is True (see docs/tables.md, "Media that cannot be decoded").

        Example:
            >>> import tempfile, pathlib
            >>> src = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (src / "db.yaml").write_text("name: demo\\n")
            >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
            >>> repo.commit(src, dataset="demo", version="1.0.0").files
            0
        """
        from casdb.commit.committer import commit  # the commit machinery only when committing

        with self.writing():
            return commit(self, source, dataset=dataset, version=version, branch=branch,
                      message=message, author=author, progress=progress,
                      allow_undecodable=allow_undecodable)

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
            >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
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

    def purge(self, dataset: str, paths: list[str], reason: str, *, dry_run: bool = False,
              cache_root: str | Path | None = None):
        """Delete the bytes of ``paths`` from every version, dataset, remote and cache folder
        (see :mod:`casdb.maintenance.purge`); ``dry_run`` only lists who holds them."""
        from casdb.maintenance.purge import purge

        with self.writing():
            return purge(self, dataset, paths, reason, dry_run=dry_run,
                         cache_root=Path(cache_root) if cache_root is not None else None)

    def purged(self) -> list:
        """The tombstones of purged blobs, oldest first."""
        from casdb.store.tombstones import tombstones

        return tombstones(self)

    # -- remotes ------------------------------------------------------------------------------

    def remotes(self) -> dict[str, str]:
        """Remote name -> URL (credentials are never stored: they come from the environment)."""
        try:
            return json.loads((self.path / "remotes.json").read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{self.path / 'remotes.json'} is unreadable: {exc}") from exc

    def remote_add(self, name: str, url: str, *, create: bool = True) -> None:
        """Remember ``url`` as remote ``name`` (marking it as a casdb remote if it is new)."""
        from casdb.core.names import check_branch
        from casdb.remote.layout import Remote
        from casdb.store.backends.base import redact

        check_branch(name)
        if redact(url) != url:
            raise InvalidInput(f"{redact(url)}: put credentials in the environment or the AWS "
                               "config files, never in the URL")
        remotes = self.remotes()
        if name in remotes:
            raise AlreadyExists(f"remote {name!r} exists already ({remotes[name]})")
        (Remote.create if create else Remote.open)(url)
        remotes[name] = url
        atomic_write(self.path / "remotes.json", json.dumps(remotes, indent=2).encode() + b"\n",
                     tmp_dir=self.path / "tmp")

    def remote(self, name: str | None = None):
        """The remote named ``name`` (default: ``origin``, or the only one)."""
        from casdb.remote.layout import Remote

        remotes = self.remotes()
        if name is None:
            if len(remotes) == 1:
                name = next(iter(remotes))
            elif "origin" in remotes:
                name = "origin"
            else:
                raise InvalidInput("name the remote: " + (", ".join(remotes) or "none is set up "
                                   "(casdb remote add NAME URL)"))
        if name not in remotes:
            hint = f" (remotes: {', '.join(remotes)})" if remotes else ""
            raise NotFound(f"no remote {name!r}{hint}")
        return Remote.open(remotes[name], cache=self.path / "remotes" / name)

    def push(self, remote: str | None = None, datasets: list[str] | None = None,
             progress: bool | None = None):
        """Send what ``remote`` lacks of ``datasets`` (default: all); refs move last, by CAS."""
        from casdb.remote.transfer import push

        return push(self, self.remote(remote), datasets, progress)

    def pull(self, remote: str | None = None, datasets: list[str] | None = None,
             progress: bool | None = None, rebase: bool = False):
        """Fetch what this repository lacks of ``datasets`` (default: all on the remote);
        ``rebase`` puts local commits of a diverged branch on top of the remote's."""
        from casdb.remote.transfer import pull

        with self.writing():
            return pull(self, self.remote(remote), datasets, progress, rebase)

    @classmethod
    def clone(cls, url: str, path: str | Path, progress: bool | None = None) -> Repository:
        """A new repository at ``path`` with every dataset of the remote at ``url`` (``origin``).

        An interrupted clone (killed, disconnected) is finished by calling ``clone`` again with
        the same ``url`` and ``path``: what arrived is kept (see :mod:`casdb.remote.cloning`).
        """
        from casdb.remote.cloning import clone

        return clone(url, _local_path(path), progress=progress)

    # -- helpers ------------------------------------------------------------------------------

    def check_known(self, dataset: str) -> None:
        """``NotFound`` (naming close matches) unless ``dataset`` has refs here."""
        check_dataset(dataset)
        if not self.refs.exists(dataset):
            close = difflib.get_close_matches(dataset, self.datasets(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFound(f"no dataset {dataset!r} in {self.path}{hint}")

    def _reachable_commits(self, dataset: str) -> set[str]:
        out: set[str] = set()
        for head in list(self.refs.tags(dataset).values()) + list(self.refs.heads(dataset).values()):
            for cid, _ in dag.ancestry(self.store, head, first_parent=False):
                out.add(cid)
        return out


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


def _local_path(location: str | Path) -> Path:
    text = str(location)
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif "://" in text:
        from casdb.store.backends.base import redact, unsupported_url

        if text.split("://", 1)[0].lower() != "s3":
            raise unsupported_url(text)
        raise InvalidInput(f"{redact(text)} is a remote: clone it (casdb clone URL PATH), or load "
                           "from it (casdb.load(NAME, repo=URL), casdb --repo URL checkout NAME)")
    return Path(text).expanduser().absolute()


def _safe_ref(name: str) -> bool:
    return "/" not in name and name not in ("", ".", "..")
