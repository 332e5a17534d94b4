"""Cloning a remote into a new local repository, finished by a rerun wherever it was stopped.

``clone(URL, PATH)`` goes through these steps; a kill at any moment leaves PATH in a state that
the same ``clone(URL, PATH)`` takes up again:

1. the remote is opened (nothing is created if there is no casdb remote at URL);
2. PATH is created (or found empty) and the marker ``PATH/.casdb-clone`` (JSON: the URL) is put
   in place at once: written to ``.casdb-clone.tmp-*``, fsynced, linked to its name. From then
   on PATH is a clone in progress, which only ``clone URL PATH`` opens; every other command
   says "clone interrupted: rerun 'casdb clone URL PATH'";
3. under ``PATH/locks/clone.lock``: the repository layout and config (what exists is kept), the
   temporary files of an interrupted run removed, the remote ``origin`` recorded;
4. pull: objects level by level, then blobs, each batch published as it arrives (so a rerun
   fetches only what is still missing), then the refs;
5. the marker is removed (and the folder synced): the clone is complete.

What a rerun finds at PATH, and does:

- nothing, an empty folder, or only the temporary file of a marker (killed in 2): starts afresh;
- the marker, with the same URL: resumes at 3; with another URL: ``InvalidInput``;
- a repository without the marker: ``AlreadyExists``; anything else: ``InvalidInput``.

Two clones into one PATH at once: the second gets ``Conflict``.

Example:
    >>> import tempfile
    >>> from casdb.remote.layout import Remote
    >>> url = tempfile.mkdtemp() + "/remote"
    >>> _ = Remote.create(url)
    >>> config.configured(clone(url, Path(tempfile.mkdtemp()) / "copy")) == {"origin": url}
    True
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from casdb.core.atomic import fsync_dir
from casdb.core.errors import AlreadyExists, Conflict, InvalidInput, storage_error
from casdb.core.locking import FileLock
from casdb.history.repository import CLONE_MARKER, BaseRepository, cloning_url, make_layout
from casdb.remote import config
from casdb.remote.transfer import pull

MARKER_TMP = CLONE_MARKER + ".tmp-"


class _Cloning(BaseRepository):
    """The repository of a clone in progress: opens although the marker is there."""

    _cloning = True


def clone(url: str, path: Path, progress: bool | None = None) -> BaseRepository:
    """A repository at ``path`` with every dataset of the remote at ``url`` as remote ``origin``;
    finishes an interrupted clone of the same ``url`` into ``path``."""
    from casdb.remote.layout import Remote
    from casdb.store.backends.base import redact

    if redact(url) != url:  # checked before anything exists: the URL goes into the marker
        raise InvalidInput(f"{redact(url)}: put credentials in the environment or the AWS "
                           "config files, never in the URL")
    Remote.open(url)  # fail before creating anything
    _claim(path, url)
    try:
        lock = FileLock(path / "locks" / "clone.lock", timeout=0).__enter__()
    except Conflict:
        raise Conflict(f"another clone into {path} is running") from None
    try:
        if cloning_url(path) is None:  # the other clone finished it meanwhile
            raise AlreadyExists(f"{path} is a casdb repository already")
        for leftover in path.glob(MARKER_TMP + "*"):  # killed between link and unlink
            leftover.unlink(missing_ok=True)
        make_layout(path)
        _clear_tmp(path / "tmp")  # staged by a killed run; nobody else opens a clone in progress
        repo = _Cloning(path)
        if config.configured(repo).get("origin") != url:
            config.add(repo, "origin", url, create=False)
        with repo.writing():
            pull(repo, config.open_named(repo, "origin"), None, progress)
        try:
            (path / CLONE_MARKER).unlink()
            fsync_dir(path)
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
    finally:
        lock.__exit__(None, None, None)
    return BaseRepository(path)


def _claim(path: Path, url: str) -> None:
    """Make ``path`` a clone in progress of ``url`` (step 2), or check that it is one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidInput(f"{path} exists and is not an empty folder") from None
    except OSError as exc:
        raise storage_error(exc, str(path)) from exc
    recorded = cloning_url(path)
    if recorded is None:
        if (path / "config").exists():
            raise AlreadyExists(f"{path} is a casdb repository already")
        try:
            leftovers = [entry.path for entry in os.scandir(path)]
        except OSError as exc:
            raise storage_error(exc, str(path)) from exc
        if any(not os.path.basename(p).startswith(MARKER_TMP) for p in leftovers):
            raise InvalidInput(f"{path} exists and is not an empty folder")
        for leftover in leftovers:  # a marker whose write was killed
            Path(leftover).unlink(missing_ok=True)
        if _place_marker(path, url):
            return
        recorded = cloning_url(path)  # another clone placed its marker first
    if recorded != url:
        import shlex

        raise InvalidInput(
            f"{path} holds an unfinished clone of {recorded}: finish it with 'casdb clone "
            f"{shlex.quote(str(recorded))} {shlex.quote(str(path))}', or delete {path} first")


def _place_marker(path: Path, url: str) -> bool:
    """Put the marker in place, durable, if there is none (False: there is one already)."""
    tmp = path / f"{MARKER_TMP}{os.getpid()}-{os.urandom(4).hex()}"
    try:
        with open(tmp, "xb") as f:
            f.write(json.dumps({"url": url}).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path / CLONE_MARKER)  # put-if-absent: a racing clone's marker stays
            placed = True
        except FileExistsError:
            placed = False
        os.unlink(tmp)
        fsync_dir(path)
        fsync_dir(path.parent)  # the folder itself, if it was just made
    except OSError as exc:
        raise storage_error(exc, str(path)) from exc
    return placed


def _clear_tmp(tmp: Path) -> None:
    try:
        with os.scandir(tmp) as entries:
            for entry in entries:
                Path(entry.path).unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(exc, str(tmp)) from exc
