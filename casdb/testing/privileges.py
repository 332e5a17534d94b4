"""Running part of a test as an unprivileged user (root reads and writes anything).

Everything the code under test may import lazily is imported first: after the switch, the
interpreter may no longer read the venv or the checkout it runs from (``mktemp -d`` is 0700).

Example (in a child process started by a test)::

    from casdb.testing.privileges import drop_privileges
    drop_privileges()
"""

from __future__ import annotations

import importlib
import os
import pkgutil

LAZY = ("yaml", "json", "sqlite3", "difflib", "getpass", "numpy", "pandas", "pyarrow",
        "pyarrow.compute", "pyarrow.parquet", "soundfile", "msgpack", "zstandard", "blake3")
"""Libraries casdb imports inside functions."""

NOBODY = 65534


def import_all() -> None:
    """Import every module of casdb and the libraries it imports lazily."""
    import casdb

    for name in LAZY:
        importlib.import_module(name)
    for module in pkgutil.walk_packages(casdb.__path__, "casdb."):
        importlib.import_module(module.name)


def drop_privileges() -> None:
    """:func:`import_all`, then become ``nobody`` if running as root."""
    import_all()
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
