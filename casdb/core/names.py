"""Validation of the names users choose: datasets, versions and branches.

Names become path components of refs (``refs/<dataset>/tags/<version>``) on file systems and in
object stores, so they are kept to a portable alphabet and may never walk out of their folder.

Example:
    >>> check_dataset("emodb"), check_version("1.0.0"), check_branch("main")
    ('emodb', '1.0.0', 'main')
"""

from __future__ import annotations

import re

from casdb.core.errors import InvalidInput

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def _check(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name or name.endswith(
        (".lock", ".tmp", ".")
    ):
        raise InvalidInput(
            f"invalid {kind} {name!r}: use letters, digits and . _ + - "
            "(start with a letter or digit, at most 128 characters, no '..')"
        )
    return name


def check_dataset(name: object) -> str:
    """Return ``name`` if it is a valid dataset name, else raise ``InvalidInput``."""
    return _check("dataset name", name)


def check_version(version: object) -> str:
    """Return ``version`` if it is a valid version string, else raise ``InvalidInput``."""
    return _check("version", version)


def check_branch(branch: object) -> str:
    """Return ``branch`` if it is a valid branch name, else raise ``InvalidInput``."""
    return _check("branch name", branch)


def version_key(version: str) -> tuple:
    """Sort key ordering versions naturally: ``1.9.0 < 1.10.0``, ``1.0.0rc1 < 1.0.0 < 1.0.0.post1``.

    Example:
        >>> sorted(["1.10.0", "1.0.0.post1", "1.9.0", "1.0.0", "1.0.0rc1"], key=version_key)
        ['1.0.0rc1', '1.0.0', '1.0.0.post1', '1.9.0', '1.10.0']
    """
    key: list[tuple[int, int | str]] = []
    for part in re.findall(r"\d+|[A-Za-z]+", version):
        if part.isdigit():
            key.append((2, int(part)))
        elif part.lower() in ("post", "rev", "r"):
            key.append((3, part.lower()))  # after the release
        else:
            key.append((0, part.lower()))  # a pre-release: before the release
    key.append((1, 0))  # the release itself: after its pre-releases, before any .1 or .post
    return tuple(key)
