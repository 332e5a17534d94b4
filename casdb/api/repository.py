"""The repository as users hold it: the plumbing plus commit, push, pull, purge and clone.

Example:
    >>> import tempfile
    >>> repo = Repository.init(tempfile.mkdtemp() + "/repo")
    >>> repo.datasets(), repo.remotes()
    ([], {})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.config import REPO_ENV, Config
from casdb.history.repository import BaseRepository, local_path

if TYPE_CHECKING:
    from casdb.commit.committer import CommitResult
    from casdb.core.engine import EngineSpec
    from casdb.history.refops import Branch
    from casdb.maintenance.purge import PurgeReport
    from casdb.remote.layout import Remote
    from casdb.remote.transfer import Result as TransferResult

DEFAULT_REPO = "~/.casdb/repo"


class Repository(BaseRepository):
    """A local casdb repository.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/repo"
        >>> _ = Repository.init(path)
        >>> Repository(path).path.name
        'repo'
    """

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
        engine: EngineSpec = None,
        allow_empty: bool = False,
    ) -> CommitResult:
        """Commit the audformat folder ``source`` as a new version of ``dataset``.

        The parent is the head of ``branch`` (for a new branch, the head of ``main``). With
        ``version``, the commit is also tagged; a version is never re-published
        (``AlreadyExists``). If another writer moved the branch meanwhile, nothing is changed and
        ``Conflict`` is raised.

        A folder equal to the parent (same tree, header and tables) records nothing, as
        ``git commit`` says "nothing to commit": the result has ``changed=False`` and the
        parent's ``id``; with ``version`` the parent is tagged with it, and a new ``branch``
        starts at the parent. ``allow_empty=True`` records a new commit anyway.

        A media file whose name or header claims audio that libsndfile cannot decode (a text or
        empty file named ``.wav``, a cut-off header, a truncated WAV) is ``InvalidDataset``
        listing the files, unless it is declared as an attachment in db.yaml or
        ``allow_undecodable`` is True (see docs/tables.md, "Media that cannot be decoded").

        ``engine`` says where new files are copied and hashed: None (``$CASDB_ENGINE``, else the
        config file's ``engine``, else this machine's threads), ``"threads"``,
        ``"dask://HOST:PORT"`` or a ``distributed.Client`` (docs/scale.md). The ids do not
        depend on it. A scheduler is reached before anything is written (``EngineError``).

        Example:
            >>> import tempfile, pathlib
            >>> src = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (src / "db.yaml").write_text("name: demo\\n")
            >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
            >>> repo.commit(src, dataset="demo", version="1.0.0").files
            0
        """
        from casdb.commit.committer import commit  # the commit machinery only when committing
        from casdb.core.engine import check_engine, open_engine

        check_engine(engine)
        with open_engine(engine, Config.load().engine if engine is None else None) as running, \
                self.writing():
            return commit(self, source, dataset=dataset, version=version, branch=branch,
                          message=message, author=author, progress=progress,
                          allow_undecodable=allow_undecodable, engine=running,
                          allow_empty=allow_empty)

    def purge(self, dataset: str, paths: list[str], reason: str, *, dry_run: bool = False,
              cache_root: str | Path | None = None) -> PurgeReport:
        """Delete the bytes of ``paths`` from every version, dataset, remote and cache folder
        (see :mod:`casdb.maintenance.purge`); ``dry_run`` only lists who holds them."""
        from casdb.maintenance.purge import purge

        with self.writing():
            return purge(self, dataset, paths, reason, dry_run=dry_run,
                         cache_root=Path(cache_root) if cache_root is not None else None)

    # -- branches and tags ---------------------------------------------------------------------

    def branch_list(self, dataset: str) -> list[Branch]:
        """The branches of ``dataset`` with their head commits and the versions tagged there
        (:meth:`branches` gives just branch -> commit id)."""
        from casdb.history.refops import listing

        return listing(self, dataset)

    def tags(self, dataset: str) -> dict[str, str]:
        """Version -> commit id."""
        self.check_known(dataset)
        return self.refs.tags(dataset)

    def create_branch(self, dataset: str, branch: str, ref: str | None = None) -> str:
        """Start ``branch`` at ``ref`` (version, branch or commit prefix; None: ``main``'s head)
        and return its commit id; ``AlreadyExists`` if the branch exists.

        Example:
            >>> import tempfile, pathlib
            >>> src = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (src / "db.yaml").write_text("name: demo\\n")
            >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
            >>> c = repo.commit(src, dataset="demo", version="1.0.0")
            >>> repo.create_branch("demo", "fix", c.id[:8]) == c.id
            True
            >>> sorted(repo.branches("demo"))
            ['fix', 'main']
        """
        from casdb.history.refops import create_branch

        with self.writing():
            return create_branch(self, dataset, branch, ref)

    def delete_branch(self, dataset: str, branch: str, *, force: bool = False) -> str:
        """Delete ``branch`` (by compare-and-swap) and return the commit it pointed at;
        ``main`` or the dataset's last ref only with ``force``. What no ref reaches any more
        goes at the next gc."""
        from casdb.history.refops import delete_branch

        with self.writing():
            return delete_branch(self, dataset, branch, force=force)

    def tag(self, dataset: str, ref: str | None, version: str) -> str:
        """Publish ``version`` on an existing commit (``ref``: version, branch or commit
        prefix; None: ``main``'s head); ``AlreadyExists`` if the version exists.

        Example:
            >>> import tempfile, pathlib
            >>> src = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (src / "db.yaml").write_text("name: demo\\n")
            >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
            >>> c = repo.commit(src, dataset="demo")
            >>> repo.tag("demo", "main", "1.0.0") == c.id, repo.versions("demo")
            (True, ['1.0.0'])
        """
        from casdb.history.refops import tag

        with self.writing():
            return tag(self, dataset, ref, version)

    def delete_tag(self, dataset: str, version: str, *, force: bool = False) -> str:
        """Delete the tag of ``version`` here (remotes keep theirs: docs/remotes.md) and return
        the commit it named; the dataset's last ref only with ``force``."""
        from casdb.history.refops import delete_tag

        with self.writing():
            return delete_tag(self, dataset, version, force=force)

    # -- remotes ------------------------------------------------------------------------------

    def remotes(self) -> dict[str, str]:
        """Remote name -> URL (credentials are never stored: they come from the environment)."""
        from casdb.remote import config

        return config.configured(self)

    def remote_add(self, name: str, url: str, *, create: bool = True,
                   audio_codec: str | None = None) -> None:
        """Remember ``url`` as remote ``name`` (marking it as a casdb remote if it is new).
        ``audio_codec`` (``"flac"`` or ``"none"``, kept on the remote: docs/remotes.md) says
        how pushes store PCM audio there; default ``flac`` for a new remote, an existing
        remote's setting unchanged."""
        from casdb.remote import config

        config.add(self, name, url, create=create, audio_codec=audio_codec)

    def remote(self, name: str | None = None) -> Remote:
        """The remote named ``name`` (default: ``origin``, or the only one)."""
        from casdb.remote import config

        return config.open_named(self, name)

    def push(self, remote: str | None = None, datasets: list[str] | None = None,
             progress: bool | None = None, *, prune: bool = False) -> TransferResult:
        """Send what ``remote`` lacks of ``datasets`` (default: all); refs move last, by CAS.

        ``prune`` also deletes, by CAS, the remote's branches of these datasets that this
        repository no longer has (docs/remotes.md, "Deleted branches"); tags are never deleted.
        """
        from casdb.remote.transfer import push

        return push(self, self.remote(remote), datasets, progress, prune=prune)

    def pull(self, remote: str | None = None, datasets: list[str] | None = None,
             progress: bool | None = None, rebase: bool = False, *,
             prune: bool = False) -> TransferResult:
        """Fetch what this repository lacks of ``datasets`` (default: all on the remote);
        ``rebase`` puts local commits of a diverged branch on top of the remote's; ``prune``
        deletes local branches deleted on the remote (never unpushed work, never tags)."""
        from casdb.remote.transfer import pull

        with self.writing():
            return pull(self, self.remote(remote), datasets, progress, rebase, prune=prune)

    @classmethod
    def clone(cls, url: str, path: str | Path, progress: bool | None = None) -> Repository:
        """A new repository at ``path`` with every dataset of the remote at ``url`` (``origin``).

        An interrupted clone (killed, disconnected) is finished by calling ``clone`` again with
        the same ``url`` and ``path``: what arrived is kept (see :mod:`casdb.remote.cloning`).
        """
        from casdb.remote.cloning import clone

        return cls(clone(url, local_path(path), progress=progress).path)

    def repair_blobs(self, blobs: list[str]) -> list[str]:
        """Damaged blobs replaced by verified copies from the configured remotes (a checkout
        asks before it gives up on a blob)."""
        from casdb.remote import config
        from casdb.remote.repair import repair_blobs

        return repair_blobs(self, blobs, config.reachable(self)) if blobs else []


def location(repo: str | Path | None, config: Config | None = None) -> str | Path:
    """The repository named: the argument, else ``$CASDB_REPO``, else ``repository`` of the
    config file (``config``, else the file is read), else ``~/.casdb/repo``."""
    if repo is not None:
        return repo
    if os.environ.get(REPO_ENV):
        return os.environ[REPO_ENV]
    return (config if config is not None else Config.load()).repository or DEFAULT_REPO


def open_local(repo: BaseRepository | str | Path | None) -> Repository:
    """A local repository: the one given, one at a path, or ``$CASDB_REPO`` / the default."""
    if isinstance(repo, Repository):
        return repo
    if isinstance(repo, BaseRepository):
        return Repository(repo.path)
    return Repository(location(repo))


def open_repository(
    repo: BaseRepository | str | Path | None = None,
    cache_root: str | Path | None = None,
    config: Config | None = None,
) -> BaseRepository:
    """A repository object: the one given, one at a path, or ``$CASDB_REPO`` / the default.

    A remote (``s3://bucket/prefix``, or a folder holding a casdb remote) opens as its local
    object cache under the checkout cache (:mod:`casdb.remote.view`): checkouts then fetch only
    what they need.
    """
    from casdb.remote.marker import is_remote_url

    if isinstance(repo, BaseRepository):
        return repo
    config = config if config is not None else Config.load()
    where = location(repo, config)
    if is_remote_url(where):
        from casdb.checkouts.layout import cache_root as default_cache
        from casdb.remote.view import open_remote

        return open_remote(str(where), default_cache(cache_root, config))
    return Repository(where)
