"""The backend protocol: a handful of operations on keys.

Keys are ``/``-separated relative paths. ``put`` with ``exclusive=True`` is put-if-absent, the
primitive a content-addressed store is built on; ``swap`` is the compare-and-swap refs need.

    get(key) -> bytes                      NotFound if absent
    get_ranges(key, [(start, end)]) -> [bytes]
    get_file(key, path)                    stream to a local file (large blobs)
    put(key, data, exclusive=False) -> bool
    put_file(key, path) -> bool            streamed / multipart for large files; put-if-absent
    swap(key, expected, new)               compare-and-swap; Conflict if the key changed
    exists(key) -> bool
    modified(key) -> seconds since the epoch (0 if absent)
    list(prefix) -> keys
    delete(key)

Backends: :class:`casdb.store.backends.local.LocalBackend` (a folder: local or a shared file
system) and :class:`casdb.store.backends.s3.S3Backend` (S3-compatible object stores);
:func:`casdb.store.backends.registry.open_backend` picks one from a URL. Errors are casdb's:
``NotFound``, ``Conflict``, ``BackendError`` (a remote failed: credentials, network, missing
bucket), ``StorageError`` (a local write failed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Backend(Protocol):
    """Where a repository's bytes live."""

    def get(self, key: str) -> bytes:
        """The bytes at ``key``; ``NotFound`` if absent."""

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Byte ranges ``[start, end)`` of ``key`` (one request or a few, where possible)."""

    def get_file(self, key: str, path: Path) -> None:
        """Write the bytes at ``key`` to a new local file ``path`` (streamed)."""

    def put(self, key: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Store ``data`` at ``key`` atomically; with ``exclusive``, only if absent.

        Returns whether the data was written (False: ``exclusive`` and the key existed).
        """

    def put_file(self, key: str, path: Path) -> bool:
        """Store a local file at ``key`` if absent (streamed; multipart where large)."""

    def swap(self, key: str, expected: bytes | None, new: bytes) -> None:
        """Set ``key`` to ``new`` if it holds ``expected`` now (None: absent); else ``Conflict``."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds data."""

    def modified(self, key: str) -> float:
        """When ``key`` was last written (seconds since the epoch); 0 if absent."""

    def list(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix`` (a folder-like prefix ending in ``/``), in no set order."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are ignored."""


def check_key(key: str) -> str:
    """``key`` if it is a valid key (``/``-separated, relative, no empty, ``.`` or ``..`` part);
    else ``InvalidInput``. Every backend checks its keys the same way.

    Example:
        >>> check_key("refs/emodb/tags/1.0.0")
        'refs/emodb/tags/1.0.0'
        >>> check_key("a/../b")
        Traceback (most recent call last):
        casdb.core.errors.InvalidInput: invalid key 'a/../b'
    """
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        from casdb.core.errors import InvalidInput

        raise InvalidInput(f"invalid key {key!r}")
    return key


def redact(url: str) -> str:
    """``url`` with any user info (credentials) replaced by ``***``."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{scheme}://{host}{slash}{path}"
