"""Crafted repositories for tests: versions whose stored data names unsafe paths.

An attacker does not go through ``commit``: they write objects with casdb's own encoders and
publish refs to them. The helpers here do the same, so tests can check that every reader
refuses such data (``IntegrityError``) and writes nothing outside its folder:

- :func:`craft_version` commits a copy of an honest version with one unsafe path put in its
  root tree, media index, a table's ``file`` level, an attachment or a table id;
- :func:`serve` uploads a repository to a remote verbatim (no decoding, unlike ``push``, which
  refuses what it cannot decode);
- :func:`write_tombstones` and :func:`craft_state` write a ``purged`` file or a checked-out
  folder's ``state.json`` naming unsafe paths.

Example:
    >>> len(UNSAFE_PATHS) > 10 and "../../x" in UNSAFE_PATHS
    True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.model.objects import FILE, Header, Tree, TreeEntry
from casdb.store.refs import RefUpdate

if TYPE_CHECKING:
    from casdb.api import Repository
    from casdb.remote.layout import Remote

UNSAFE_PATHS = (
    "..", "../x", "../../x", "a/../../b", "./a", "a/./b", "a//b", "a/", "",
    "/etc/casdb-crafted-x", "C:\\x", "C:x", "a\\..\\..\\x", "a\x00b", "a\nb", "x\x7f",
    "a/" + "n" * 256, "é" * 128, "d/" * 2100 + "x",
)
"""Relative paths that a reader must refuse: escapes, absolute, drive letters, backslashes,
NUL and control characters, non-normalised forms, components over 255 bytes, paths over 4 KiB."""

PLACES = ("tree", "media", "table", "attachment", "table_id")
"""Where :func:`craft_version` can put an unsafe path."""


def craft_version(repo: Repository, dataset: str, version: str, place: str, bad: str,
                  base: str | None = None) -> str:
    """Tag ``dataset`` ``version`` on a copy of commit ``base`` (default: the dataset's
    ``main`` head) with the unsafe path ``bad`` put in ``place`` (one of :data:`PLACES`).

    Returns the commit id. Objects are encoded with casdb's own encoders and published, the
    tag written like any tag: only what the bytes say is wrong.
    """
    import pyarrow as pa

    from casdb.tables.partitions import load_arrow, store_table

    store = repo.store
    base = base or repo.refs.get(dataset, "heads/main")
    commit = store.get(base, "commit")
    changes: dict = {"parents": (base,), "message": f"crafted: {place} {bad[:40]!r}"}
    if place == "tree":
        root: Tree = store.get(commit.tree, "tree")
        some = next(e for e in _leaves(store, commit.tree) if e.kind == FILE)
        entries = sorted([*root.entries, TreeEntry(bad, FILE, some.id, some.size)],
                         key=lambda e: e.name)
        changes["tree"] = store.put(Tree(entries=tuple(entries)))
    elif place == "media":
        table = load_arrow(store, store.get(commit.media, "table"))
        files = table.column("file").to_pylist()
        files[0] = bad
        table = table.set_column(0, "file", pa.array(files, pa.string()))
        changes["media"] = store_table(store, "media", "media", table, ["file"])
    elif place == "table":
        name, table_id = next((n, i) for n, i in commit.tables
                              if store.get(i, "table").type == "filewise")
        obj = store.get(table_id, "table")
        table = load_arrow(store, obj)
        files = table.column("file").to_pylist()
        files[0] = bad
        table = table.set_column(0, "file", pa.array(files, pa.string()))
        new = store_table(store, obj.name, obj.type, table, [c.name for c in obj.index])
        changes["tables"] = tuple((n, new if n == name else i) for n, i in commit.tables)
    elif place in ("attachment", "table_id"):
        data = dict(store.get(commit.header, "header").data)
        if place == "attachment":
            data["attachments"] = {"crafted": {"path": bad}}
        else:
            tables = dict(data["tables"])
            name = next(iter(tables))
            tables[bad] = tables[name]
            data["tables"] = tables
            changes["tables"] = tuple(sorted([*commit.tables,
                                              (bad, dict(commit.tables)[name])]))
        changes["header"] = store.put(Header(data))
    else:
        raise ValueError(f"unknown place {place!r}")
    crafted = dataclasses.replace(commit, **changes)
    commit_id = store.put(crafted)
    store.publish()
    repo.refs.update(dataset, [RefUpdate(f"tags/{version}", None, commit_id)])
    return commit_id


def _leaves(store, tree_id: str):
    """Every entry under a tree (files first found depth-first), without the path checks."""
    tree: Tree = store.get(tree_id, "tree")
    if not tree.is_leaf:
        for child in tree.children:
            yield from _leaves(store, child.id)
        return
    for entry in tree.entries:
        yield entry
        if entry.kind != FILE:
            yield from _leaves(store, entry.id)


def serve(repo: Repository, url: str) -> Remote:
    """Upload every object, blob, ref and tombstone of ``repo`` to a new remote at ``url``,
    verbatim: unlike ``push``, nothing is decoded on the way."""
    from casdb.remote.layout import BIG, BLOB, OBJECT, Remote

    remote = Remote.create(url)
    store = repo.store
    items = [(i, OBJECT, store.read_stored(i)) for i in store.object_ids()]
    for blob in store.blob_ids():
        path = store.blob_path(blob)
        if path.stat().st_size >= BIG:
            remote.put_blob(blob, path)
        else:
            items.append((blob, BLOB, path.read_bytes()))
    remote.put_pack(items)
    for dataset, ref, commit in repo.refs.all():
        remote.backend.put(f"refs/{dataset}/{ref}", (commit + "\n").encode())
    purged = repo.path / "purged"
    if purged.exists():
        remote.backend.put("purged", purged.read_bytes())
    return remote


def tombstone_bytes(blob: str, path: str, dataset: str = "synth") -> bytes:
    """A ``purged`` file with one tombstone naming ``path``."""
    stone = {"blob": blob, "dataset": dataset, "paths": [path], "reason": "crafted",
             "date": "2026-01-01T00:00:00Z", "holders": []}
    return json.dumps([stone]).encode() + b"\n"


def write_tombstones(repo: Repository, blob: str, path: str, dataset: str = "synth") -> None:
    """Replace the repository's tombstones by one naming ``path`` for ``blob``."""
    (repo.path / "purged").write_bytes(tombstone_bytes(blob, path, dataset))


def craft_state(folder: Path, field: str, bad: str) -> None:
    """Put ``bad`` into ``field`` (``media``, ``rows``, ``files`` or ``tables``) of a
    checked-out folder's ``.casdb/state.json``."""
    file = Path(folder) / ".casdb" / "state.json"
    data = json.loads(file.read_bytes())
    if field in ("media", "rows"):
        data[field] = sorted([*(data.get(field) or []), bad])
    elif field == "files":
        data["files"][bad] = "0" * 64
    elif field == "tables":
        data["tables"][bad] = "all"
    else:
        raise ValueError(f"unknown field {field!r}")
    file.chmod(0o644)
    file.write_text(json.dumps(data))


def tree_snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` but those under ``skip``: path -> (size, mtime_ns).

    Taken before and after an operation, two snapshots prove it wrote nothing outside the
    folders it owns."""
    import os

    skipped = {str(s) for s in skip}
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in skipped]
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            out[full] = (st.st_size if name in files else 0, st.st_mtime_ns if name in files else 0)
    return out
