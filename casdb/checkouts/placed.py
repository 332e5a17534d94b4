"""Files as placed in a checkout folder, and the warm check of a folder handed out again.

Each placed media file's stat fingerprint is recorded cache-wide in ``<cache>/.placed.db``
(:data:`casdb.checkouts.layout.PLACED_DB`), keyed by ``dev:inode``: a hardlinked blob is one
inode in every folder, so linking it again elsewhere (which changes its ctime) updates the one
record every folder uses. :func:`check_in_place` costs one ``stat`` per placed file while
nothing changed; db.yaml and the tables are re-hashed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import NamedTuple

from casdb.checkouts import layout as cache
from casdb.checkouts.layout import PLACED_DB
from casdb.checkouts.selection import attachment_paths, is_attachment
from casdb.core.errors import Error, IntegrityError
from casdb.core.ids import hash_bytes
from casdb.store.fingerprints import hash_file


class File(NamedTuple):
    """A file of a version, as a checked-out folder names it."""

    file: str
    """Path in the version."""
    local: str
    """Path in the folder (a flavour may change the extension)."""
    blob: str
    size: int
    """Bytes of the source blob."""
    converted: bool


def placed_files(path: Path, state: cache.State) -> list[File]:
    """Files a folder's state says are in place."""
    from casdb.model import encoding
    from casdb.tables.header import check_stored

    columns = cache.read_files(path)
    rows = zip(*(columns[c] for c in cache.FILE_COLUMNS), strict=True)
    file = path / cache.META / "header"
    try:
        header = check_stored(encoding.decode(file.read_bytes(), "header").data, str(file))
    except OSError as exc:
        raise IntegrityError(f"cannot read {file}: {exc.strerror or exc}") from exc
    attachments = attachment_paths(header)
    wanted = set(state.media) if state.media is not None else None
    return [File(*row) for row in rows
            if is_attachment(row[0], attachments) or wanted is None or row[0] in wanted]




def placed_fingerprints(root: Path):
    from casdb.store.fingerprints import Fingerprints

    return Fingerprints(root / PLACED_DB)


def inode_key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


def check_in_place(root: Path, path: Path, locked: bool = False) -> int:
    """Before a folder already in the cache is handed out again: every media file in it must
    still hold the bytes placed there. One ``stat`` per file whose fingerprint is unchanged; a
    file that changed is re-hashed. Returns the number re-hashed; ``IntegrityError`` names a
    file that was modified (``casdb cache verify`` repairs it).

    A checkout widening the folder meanwhile rewrites its tables before its state, so a
    mismatch is only believed after waiting for the folder's lock (unless ``locked``: the
    caller holds it) and looking again."""
    meta = path / cache.META
    if meta.is_symlink():  # the state, lock and records would be read and written elsewhere
        from casdb.core.errors import AlreadyExists

        raise AlreadyExists(f"{meta} is in the way (a symlink): move it away")
    try:
        return _check_in_place(root, path)
    except IntegrityError:
        if locked:
            raise

    from casdb.core.locking import FileLock

    with contextlib.ExitStack() as stack:
        with contextlib.suppress(Error, OSError):  # a read-only cache: no writer to wait for
            stack.enter_context(FileLock(path / cache.META / "lock", timeout=None))
        return _check_in_place(root, path)


def check_metadata(path: Path, state: cache.State | None) -> None:
    """db.yaml and the tables of a checked-out folder still hold what was written; reads only
    (so it also serves for a shared read-only cache)."""
    for name, digest in sorted((state.files if state else {}).items()):
        # db.yaml and the tables are small: re-hashed on every load (parquet pages have no
        # checksum that pyarrow verifies by default, so a flipped byte could read as a value)
        try:
            actual = hash_bytes((path / name).read_bytes())
        except OSError:
            actual = None
        if actual != digest:
            raise IntegrityError(f"{path / name} was modified or removed after it was checked "
                                 "out; run `casdb cache verify` to repair it")


def _check_in_place(root: Path, path: Path) -> int:
    from casdb.store.fingerprints import Verifier, stamp_of

    state = cache.read_state(path)
    check_metadata(path, state)
    table = cache.read_files(path)  # checked: safe paths, ids
    local, converted = table["local"], table["converted"]
    # only what was placed is handed out: in a partial folder, a file at the path of one not
    # placed yet is someone else's (the checkout that widens the folder says it is in the way)
    placed = None if state is None or state.media is None else {
        f.local for f in placed_files(path, state)}
    found = []
    base = str(path) + os.sep  # joined as strings: a Path per file costs more than its stat
    for file, blob, conv in zip(local, table["blob"], converted, strict=True):
        if placed is not None and file not in placed:
            continue
        try:
            st = os.stat(base + file)
        except OSError:
            continue  # not placed (a partial folder, a purged file): nothing is handed out
        found.append((file, blob, conv, st))
    if not found:
        return 0
    check = Verifier(placed_fingerprints(root))
    check.prefetch(inode_key(st) for *_, st in found)
    todo = []
    for file, blob, conv, st in found:
        record = check.known.get(inode_key(st))
        now = stamp_of(st)
        if record is not None and record[1] == now and record[0] and (conv or record[0] == blob):
            continue  # one stat: unchanged since it was placed (or last re-hashed)
        todo.append((file, blob, conv, st, now, record))
    # A converted file the placed records do not vouch for is checked against the hash its
    # conversion recorded (keyed by blob: it survives a lost .placed.db and a reused inode),
    # or what was placed at that inode.
    converted = conversions(root, state.flavour, [b for _, b, conv, *_ in todo if conv]) \
        if state is not None else {}
    for file, blob, conv, st, now, record in todo:
        if conv:
            expected = {converted.get(blob), record[0] if record else None} - {None, ""}
            if not expected:
                continue  # converted by an older casdb: no hash to check against (cache verify can)
        else:
            expected = {blob}
        check.rehashed += 1
        actual = hash_file(str(path / file))
        if actual not in expected:
            check.save()
            raise IntegrityError(f"{path / file} was modified after it was checked out; run "
                                 "`casdb cache verify` to repair it")
        check.note(inode_key(st), actual, now)
    check.save()
    return check.rehashed


def conversions(root: Path, flavour: str, blobs) -> dict[str, str]:
    """Blob -> the hash recorded when it was converted to ``flavour`` (``.derived.db``)."""
    from casdb.checkouts.converted import DERIVED_DB, derived_fingerprints

    blobs = set(blobs)
    if not blobs or not (root / DERIVED_DB).exists():
        return {}
    records = derived_fingerprints(root).get_many(f"{flavour}/{b}" for b in blobs)
    return {key.split("/", 1)[1]: digest for key, (digest, _) in records.items()}


