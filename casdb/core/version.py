"""casdb's own version, as installed (recorded in what casdb derives: splits, compositions).

Example:
    >>> casdb_version() != ""
    True
"""

from __future__ import annotations


def casdb_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casdb")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"
