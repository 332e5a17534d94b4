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
    from casdb.api import cache_evict, cache_ls, cache_verify, checkout, fsck, gc, info, load
    from casdb.cachecheck import Eviction
    from casdb.cachecheck import Report as VerifyReport
    from casdb.cachecheck import Summary as CacheSummary
    from casdb.commit import CommitResult
    from casdb.dag import Diff
    from casdb.dataset import Dataset
    from casdb.flavour import Flavour
    from casdb.history import LogEntry
    from casdb.maintenance.fsck import FsckReport
    from casdb.maintenance.gc import GcReport
    from casdb.maintenance.remotegc import RemoteGcReport
    from casdb.materialise import Checkout
    from casdb.purge import PurgeReport
    from casdb.repo import Repository
    from casdb.selection import Request
    from casdb.summary import Summary
    from casdb.tombstones import Tombstone
    from casdb.transfer import Result as TransferResult

__all__ = [
    "AlreadyExists",
    "BackendError",
    "CacheSummary",
    "Checkout",
    "CommitResult",
    "Conflict",
    "Dataset",
    "Diff",
    "Error",
    "Eviction",
    "Flavour",
    "FsckReport",
    "GcReport",
    "IntegrityError",
    "InvalidDataset",
    "InvalidInput",
    "LogEntry",
    "NotFound",
    "PurgeReport",
    "RemoteGcReport",
    "Repository",
    "Request",
    "StorageError",
    "Summary",
    "Tombstone",
    "TransferResult",
    "VerifyReport",
    "cache_evict",
    "cache_ls",
    "cache_verify",
    "checkout",
    "fsck",
    "gc",
    "info",
    "load",
]

# public name -> (module, name there); imported on first use, so that importing casdb (and
# `casdb --help`) does not import the storage stack
_LAZY = {
    "Repository": ("casdb.repo", "Repository"),
    "Dataset": ("casdb.dataset", "Dataset"),
    "Flavour": ("casdb.flavour", "Flavour"),
    "load": ("casdb.api", "load"),
    "checkout": ("casdb.api", "checkout"),
    "info": ("casdb.api", "info"),
    "fsck": ("casdb.api", "fsck"),
    "gc": ("casdb.api", "gc"),
    "cache_ls": ("casdb.api", "cache_ls"),
    "cache_verify": ("casdb.api", "cache_verify"),
    "cache_evict": ("casdb.api", "cache_evict"),
    "Request": ("casdb.selection", "Request"),
    "Checkout": ("casdb.materialise", "Checkout"),
    "CommitResult": ("casdb.commit", "CommitResult"),
    "LogEntry": ("casdb.history", "LogEntry"),
    "Diff": ("casdb.dag", "Diff"),
    "FsckReport": ("casdb.maintenance.fsck", "FsckReport"),
    "GcReport": ("casdb.maintenance.gc", "GcReport"),
    "RemoteGcReport": ("casdb.maintenance.remotegc", "RemoteGcReport"),
    "PurgeReport": ("casdb.purge", "PurgeReport"),
    "Tombstone": ("casdb.tombstones", "Tombstone"),
    "Summary": ("casdb.summary", "Summary"),
    "CacheSummary": ("casdb.cachecheck", "Summary"),
    "VerifyReport": ("casdb.cachecheck", "Report"),
    "Eviction": ("casdb.cachecheck", "Eviction"),
    "TransferResult": ("casdb.transfer", "Result"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'casdb' has no attribute {name!r}")
