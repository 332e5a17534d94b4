"""Folder trees: building them from a file listing, walking them, and diffing two of them.

Each folder is a tree; a big folder is split at content-defined boundaries (by entry name) into
leaf nodes under index nodes, so changing one file of 100k in one folder rewrites one leaf of about
``LEAF_AVERAGE`` entries and the few index nodes above it, not a 100k-entry listing.

Example:
    >>> import tempfile
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.store.objectstore import ObjectStore
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> root = build(store, {"audio/a.wav": ("aa" * 32, 10), "b.txt": ("bb" * 32, 3)})
    >>> [(path, e.size) for path, e in walk(store, root.id)]
    [('audio/a.wav', 10), ('b.txt', 3)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from casdb.core.ids import hash_bytes
from casdb.model.chunking import cut_points, key_hash
from casdb.model.objects import DIR, FILE, Tree, TreeChild, TreeEntry
from casdb.store.objectstore import ObjectStore

LEAF_AVERAGE = 256
INDEX_AVERAGE = 64


@dataclass(frozen=True)
class Built:
    """The root of a built tree: its id, total bytes and number of files."""

    id: str
    size: int
    count: int


def build(
    store: ObjectStore,
    files: Mapping[str, tuple[str, int]],
    known: Mapping[str, tuple[str, int, int]] | None = None,
    seen: dict[str, tuple[str, int, int]] | None = None,
) -> Built:
    """Store the trees of a listing ``{posix path: (blob id, size)}`` and return the root.

    ``known`` maps digests of folder listings to trees built before (the stat cache keeps
    them), so unchanged folders are not encoded again; ``seen`` receives this build's digests.
    """
    root: dict = {}
    for path, (blob, size) in files.items():
        *dirs, name = path.split("/")
        node = root
        for d in dirs:
            node = node.setdefault(d, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: a file and a folder share a name")
        node[name] = (blob, size)
    return _build_dir(store, root, known or {}, seen if seen is not None else {})


def _build_dir(store: ObjectStore, node: dict, known: Mapping, seen: dict) -> Built:
    rows = []
    for name in sorted(node):
        value = node[name]
        if isinstance(value, dict):
            sub = _build_dir(store, value, known, seen)
            rows.append((name, DIR, sub.id, sub.size, sub.count))
        else:
            rows.append((name, FILE, value[0], value[1], 1))
    digest = hash_bytes("\n".join(f"{n}\0{k}\0{i}\0{s}\0{c}" for n, k, i, s, c in rows).encode())
    hit = known.get(digest)
    if hit is not None and store.has(hit[0]):
        built = Built(*hit)
    else:
        built = Built(
            id=store_entries(store, [TreeEntry(*row) for row in rows]),
            size=sum(row[3] for row in rows),
            count=sum(row[4] for row in rows),
        )
    seen[digest] = (built.id, built.size, built.count)
    return built


def store_entries(store: ObjectStore, entries: list[TreeEntry]) -> str:
    """Store one folder's sorted entries as a leaf, or as leaves under index nodes; return the id."""
    cuts = cut_points([key_hash(e.name.encode()) for e in entries], LEAF_AVERAGE)
    if len(cuts) <= 1:
        return store.put(Tree(entries=tuple(entries)))
    children = []
    start = 0
    for end in cuts:
        chunk = entries[start:end]
        children.append(TreeChild(chunk[0].name, store.put(Tree(entries=tuple(chunk))), len(chunk)))
        start = end
    level = 1
    while True:
        cuts = cut_points([key_hash(c.first.encode(), level) for c in children], INDEX_AVERAGE)
        if len(cuts) <= 1:
            return store.put(Tree(children=tuple(children), level=level))
        parents = []
        start = 0
        for end in cuts:
            chunk = children[start:end]
            node = Tree(children=tuple(chunk), level=level)
            parents.append(TreeChild(chunk[0].first, store.put(node), sum(c.count for c in chunk)))
            start = end
        children = parents
        level += 1


def leaves(store: ObjectStore, tree_id: str, skip: set[str] = frozenset()) -> Iterator[Tree]:
    """The leaf nodes of one folder, in order, leaving out subtrees whose id is in ``skip``."""
    if tree_id in skip:
        return
    node = store.get(tree_id, "tree")
    if node.is_leaf:
        yield node
        return
    for child in node.children:
        yield from leaves(store, child.id, skip)


def entries(store: ObjectStore, tree_id: str) -> Iterator[TreeEntry]:
    """The entries of one folder, sorted by name."""
    for leaf in leaves(store, tree_id):
        yield from leaf.entries


def node_ids(store: ObjectStore, tree_id: str) -> set[str]:
    """Ids of the nodes of one folder: its index nodes and leaves (not sub-folders)."""
    out = {tree_id}
    node = store.get(tree_id, "tree")
    for child in node.children:
        out |= node_ids(store, child.id)
    return out


def walk(store: ObjectStore, tree_id: str, prefix: str = "") -> Iterator[tuple[str, TreeEntry]]:
    """Every file under a tree as ``(posix path, entry)``, sorted by path."""
    for entry in entries(store, tree_id):
        path = prefix + entry.name
        if entry.kind == DIR:
            yield from walk(store, entry.id, path + "/")
        else:
            yield path, entry


@dataclass(frozen=True)
class Change:
    """A file that differs between two trees: ``old`` or ``new`` is None if added or removed."""

    path: str
    old: TreeEntry | None
    new: TreeEntry | None

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


def diff(store: ObjectStore, old: str | None, new: str | None, prefix: str = "") -> Iterator[Change]:
    """Files added, removed or changed from tree ``old`` to tree ``new``, sorted by path.

    Identical sub-folders and identical nodes of big folders are skipped without being read,
    so a diff costs time in proportion to what changed.
    """
    if old == new:
        return
    a = _dir_entries(store, old, new)
    b = _dir_entries(store, new, old)
    for name in sorted(a.keys() | b.keys()):
        ea, eb = a.get(name), b.get(name)
        if ea is not None and eb is not None and ea.kind == eb.kind:
            if ea.id == eb.id:
                continue
            if ea.kind == FILE:
                yield Change(prefix + name, ea, eb)
            else:
                yield from diff(store, ea.id, eb.id, prefix + name + "/")
            continue
        # Added, removed, or a file replaced by a folder (or the reverse).
        changes = list(_side(store, ea, prefix + name, old=True)) + list(
            _side(store, eb, prefix + name, old=False)
        )
        yield from sorted(changes, key=lambda c: c.path)


def _dir_entries(store: ObjectStore, tree_id: str | None, other: str | None) -> dict[str, TreeEntry]:
    """Entries of ``tree_id`` that are not in nodes shared with folder ``other``."""
    if tree_id is None:
        return {}
    shared = node_ids(store, other) if other is not None else set()
    shared &= node_ids(store, tree_id)
    return {e.name: e for leaf in leaves(store, tree_id, shared) for e in leaf.entries}


def _side(store: ObjectStore, entry: TreeEntry | None, path: str, *, old: bool) -> Iterator[Change]:
    if entry is None:
        return
    found = [(path, entry)] if entry.kind == FILE else walk(store, entry.id, path + "/")
    for p, e in found:
        yield Change(p, e, None) if old else Change(p, None, e)
