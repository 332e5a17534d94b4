"""Reading a dataset folder as users keep it: ``db.yaml``, table files and media files.

    mydb/
      db.yaml                   header (validated by casdb.tables.header)
      db.<table>.parquet|csv    tables named in the header (parquet preferred when both exist)
      audio/...                 media and any other files, at any depth

Nothing here writes: a folder is scanned and checked completely before a commit stores anything.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "db.yaml").write_text("name: demo\\n")
    >>> _ = (root / "a.wav").write_bytes(b"RIFF")
    >>> [f.path for f in scan(root).files]
    ['a.wav']
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from casdb.core.errors import InvalidDataset
from casdb.tables.header import TABLE_FORMATS, parse_header, table_specs


class SourceFile(NamedTuple):
    """A file of the folder, with the stat fields the stat cache keys on."""

    path: str
    """Posix path relative to the folder."""
    abspath: str
    size: int
    mtime_ns: int
    ino: int


@dataclass
class Source:
    """A scanned dataset folder."""

    root: Path
    header: dict
    tables: dict[str, tuple[str, Path]] = field(default_factory=dict)
    """Table id -> (table type, table file)."""
    files: list[SourceFile] = field(default_factory=list)
    """Every file but db.yaml and the table files, sorted by path."""


def scan(root: str | Path, *, stored: Collection[str] | None = None) -> Source:
    """Read the header, find the table files and list the media and attachment files.

    ``stored``: the paths of a version made of stored blobs (``commit_files``); its attachments
    must be among them rather than in the folder."""
    root = Path(os.fsdecode(root))
    if not root.is_dir():
        raise InvalidDataset(f"{root} is not a folder")
    root = root.resolve()
    if not _is_utf8(str(root)):  # pyarrow and libsndfile open UTF-8 paths only
        raise InvalidDataset(f"the path of the dataset folder is not UTF-8: "
                             f"{os.fsencode(str(root))!r}; move it to a UTF-8 path")
    header = parse_header(root / "db.yaml")
    tables: dict[str, tuple[str, Path]] = {}
    skip = {"db.yaml", ".casdb"}  # .casdb: what a checkout keeps about itself
    for table_id, kind in table_specs(header).items():
        candidates = [root / f"db.{table_id}.{ext}" for ext in TABLE_FORMATS]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise InvalidDataset(
                f"table {table_id!r} is declared in db.yaml but neither db.{table_id}.parquet "
                f"nor db.{table_id}.csv is in {root}"
            )
        tables[table_id] = (kind, found[0])
        skip |= {p.name for p in candidates} | {f"db.{table_id}.pkl"}  # audformat's cache
    undecodable: list[str] = []
    files = _walk(str(root), str(root), "", skip, _Access(), undecodable)
    files.sort()  # by path: paths are unique, so no tuple is ever compared past its path
    if undecodable:
        raise InvalidDataset(_not_utf8(undecodable))
    _check_paths(files)
    _check_attachments(header, root, stored)
    return Source(root=root, header=header, tables=tables, files=files)


def _check_paths(files: list[SourceFile]) -> None:
    """Refuse names a checkout would refuse (:mod:`casdb.core.paths`): what is committed must come
    back. Control characters, backslashes and a leading drive letter are legal on Linux but
    not portable; a name that is not UTF-8 cannot be stored."""
    from casdb.core.errors import IntegrityError
    from casdb.core.paths import check_relpath, check_relpaths

    paths = [f.path for f in files]
    try:
        check_relpaths(paths, "")
    except IntegrityError:
        bad = []
        for p in paths:
            try:
                check_relpath(p, "")
            except IntegrityError as exc:
                bad.append(f"{p.encode('utf-8', 'backslashreplace').decode()!r} "
                           f"({str(exc).rsplit('(', 1)[-1].rstrip(')')})")
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise InvalidDataset(f"file names casdb cannot store: {', '.join(bad[:3])}{more}"
                             " (rename them)") from None


def _check_attachments(header: dict, root: Path, stored: Collection[str] | None = None) -> None:
    """Every attachment the header declares must be a file or folder inside the dataset (or,
    with ``stored``, one of those paths or a folder holding one)."""
    for aid, spec in (header.get("attachments") or {}).items():
        path = (spec or {}).get("path") if isinstance(spec, dict) else None
        if not isinstance(path, str) or not path or re.search(BAD_PATH, path):
            raise InvalidDataset(f"db.yaml: attachment {aid!r} has no valid path ({path!r})")
        if stored is not None:
            folder = path.rstrip("/") + "/"
            present = path in stored or any(p.startswith(folder) for p in stored)
        else:
            present = (root / path).exists()
        if not present:
            raise InvalidDataset(f"db.yaml: attachment {aid!r}: {path} is not in the folder")


class _Access:
    """Whether this process may read a file, from its stat (no extra system call per file)."""

    def __init__(self) -> None:
        self.uid = os.geteuid()
        self.groups = set(os.getgroups()) | {os.getegid()}

    def readable(self, st: os.stat_result) -> bool:
        if self.uid == 0:
            return True
        if st.st_uid == self.uid:
            return bool(st.st_mode & stat.S_IRUSR)
        if st.st_gid in self.groups:
            return bool(st.st_mode & stat.S_IRGRP)
        return bool(st.st_mode & stat.S_IROTH)


_REG, _DIR, _LNK, _TYPE = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFMT(0o177777)


def _walk(root: str, folder: str, prefix: str, skip: set[str], access: _Access,
          undecodable: list[str]) -> list[SourceFile]:
    # The hot loop of a no-change commit (one pass per file): kept free of calls it can avoid.
    # Names that are not UTF-8 (surrogate escapes) go to ``undecodable``, their folders unread.
    out: list[SourceFile] = []
    append = out.append
    new = tuple.__new__  # a NamedTuple's own __new__ is a Python call: 6x slower per file
    check = access.uid != 0
    stack = [(folder, prefix)]
    while stack:
        folder, prefix = stack.pop()
        try:
            items = list(os.scandir(folder))
        except OSError as exc:
            raise InvalidDataset(f"cannot read folder {folder}: {exc.strerror or exc}") from exc
        for item in items:
            name = item.name
            if not prefix and name in skip:
                continue
            if not name.isascii() and not _is_utf8(name):
                undecodable.append(prefix + name)
                continue
            try:
                st = item.stat(follow_symlinks=False)
                kind = st.st_mode & _TYPE
                if kind == _LNK:
                    st = _check_symlink(Path(root), item, prefix + name)
                    kind = st.st_mode & _TYPE
            except OSError as exc:
                raise InvalidDataset(f"cannot read {prefix}{name}: {exc.strerror or exc}") from exc
            if kind == _REG:
                if check and not access.readable(st):
                    raise InvalidDataset(f"cannot read {prefix}{name}: permission denied")
                append(new(SourceFile, (prefix + name, item.path, st.st_size, st.st_mtime_ns,
                                        st.st_ino)))
            elif kind == _DIR:
                stack.append((item.path, prefix + name + "/"))
            else:
                raise InvalidDataset(f"{prefix}{name} is neither a file nor a folder")
    return out


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 come in as lone surrogates
        return False
    return True


def _not_utf8(paths: list[str]) -> str:
    """One line naming the file names that are not UTF-8 (as bytes), and how to fix them."""
    shown = ", ".join(repr(os.fsencode(p)) for p in sorted(paths)[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return (f"{len(paths)} file name{'s are' if len(paths) > 1 else ' is'} not UTF-8 in the "
            f"dataset folder: {shown}{more}; casdb keeps names as UTF-8 (the same on every "
            "system and as S3 keys): rename them to UTF-8 (e.g. convmv -f latin1 -t utf8 -r "
            "--notest FOLDER)")


def _check_symlink(root: Path, item: os.DirEntry, rel: str) -> os.stat_result:
    target = Path(item.path).resolve()
    if not target.is_relative_to(root):
        raise InvalidDataset(f"{rel} is a symlink to {target}, outside the dataset folder")
    if not target.exists():
        raise InvalidDataset(f"{rel} is a broken symlink")
    st = os.stat(item.path)
    if stat.S_ISDIR(st.st_mode):
        raise InvalidDataset(f"{rel} is a symlink to a folder: copy or move the folder instead")
    return st


BAD_PATH = r"^$|^/|//|/$|\\|(^|/)\.\.?(/|$)"
"""A regular expression matching file references that are absolute, escape the folder with
``..``, or are not normalised (``./``, ``//``, backslashes, a trailing ``/``)."""
