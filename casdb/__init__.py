"""casdb: version and share audio datasets in a content-addressed store.

Example:
    >>> import casdb, tempfile
    >>> repo = casdb.Repository.init(tempfile.mkdtemp() + "/repo")
    >>> repo.datasets()
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.core.errors import (
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
from casdb.core.lazy import exports

if TYPE_CHECKING:
    from casdb.api import (
        Composition,
        CorpusPart,
        CorpusSpec,
        cache_evict,
        cache_ls,
        cache_verify,
        card,
        checkout,
        compose,
        fsck,
        gc,
        info,
        load,
        load_corpora,
        split,
    )
    from casdb.api.repository import Repository
    from casdb.audio.augment import Augment
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.cachecheck import Eviction
    from casdb.checkouts.cachecheck import Report as VerifyReport
    from casdb.checkouts.cachecheck import Summary as CacheSummary
    from casdb.checkouts.dataset import Dataset
    from casdb.checkouts.materialise import Checkout
    from casdb.checkouts.selection import Request
    from casdb.commit.committer import CommitResult
    from casdb.history.dag import Diff
    from casdb.history.log import LogEntry
    from casdb.history.summary import Summary
    from casdb.maintenance.fsck import FsckReport
    from casdb.maintenance.gc import GcReport
    from casdb.maintenance.purge import PurgeReport
    from casdb.maintenance.remotegc import RemoteGcReport
    from casdb.remote.transfer import Result as TransferResult
    from casdb.research.splitting import SplitResult
    from casdb.store.tombstones import Tombstone

__all__ = [
    "AlreadyExists",
    "Augment",
    "BackendError",
    "CacheSummary",
    "Checkout",
    "CommitResult",
    "Composition",
    "CorpusPart",
    "CorpusSpec",
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
    "SplitResult",
    "Summary",
    "Tombstone",
    "TransferResult",
    "VerifyReport",
    "cache_evict",
    "cache_ls",
    "cache_verify",
    "card",
    "compose",
    "checkout",
    "fsck",
    "gc",
    "info",
    "load",
    "load_corpora",
    "split",
]

# public name -> (module, name there); imported on first use, so that importing casdb (and
# `casdb --help`) does not import the storage stack
_LAZY = {
    "Repository": ("casdb.api.repository", "Repository"),
    "Dataset": ("casdb.checkouts.dataset", "Dataset"),
    "Augment": ("casdb.audio.augment", "Augment"),
    "Flavour": ("casdb.audio.flavour", "Flavour"),
    "load": ("casdb.api", "load"),
    "checkout": ("casdb.api", "checkout"),
    "info": ("casdb.api", "info"),
    "fsck": ("casdb.api", "fsck"),
    "gc": ("casdb.api", "gc"),
    "cache_ls": ("casdb.api", "cache_ls"),
    "cache_verify": ("casdb.api", "cache_verify"),
    "cache_evict": ("casdb.api", "cache_evict"),
    "split": ("casdb.api", "split"),
    "SplitResult": ("casdb.research.splitting", "SplitResult"),
    "Request": ("casdb.checkouts.selection", "Request"),
    "Checkout": ("casdb.checkouts.materialise", "Checkout"),
    "CommitResult": ("casdb.commit.committer", "CommitResult"),
    "LogEntry": ("casdb.history.log", "LogEntry"),
    "Diff": ("casdb.history.dag", "Diff"),
    "FsckReport": ("casdb.maintenance.fsck", "FsckReport"),
    "GcReport": ("casdb.maintenance.gc", "GcReport"),
    "RemoteGcReport": ("casdb.maintenance.remotegc", "RemoteGcReport"),
    "PurgeReport": ("casdb.maintenance.purge", "PurgeReport"),
    "Tombstone": ("casdb.store.tombstones", "Tombstone"),
    "Summary": ("casdb.history.summary", "Summary"),
    "CacheSummary": ("casdb.checkouts.cachecheck", "Summary"),
    "VerifyReport": ("casdb.checkouts.cachecheck", "Report"),
    "Eviction": ("casdb.checkouts.cachecheck", "Eviction"),
    "TransferResult": ("casdb.remote.transfer", "Result"),
    "load_corpora": ("casdb.api", "load_corpora"),
    "compose": ("casdb.api", "compose"),
    "card": ("casdb.api", "card"),
    "CorpusSpec": ("casdb.api", "CorpusSpec"),
    "CorpusPart": ("casdb.api", "CorpusPart"),
    "Composition": ("casdb.api", "Composition"),
}


__getattr__ = exports("casdb", _LAZY)
