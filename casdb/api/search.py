"""The repositories that ``load``, ``info`` and ``ls`` search, in order (audb's
``config.REPOSITORIES``): the first that has the dataset serves it.

The list is the ``repo`` argument if one is given, else ``$CASDB_REPO``, else ``repositories``
of the config file (:mod:`casdb.core.config`), else the single default repository (the config
file's ``repository``, else ``~/.casdb/repo``). An explicit choice is never widened into a search.

A repository in the list that does not exist (no casdb repository at a path, no casdb remote at
a URL) is an error naming it (``NotFound``): a typo in the list must not silently hide a
dataset behind another one. One that exists but cannot be reached now (``BackendError``: network,
credentials, a server down) is skipped with a warning, so one unreachable mirror does not stop
a group's loads.

Example:
    >>> import tempfile
    >>> from casdb.api.repository import Repository
    >>> from casdb.core.config import Config
    >>> a, b = (Repository.init(tempfile.mkdtemp() + "/r") for _ in range(2))
    >>> cfg = Config(repositories=(str(a.path), str(b.path)))
    >>> [str(p) for p in search_list(None, cfg)] == [str(a.path), str(b.path)]
    True
    >>> datasets(config=cfg)
    []
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from casdb.api.repository import location, open_repository
from casdb.core.config import REPO_ENV, Config
from casdb.core.errors import BackendError, NotFound
from casdb.history.repository import BaseRepository


@dataclass(frozen=True)
class Found:
    """A dataset and the repository (location as configured) that serves it."""

    dataset: str
    location: str


def search_list(repo: str | Path | None = None, config: Config | None = None) -> list[str | Path]:
    """The repositories searched, in order (see the module docstring)."""
    if repo is not None:
        return [repo]
    if os.environ.get(REPO_ENV):
        return [os.environ[REPO_ENV]]
    config = config if config is not None else Config.load()
    if config.repositories:
        return list(config.repositories)
    return [location(None, config)]


def opened(
    repo: str | Path | None = None,
    cache_root: str | Path | None = None,
    config: Config | None = None,
) -> Iterator[tuple[str, BaseRepository]]:
    """``(location, repository)`` for each repository of the list that can be reached, in order.

    ``NotFound`` names a repository that does not exist; an unreachable one is skipped with a
    warning (``UserWarning``).
    """
    config = config if config is not None else Config.load()
    for where in search_list(repo, config):
        try:
            yield str(where), open_repository(where, cache_root, config)
        except BackendError as exc:
            warnings.warn(f"casdb: skipping repository {where}: {exc}", UserWarning,
                          stacklevel=2)


def datasets(
    repo: str | Path | None = None,
    cache_root: str | Path | None = None,
    config: Config | None = None,
) -> list[Found]:
    """Every dataset of the searched repositories, sorted by name, each with the first
    repository that has it (the one ``load`` would use)."""
    found: dict[str, str] = {}
    for where, repository in opened(repo, cache_root, config):
        try:
            held = repository.datasets()
        except BackendError as exc:
            warnings.warn(f"casdb: skipping repository {where}: {exc}", UserWarning, stacklevel=2)
            continue
        for name in held:
            found.setdefault(name, where)
    return [Found(name, found[name]) for name in sorted(found)]


def find(
    dataset: str,
    repo: str | Path | None = None,
    cache_root: str | Path | None = None,
    config: Config | None = None,
) -> BaseRepository:
    """The first repository of the list that has ``dataset`` (opened); ``NotFound`` if none.

    With a single repository (an explicit ``repo``, ``$CASDB_REPO``, no ``repositories`` in the
    config), that repository is returned as it is, and its own error says what is missing.
    """
    config = config if config is not None else Config.load()
    listed = search_list(repo, config)
    if len(listed) == 1:
        return open_repository(listed[0], cache_root, config)
    for where, repository in opened(repo, cache_root, config):
        try:
            if dataset in repository.datasets():
                return repository
        except BackendError as exc:
            warnings.warn(f"casdb: skipping repository {where}: {exc}", UserWarning, stacklevel=2)
    raise NotFound(f"no dataset {dataset!r} in any configured repository "
                   f"({', '.join(str(w) for w in listed)})")
