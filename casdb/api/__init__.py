"""The porcelain: the :class:`Repository` and the public functions that ``casdb`` exports, and
what the CLI needs besides (it imports nothing else of casdb but :mod:`casdb.core`).

Names are imported on first use, so that a CLI command loads only what it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.core.lazy import exports

if TYPE_CHECKING:
    from casdb.api.accessors import (
        attachments,
        bit_depths,
        cached,
        channels,
        dependencies,
        duration,
        exists,
        files,
        formats,
        header,
        latest_version,
        load_attachment,
        load_media,
        load_table,
        media,
        misc_tables,
        raters,
        sampling_rates,
        schemes,
        splits,
        tables,
        versions,
    )
    from casdb.api.cards import card
    from casdb.api.corpora import compose, load_corpora
    from casdb.api.loading import checkout, load
    from casdb.api.repository import Repository, location, open_local, open_repository
    from casdb.api.search import datasets as search_datasets
    from casdb.api.search import find as find_repository
    from casdb.api.search import search_list
    from casdb.api.splitting import split
    from casdb.api.tools import cache_evict, cache_ls, cache_verify, fsck, gc, info
    from casdb.audio.augment import Augment
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.layout import cache_root
    from casdb.checkouts.linking import MODES as LINK_MODES
    from casdb.checkouts.selection import Request
    from casdb.core.config import Config
    from casdb.history.repository import BaseRepository
    from casdb.research.composition import Composition
    from casdb.research.corpora import CorpusPart, CorpusSpec

_LAZY = {
    "header": ("casdb.api.accessors", "header"),
    "tables": ("casdb.api.accessors", "tables"),
    "schemes": ("casdb.api.accessors", "schemes"),
    "splits": ("casdb.api.accessors", "splits"),
    "raters": ("casdb.api.accessors", "raters"),
    "misc_tables": ("casdb.api.accessors", "misc_tables"),
    "attachments": ("casdb.api.accessors", "attachments"),
    "media": ("casdb.api.accessors", "media"),
    "duration": ("casdb.api.accessors", "duration"),
    "files": ("casdb.api.accessors", "files"),
    "formats": ("casdb.api.accessors", "formats"),
    "sampling_rates": ("casdb.api.accessors", "sampling_rates"),
    "channels": ("casdb.api.accessors", "channels"),
    "bit_depths": ("casdb.api.accessors", "bit_depths"),
    "dependencies": ("casdb.api.accessors", "dependencies"),
    "versions": ("casdb.api.accessors", "versions"),
    "latest_version": ("casdb.api.accessors", "latest_version"),
    "exists": ("casdb.api.accessors", "exists"),
    "cached": ("casdb.api.accessors", "cached"),
    "load_table": ("casdb.api.accessors", "load_table"),
    "load_media": ("casdb.api.accessors", "load_media"),
    "load_attachment": ("casdb.api.accessors", "load_attachment"),
    "Repository": ("casdb.api.repository", "Repository"),
    "BaseRepository": ("casdb.history.repository", "BaseRepository"),
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
    "split": ("casdb.api.splitting", "split"),
    "stream": ("casdb.api.streaming", "stream"),
    "Augment": ("casdb.audio.augment", "Augment"),
    "Flavour": ("casdb.audio.flavour", "Flavour"),
    "Request": ("casdb.checkouts.selection", "Request"),
    "cache_root": ("casdb.checkouts.layout", "cache_root"),
    "LINK_MODES": ("casdb.checkouts.linking", "MODES"),
    "load_corpora": ("casdb.api.corpora", "load_corpora"),
    "compose": ("casdb.api.corpora", "compose"),
    "card": ("casdb.api.cards", "card"),
    "CorpusSpec": ("casdb.research.corpora", "CorpusSpec"),
    "CorpusPart": ("casdb.research.corpora", "CorpusPart"),
    "Composition": ("casdb.research.composition", "Composition"),
}

__all__ = [
    "BaseRepository",
    "header",
    "tables",
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
    "LINK_MODES",
    "Config",
    "find_repository",
    "location",
    "search_datasets",
    "search_list",
    "Composition",
    "CorpusPart",
    "CorpusSpec",
    "card",
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
    "stream",
]


__getattr__ = exports("casdb.api", _LAZY)
