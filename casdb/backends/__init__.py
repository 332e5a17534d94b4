"""Storage backends: where a repository's files live (a local folder now; object stores later).

A backend maps keys (``objects/ab/cdef...``, ``refs/emodb/tags/1.0.0``) to bytes through a small
protocol (:class:`casdb.backends.base.Backend`). Backends are looked up lazily by URL scheme so
that importing casdb never imports a cloud client.
"""

from __future__ import annotations

from pathlib import Path

from casdb.backends.base import Backend


def open_backend(location: str | Path) -> Backend:
    """The backend for a path or URL (``/data/repo``, ``file:///data/repo``).

    Example:
        >>> import tempfile
        >>> open_backend(tempfile.mkdtemp()).capabilities.local_path
        True
    """
    text = str(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        from casdb.errors import InvalidInput

        scheme = text.split("://", 1)[0]
        raise InvalidInput(f"unsupported repository URL scheme {scheme!r}: use a local path")
    from casdb.backends.local import LocalBackend

    return LocalBackend(Path(text))
