"""A plug-in backend package for tests/test_config.py: registered through the entry point group
``casdb.backends`` by the ``casdb_test_backend-0.0.dist-info`` beside it (found by
``importlib.metadata`` once this folder is on ``sys.path``), not by anything in casdb.

``mem://NAME`` is a :class:`casdb.testing.memory.MemoryBackend` kept per URL for the process;
``down://NAME`` is a server that cannot be reached (every call is a ``BackendError``).
"""

from __future__ import annotations

from casdb.core.errors import BackendError
from casdb.testing.memory import MemoryBackend

STORES: dict[str, MemoryBackend] = {}
OPENED: list[str] = []


def open_memory(url: str) -> MemoryBackend:
    """The store of ``url`` (the same one each time it is opened)."""
    OPENED.append(url)
    return STORES.setdefault(url, MemoryBackend())


class Down:
    """A backend whose server is unreachable."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _fail(self, *args, **kwargs):
        raise BackendError(f"{self.url}: connection refused")

    get = put = exists = list = delete = get_ranges = get_file = put_file = swap = modified = _fail
