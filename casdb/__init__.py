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
    from casdb.api import checkout, load
    from casdb.dataset import Dataset
    from casdb.flavour import Flavour
    from casdb.repo import Repository

__all__ = [
    "AlreadyExists",
    "BackendError",
    "Conflict",
    "Dataset",
    "Error",
    "Flavour",
    "IntegrityError",
    "InvalidDataset",
    "InvalidInput",
    "NotFound",
    "Repository",
    "StorageError",
    "checkout",
    "load",
]

_LAZY = {
    "Repository": "casdb.repo",
    "Dataset": "casdb.dataset",
    "Flavour": "casdb.flavour",
    "load": "casdb.api",
    "checkout": "casdb.api",
}


def __getattr__(name: str) -> object:
    # Lazy, so that importing casdb (and `casdb --help`) does not import the storage stack.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'casdb' has no attribute {name!r}")
