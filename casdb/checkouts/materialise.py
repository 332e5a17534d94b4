"""Materialising a version as a self-contained audformat folder: db.yaml, tables and media.

A checkout writes, into a cache folder or a destination the user names:

- the media, placed from the store by reflink, hardlink or copy (:mod:`casdb.checkouts.linking`);
- one ``db.<table>.parquet`` per table (audformat reads them; rows in the
  committed file's order);
- ``db.yaml``, the version's header, listing only the tables present;
- ``.casdb/``: the state, the full header and the media index, so that the folder can be
  loaded and verified later without the repository.

Order matters: media first, then tables, then db.yaml, then the state. A checkout that stops
half-way (killed, disk full) leaves a folder whose state still describes what was complete
before; the next checkout finds the files already in place and adds the rest. Checkouts of the
same folder take its lock in turn, and one that finds its request served returns at once, so
several processes loading the same version write it once.

A partial checkout (some tables, some media, or metadata only) can be widened later: the folder
then holds the union of what was asked, and the tables the rows of every media file asked for.

Example:
    >>> import tempfile
    >>> from casdb.api import Repository
    >>> from casdb.checkouts.selection import Request
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.1), dataset="d",
    ...                 version="1.0.0")
    >>> out = checkout(repo, "d", "1.0.0", Request(), root=tempfile.mkdtemp())
    >>> sorted(p.name for p in out.path.iterdir() if p.suffix != ".wav")[:3]
    ['.casdb', 'audio', 'db.emotion.parquet']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from casdb.audio.flavour import Flavour
from casdb.checkouts import layout as cache
from casdb.checkouts.converted import (
    AUGMENTATION_TABLE,
    augmentation_table,
    check_channels,
    convert_missing,
    derived_fingerprints,
    derived_path,
    flavoured_header,
    local_paths,
    plan,
)
from casdb.checkouts.linking import Linker
from casdb.checkouts.selection import Request, Selection, attachment_paths, is_attachment, select
from casdb.core.atomic import atomic_write
from casdb.core.errors import AlreadyExists, Conflict, IntegrityError, storage_error
from casdb.core.ids import hash_bytes, short
from casdb.core.locking import FileLock
from casdb.core.names import version_key
from casdb.core.parallel import workers
from casdb.core.progress import Progress
from casdb.history.snapshot import Snapshot
from casdb.model import encoding
from casdb.model.objects import Header
from casdb.store.fingerprints import Verifier
from casdb.tables.header import table_specs

if TYPE_CHECKING:
    import pyarrow as pa

    from casdb.checkouts.source import ObjectSource
    from casdb.core.engine import Engine

HEADER = "header"
PURGED = "purged.json"
"""Files of the version left out because their bytes were purged (their rows stay)."""
_BATCH = 64


@dataclass
class Checkout:
    """The outcome of a checkout: the folder, its state, and what this call wrote."""

    path: Path
    state: cache.State
    placed: int = 0
    """Media and attachment files placed by this call (0 when the folder was ready)."""
    placed_bytes: int = 0
    tables_written: list[str] = field(default_factory=list)
    converted: int = 0
    """Files converted to the flavour by this call (others were converted before)."""


def version_name(repo: ObjectSource, dataset: str, version: str | None) -> tuple[str, str]:
    """``(folder name, commit id)`` of a version: its tag, or ``commit-<id>`` if untagged.

    ``None`` means the latest version: the highest tag (natural order), else the ``main`` head.
    """
    repo.check_known(dataset)
    tags = repo.refs.tags(dataset)
    if version is None:
        if tags:
            latest = max(tags, key=version_key)
            return latest, tags[latest]
        commit_id = repo.resolve(dataset)
    else:
        commit_id = repo.resolve(dataset, version)
        if tags.get(version) == commit_id:
            return version, commit_id
    named = [t for t, c in tags.items() if c == commit_id]
    if named:
        return max(named, key=version_key), commit_id
    return f"commit-{commit_id[:16]}", commit_id


def checkout(
    repo: ObjectSource,
    dataset: str,
    version: str | None,
    request: Request,
    *,
    root: str | Path | None = None,
    dest: str | Path | None = None,
    link: str = "auto",
    progress: bool | None = None,
    flavour: Flavour | None = None,
    engine: Engine | None = None,
) -> Checkout:
    """Check out a version into the cache under ``root`` (or into ``dest``) and return it.

    ``dest`` must be absent, empty, or a folder an earlier checkout of the same version left.
    With a ``flavour``, audio is converted (once per source file and flavour, kept in the cache),
    on the Dask ``engine``'s workers if one is given (:mod:`casdb.core.engine`).
    """
    flavour = flavour or Flavour()
    repo.sync_refs(dataset)
    name, commit_id = version_name(repo, dataset, version)
    root = cache.cache_root(root)
    if dest is not None:
        path = Path(dest).expanduser().absolute()
        _check_dest(path)
    else:
        path = cache.folder(root, dataset, name, flavour.id)
    _check_meta(path)
    from casdb.checkouts.records import record  # every copy of the bytes, for purge to find

    record(repo, root, path if dest is not None else None)
    ready = _ready(path, commit_id, request, root, dest is not None, flavour=flavour)
    if ready is not None:
        return ready
    repo.fetch_version(commit_id, progress)

    def ensure(wanted: dict[str, int]) -> None:
        repo.ensure_blobs(wanted, progress)
    # Check the request and the flavour against the version before anything is created.
    ver = _Version(Snapshot(repo.store, dataset, commit_id), flavour, root, repo)
    sel = select(ver.header, ver.media, ver.file_column, request, dataset)
    check_channels(flavour, ver.index, ver.media if sel.media is None else sel.media)
    flavoured_header(ver.header, flavour)  # an augmented flavour's table name must be free
    meta = path / cache.META
    try:
        (meta / "tmp").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, str(path)) from exc
    _check_meta(path)  # planted meanwhile?
    with FileLock(meta / "lock", timeout=None):
        ready = _ready(path, commit_id, request, root, dest is not None, locked=True,
                       flavour=flavour)
        if ready is not None:
            return ready
        state = cache.read_state(path)
        if state is not None:  # widened: what is there already is handed out again too
            _check_folder(root, path, state, dest is not None, locked=True)
        writable = dest is not None and link == "copy"  # the user asked for files to edit
        out = _write(ver, sel, name, request, path, state, link, progress,
                     writable=writable, ensure=ensure, repair=repo.repair_blobs, engine=engine)
    cache.touch_used(path)
    return out


def _ready(path: Path, commit_id: str, request: Request, root: Path,
           dest: bool = False, locked: bool = False,
           flavour: Flavour | None = None) -> Checkout | None:
    """The folder, if it serves ``request`` already (the request is checked against it).

    Its files are checked as placed (:func:`casdb.checkouts.cachecheck.check_in_place`), except in a
    ``DEST`` folder of plain copies (``--link copy``): those are the user's to edit, and an
    edit there cannot reach the store."""
    state = cache.read_state(path)
    if state is None:
        return None
    if state.commit != commit_id:
        raise Conflict(
            f"{path} holds commit {state.commit[:12]} of {state.dataset} {state.version}, "
            f"not {commit_id[:12]} (another repository?): remove it or use another cache"
        )
    if flavour is not None and state.flavour != flavour.id:  # a DEST of another flavour
        raise Conflict(f"{path} holds the flavour {state.flavour} of {state.dataset} "
                       f"{state.version}, not {flavour.id}: remove it or use another folder")
    if not state.covers(request.key()):
        return None
    from casdb.checkouts.dataset import Dataset

    Dataset(path, request).selection  # noqa: B018 (an unknown table fails here)
    _check_folder(root, path, state, dest, locked)
    cache.touch_used(path)
    return Checkout(path, state)


def _check_folder(root: Path, path: Path, state: cache.State, dest: bool, locked: bool) -> None:
    """The files of a folder handed out again (whole, or widened) are still what was placed."""
    from casdb.checkouts.placed import check_in_place

    if not (dest and state.link and set(state.link) <= {"copy"}):
        check_in_place(root, path, locked)


class _Version:
    """What a checkout needs of a version in a flavour: header, media index, targets, read once."""

    def __init__(self, snap: Snapshot, flavour: Flavour, root: Path,
                 repo: ObjectSource | None = None) -> None:
        import pyarrow as pa

        from casdb.tables import mediaindex

        self.snap = snap
        self.flavour = flavour
        self.root = root
        self.header = snap.header
        index = mediaindex.arrow(snap.store, snap.commit.media)
        from casdb.store.tombstones import purged_blobs

        purged = purged_blobs(repo) if repo is not None else set()
        if purged:  # purged files are left out (and their rows, by the Dataset's default)
            import pyarrow.compute as pc

            gone = pc.is_in(index.column("blob"), value_set=pa.array(sorted(purged), pa.string()))
            self.purged = sorted(pc.filter(index.column("file"), gone).to_pylist())
            index = index.filter(pc.invert(gone))
        else:
            self.purged = []
        self.paths = index.column("file").to_pylist()
        self.blobs = dict(zip(self.paths, index.column("blob").to_pylist(), strict=True))
        self.sizes = dict(zip(self.paths, index.column("bytes").to_pylist(), strict=True))
        self.attachments = attachment_paths(self.header)
        self.media = [p for p in self.paths if not is_attachment(p, self.attachments)]
        self.targets = plan(index, self.media, flavour)
        self.local = local_paths(self.paths, self.targets)
        if self.targets:
            local = pa.array([self.local[p] for p in self.paths], pa.string())
            converted = pa.array([p in self.targets for p in self.paths], pa.bool_())
        else:  # nothing converted: no array built from Python (that makes pyarrow import pandas)
            import pyarrow.compute as pc

            local = index.column("file")
            converted = pc.invert(pc.equal(local, local))
        self.index = index.append_column("local", local).append_column("converted", converted)

    def source(self, path: str) -> str:
        """The file whose bytes ``path`` gets: a converted file, or the store's blob."""
        if path in self.targets:
            return str(derived_path(self.root, self.flavour.id, self.blobs[path]))
        return self.snap.store.blob_file(self.blobs[path])

    def derived_key(self, blob: str) -> str:
        """The key of a converted file in :meth:`derived_verifier`."""
        return f"{self.flavour.id}/{blob}"

    def derived_verifier(self) -> Verifier:
        """Evidence about the cache's converted files (their hashes, recorded at conversion)."""
        if self.flavour.is_original or not self.root.is_dir():
            return Verifier(None)
        return Verifier(derived_fingerprints(self.root))

    def size(self, path: str) -> int | None:
        """Bytes of :meth:`source`, when known without a stat (a blob, not a converted file)."""
        return None if path in self.targets else self.sizes[path]

    def file_column(self, table: str) -> Iterable[str]:
        return self.snap.arrow(table, []).column("file").unique().to_pylist()


def _check_meta(path: Path) -> None:
    """``.casdb`` (and its ``tmp``) must be folders of their own: a symlink planted there
    would send the state, the lock and every temporary file of the checkout elsewhere."""
    for folder in (path / cache.META, path / cache.META / "tmp"):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise AlreadyExists(f"{folder} is in the way (a symlink or not a folder): move it "
                                "away")


def _check_dest(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise AlreadyExists(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / cache.META).is_dir():
        raise AlreadyExists(f"{path} exists and is not empty")


def _write(
    ver: _Version,
    sel: Selection,
    name: str,
    request: Request,
    path: Path,
    state: cache.State | None,
    link: str,
    progress: bool | None,
    writable: bool,
    ensure=None,
    repair=None,
    engine: Engine | None = None,
) -> Checkout:
    meta = path / cache.META
    snap, paths, media = ver.snap, ver.paths, ver.media
    blobs, attachments = ver.blobs, ver.attachments
    header = flavoured_header(ver.header, ver.flavour)
    if not (meta / cache.MEDIA).exists():
        _write_parquet(ver.index, meta / cache.MEDIA, meta)
    if not (meta / cache.FILES).exists():
        cache.write_files(meta, {
            "file": paths, "local": [ver.local[p] for p in paths],
            "blob": [blobs[p] for p in paths], "bytes": [ver.sizes[p] for p in paths],
            "converted": [p in ver.targets for p in paths]})
    if not (meta / HEADER).exists():
        atomic_write(meta / HEADER, encoding.encode(Header(header)), tmp_dir=meta)
    if ver.purged or (meta / PURGED).exists():
        import json

        atomic_write(meta / PURGED, json.dumps(ver.purged).encode(), tmp_dir=meta)
    old = state or cache.State(snap.dataset, name, snap.commit_id, ver.flavour.id,
                               conversion=ver.flavour.as_dict())
    new = _merge(old, sel, header)

    # 0. conversions, 1. media (and attachments), 2. tables, 3. db.yaml, 4. the state.
    wanted = media if new.media is None else new.media
    have = set(media) if old.media is None else set(old.media)
    todo = [p for p in wanted if p not in have]
    todo += [p for p in paths if is_attachment(p, attachments)]
    if ensure is not None:  # the source brings the blobs placed here (a remote view fetches)
        ensure({blobs[p]: ver.sizes[p] for p in todo})
    # Nothing is linked, copied or converted without evidence that its bytes are intact.
    blob_check = snap.store.verifier()
    _check_blobs(snap.store, blob_check, {blobs[p]: p for p in todo}, repair)
    derived_check = ver.derived_verifier()
    placed_check = _Placed(ver.root)
    try:  # the evidence gathered is kept even if a conversion or a placement fails
        _drop_damaged_derived(ver, derived_check, [p for p in todo if p in ver.targets])
        convert = [(p, blobs[p], str(snap.store.blob_path(blobs[p])), ver.sizes[p], ver.targets[p])
                   for p in todo if p in ver.targets]

        def record(blob: str, final: str) -> None:
            # saved at once: a checkout of another folder running meanwhile removes a
            # converted file it finds without a record (as damaged)
            derived_check.record_file(ver.derived_key(blob), final)
            derived_check.save()

        converted = convert_missing(ver.root, ver.flavour, convert, progress, record=record,
                                    engine=engine)
        # files another checkout converted meanwhile (convert_missing found them): their records
        derived_check.prefetch(ver.derived_key(blobs[p]) for p in todo if p in ver.targets)
        reuse = _copies_nearby(snap, path, todo, blobs, link) if not writable else {}
        linker = Linker(link, tmp_dir=meta / "tmp", writable=writable, reuse=reuse)
        items = []
        for p in todo:
            if p in ver.targets:
                key = ver.derived_key(blobs[p])
                expected = derived_check.known.get(key, ("",))[0]
                items.append(_Item(ver.local[p], ver.source(p), ver.size(p), key, expected,
                                   derived_check))
            else:
                items.append(_Item(p, ver.source(p), ver.size(p), blobs[p], blobs[p], blob_check))
        placed, placed_bytes = _place_all(path, items, linker, progress, placed_check)
    finally:
        blob_check.save()
        derived_check.save()
        placed_check.check.save()
    for method, count in linker.used.items():
        new.link[method] = new.link.get(method, 0) + count

    written = []
    for table in new.tables:
        target = path / f"db.{table}.parquet"
        if (old.tables.get(table) == new.tables[table] and target.exists()
                and (new.tables[table] == "all" or old.rows == new.rows)):
            continue
        rows = set(new.rows) if new.tables[table] == "media" else None
        renamed = {p: ver.local[p] for p in ver.targets if ver.local[p] != p}
        new.files[target.name] = write_table(snap, table, rows, target, meta, renamed)
        written.append(table)
    if ver.flavour.augment is not None:  # what was applied to each file, as a table
        present = media if new.media is None else new.media
        target = path / f"db.{AUGMENTATION_TABLE}.parquet"
        new.files[target.name] = write_augmentation_table(ver.index, present, ver.flavour, path,
                                                          ver.targets)
        new.tables[AUGMENTATION_TABLE] = "all" if new.media is None else "media"
        written.append(AUGMENTATION_TABLE)
    text = header_yaml(header, set(new.tables))
    if new.files.get("db.yaml") != hash_bytes(text) or not (path / "db.yaml").exists():
        atomic_write(path / "db.yaml", text, tmp_dir=meta)
        new.files["db.yaml"] = hash_bytes(text)
    new.requests = [*[k for k in old.requests if k != request.key()], request.key()][-100:]
    specs = table_specs(header)
    new.complete = new.media is None and all(new.tables.get(t) == "all" for t in specs)
    cache.write_state(path, new)
    return Checkout(path, new, placed, placed_bytes, written, converted)


def _merge(old: cache.State, sel: Selection, header: dict) -> cache.State:
    specs = table_specs(header)
    tables = dict(old.tables)
    for table in sel.tables:
        mode = "media" if sel.filtered and specs[table] != "misc" else "all"
        if tables.get(table) != "all":
            tables[table] = mode
    order = {t: i for i, t in enumerate(specs)}
    tables = dict(sorted(tables.items(), key=lambda kv: order.get(kv[0], len(order))))
    rows = old.rows
    if sel.filtered:
        rows = sorted(set(old.rows) | set(sel.media or ()))
    media = old.media
    if sel.fetch and media is not None:
        media = None if sel.media is None else sorted(set(media) | set(sel.media))
    return cache.State(
        old.dataset, old.version, old.commit, old.flavour, tables, media, rows,
        list(old.requests), dict(old.files), old.complete, dict(old.link), dict(old.conversion),
    )


def _copies_nearby(
    snap: Snapshot, path: Path, todo: list[str], blobs: dict[str, str], link: str
) -> dict[str, str]:
    """Blob path -> a copy of it in another cached version of the dataset, when files would be
    copied (the store is on another file system, or copies are forced): switching versions
    then links what the cache already holds instead of copying it again."""
    if not todo or link in ("reflink", "hardlink"):
        return {}
    try:
        same_device = os.stat(snap.store.blob_path(blobs[todo[0]]).parent).st_dev == os.stat(
            path).st_dev
    except OSError:
        same_device = False
    if same_device and link != "copy":
        return {}

    wanted = {blobs[p] for p in todo}
    out: dict[str, tuple[str, str]] = {}
    for entry in cache.entries(path.parent.parent.parent, snap.dataset):
        if entry.path == path or entry.state is None or entry.path.name != path.name:
            continue
        try:
            index = cache.read_files(entry.path)  # another folder: checked
        except IntegrityError:
            continue
        present = None if entry.state.media is None else set(entry.state.media)
        for file, blob in zip(index["file"], index["blob"], strict=True):
            if blob in wanted and (present is None or file in present):
                out.setdefault(str(snap.store.blob_path(blob)), (blob, str(entry.path / file)))
    # Another folder's copy is cache content, not evidence: it is linked only if it hashes right.
    from casdb.store.fingerprints import hash_file

    items = list(out.items())
    with ThreadPoolExecutor(workers()) as pool:
        good = pool.map(lambda kv: hash_file(kv[1][1]) == kv[1][0], items)
        return {source: copy for (source, (_, copy)), ok in zip(items, good, strict=True) if ok}


class _Item(NamedTuple):
    """One file to place: where, from which verified source, and how to re-check it."""

    local: str
    """Path in the folder."""
    source: str
    size: int | None
    key: str
    """The source's key in ``check`` (a blob id, or a converted file's key)."""
    expected: str
    """blake3 of the right bytes."""
    check: Verifier


def _check_blobs(store, verifier: Verifier, blobs: dict[str, str], repair) -> None:
    """Every blob of ``blobs`` (id -> a path that uses it) is intact, repaired from a remote,
    or ``IntegrityError`` names the files."""
    bad = store.check_blobs(list(blobs), verifier)
    if bad and repair is not None:
        repair(bad)
        bad = store.check_blobs(bad, verifier)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise IntegrityError(
            f"{blobs[bad[0]]}: its blob {short(bad[0])} in the store is damaged or missing{more} "
            "and no remote had a good copy; run `casdb fsck`")


def _drop_damaged_derived(ver: _Version, check: Verifier, paths: list[str]) -> None:
    """Converted files that are not provably what their conversion wrote are removed (they are
    the cache's own files), so that they are converted again."""
    keys = {ver.derived_key(ver.blobs[p]): p for p in paths}
    check.prefetch(keys)
    for key, p in keys.items():
        final = ver.source(p)
        record = check.known.get(key)
        if not os.path.exists(final):
            continue
        if record is None or not check.intact(key, final, record[0]):
            try:
                os.unlink(final)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise storage_error(exc, final) from exc


def _place_all(
    path: Path, todo: list[_Item], linker: Linker, progress: bool | None, placed: _Placed
) -> tuple[int, int]:
    """Place the files of ``todo`` not in place yet, each inside ``path`` and nowhere else;
    return (files, bytes) placed.

    Folders are opened one component at a time relative to ``path`` without following
    symlinks, and files are created relative to their folder's descriptor, so no path in the
    version (and no symlink planted in the folder) can make a write land outside it. A file
    already there is kept only if it holds the right bytes; casdb never deletes or replaces a
    file it did not create, and says which one is in the way.
    """
    folders = Folders(path)
    try:
        missing = []
        for item in todo:
            fd, name = folders.parent_of(item.local)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                missing.append((item, fd, name))
                continue
            except OSError as exc:
                raise storage_error(exc, str(path / item.local)) from exc
            _check_existing(path, item, st)
            placed.note_file(item.expected, name, fd)
        total = sum(_size(item) for item, _, _ in missing)
        with Progress("checkout", total, len(missing), enabled=progress) as bar:

            def place(batch: list[tuple[_Item, int, str]]) -> None:
                for item, fd, name in batch:
                    before = _recheck(path, item)
                    try:
                        method = linker.place(item.source, name, dir_fd=fd)
                    except FileExistsError:  # appeared meanwhile: not ours, so check it
                        try:
                            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                        except OSError as exc:  # and gone again
                            raise storage_error(exc, str(path / item.local)) from exc
                        _check_existing(path, item, st)
                        placed.note_file(item.expected, name, fd)
                        continue
                    if method == "hardlink":  # a new link changes the source's ctime
                        item.check.restamp(item.key, item.source, before)
                    placed.note_file(item.expected, name, fd)
                    bar.advance(_size(item))

            batches = [missing[i : i + _BATCH] for i in range(0, len(missing), _BATCH)]
            if len(batches) <= 1:
                for batch in batches:
                    place(batch)
            else:
                with ThreadPoolExecutor(workers()) as pool:
                    for _ in pool.map(place, batches):
                        pass
    finally:
        folders.close()
    return len(missing), total


def _recheck(path: Path, item: _Item):
    """The stamp of ``item``'s source just before it is placed. Its bytes were checked before
    the conversions ran; if its stamp changed since (a write through another checkout's
    hardlink, or another checkout linking it), it is re-hashed, and wrong bytes are refused."""
    from casdb.store.fingerprints import stamp

    before = stamp(item.source)
    if item.check.known.get(item.key) == (item.expected, before):
        return before
    if not item.expected or not item.check.intact(item.key, item.source, item.expected):
        raise IntegrityError(f"{path / item.local}: its source {item.source} is damaged or "
                             "changed since it was checked (nothing was placed for it); run "
                             "the checkout again, and `casdb fsck` if it persists")
    return stamp(item.source)


def _size(item: _Item) -> int:
    if item.size is None:
        try:
            return os.stat(item.source).st_size
        except OSError:
            return 0
    return item.size


def _check_existing(path: Path, item: _Item, st: os.stat_result) -> None:
    """A file is already at ``item.local`` (an interrupted checkout, or someone else's file):
    keep it if it holds the right bytes, else refuse without touching it."""
    import stat as stat_mod

    from casdb.store.fingerprints import hash_file

    full = path / item.local
    if not stat_mod.S_ISREG(st.st_mode):
        raise AlreadyExists(f"{full} is in the way (not a regular file): move it away")
    try:
        src = os.stat(item.source)
        if (src.st_dev, src.st_ino) == (st.st_dev, st.st_ino):
            return  # a link of the verified source itself
    except OSError:
        pass
    if hash_file(str(full)) != item.expected:
        raise AlreadyExists(f"{full} is in the way: it is not the version's file and casdb did "
                            "not write it; move it away and check out again")


class _Placed:
    """Evidence about the files a checkout placed, for the checks of later warm loads
    (:func:`casdb.checkouts.cachecheck.check_in_place`)."""

    def __init__(self, root: Path) -> None:
        from casdb.checkouts.placed import placed_fingerprints

        try:
            root.mkdir(parents=True, exist_ok=True)
            self.check = Verifier(placed_fingerprints(root))
        except OSError:
            self.check = Verifier(None)

    def note_file(self, digest: str, name: str, fd: int) -> None:
        from casdb.checkouts.placed import inode_key
        from casdb.store.fingerprints import stamp_of

        try:
            st = os.stat(name, dir_fd=fd)
        except OSError:
            return
        self.check.note(inode_key(st), digest, stamp_of(st))


class Folders:
    """Descriptors of the folders under a checkout's root, opened without following symlinks
    and created where missing; every path component is checked again here (defence in depth
    behind the validation where paths are decoded)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            self._fds = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY)}
        except OSError as exc:
            raise storage_error(exc, str(root)) from exc
        self._lock = threading.Lock()

    def parent_of(self, local: str) -> tuple[int, str]:
        """``(descriptor of the folder, file name)`` of the relative path ``local``."""
        from casdb.core.paths import is_safe_relpath

        if not is_safe_relpath(local):  # the rule paths were checked by where they were decoded
            raise IntegrityError(f"refusing to write {local!r}: not a safe relative path")
        parts = local.split("/")
        folder = "/".join(parts[:-1])
        return self._open(folder), parts[-1]

    def _open(self, folder: str) -> int:
        fd = self._fds.get(folder)
        if fd is not None:
            return fd
        parent, _, name = folder.rpartition("/")
        parent_fd = self._open(parent)
        with self._lock:
            fd = self._fds.get(folder)
            if fd is not None:
                return fd
            try:
                os.mkdir(name, dir_fd=parent_fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise storage_error(exc, str(self.root / folder)) from exc
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                             dir_fd=parent_fd)
            except OSError as exc:
                raise AlreadyExists(f"{self.root / folder} is in the way (a symlink or not a "
                                    "folder): move it away") from exc
            self._fds[folder] = fd
            return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def write_table(
    snap: Snapshot,
    table: str,
    rows: set[str] | None,
    target: Path,
    meta: Path,
    renamed: dict[str, str] | None = None,
) -> str:
    """Write one table as audformat parquet (only ``rows``' files, if given; files ``renamed``
    by a flavour); return the blake3 of the file."""
    import pyarrow as pa

    df = snap.table(table)
    if rows is not None:
        files = df.index.get_level_values("file")
        df = df[files.isin(rows)]
    if renamed and "file" in df.index.names:
        df = df.set_axis(rename_files(df.index, renamed), axis=0)
    arrow = pa.Table.from_pandas(df.reset_index(), preserve_index=False)
    return _write_parquet(arrow, target, meta)


def write_augmentation_table(index: pa.Table, present: list[str], flavour: Flavour,
                             path: Path, targets: dict | None = None) -> str:
    """Write the ``augmentation`` table of an augmented folder at ``path`` for the media
    ``present``; return the blake3 of the file. Without ``targets`` the parameters are drawn
    again from the media index (``file``, ``blob``, audio properties, ``local``): the same as at
    conversion."""
    if targets is None:
        targets = plan(index, present, flavour)
    local = dict(zip(index.column("file").to_pylist(), index.column("local").to_pylist(),
                     strict=True))
    return _write_parquet(augmentation_table(index, present, local, targets),
                          path / f"db.{AUGMENTATION_TABLE}.parquet", path / cache.META)


def _write_parquet(table: pa.Table, target: Path, meta: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    atomic_write(target, data, tmp_dir=meta)
    return hash_bytes(data)


def rename_files(index, renamed: dict[str, str]):
    """An index with its ``file`` values renamed (a filewise or segmented index)."""
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        level = index.names.index("file")
        values = index.levels[level]
        return index.set_levels(values.map(lambda f: renamed.get(f, f)), level=level,
                                verify_integrity=False)
    return index.map(lambda f: renamed.get(f, f)).astype(index.dtype).rename(index.name)


def header_yaml(header: dict, tables: set[str]) -> bytes:
    """db.yaml of the folder: the version's header, listing the tables present."""
    import yaml

    data = dict(header)
    for section in ("tables", "misc_tables"):
        if section in data:
            data[section] = {k: v for k, v in (data[section] or {}).items() if k in tables}
            if not data[section]:
                del data[section]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: faster
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True).encode()
