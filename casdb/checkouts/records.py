"""Where a repository's versions were checked out: the cache roots and the user's folders.

A purge must reach every copy of the purged bytes. Copies outside the repository are the
checkout caches that loaded from it (any ``cache_root=`` / ``$CASDB_CACHE`` a user ever set)
and the folders named by ``casdb checkout NAME DEST``. Each checkout records both in
``<repo>/checkouts``; a purge cleans every recorded cache root that still exists and lists the
recorded folders that still hold purged files (user data: casdb does not delete them).

    <repo>/checkouts      JSON {"format": 1, "caches": [path, ...], "folders": [path, ...]}

Recording is cheap on the common path (the file is read, the path is there already) and is
otherwise a read-modify-replace under ``locks/checkouts.lock``, so two checkouts that record at
once both stay. The file is untrusted input when read: paths must be absolute, normalised, without
NUL, at most 4096 characters, at most 4096 of each kind, the file at most 4 MiB; else
``IntegrityError`` naming the file. A checkout never fails for want of a record (a read-only
repository, a damaged file): it warns (:class:`NotRecorded`) and goes on.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from casdb.history.repository import BaseRepository
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> record(repo, Path("/tmp/cache"), dest=Path("/tmp/emodb"))
    True
    >>> read(repo)
    Recorded(caches=[PosixPath('/tmp/cache')], folders=[PosixPath('/tmp/emodb')])
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import Error, IntegrityError

if TYPE_CHECKING:
    from casdb.checkouts.source import ObjectSource

CHECKOUTS = "checkouts"
FORMAT = 1
MAX_BYTES = 4 << 20
MAX_ENTRIES = 4096
MAX_PATH = 4096


class NotRecorded(UserWarning):
    """A checkout could not be recorded: a purge will not know that folder."""


@dataclass
class Recorded:
    """The cache roots and checkout folders (``DEST``) recorded in a repository."""

    caches: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def read(repo: ObjectSource) -> Recorded:
    """What ``<repo>/checkouts`` records (empty if absent); ``IntegrityError`` if malformed."""
    path = repo.path / CHECKOUTS
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return Recorded()
    except OSError as exc:
        raise IntegrityError(f"{path} is unreadable: {exc.strerror or exc}") from exc
    return _decode(data, path)


def _decode(data: bytes, path: Path) -> Recorded:
    if len(data) > MAX_BYTES:
        raise IntegrityError(f"{path} is larger than {MAX_BYTES >> 20} MiB: delete it")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise IntegrityError(f"{path} is not valid JSON: delete it") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IntegrityError(f"{path}: unsupported format (expected {{\"format\": {FORMAT}}})")
    out = Recorded()
    for key, target in (("caches", out.caches), ("folders", out.folders)):
        items = doc.get(key, [])
        if not isinstance(items, list) or len(items) > MAX_ENTRIES:
            raise IntegrityError(f"{path}: {key!r} must be a list of at most {MAX_ENTRIES} paths")
        for item in items:
            if not _valid(item):
                raise IntegrityError(f"{path}: {key!r} holds an invalid path {str(item)[:80]!r}")
            target.append(Path(item))
    return out


def _valid(item: object) -> bool:
    """An absolute, normalised path without NUL and of sane length."""
    return (isinstance(item, str) and 0 < len(item) <= MAX_PATH and "\0" not in item
            and os.path.isabs(item) and os.path.normpath(item) == item)


def record(repo: ObjectSource, cache_root: Path, dest: Path | None = None) -> bool:
    """Record that a checkout used ``cache_root`` (and wrote into ``dest``); return whether the
    record holds them. Never raises a casdb error: a failure is a :class:`NotRecorded` warning.
    """
    if not repo.records_checkouts:
        return False  # the object cache of a remote (casdb.load from a URL): no purge runs on it
    wanted = {"caches": os.path.normpath(os.path.abspath(cache_root))}
    if dest is not None:
        wanted["folders"] = os.path.normpath(os.path.abspath(dest))
    try:
        known = read(repo)
        if _holds(known, wanted):
            return True
        from casdb.core.atomic import atomic_write
        from casdb.core.locking import FileLock

        with FileLock(repo.path / "locks" / "checkouts.lock", timeout=10):
            known = read(repo)  # another checkout may have recorded meanwhile
            if _holds(known, wanted):
                return True
            doc = {"format": FORMAT,
                   "caches": _added([str(p) for p in known.caches], wanted["caches"]),
                   "folders": _added([str(p) for p in known.folders], wanted.get("folders"))}
            atomic_write(repo.path / CHECKOUTS, json.dumps(doc, indent=1).encode() + b"\n",
                         tmp_dir=repo.path / "tmp")
        return True
    except Error as exc:
        warnings.warn(f"casdb: this checkout is not recorded in {repo.path} ({exc}); a purge "
                      "will not clean it", NotRecorded, stacklevel=3)
        return False


def _holds(known: Recorded, wanted: dict[str, str]) -> bool:
    have = {"caches": {str(p) for p in known.caches}, "folders": {str(p) for p in known.folders}}
    return all(value in have[key] for key, value in wanted.items())


def _added(items: list[str], new: str | None) -> list[str]:
    """``items`` with ``new`` appended once; when full, paths that no longer exist go first,
    then the oldest (a record is a hint for purge, not a promise)."""
    if new is None or new in items:
        return items
    if len(items) >= MAX_ENTRIES:
        items = [p for p in items if os.path.exists(p)]
    if len(items) >= MAX_ENTRIES:
        items = items[len(items) - MAX_ENTRIES + 1:]
    return [*items, new]


def holding(folders: list[Path], blobs: set[str]) -> list[Path]:
    """The checkout folders among ``folders`` that hold a file whose bytes are in ``blobs``.

    A folder's own file list (``.casdb/files.json``) says which file holds which blob; a
    folder whose list cannot be read is listed too, for it may hold anything.
    """
    from casdb.checkouts import layout as cache

    out = []
    for folder in folders:
        meta = folder / cache.META
        if not ((meta / cache.FILES).is_file() or (meta / cache.MEDIA).is_file()):
            continue  # deleted, or no longer a checkout
        try:
            index = cache.read_files(folder)
        except Error:
            out.append(folder)
            continue
        local = index["local"]
        for file, blob in zip(local, index["blob"], strict=True):
            if blob in blobs and isinstance(file, str) and _inside(file) \
                    and os.path.lexists(folder / file):
                out.append(folder)
                break
    return out


def _inside(relative: str) -> bool:
    """A relative path that stays inside its folder (the index is read from user space)."""
    return (not os.path.isabs(relative) and "\0" not in relative
            and ".." not in Path(relative).parts)
