"""Reading a dataset folder as users keep it: ``db.yaml``, table files and media files.

    mydb/
      db.yaml                   header (validated by casdb.header)
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
import stat
from dataclasses import dataclass, field
from pathlib import Path

from casdb.errors import InvalidDataset
from casdb.header import TABLE_FORMATS, parse_header, table_specs


@dataclass(frozen=True)
class SourceFile:
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

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def scan(root: str | Path) -> Source:
    """Read the header, find the table files and list the media and attachment files."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidDataset(f"{root} is not a folder")
    root = root.resolve()
    header = parse_header(root / "db.yaml")
    tables: dict[str, tuple[str, Path]] = {}
    skip = {"db.yaml"}
    for table_id, kind in table_specs(header).items():
        candidates = [root / f"db.{table_id}.{ext}" for ext in TABLE_FORMATS]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise InvalidDataset(
                f"table {table_id!r} is declared in db.yaml but neither db.{table_id}.parquet "
                f"nor db.{table_id}.csv is in {root}"
            )
        tables[table_id] = (kind, found[0])
        skip |= {p.name for p in candidates}
    files = sorted(_walk(root, root, skip), key=lambda f: f.path)
    return Source(root=root, header=header, tables=tables, files=files)


def _walk(root: Path, folder: Path, skip: set[str]):
    try:
        items = list(os.scandir(folder))
    except OSError as exc:
        raise InvalidDataset(f"cannot read folder {folder}: {exc.strerror or exc}") from exc
    for item in items:
        rel = Path(item.path).relative_to(root).as_posix()
        if folder == root and item.name in skip:
            continue
        try:
            st = item.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                st = _check_symlink(root, item, rel)
        except OSError as exc:
            raise InvalidDataset(f"cannot read {rel}: {exc.strerror or exc}") from exc
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, Path(item.path), skip)
        elif stat.S_ISREG(st.st_mode):
            if not os.access(item.path, os.R_OK):
                raise InvalidDataset(f"cannot read {rel}: permission denied")
            yield SourceFile(rel, item.path, st.st_size, st.st_mtime_ns, st.st_ino)
        else:
            raise InvalidDataset(f"{rel} is neither a file nor a folder")


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


def check_media_path(path: object, where: str) -> str:
    """Return a table's file reference if it is a relative path inside the folder."""
    if not isinstance(path, str) or not path:
        raise InvalidDataset(f"{where}: file {path!r} is not a path")
    parts = path.replace("\\", "/").split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidDataset(f"{where}: file {path!r} escapes the dataset folder or is not normalised")
    return path
