"""One version of a dataset, read from the store: header, tables and media index.

Example:
    >>> import tempfile
    >>> from casdb.api import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.1), dataset="d")
    >>> snap = repo.snapshot("d")
    >>> snap.table_ids, len(snap.table("emotion"))
    (['emotion', 'segments', 'speaker'], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from casdb.core.errors import NotFound
from casdb.model.objects import Commit, Table
from casdb.tables.partitions import load_arrow
from casdb.tables.schema import TableLayout, layout

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from casdb.store.objectstore import ObjectStore


class Snapshot:
    """A dataset at one commit."""

    def __init__(self, store: ObjectStore, dataset: str, commit_id: str) -> None:
        self.store = store
        self.dataset = dataset
        self.commit_id = commit_id
        self.commit: Commit = store.get(commit_id, "commit")

    @cached_property
    def header(self) -> dict[str, Any]:
        """The db.yaml mapping (checked like a source's db.yaml: table ids, attachment paths)."""
        from casdb.tables.header import check_stored

        return check_stored(self.store.get(self.commit.header, "header").data,
                            f"header of {self.dataset} {self.commit_id[:10]}")

    @property
    def table_ids(self) -> list[str]:
        return [name for name, _ in self.commit.tables]

    def table_object(self, table_id: str) -> Table:
        tables = dict(self.commit.tables)
        if table_id not in tables:
            import difflib

            close = difflib.get_close_matches(table_id, list(tables), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NotFound(f"{self.dataset} has no table {table_id!r}{hint}")
        return self.store.get(tables[table_id], "table")

    def layout(self, table_id: str) -> TableLayout:
        return layout(self.header, table_id)

    def arrow(self, table_id: str, columns: Sequence[str] | None = None) -> pa.Table:
        """A table as stored: Arrow, index levels first, rows in the file's order.

        The ``file`` level of a filewise or segmented table is checked (:mod:`casdb.core.paths`):
        its values become paths in checkouts and in the frames users get.
        """
        table = self.table_object(table_id)
        out = load_arrow(self.store, table, columns)
        if table.type in ("filewise", "segmented") and "file" in out.column_names:
            from casdb.core.paths import check_relpath_array

            check_relpath_array(out.column("file"),
                                f"table {table_id!r} of {self.dataset} {self.commit_id[:10]}")
        return out

    def label_sets(self, lay: TableLayout) -> dict[str, list]:
        """Index values of the misc tables whose index labels columns of ``lay``, in the misc
        table's file order (audformat orders such categories so)."""
        out = {}
        for spec in lay.columns.values():
            if spec.labels_table and spec.labels_table not in out:
                misc = self.table_object(spec.labels_table)
                out[spec.labels_table] = (
                    load_arrow(self.store, misc, []).column(0).to_pylist()
                )
        return out

    def table(self, table_id: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A table as audformat gives it: audformat dtypes and index, rows and categories of
        misc-table labels in the order of the committed files."""
        from casdb.tables.frames import to_frame

        lay = self.layout(table_id)
        if columns is not None:
            unknown = [c for c in columns if c not in lay.columns]
            if unknown:
                raise NotFound(f"table {table_id!r} of {self.dataset} has no column {unknown[0]!r}")
            lay = TableLayout(lay.id, lay.kind, lay.levels, {c: lay.columns[c] for c in columns})
        return to_frame(self.arrow(table_id, columns), lay, self.label_sets(lay))

    def media(self) -> pd.DataFrame:
        """The media index: one row per file (blob, bytes, format, sampling rate, channels,
        bit depth, duration in seconds), indexed by ``file``, like audb's dependency table."""
        from casdb.tables import mediaindex

        if self.commit.media is None:
            raise NotFound(f"{self.dataset} at {self.commit_id[:10]} has no media index")
        return mediaindex.frame(self.store, self.commit.media)
