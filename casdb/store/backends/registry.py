"""Which backend serves a URL, by its scheme: a folder (a path or ``file://``),
``s3://bucket/prefix``, or a scheme a plug-in package registers.

A package adds a scheme without touching casdb by declaring an entry point in the group
``casdb.backends`` whose name is the scheme and whose value is a factory taking the URL (a
function, or a class: ``Class.from_url(url)`` if it has one, else ``Class(url)``)::

    [project.entry-points."casdb.backends"]
    gs = "casdb_gcs:GCSBackend"

The built-in schemes (``file`` and ``s3``) are looked up first, so a plug-in cannot shadow them.
Implementations are imported when a URL needs them (obstore only for S3, a plug-in only for its
scheme), and entry points are read only for a scheme that is not built in.
"""

from __future__ import annotations

from pathlib import Path

from casdb.core.errors import Error, InvalidInput
from casdb.store.backends.base import Backend, redact

GROUP = "casdb.backends"
BUILTIN = ("file", "s3")
_METHODS = ("get", "put", "exists", "list", "delete")
"""What a plug-in's object must have to be taken as a backend (the rest of the Protocol is
checked by use; casdb.testing's backend contract tests check all of it)."""


def scheme_of(url: str) -> str:
    """The scheme of ``url``, lower case; ``""`` for a plain path."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def open_backend(url: str) -> Backend:
    """A backend for ``url``: ``s3://bucket/prefix``, a folder (path or ``file://``), or a
    plug-in's scheme (entry point group ``casdb.backends``).

    Example:
        >>> import tempfile
        >>> type(open_backend(tempfile.mkdtemp())).__name__
        'LocalBackend'
    """
    scheme = scheme_of(url)
    if scheme in ("", "file"):
        from casdb.store.backends.local import LocalBackend

        path = url[len("file://"):] if scheme else url
        return LocalBackend(Path(path).expanduser().absolute())
    if scheme == "s3":
        from casdb.store.backends.s3 import S3Backend

        return S3Backend.from_url(url)
    entry = plugins().get(scheme)
    if entry is None:
        raise unsupported_url(url)
    return _from_plugin(entry, url)


def plugins() -> dict:
    """Scheme -> entry point, for the backends installed packages register (not built-ins)."""
    from importlib.metadata import entry_points

    return {ep.name.lower(): ep for ep in entry_points(group=GROUP)
            if ep.name.lower() not in BUILTIN}


def _from_plugin(entry, url: str) -> Backend:
    where = f"{entry.name} backend ({entry.value})"
    try:
        factory = entry.load()
    except Exception as exc:  # noqa: BLE001 (any import failure of a third-party package)
        raise InvalidInput(f"the {where} cannot be imported: {type(exc).__name__}: {exc} "
                           "(is the package that provides it installed completely?)") from exc
    make = getattr(factory, "from_url", factory)
    try:
        backend = make(url)
    except Error:
        raise
    except Exception as exc:  # noqa: BLE001 (a plug-in's own error becomes one of casdb's)
        raise InvalidInput(f"the {where} refused {redact(url)!r}: {type(exc).__name__}: "
                           f"{exc}") from exc
    missing = [m for m in _METHODS if not callable(getattr(backend, m, None))]
    if missing:
        raise InvalidInput(f"the {where} returned {type(backend).__name__}, which is not a "
                           f"casdb backend (no {', '.join(missing)})")
    return backend


def unsupported_url(url: str) -> InvalidInput:
    """The error for a URL whose scheme no backend serves (``gs://``, ``http://``, ...).

    Example:
        >>> error = unsupported_url("gs://bucket/casdb")
        >>> error.exit_code, "s3://bucket/prefix" in str(error)
        (2, True)
    """
    installed = sorted(plugins())
    extra = f"; plug-in schemes installed: {', '.join(installed)}" if installed else (
        "; no plug-in backends are installed (entry point group casdb.backends)")
    return InvalidInput(f"unsupported repository URL {redact(url)!r}: casdb opens a folder (a path "
                        "or file://...) or s3://bucket/prefix (AWS S3 or an S3-compatible server "
                        "such as MinIO, Ceph or SeaweedFS; AWS_* variables for credentials)"
                        f"{extra}")
