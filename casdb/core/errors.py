"""The errors casdb raises: one root, one class per kind of failure.

Every error carries the exit code the CLI uses, and a message that fits on one line::

    Error                      exit 1   anything casdb reports on purpose
    ├── InvalidInput           exit 2   a bad argument: name, version, path, option value
    │   │                               (also a ValueError)
    │   └── InvalidDataset     exit 3   the dataset folder is not a valid audformat database
    ├── NotFound               exit 4   no such dataset, version, branch, object or repository
    │                                   (also a LookupError)
    ├── AlreadyExists          exit 5   a version or repository that exists already
    ├── Conflict               exit 6   someone else moved a ref first; pull or retry
    ├── IntegrityError         exit 7   stored bytes do not hash to their id
    ├── StorageError           exit 8   the file system refused a write (disk full, permission)
    └── BackendError           exit 9   a remote store failed (network, credentials, bucket)
        └── EngineError        exit 9   the Dask scheduler is unreachable, or a task failed there

Errors from other libraries (pyarrow, soundfile, yaml, OSError) are translated where they enter
casdb (``raise InvalidDataset(...) from exc``), so callers catch only ``casdb.Error``. Two
classes are also the builtin a Python caller would reach for: ``except ValueError`` catches a bad
argument (``InvalidInput``, ``InvalidDataset``) and ``except LookupError`` a missing thing
(``NotFound``), as with ``int("x")`` or ``{}["x"]``.

Example:
    >>> from casdb.core.errors import NotFound, Error
    >>> issubclass(NotFound, Error), NotFound.exit_code
    (True, 4)
    >>> issubclass(NotFound, LookupError), issubclass(InvalidDataset, ValueError)
    (True, True)
"""

from __future__ import annotations


class Error(Exception):
    """Root of every error casdb raises on purpose."""

    exit_code: int = 1


class InvalidInput(Error, ValueError):
    """An argument is not acceptable: a name, version, path or option value."""

    exit_code = 2


class InvalidDataset(InvalidInput):
    """The dataset folder is not a valid audformat database (header, tables or media)."""

    exit_code = 3


class NotFound(Error, LookupError):
    """No such dataset, version, branch, object or repository."""

    exit_code = 4


class AlreadyExists(Error):
    """The thing to create exists already (a version is never re-published)."""

    exit_code = 5


class Conflict(Error):
    """A ref moved under us: another writer committed first. Retry on the new head."""

    exit_code = 6


class IntegrityError(Error):
    """Stored bytes do not hash to their id, or an object is missing or malformed."""

    exit_code = 7


class StorageError(Error):
    """The file system refused a write: no space left, no permission, read-only."""

    exit_code = 8


class BackendError(Error):
    """A remote store failed: unreachable, wrong credentials, missing bucket."""

    exit_code = 9


class EngineError(BackendError):
    """The compute engine failed: its scheduler is unreachable, or the cluster lost a task for
    good (docs/scale.md). Nothing is published by the run that raised it."""


def storage_error(exc: OSError, what: str) -> StorageError:
    """Translate an ``OSError`` raised while writing ``what`` into a one-line ``StorageError``.

    Example:
        >>> import errno
        >>> str(storage_error(OSError(errno.ENOSPC, "No space left on device"), "/r/objects"))
        'cannot write /r/objects: No space left on device'
    """
    reason = exc.strerror or str(exc)
    return StorageError(f"cannot write {what}: {reason}")
