"""Refs: names pointing at commits, one folder per dataset.

    refs/<dataset>/tags/<version>    immutable once written: a version is never re-published
    refs/<dataset>/heads/<branch>    moves forward with each commit; ``main`` by default

Refs are updated last in a commit, by compare-and-swap under a per-dataset lock: the caller says
what it expects each ref to hold, and if another writer got there first, nothing is written and
``Conflict`` is raised (``AlreadyExists`` for a version tag that appeared meanwhile).

One implementation over the Backend protocol serves a repository and a remote (whose refs have
the same layout): a remote's are read strictly (every name and value checked, ``IntegrityError``
naming the remote) and moved one at a time by the backend's compare-and-swap (:meth:`swap`); a
repository's are moved under a lock file (:meth:`update`), several at once.

Deleting is compare-and-swap too: a repository's ref is deleted under the dataset lock if it
still holds what the caller read (:meth:`delete`); a remote's (:meth:`remove`) is first swapped
to an empty value, a *tombstone* that reads as absent, then deleted. Object stores offer no
conditional delete, but a conditional write: the tombstone swap fails if another writer moved
the ref meanwhile, and no writer moves a young tombstone (creating the ref then is a
``Conflict``: retry), so the plain delete that follows removes only the tombstone. A crash in
between leaves a tombstone: an absent ref, which a write replaces once it is older than
``TOMBSTONE_GRACE`` seconds.

Example:
    >>> import tempfile
    >>> from casdb.store.backends.local import LocalBackend
    >>> refs = RefStore(LocalBackend(tempfile.mkdtemp()))
    >>> refs.update("emodb", [RefUpdate("heads/main", None, "ab" * 32)])
    >>> refs.get("emodb", "heads/main") == "ab" * 32
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from casdb.core.errors import AlreadyExists, Conflict, IntegrityError, InvalidInput, NotFound
from casdb.core.ids import is_id, short
from casdb.core.locking import FileLock
from casdb.core.names import check_branch, check_dataset, check_version

if TYPE_CHECKING:
    from casdb.store.backends.base import Backend

REFS = "refs"
TAGS = "tags"
HEADS = "heads"
TOMBSTONE_GRACE = 60.0
"""Seconds after which a ref's tombstone is debris of an interrupted delete, not one under way."""


@dataclass(frozen=True)
class RefUpdate:
    """Set ``ref`` (``tags/1.0.0``, ``heads/main``) to ``new`` if it holds ``expected`` now."""

    ref: str
    expected: str | None
    new: str


class RefStore:
    """Reads refs and updates them by compare-and-swap.

    ``where`` names the remote whose refs these are (its URL), for errors; a remote's refs are
    untrusted input: their names become files in a repository that pulls them.
    """

    def __init__(self, backend: Backend, where: str | None = None) -> None:
        self.backend = backend
        self.where = where

    def _key(self, dataset: str, ref: str) -> str:
        return f"{REFS}/{dataset}/{ref}"

    def get(self, dataset: str, ref: str) -> str | None:
        """The commit id ``ref`` points at, or None if there is no such ref."""
        try:
            text = self.backend.get(self._key(dataset, ref)).decode("ascii", "replace").strip()
        except NotFound:
            return None
        if not text:
            return None  # a tombstone: a ref being deleted (see :meth:`remove`)
        if not is_id(text):
            where = f"{self.where}: " if self.where else ""
            raise IntegrityError(f"{where}ref {dataset}/{ref} is damaged: {text[:80]!r}")
        return text

    def datasets(self) -> list[str]:
        """Names of the datasets that have refs, sorted. A remote's names are each checked
        (``IntegrityError``): they become folders here; a repository's stray entries are skipped."""
        if self.where is None:
            names = {key.split("/")[1] for key in self.backend.list(REFS + "/")}
            return sorted(n for n in names if _valid_dataset(n))
        names = {k.split("/")[1] for k in self.backend.list(REFS + "/") if k.count("/") >= 3}
        return sorted(_checked(check_dataset, n, f"{self.where}: dataset") for n in names)

    def of(self, dataset: str) -> dict[str, str]:
        """Every ref of ``dataset``: ``tags/<version>`` / ``heads/<branch>`` -> commit id.

        Each must be ``tags/<valid version>`` or ``heads/<valid branch>`` with an id for a value
        (``IntegrityError`` otherwise): a remote's ref names become files where they are pulled.
        """
        out = {}
        where = self.where or "repository"
        prefix = f"{REFS}/{check_dataset(dataset)}/"
        for key in self.backend.list(prefix):
            ref = key[len(prefix):]
            kind, _, name = ref.partition("/")
            check = {TAGS: check_version, HEADS: check_branch}.get(kind)
            if check is None:
                raise IntegrityError(f"{where}: unexpected ref {ref[:100]!r} of {dataset}")
            _checked(check, name, f"{where}: ref {dataset}/{kind}")
            value = self.get(dataset, ref)
            if value is not None:
                out[ref] = value
        return out

    def swap(self, dataset: str, ref: str, expected: str | None, new: str) -> None:
        """Compare-and-swap one ref through the backend (``Conflict`` if it changed since it
        was read); how a remote's refs move."""
        key = self._key(dataset, ref)
        old = None if expected is None else (expected + "\n").encode()
        if expected is None and self._tombstone(key):
            old = b""  # deleted but for its tombstone: replace that (Conflict if it went)
        self.backend.swap(key, old, (new + "\n").encode())

    def _tombstone(self, key: str) -> bool:
        """Whether ``key`` holds a tombstone left by an interrupted delete (an old one)."""
        import time

        try:
            if self.backend.get(key).strip():
                return False
        except NotFound:
            return False
        return time.time() - self.backend.modified(key) > TOMBSTONE_GRACE

    def remove(self, dataset: str, ref: str, expected: str) -> None:
        """Delete one ref through the backend if it still holds ``expected`` (``Conflict`` if
        it moved or went since it was read); how a remote's branches are deleted: a swap to a
        tombstone, then a delete (see the module's docstring)."""
        key = self._key(dataset, ref)
        self.backend.swap(key, (expected + "\n").encode(), b"")
        self.backend.delete(key)

    def delete(self, dataset: str, ref: str, expected: str) -> None:
        """Delete a repository's ``ref`` if it holds ``expected`` now, under the dataset lock;
        ``Conflict`` (nothing deleted) if another writer moved it meanwhile."""
        with self.lock(dataset):
            current = self.get(dataset, ref)
            if current != expected:
                raise Conflict(
                    f"{dataset} {ref} moved to {short(current) if current else 'nothing'} "
                    f"meanwhile (expected {short(expected)}); nothing deleted"
                )
            self.backend.delete(self._key(dataset, ref))

    def _names(self, dataset: str, kind: str) -> dict[str, str]:
        prefix = f"{REFS}/{dataset}/{kind}/"
        out = {}
        for key in self.backend.list(prefix):
            name = key[len(prefix):]
            value = self.get(dataset, f"{kind}/{name}")
            if value is not None:
                out[name] = value
        return out

    def tags(self, dataset: str) -> dict[str, str]:
        """Version -> commit id."""
        return self._names(dataset, TAGS)

    def heads(self, dataset: str) -> dict[str, str]:
        """Branch -> commit id."""
        return self._names(dataset, HEADS)

    def all(self) -> list[tuple[str, str, str]]:
        """Every ref as ``(dataset, ref, commit id)``; ``IntegrityError`` if one is damaged."""
        found, damaged = self.scan()
        if damaged:
            raise damaged[0]
        return found

    def scan(self) -> tuple[list[tuple[str, str, str]], list[IntegrityError]]:
        """Every readable ref as ``(dataset, ref, commit id)``, and the errors of damaged ones."""
        found, damaged = [], []
        for dataset in self.datasets():
            for kind in (TAGS, HEADS):
                prefix = f"{REFS}/{dataset}/{kind}/"
                for key in sorted(self.backend.list(prefix)):
                    ref = f"{kind}/{key[len(prefix):]}"
                    try:
                        commit = self.get(dataset, ref)
                    except IntegrityError as exc:
                        damaged.append(exc)
                        continue
                    if commit is not None:
                        found.append((dataset, ref, commit))
        return found, damaged

    def exists(self, dataset: str) -> bool:
        """Whether ``dataset`` has any ref."""
        return any(True for _ in self.backend.list(f"{REFS}/{dataset}/"))

    def lock(self, dataset: str) -> FileLock:
        """The lock serialising ref updates of one dataset."""
        return FileLock(self.backend.root / "locks" / f"{dataset}.lock")

    def mirror(self, dataset: str, refs: dict[str, str]) -> None:
        """Make the refs of ``dataset`` hold ``refs`` (ref -> commit id) as another repository
        has them: the object cache of a remote mirrors the remote's refs (validated there),
        including the refs deleted there."""
        with self.lock(dataset):
            for ref, commit in refs.items():
                if self.get(dataset, ref) != commit:
                    self.backend.put(self._key(dataset, ref), (commit + "\n").encode())
            if refs:  # a dataset keeps at least one ref, so that it stays known here
                prefix = f"{REFS}/{dataset}/"
                for key in list(self.backend.list(prefix)):
                    if key[len(prefix):] not in refs:
                        self.backend.delete(key)

    def update(self, dataset: str, updates: list[RefUpdate]) -> None:
        """Apply ``updates`` if every ref still holds what the caller expects; else change nothing.

        Tags are immutable: a tag update must expect None. Updates are written in the order
        given; callers put the version tag first, so a crash in between leaves the version
        published and the branch one commit behind, never a ref to a missing commit.
        """
        with self.lock(dataset):
            for u in updates:
                current = self.get(dataset, u.ref)
                if current == u.expected:
                    continue
                if u.ref.startswith(TAGS + "/"):
                    version = u.ref.split("/", 1)[1]
                    raise AlreadyExists(
                        f"{dataset} {version} exists already (commit {short(current or '')})"
                    )
                raise Conflict(
                    f"{dataset} {u.ref} moved to {short(current) if current else 'nothing'} "
                    f"while committing (expected {short(u.expected) if u.expected else 'nothing'}); "
                    "retry on the new head"
                )
            for u in updates:
                tag = u.ref.startswith(TAGS + "/")
                placed = self.backend.put(
                    self._key(dataset, u.ref), (u.new + "\n").encode(), exclusive=tag
                )
                if not placed:  # a writer that does not take the lock got there first
                    raise AlreadyExists(f"{dataset} {u.ref.split('/', 1)[1]} exists already")


def _checked(check, name: str, what: str) -> str:
    try:
        return check(name)
    except InvalidInput:
        raise IntegrityError(f"{what} {name[:100]!r} is not a valid name") from None


def _valid_dataset(name: str) -> bool:
    try:
        check_dataset(name)
    except Exception:  # noqa: BLE001
        return False
    return True
