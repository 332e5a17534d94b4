"""The porcelain: the :class:`Repository` and the public functions that ``casdb`` exports, and
what the CLI needs besides (it imports nothing else of casdb but :mod:`casdb.core`).

Names are imported on first use, so that a CLI command loads only what it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.core.lazy import exports

if TYPE_CHECKING:
    from casdb.api.corpora import compose, load_corpora
    from casdb.api.loading import checkout, load
    from casdb.api.repository import Repository, location, open_local, open_repository
    from casdb.api.search import datasets as search_datasets
    from casdb.api.search import find as find_repository
    from casdb.api.search import search_list
    from casdb.api.splits import split
    from casdb.api.tools import cache_evict, cache_ls, cache_verify, fsck, gc, info
    from casdb.audio.augment import Augment
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.layout import cache_root
    from casdb.checkouts.linking import MODES as LINK_MODES
    from casdb.checkouts.selection import Request
    from casdb.core.config import Config
    from casdb.research.composition import Composition
    from casdb.research.corpora import CorpusPart, CorpusSpec

_LAZY = {
    "Repository": ("casdb.api.repository", "Repository"),
    "open_local": ("casdb.api.repository", "open_local"),
    "open_repository": ("casdb.api.repository", "open_repository"),
    "location": ("casdb.api.repository", "location"),
    "Config": ("casdb.core.config", "Config"),
    "search_datasets": ("casdb.api.search", "datasets"),
    "find_repository": ("casdb.api.search", "find"),
    "search_list": ("casdb.api.search", "search_list"),
    "load": ("casdb.api.loading", "load"),
    "checkout": ("casdb.api.loading", "checkout"),
    "info": ("casdb.api.tools", "info"),
    "fsck": ("casdb.api.tools", "fsck"),
    "gc": ("casdb.api.tools", "gc"),
    "cache_ls": ("casdb.api.tools", "cache_ls"),
    "cache_verify": ("casdb.api.tools", "cache_verify"),
    "cache_evict": ("casdb.api.tools", "cache_evict"),
    "split": ("casdb.api.splits", "split"),
    "Augment": ("casdb.audio.augment", "Augment"),
    "Flavour": ("casdb.audio.flavour", "Flavour"),
    "Request": ("casdb.checkouts.selection", "Request"),
    "cache_root": ("casdb.checkouts.layout", "cache_root"),
    "LINK_MODES": ("casdb.checkouts.linking", "MODES"),
    "load_corpora": ("casdb.api.corpora", "load_corpora"),
    "compose": ("casdb.api.corpora", "compose"),
    "CorpusSpec": ("casdb.research.corpora", "CorpusSpec"),
    "CorpusPart": ("casdb.research.corpora", "CorpusPart"),
    "Composition": ("casdb.research.composition", "Composition"),
}

__all__ = [
    "LINK_MODES",
    "Config",
    "find_repository",
    "location",
    "search_datasets",
    "search_list",
    "Composition",
    "CorpusPart",
    "CorpusSpec",
    "compose",
    "load_corpora",
    "Augment",
    "Flavour",
    "Repository",
    "Request",
    "cache_evict",
    "cache_ls",
    "cache_root",
    "cache_verify",
    "checkout",
    "fsck",
    "gc",
    "info",
    "load",
    "open_local",
    "open_repository",
    "split",
]


__getattr__ = exports("casdb.api", _LAZY)
