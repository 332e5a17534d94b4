"""The backend protocol: a handful of operations on keys, and the capabilities a backend has.

Keys are ``/``-separated relative paths. ``put`` with ``exclusive=True`` is put-if-absent, the
primitive a content-addressed store is built on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the protocol."""

    local_path: bool = False
    """Keys are files under ``root``: blobs can be linked and streamed from disk."""
    atomic_exclusive_put: bool = True
    """``put(..., exclusive=True)`` is atomic against concurrent writers."""


@runtime_checkable
class Backend(Protocol):
    """Where a repository's bytes live."""

    capabilities: Capabilities

    def get(self, key: str) -> bytes:
        """The bytes at ``key``; ``NotFound`` if absent."""

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Store ``data`` at ``key`` atomically; with ``exclusive``, only if absent.

        Returns whether the data was written (False: ``exclusive`` and the key existed).
        """

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds data."""

    def list(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix`` (a folder-like prefix ending in ``/``), in no set order."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are ignored."""
