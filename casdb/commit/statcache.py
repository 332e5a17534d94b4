"""The stat cache: what casdb knew of a source folder after its last commit there.

For each folder committed from, two files under ``<repo>/statcache/`` keep:

- the *head*: a digest of the folder's listing (path, size, mtime_ns, inode of every file), the
  root tree it gave, and the table ids of the last header and table files. A re-commit of an
  unchanged folder compares one digest and reuses everything;
- the *body*: path -> (size, mtime_ns, inode, blob id), so a re-commit reads only files whose stat
  changed, and the tree id of each folder listing, so unchanged folders are not re-encoded.

It is a cache, never the truth: a damaged or missing file only costs a re-read. Files modified in
the last ``RACY_SECONDS`` before a commit are not remembered (the "racy git" problem: a file
written twice within one timestamp tick could change without its mtime changing). Whatever
deletes blobs (purge, gc) must call :meth:`StatCache.clear`.

Example:
    >>> import tempfile, pathlib
    >>> cache = StatCache(pathlib.Path(tempfile.mkdtemp()))
    >>> cache.save("/data", Head(), FolderCache(files={"a.wav": (10, 5, 7, "ab" * 32)}), 10**12)
    >>> cache.load("/data").files["a.wav"][3] == "ab" * 32
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from casdb.core.atomic import atomic_write

if TYPE_CHECKING:
    from casdb.audio.probe import MediaInfo
    from casdb.history.repository import BaseRepository

RACY_SECONDS = 2
_FORMAT = 4


@dataclass
class Head:
    """The small part of a folder's cache, read on every commit."""

    listing: str | None = None
    """Digest of the listing (see :func:`listing_digest`) when ``tree`` was built."""
    tree: tuple[str, int, int] | None = None
    """(root tree id, bytes, files) of that listing."""
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    """:func:`tables_key` -> table ids."""


@dataclass
class FolderCache:
    """The large part of a folder's cache, read when something changed."""

    files: dict[str, Sequence] = field(default_factory=dict)
    """Posix path -> (size, mtime_ns, inode, blob id)."""
    dirs: dict[str, Sequence] = field(default_factory=dict)
    """Digest of a folder listing -> (tree id, bytes, files)."""


def listing_digest(files: Sequence) -> str:
    """Digest of the paths and stats of a folder's files (``SourceFile`` tuples: path, absolute
    path, size, mtime_ns, inode; the absolute path only repeats the folder's, which keys the
    cache anyway)."""
    import msgpack

    # The tuples packed as they are, in C: a third of the time of formatting a line per file
    # in Python (100k files). A digest from an older casdb only differs: one re-check from the
    # cache body, no file is read again.
    return blake3.blake3(msgpack.packb(files, unicode_errors="surrogateescape")).hexdigest()


def tables_key(header_id: str, files: list[tuple[str, str, int, int, int]], now_ns: int) -> str | None:
    """Key for the table ids of a header and table files ``(table id, path, size, mtime_ns, ino)``.

    None when a table file was modified too recently to be trusted (see ``RACY_SECONDS``).
    """
    from casdb.model.encoding import pack

    if any(f[3] >= now_ns - RACY_SECONDS * 10**9 for f in files):
        return None
    # Paths as bytes: the folder's own path may hold names that are not UTF-8 (surrogates).
    files = [(f[0], os.fsencode(f[1]), *f[2:]) for f in files]
    return blake3.blake3(pack([header_id, sorted(files)])).hexdigest()


class StatCache:
    """Cache files per source folder, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def of(cls, repo: BaseRepository) -> StatCache:
        """The stat cache of a repository (its ``statcache/`` folder)."""
        from casdb.history.repository import STATCACHE

        return cls(repo.path / STATCACHE)

    def _path(self, root: str, part: str) -> Path:
        return self.folder / f"{blake3.blake3(os.fsencode(root)).hexdigest()[:32]}.{part}"

    def _read(self, root: str, part: str) -> dict[str, Any] | None:
        from casdb.model import compression, encoding

        try:
            stored = self._path(root, part).read_bytes()
            payload = compression.decompress(stored[32:])
            if blake3.blake3(payload).digest() != stored[:32]:
                return None  # damaged
            data = encoding.unpack(payload)
            if data["format"] != _FORMAT or data["root"] != os.fsencode(root):
                return None
            return data
        except Exception:  # noqa: BLE001 - missing or damaged: it is only a cache
            return None

    def _write(self, root: str, part: str, data: dict[str, Any]) -> None:
        import msgpack

        from casdb.model import compression

        # The folder as bytes: its path need not be UTF-8, and msgpack strings must be.
        payload = msgpack.packb({"format": _FORMAT, "root": os.fsencode(root), **data},
                                use_bin_type=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        # No fsync: a lost or torn cache reads as absent (its checksum) and costs a re-hash.
        atomic_write(
            self._path(root, part), blake3.blake3(payload).digest() + compression.compress(payload),
            durable=False,
        )

    def head(self, root: str) -> Head:
        """The head of folder ``root``'s cache (empty if there is none or it is damaged)."""
        data = self._read(root, "head")
        if data is None or not _valid_head(data):
            return Head()
        tree = tuple(data["tree"]) if data["tree"] else None
        return Head(data["listing"], tree, data["tables"])

    def load(self, root: str) -> FolderCache:
        """The body of folder ``root``'s cache (empty if there is none or it is damaged)."""
        data = self._read(root, "body")
        if data is None or not _valid_body(data):
            return FolderCache()
        return FolderCache(data["files"], data["dirs"])

    def save(self, root: str, head: Head, body: FolderCache | None, now_ns: int) -> None:
        """Replace the cache of ``root`` (``body`` None: keep it), leaving out racy files."""
        racy = now_ns - RACY_SECONDS * 10**9
        if body is not None:
            files = body.files
            if any(entry[1] >= racy for entry in files.values()):
                files = {p: entry for p, entry in files.items() if entry[1] < racy}
                head = Head(None, None, head.tables)  # the listing is not trustworthy yet
            self._write(root, "body", {"files": files, "dirs": body.dirs})
        self._write(root, "head", {"listing": head.listing, "tree": head.tree, "tables": head.tables})

    def probes(self) -> dict[str, MediaInfo]:
        """Audio properties probed before, by blob id (the repository's probe memory)."""
        from casdb.audio.probe import MediaInfo

        data = self._read("", "probes")
        probes = data.get("probes") if data else None
        # 5 fields (before the verdict of decodable.find was kept) or 6 (MediaInfo with its
        # problem): a memory that read as empty made every commit probe every WAV again
        if not isinstance(probes, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and len(v) in (5, 6)
            and (len(v) == 5 or isinstance(v[5], (str, type(None))))
            for k, v in probes.items()
        ):
            return {}
        return {k: MediaInfo(*v) for k, v in probes.items()}

    def remember_probes(self, probed: dict[str, MediaInfo]) -> None:
        """Add to the probe memory."""
        if probed:
            self._write("", "probes", {"probes": {**self.probes(), **probed}})

    def problems(self, root: str, media_id: str) -> dict[str, str] | None:
        """Media problems (:mod:`casdb.commit.decodable`) of the media index ``media_id`` last committed
        from folder ``root``; None if that is not the index recorded."""
        data = self._read(root, "problems")
        if not data or data.get("media") != media_id or not isinstance(data.get("problems"), dict):
            return None
        return data["problems"]

    def remember_problems(self, root: str, media_id: str, problems: dict[str, str]) -> None:
        """Record the media problems of ``media_id`` for folder ``root``."""
        self._write(root, "problems", {"media": media_id, "problems": problems})

    def clear(self) -> None:
        """Forget everything (after blobs were deleted from the store)."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.folder)


# A cache file is checksummed, so these only fail for a file written by something else: then it
# is ignored like a damaged one (the cache is never the truth).

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_tree(v: Any) -> bool:
    return (isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
            and _is_int(v[1]) and _is_int(v[2]))


def _valid_head(data: dict) -> bool:
    tables = data.get("tables")
    return (
        isinstance(data.get("listing"), (str, type(None)))
        and (data.get("tree") is None or _is_tree(data.get("tree")))
        and isinstance(tables, dict)
        and all(isinstance(t, dict) and all(isinstance(k, str) and isinstance(i, str)
                                            for k, i in t.items()) for t in tables.values())
    )


def _valid_body(data: dict) -> bool:
    files, dirs = data.get("files"), data.get("dirs")
    return (
        isinstance(files, dict) and isinstance(dirs, dict)
        and all(isinstance(v, list) and len(v) == 4 and _is_int(v[0]) and _is_int(v[1])
                and _is_int(v[2]) and isinstance(v[3], str) for v in files.values())
        and all(_is_tree(v) for v in dirs.values())
    )
