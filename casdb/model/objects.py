"""The object model: immutable values, no I/O.

Blobs (media and attachment bytes) are not modelled here: a blob is its bytes. The structural
objects below are encoded by :mod:`casdb.model.encoding`; their id is the blake3 hash of that encoding.

    Commit ──> Tree (root folder of media and attachments) ──> Tree ... ──> blob
           ──> Header (db.yaml)
           ──> Table (one per table) ──> Partition (one column of a run of rows)
           ──> parents (Commit ...)

Example:
    >>> entry = TreeEntry("a.wav", FILE, "ab" * 32, 10)
    >>> Tree(entries=(entry,)).is_leaf
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FILE = "file"
DIR = "dir"


@dataclass(frozen=True)
class TreeEntry:
    """One name in a folder: a file (``id`` is its blob) or a sub-folder (``id`` is its tree)."""

    name: str
    kind: str
    id: str
    size: int
    count: int = 1
    """Number of files under this entry (1 for a file)."""


@dataclass(frozen=True)
class TreeChild:
    """A reference from an index node to one node of the level below."""

    first: str
    """Name of the first entry under the child node."""
    id: str
    count: int
    """Number of entries (names in this folder) under the child node."""


@dataclass(frozen=True)
class Tree:
    """A node of a folder listing.

    A small folder is one leaf node holding its sorted ``entries``. A big folder is split at
    content-defined boundaries into leaves, referenced by index nodes (``children``), so changing
    one name rewrites one leaf and the path of index nodes above it.
    """

    entries: tuple[TreeEntry, ...] = ()
    children: tuple[TreeChild, ...] = ()
    level: int = 0
    """0 for a leaf; an index node is one above the highest of its children."""

    @property
    def is_leaf(self) -> bool:
        return self.level == 0


@dataclass(frozen=True)
class Header:
    """The content of ``db.yaml``: a mapping of plain values (str keys at the top)."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A column of a table and the arrow type it is stored as."""

    name: str
    dtype: str
    """The arrow type as text, e.g. ``string``, ``int64``, ``duration[ns]``."""


@dataclass(frozen=True)
class Run:
    """A run of consecutive rows of a table (sorted by index); each column its own partition."""

    rows: int
    first: tuple
    """Index key of the first row."""
    last: tuple
    """Index key of the last row."""
    columns: tuple[str, ...]
    """Partition id per column, in the order of ``Table.index + Table.columns``."""


@dataclass(frozen=True)
class Table:
    """A table: its type, index levels, value columns and the runs of rows that hold the data."""

    name: str
    type: str
    """``filewise``, ``segmented`` or ``misc``."""
    index: tuple[Column, ...]
    columns: tuple[Column, ...]
    runs: tuple[Run, ...]
    order: tuple[str, ...] = ()
    """The rows' order in the source file, when it is not the sorted order: one partition per
    run (same rows, same order as the run) holding each row's position in the file. Empty when
    the file was sorted by index (the common case stores nothing, and the id is unchanged)."""

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)


@dataclass(frozen=True)
class Partition:
    """One column of one run, as an Arrow IPC stream (uncompressed; the store compresses)."""

    arrow: bytes


@dataclass(frozen=True)
class Commit:
    """A version of one dataset."""

    dataset: str
    tree: str
    """Root tree: media and attachments, every file of the folder but ``db.yaml`` and tables."""
    header: str
    tables: tuple[tuple[str, str], ...]
    """``(table name, table id)`` sorted by name."""
    parents: tuple[str, ...]
    author: str
    time: int
    """Seconds since the epoch, UTC."""
    tz_offset: int
    """Minutes east of UTC where the commit was made."""
    message: str
    media: str | None = None
    """The media index table (path, blob, bytes, audio properties), when present."""

