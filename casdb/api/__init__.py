"""The porcelain: the :class:`Repository` and the public functions that ``casdb`` exports.

Every CLI command calls one of them; see docs/architecture.md for the layers below.
"""

from casdb.api.loading import checkout, load
from casdb.api.repository import Repository, open_local, open_repository
from casdb.api.tools import cache_evict, cache_ls, cache_verify, fsck, gc, info

__all__ = ["Repository", "cache_evict", "cache_ls", "cache_verify", "checkout", "fsck", "gc",
           "info", "load", "open_local", "open_repository"]
