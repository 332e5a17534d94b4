"""Checking the cache: what each folder holds (``casdb cache ls``) and whether its files are
intact (``casdb cache verify``), repairing from the repository what was modified or removed.

Media are re-hashed and compared with the blob ids of the version's media index (converted
files of a flavour with the cache's converted copy); metadata files (db.yaml and tables) with the
hashes recorded when they were written. A media file that is a
hardlink of the store's blob is the blob: it is hashed once, and if it is corrupt the store is
too, which a cache repair cannot fix (``casdb fsck`` reports it) — it is reported, not hidden.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> list(summaries(Path(tempfile.mkdtemp())))
    []
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.checkouts import layout as cache
from casdb.checkouts.placed import File, conversions, placed_files
from casdb.core.errors import Error, InvalidInput
from casdb.core.ids import hash_bytes
from casdb.core.parallel import workers
from casdb.store.fingerprints import hash_file

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository


@dataclass(frozen=True)
class Summary:
    """One cache folder, for ``casdb cache ls``."""

    path: Path
    dataset: str
    version: str
    flavour: str
    tables: int
    files: int
    """Media and attachment files in place."""
    bytes: int
    complete: bool
    used: float
    link: dict[str, int]


def summaries(root: Path, dataset: str | None = None) -> Iterator[Summary]:
    """A summary of every folder in the cache (folders without a state are left out)."""
    for entry in cache.entries(root, dataset):
        state = entry.state
        if state is None:
            continue
        present = placed_files(entry.path, state)
        size = sum(_size(entry.path / f.local) if f.converted else f.size for f in present)
        yield Summary(entry.path, state.dataset, state.version, state.flavour, len(state.tables),
                      len(present), size, state.complete, entry.used, state.link)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@dataclass
class Report:
    """What ``verify`` found in one folder."""

    path: Path
    checked: int = 0
    """Files checked (media, attachments and metadata)."""
    repaired: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    """Problems left: ``path: reason`` (no repository to repair from, or a corrupt store)."""
    incomplete: bool = False
    """A checkout that never finished (no state): nothing to verify; the next load finishes it."""

    @property
    def ok(self) -> bool:
        return not self.broken


def verify(root: Path, repo: BaseRepository | None, dataset: str | None = None,
           repair: bool = True) -> list[Report]:
    """Verify every folder in the cache (of ``dataset``); repair from ``repo`` when given."""
    reports = []
    for entry in cache.entries(root, dataset):
        report = Report(entry.path)
        if entry.state is None:
            report.incomplete = True
        else:
            try:
                _verify_folder(root, entry.path, entry.state, repo if repair else None, report)
            except Error as exc:  # one damaged folder (its media index, say): report, go on
                report.broken.append(str(exc))
        reports.append(report)
    if dataset is None:
        reports.extend(_verify_remote_caches(root, repair))
    return reports


def _verify_remote_caches(root: Path, repair: bool) -> list[Report]:
    """Re-hash the blobs of every remote's object cache (loads straight from a remote); a
    damaged one is removed, so that the next load fetches it again."""
    from casdb.checkouts.layout import REMOTES
    from casdb.core.errors import NotFound
    from casdb.history.repository import BaseRepository

    reports = []
    base = root / REMOTES
    for path in sorted(base.iterdir()) if base.is_dir() else []:
        if path.is_symlink() or not (path / "config").is_file():
            continue  # a symlink may lead to a real repository: never delete blobs through it
        report = Report(path)
        try:
            store = BaseRepository(path).store
            blobs = list(store.blob_ids())
        except Error as exc:
            report.broken.append(f"unreadable: {exc}")
            reports.append(report)
            continue

        def check(blob: str, store=store) -> str | None:
            try:
                store.verify_blob(blob)
            except NotFound:
                return None  # gone meanwhile (a gc): nothing to hand out
            except Error:
                return blob
            return None

        with ThreadPoolExecutor(workers()) as pool:
            bad = [b for b in pool.map(check, blobs) if b is not None]
        report.checked = len(blobs)
        for blob in bad:
            if not repair:
                report.broken.append(f"blob {blob[:10]}: corrupt")
                continue
            try:
                os.unlink(store.blob_path(blob))
            except OSError as exc:
                report.broken.append(f"blob {blob[:10]}: corrupt, cannot remove it: {exc}")
                continue
            report.repaired.append(f"blob {blob[:10]} (corrupt: removed, fetched again when "
                                   "needed)")
        reports.append(report)
    return reports


def _verify_folder(root: Path, path: Path, state: cache.State, repo: BaseRepository | None,
                   report: Report) -> None:
    from casdb.core.locking import FileLock

    with FileLock(path / cache.META / "lock", timeout=None):
        present = placed_files(path, state)
        bad = _check_media(root, path, state, present, repo)
        report.checked += len(present)
        _repair_media(root, path, state, repo, bad, report)
        _check_metadata(path, state, repo, report)


def _source(root: Path, state: cache.State, f: File, repo: BaseRepository | None) -> Path | None:
    """Where the right bytes of ``f`` are: the converted copy, or the store's blob."""
    from casdb.checkouts.converted import derived_path

    if f.converted:
        return derived_path(root, state.flavour, f.blob)
    return repo.store.blob_path(f.blob) if repo is not None else None


def _check_media(root: Path, path: Path, state: cache.State, present: list[File],
                 repo: BaseRepository | None) -> list[tuple[File, str]]:
    """Files that are missing or differ from their source: ``[(file, reason)]``."""
    hashed: dict[tuple[int, int], str] = {}  # (dev, inode) -> id: a hardlinked file once

    def digest(p: Path) -> str | None:
        try:
            st = os.stat(p)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino)
        if key not in hashed:
            hashed[key] = hash_file(str(p))
        return hashed[key]

    recorded = conversions(root, state.flavour, (f.blob for f in present if f.converted))

    def check(f: File) -> tuple[File, str] | None:
        full = path / f.local
        try:
            st = os.stat(full)
        except FileNotFoundError:
            return f, "missing"
        expected = f.blob
        if f.converted:  # the hash its conversion recorded, not the converted copy's (which may
            expected = recorded.get(f.blob)  # be the very file that was damaged)
            if expected is None:
                return f, "not verifiable: no record of its conversion (converted again)"
            if digest(_source(root, state, f, repo)) != expected:
                return f, "corrupt in the cache's converted copy (converted again)"
        if digest(full) == expected:
            return None
        if not f.converted and repo is not None and _is_blob(repo, f.blob, st):
            return f, "corrupt in the store too (run casdb fsck)"
        return f, "modified"

    with ThreadPoolExecutor(workers()) as pool:
        return [problem for problem in pool.map(check, present) if problem is not None]


def _is_blob(repo: BaseRepository, blob: str, st: os.stat_result) -> bool:
    try:
        bst = os.stat(repo.store.blob_path(blob))
    except OSError:
        return False
    return (bst.st_dev, bst.st_ino) == (st.st_dev, st.st_ino)


def _repair_media(root: Path, path: Path, state: cache.State, repo: BaseRepository | None,
                  bad: list[tuple[File, str]], report: Report) -> None:
    from casdb.checkouts.linking import Linker
    from casdb.checkouts.materialise import Folders

    linker = Linker("auto", tmp_dir=path / cache.META / "tmp")
    folders = Folders(path)  # every write relative to the folder's own descriptors
    try:
        _repair_each(root, path, state, repo, bad, report, linker, folders)
    finally:
        folders.close()


def _repair_each(root, path, state, repo, bad, report, linker, folders) -> None:
    reconvert = [f for f, why in bad if why.endswith("(converted again)")]
    if reconvert and repo is not None:
        try:
            _convert_again(root, path, state, repo, reconvert)
        except Error as exc:
            report.broken.extend(f"{f.local}: cannot convert it again: {exc}" for f in reconvert)
            bad = [(f, why) for f, why in bad if f not in reconvert]
    for f, why in bad:
        source = _source(root, state, f, repo)
        if why.endswith("(converted again)") and repo is not None:
            why = why.split(" (")[0]
        elif why != "missing" and why != "modified" or source is None:
            extra = "" if source is not None else " (no repository to repair from)"
            report.broken.append(f"{f.local}: {why}{extra}")
            continue
        try:
            if not f.converted:
                repo.store.verify_blob(f.blob)
            # never through a symlink planted in the folder: a folder that is one (the user's
            # files may be there) is "in the way", and nothing outside is removed or written
            fd, name = folders.parent_of(f.local)
            try:
                os.unlink(name, dir_fd=fd)  # the folder's own file (a symlink: only the link)
            except FileNotFoundError:
                pass
            linker.place(source, name, dir_fd=fd)
        except (Error, OSError) as exc:
            report.broken.append(f"{f.local}: {why}, and the repair failed: {exc}")
            continue
        report.repaired.append(f"{f.local} ({why})")


def _convert_again(root: Path, path: Path, state: cache.State, repo: BaseRepository,
                   files: list[File]) -> None:
    """Remove damaged or unrecorded converted copies and convert their blobs again."""
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.converted import (
        convert_missing,
        derived_fingerprints,
        derived_path,
        plan,
    )
    from casdb.store.fingerprints import Verifier

    flavour = Flavour.of(state.conversion or None)
    if flavour.id != state.flavour:  # an augmentation made with other library versions
        raise InvalidInput(f"the folder's flavour {state.flavour} is now {flavour.id} (other "
                           "library versions): check the version out again")
    media = cache.read_media(path)  # checked: a damaged one is an IntegrityError
    index = media.to_pylist()
    rows = {r["blob"]: r for r in index}
    targets = plan(media, [f.file for f in files], flavour)  # augmentations drawn again
    check = Verifier(derived_fingerprints(root))
    todo = []
    for f in files:
        repo.store.verify_blob(f.blob)
        final = derived_path(root, state.flavour, f.blob)
        if final.exists():
            final.unlink()
        r = rows[f.blob]
        target = targets.get(f.file) or flavour.target(r["format"], r["sampling_rate"],
                                                       r["channels"], r["bit_depth"])
        todo.append((f.file, f.blob, str(repo.store.blob_path(f.blob)), f.size, target))
    try:
        convert_missing(root, flavour, todo, progress=False,
                        record=lambda blob, final: check.record_file(f"{state.flavour}/{blob}",
                                                                     final))
    finally:
        check.save()


def _check_metadata(path: Path, state: cache.State, repo: BaseRepository | None, report: Report) -> None:
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.converted import AUGMENTATION_TABLE, flavoured_header
    from casdb.checkouts.materialise import header_yaml, write_table
    from casdb.history.snapshot import Snapshot

    snap = None
    changed = False
    for name, expected in sorted(state.files.items()):
        report.checked += 1
        try:
            actual = hash_bytes((path / name).read_bytes())
        except OSError:
            actual = None
        if actual == expected:
            continue
        why = "missing" if actual is None else "modified"
        if repo is None:
            report.broken.append(f"{name}: {why} (no repository to repair from)")
            continue
        snap = snap or Snapshot(repo.store, state.dataset, state.commit)
        flavour = Flavour.of(state.conversion or None)
        if name == "db.yaml":
            from casdb.core.atomic import atomic_write

            text = header_yaml(flavoured_header(snap.header, flavour), set(state.tables))
            atomic_write(path / name, text, tmp_dir=path / cache.META)
            digest = hash_bytes(text)
        elif name == f"db.{AUGMENTATION_TABLE}.parquet" and flavour.augment is not None:
            from casdb.checkouts.materialise import write_augmentation_table
            from casdb.checkouts.selection import attachment_paths, is_attachment

            media = cache.read_media(path)
            attached = attachment_paths(snap.header)
            present = [f.file for f in placed_files(path, state)
                       if not is_attachment(f.file, attached)]
            digest = write_augmentation_table(media, present, flavour, path)
        else:
            table = name[len("db."):-len(".parquet")]
            rows = set(state.rows) if state.tables.get(table) == "media" else None
            renamed = {f.file: f.local for f in placed_files(path, state) if f.file != f.local}
            digest = write_table(snap, table, rows, path / name, path / cache.META, renamed)
        changed |= digest != expected
        state.files[name] = digest
        report.repaired.append(f"{name} ({why})")
    if changed:
        cache.write_state(path, state)


@dataclass
class Eviction:
    """What ``cache evict`` removed (or would remove, with ``dry_run``)."""

    folders: list[Path] = field(default_factory=list)
    derived: int = 0
    """Converted files no folder links any more."""
    freed: int = 0
    before: int = 0
    after: int = 0


def folder_size(path: Path) -> int:
    """Bytes removing ``path`` frees: files no other folder (or the store) links."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_nlink == 1:
                total += st.st_blocks * 512
    return total


def evict(root: Path, max_size: int, dry_run: bool = False) -> Eviction:
    """Remove least-recently-loaded folders until the cache's own bytes are within
    ``max_size``; then converted files that nothing links any more."""
    import shutil

    from casdb.checkouts.converted import DERIVED
    from casdb.core.fileops import make_tree_writable
    from casdb.core.locking import FileLock

    out = Eviction()
    entries = sorted(cache.entries(root), key=lambda e: e.used)
    sizes = {e.path: folder_size(e.path) for e in entries}
    out.before = out.after = sum(sizes.values())
    for entry in entries:
        if out.after <= max_size:
            break
        out.folders.append(entry.path)
        out.after -= sizes[entry.path]
        out.freed += sizes[entry.path]
        if not dry_run:
            with FileLock(entry.path / cache.META / "lock", timeout=None):
                make_tree_writable(entry.path)
                shutil.rmtree(entry.path)
            for parent in (entry.path.parent, entry.path.parent.parent):
                try:
                    parent.rmdir()
                except OSError:
                    break
    derived = root / DERIVED
    if derived.is_dir() and not dry_run:
        for dirpath, _, files in os.walk(derived):
            for name in files:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if st.st_nlink == 1:
                    out.derived += 1
                    out.freed += st.st_blocks * 512
                    os.unlink(path)
    return out
