"""Tombstones: the record of purged blobs, kept in ``<repo>/purged`` (and on remotes).

A tombstone names a blob whose bytes were deleted on purpose, the dataset and paths that held
it, why and when. It belongs to the storage layer: the store, checkouts, commits, fsck and
transfers all consult it (a purged blob is an expected absence, never fetched, placed or
stored again); :mod:`casdb.maintenance.purge` is the operation that writes it.

Example:
    >>> import tempfile, pathlib
    >>> class Repo:  # anything with a ``path``: a repository folder
    ...     path = pathlib.Path(tempfile.mkdtemp())
    >>> tombstones(Repo())
    []
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from casdb.core.atomic import atomic_write
from casdb.core.errors import IntegrityError, InvalidDataset, InvalidInput


class RepositoryFolder(Protocol):
    """What tombstones need of a repository: its folder (the store layer knows no more)."""

    path: Path

PURGED = "purged"


@dataclass
class Tombstone:
    """A purged blob: which paths held it, why, when."""

    blob: str
    dataset: str
    paths: list[str]
    reason: str
    date: str
    holders: list[str] = field(default_factory=list)
    """Every ``dataset version path`` that held the bytes when they were purged."""


_STONE_FIELDS = {"blob", "dataset", "paths", "reason", "date", "holders"}


def tombstones(repo: RepositoryFolder) -> list[Tombstone]:
    """The tombstones of the repository, oldest first."""
    file = repo.path / PURGED
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise IntegrityError(f"cannot read {file}: {exc.strerror or exc}") from exc
    return parse_tombstones(data, str(file))


def parse_tombstones(data: bytes, what: str) -> list[Tombstone]:
    """Tombstones from the bytes of a ``purged`` file (local or a remote's), checked.

    Blob ids name files that purge deletes, paths are shown and matched: a blob that is not an
    id, a path that is not a safe relative path (:mod:`casdb.core.paths`) or a field of the wrong
    type raises ``IntegrityError`` naming ``what``.
    """
    from casdb.core.ids import is_id
    from casdb.core.names import check_dataset
    from casdb.core.paths import check_relpath

    try:
        items = json.loads(data)
    except ValueError as exc:  # also UnicodeDecodeError
        raise IntegrityError(f"{what} is damaged (not JSON)") from exc
    if not isinstance(items, list):
        raise IntegrityError(f"{what} is damaged: not a list of tombstones")
    out = []
    for item in items:
        if not isinstance(item, dict) or not {"blob", "dataset", "paths", "reason",
                                              "date"} <= item.keys() <= _STONE_FIELDS:
            raise IntegrityError(f"{what} is damaged: a tombstone has wrong fields")
        blob, paths, holders = item["blob"], item["paths"], item.get("holders", [])
        if not isinstance(blob, str) or not is_id(blob):
            raise IntegrityError(f"{what}: tombstone blob {str(blob)[:80]!r} is not an id")
        try:
            check_dataset(item["dataset"])
        except InvalidInput:
            raise IntegrityError(f"{what}: tombstone of {blob[:10]} names an invalid "
                                 "dataset") from None
        if not isinstance(paths, list) or not isinstance(holders, list):
            raise IntegrityError(f"{what}: tombstone of {blob[:10]} is damaged")
        for path in paths:
            check_relpath(path, f"{what}: tombstone of {blob[:10]}")
        if not all(isinstance(v, str) for v in (item["reason"], item["date"], *holders)):
            raise IntegrityError(f"{what}: tombstone of {blob[:10]} has a field that is not "
                                 "text")
        out.append(Tombstone(**item))
    return out


def purged_blobs(repo: RepositoryFolder) -> set[str]:
    return {t.blob for t in tombstones(repo)}


def save_tombstones(repo: RepositoryFolder, stones: list[Tombstone]) -> None:
    """Replace the repository's tombstones (atomically)."""
    atomic_write(repo.path / PURGED,
                 json.dumps([asdict(t) for t in stones], indent=1).encode() + b"\n",
                 tmp_dir=repo.path / "tmp")


def refuse_purged(repo: RepositoryFolder, files: dict[str, tuple[str, int]]) -> None:
    """``InvalidDataset`` if any of ``files`` (path -> blob id, size) holds purged bytes.

    A commit calls this once every file has its blob id (hashed now or vouched for by the stat
    cache), before anything is published. Storing purged bytes again would be undone anyway:
    every push and pull deletes tombstoned blobs from the remote.
    """
    from casdb.core.ids import short

    stones = {t.blob: t for t in tombstones(repo)}
    if not stones:
        return
    hits = sorted(p for p, (blob, _) in files.items() if blob in stones)
    if not hits:
        return
    t = stones[files[hits[0]][0]]
    more = f" (and {len(hits) - 1} more file{'s' if len(hits) > 2 else ''})" if len(hits) > 1 else ""
    raise InvalidDataset(
        f"{hits[0]}{more} holds bytes purged from this repository: blob {short(t.blob)}, "
        f"{t.dataset} {', '.join(t.paths)}, reason {t.reason!r}, {t.date}; remove it (and its "
        "rows) from the folder (casdb purged lists the tombstones)"
    )
