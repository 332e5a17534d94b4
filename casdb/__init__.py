"""casdb: version and share audio datasets in a content-addressed store.

Example:
    >>> import casdb, tempfile
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/repo")
    >>> repo.datasets()
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.errors import (
    AlreadyExists,
    BackendError,
    Conflict,
    Error,
    IntegrityError,
    InvalidDataset,
    InvalidInput,
    NotFound,
    StorageError,
)

if TYPE_CHECKING:
    from casdb.repo import Repository

__all__ = [
    "AlreadyExists",
    "BackendError",
    "Conflict",
    "Error",
    "IntegrityError",
    "InvalidDataset",
    "InvalidInput",
    "NotFound",
    "Repository",
    "StorageError",
]


def __getattr__(name: str) -> object:
    # Lazy, so that importing casdb (and `casdb --help`) does not import the storage stack.
    if name == "Repository":
        from casdb.repo import Repository

        return Repository
    raise AttributeError(f"module 'casdb' has no attribute {name!r}")
