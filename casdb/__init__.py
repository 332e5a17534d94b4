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
    EngineError,
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
        attachments,
        bit_depths,
        cache_evict,
        cache_ls,
        cache_verify,
        cached,
        card,
        channels,
        checkout,
        compose,
        dependencies,
        duration,
        exists,
        files,
        formats,
        fsck,
        gc,
        header,
        info,
        latest_version,
        load,
        load_attachment,
        load_corpora,
        load_media,
        load_table,
        media,
        misc_tables,
        open_repository,
        raters,
        sampling_rates,
        schemes,
        split,
        splits,
        stream,
        versions,
    )
    from casdb.api import accessors as about
    from casdb.api.repository import Repository
    from casdb.audio.augment import Augment
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.cachecheck import Eviction
    from casdb.checkouts.cachecheck import Report as VerifyReport
    from casdb.checkouts.cachecheck import Summary as CacheSummary
    from casdb.checkouts.dataset import Dataset
    from casdb.checkouts.fetching import Audio
    from casdb.checkouts.materialise import Checkout
    from casdb.checkouts.selection import Request
    from casdb.checkouts.streaming import Batch, Stream
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
    "about",
    "header",
    "schemes",
    "splits",
    "raters",
    "misc_tables",
    "attachments",
    "media",
    "duration",
    "files",
    "formats",
    "sampling_rates",
    "channels",
    "bit_depths",
    "dependencies",
    "versions",
    "latest_version",
    "exists",
    "cached",
    "load_table",
    "load_media",
    "load_attachment",
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
    "EngineError",
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
    "open_repository",
    "split",
    "stream",
    "Stream",
    "Batch",
    "Audio",
]

# public name -> (module, name there); imported on first use, so that importing casdb (and
# `casdb --help`) does not import the storage stack
_LAZY = {
    "header": ("casdb.api", "header"),
    "schemes": ("casdb.api", "schemes"),
    "splits": ("casdb.api", "splits"),
    "raters": ("casdb.api", "raters"),
    "misc_tables": ("casdb.api", "misc_tables"),
    "attachments": ("casdb.api", "attachments"),
    "media": ("casdb.api", "media"),
    "duration": ("casdb.api", "duration"),
    "files": ("casdb.api", "files"),
    "formats": ("casdb.api", "formats"),
    "sampling_rates": ("casdb.api", "sampling_rates"),
    "channels": ("casdb.api", "channels"),
    "bit_depths": ("casdb.api", "bit_depths"),
    "dependencies": ("casdb.api", "dependencies"),
    "versions": ("casdb.api", "versions"),
    "latest_version": ("casdb.api", "latest_version"),
    "exists": ("casdb.api", "exists"),
    "cached": ("casdb.api", "cached"),
    "load_table": ("casdb.api", "load_table"),
    "load_media": ("casdb.api", "load_media"),
    "load_attachment": ("casdb.api", "load_attachment"),
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
    "stream": ("casdb.api", "stream"),
    "Stream": ("casdb.checkouts.streaming", "Stream"),
    "Batch": ("casdb.checkouts.streaming", "Batch"),
    "Audio": ("casdb.checkouts.fetching", "Audio"),
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
    "open_repository": ("casdb.api", "open_repository"),
    "compose": ("casdb.api", "compose"),
    "card": ("casdb.api", "card"),
    "CorpusSpec": ("casdb.api", "CorpusSpec"),
    "CorpusPart": ("casdb.api", "CorpusPart"),
    "Composition": ("casdb.api", "Composition"),
}


_exports = exports("casdb", _LAZY)


def __getattr__(name: str) -> object:
    # casdb.about: the accessors module (audb.info's counterpart), imported on first use; its
    # ``tables`` is not exported flat, as casdb.tables is the tables layer (a subpackage).
    if name == "about":
        import importlib

        return importlib.import_module("casdb.api.accessors")
    return _exports(name)
