"""Loading: :func:`load` a version through the cache, :func:`checkout` one into a folder.

Example:
    >>> import tempfile
    >>> from casdb.api.repository import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> cache = tempfile.mkdtemp()
    >>> ds = load("d", repo=repo, cache_root=cache, only_metadata=True)
    >>> ds.root.relative_to(cache).as_posix(), ds["emotion"].get().shape
    ('d/1.0.0/original', (2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.api.search import find
from casdb.audio.flavour import Flavour
from casdb.checkouts import layout as cache
from casdb.checkouts.dataset import Dataset
from casdb.checkouts.linking import check_mode
from casdb.checkouts.selection import Request
from casdb.core.config import Config
from casdb.core.engine import EngineSpec, check_engine, open_engine
from casdb.core.errors import BackendError, NotFound
from casdb.core.names import check_dataset, version_key
from casdb.history.repository import BaseRepository

if TYPE_CHECKING:
    from casdb.checkouts.materialise import Checkout
    from casdb.history.repository import BaseRepository as Repository

def load(
    dataset: str,
    version: str | None = None,
    *,
    repo: Repository | str | Path | None = None,
    flavour: Flavour | dict | None = None,
    tables: str | Sequence[str] | None = None,
    media: str | Sequence[str] | None = None,
    only_metadata: bool = False,
    cache_root: str | Path | None = None,
    full_path: bool = True,
    link: str = "auto",
    progress: bool | None = None,
    removed_media: bool = False,
    engine: EngineSpec = None,
) -> Dataset:
    """Load a version of ``dataset`` through the cache and return it.

    ``version`` is a version tag, a branch, or a commit id prefix; None means the latest
    version (the highest tag). ``tables`` (ids), ``media`` (a regular expression searched in
    each path, or a list of paths) and ``only_metadata`` narrow what is fetched; asking later
    for more of the same version adds what is missing. ``link`` forces how media are placed
    (``reflink``, ``hardlink`` or ``copy``; ``auto`` picks the best the file systems allow).
    A version already in the cache loads without the repository; a version complete in the
    group's shared cache (``shared_cache_root`` of the config file, docs/config.md) is used
    from there, read-only, before the user's cache is looked at. Files whose bytes were
    purged are not in the folder, and their rows are left out unless ``removed_media``.
    ``engine`` says where conversions to the flavour run: None (``$CASDB_ENGINE``, else the
    config file's ``engine``, else this machine), ``"threads"``, ``"dask://HOST:PORT"`` or a
    ``distributed.Client`` (docs/scale.md); a load served by the cache needs no engine.
    """
    request = Request.make(tables, media, only_metadata)
    check_engine(engine)
    check_mode(link)
    flavour = Flavour.of(flavour)
    check_dataset(dataset)
    config = Config.load()
    root = cache.cache_root(cache_root, config)
    if version is not None:
        ready = _shared(config, dataset, version, flavour)
        if ready is None:
            ready = _cached(root, dataset, version, request, flavour)
        if ready is not None:
            return _opened(ready, request, full_path, removed_media, flavour,
                           _origin(dataset, repo, root))
    try:
        # the first repository of the search list that has the dataset (casdb.api.search);
        # a remote's refs are mirrored by checkout
        repository = repo if isinstance(repo, BaseRepository) else find(dataset, repo, root,
                                                                          config)
    except (NotFound, BackendError):
        if version is None:  # offline: the latest version in the cache
            ready = _cached(root, dataset, None, request, flavour)
            if ready is not None:
                return _opened(ready, request, full_path, removed_media, flavour,
                               _origin(dataset, repo, root))
        raise
    if version is None and config.shared_cache_root is not None:
        from casdb.checkouts.materialise import version_name

        repository.sync_refs(dataset)
        ready = _shared(config, dataset, version_name(repository, dataset, None)[0], flavour)
        if ready is not None:
            return _opened(ready, request, full_path, removed_media, flavour,
                           _origin(dataset, repository, root))
    out = checkout(dataset, version, repo=repository, request=request, cache_root=root, link=link,
                   progress=progress, flavour=flavour, engine=engine)
    return _opened(out.path, request, full_path, removed_media, flavour,
                   _origin(dataset, repository, root))


def _origin(dataset: str, repo, root: Path):
    """What re-opens the repository of a load, in any process (random access of missing
    files): the search for ``dataset`` from the same arguments (a path or URL, not an object)."""
    from functools import partial

    where = repo.location if isinstance(repo, BaseRepository) else repo
    return partial(find, dataset, None if where is None else str(where), root)


def _opened(path: Path, request: Request, full_path: bool, removed_media: bool,
            flavour: Flavour | None = None, origin=None) -> Dataset:
    ds = Dataset(path, request, full_path=full_path, removed_media=removed_media,
                 flavour=flavour, origin=origin)
    ds.selection  # noqa: B018 (applies the request now: an unknown table fails here, not later)
    return ds


def checkout(
    dataset: str,
    version: str | None = None,
    dest: str | Path | None = None,
    *,
    repo: Repository | str | Path | None = None,
    request: Request | None = None,
    cache_root: str | Path | None = None,
    link: str = "auto",
    progress: bool | None = None,
    flavour: Flavour | dict | None = None,
    engine: EngineSpec = None,
) -> Checkout:
    """Write a version as an audformat folder to ``dest`` (or to the cache) and return it.

    The arguments come in the order of :func:`load`: the dataset, its version, then keywords
    (``repo`` a repository, a path, a remote URL, or None: ``$CASDB_REPO``, else the
    repositories of the config file, searched in order, else the default repository).
    ``engine`` is where conversions run, as in :func:`load`: a scheduler is reached before
    anything is written (``EngineError`` if it cannot be).
    """
    from casdb.checkouts.materialise import checkout as run

    check_dataset(dataset)
    check_engine(engine)
    flavour = Flavour.of(flavour)
    if not isinstance(repo, BaseRepository):
        repo = find(dataset, repo, cache_root)
    with open_engine(engine, Config.load().engine if engine is None else None) as running:
        return run(repo, dataset, version, request or Request(),
                   root=cache_root, dest=dest, link=link, progress=progress,
                   flavour=flavour, engine=running)


def _shared(config: Config, dataset: str, version: str, flavour: Flavour) -> Path | None:
    """A complete folder of the version in the group's shared cache (``shared_cache_root`` of
    the config file), used as it is: only read, never written (no lock, no use time, no placed
    records), so its metadata files are checked and its media are trusted as the group's
    maintainer placed them (``casdb cache verify`` on that cache checks them)."""
    from casdb.checkouts.placed import check_metadata

    if config.shared_cache_root is None:
        return None
    path = cache.folder(Path(config.shared_cache_root), dataset, version, flavour.id)
    state = cache.read_state(path)
    if state is None or not state.complete or state.flavour != flavour.id:
        return None  # a partial folder there: the user's cache serves the load
    check_metadata(path, state)
    return path


def _cached(
    root: Path, dataset: str, version: str | None, request: Request, flavour: Flavour
) -> Path | None:
    """A cache folder that already serves ``request`` (of the latest cached version if None)."""
    if version is not None:
        path = cache.folder(root, dataset, version, flavour.id)
        state = cache.read_state(path)
        if state is not None and state.covers(request.key()):
            _check(root, path)
            return path
        return None
    found = [e for e in cache.entries(root, dataset)
             if e.state is not None and e.state.flavour == flavour.id
             and e.state.covers(request.key())]
    if not found:
        return None
    best = max(found, key=lambda e: version_key(e.state.version))
    _check(root, best.path)
    return best.path


def _check(root: Path, path: Path) -> None:
    """A cached folder is handed out again only if its files are still what was placed."""
    from casdb.checkouts.placed import check_in_place

    check_in_place(root, path)
    cache.touch_used(path)
