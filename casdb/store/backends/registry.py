"""Which backend serves a URL: a folder (a path or ``file://``) or ``s3://bucket/prefix``.

The implementations are imported when a URL needs them (obstore only for S3).
"""

from __future__ import annotations

from pathlib import Path

from casdb.core.errors import InvalidInput
from casdb.store.backends.base import Backend, redact


def open_backend(url: str) -> Backend:
    """A backend for ``url``: ``s3://bucket/prefix``, or a folder (path or ``file://``).

    Example:
        >>> import tempfile
        >>> type(open_backend(tempfile.mkdtemp())).__name__
        'LocalBackend'
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("", "file"):
        from casdb.store.backends.local import LocalBackend

        path = url[len("file://"):] if scheme else url
        return LocalBackend(Path(path).expanduser().absolute())
    if scheme == "s3":
        from casdb.store.backends.s3 import S3Backend

        return S3Backend.from_url(url)
    raise unsupported_url(url)


def unsupported_url(url: str) -> InvalidInput:
    """The error for a URL whose scheme no backend serves (``gs://``, ``http://``, ...).

    Example:
        >>> error = unsupported_url("gs://bucket/casdb")
        >>> error.exit_code, "s3://bucket/prefix" in str(error)
        (2, True)
    """
    return InvalidInput(f"unsupported repository URL {redact(url)!r}: casdb opens a folder (a path "
                        "or file://...) or s3://bucket/prefix (AWS S3 or an S3-compatible server "
                        "such as MinIO, Ceph or SeaweedFS; AWS_* variables for credentials)")
