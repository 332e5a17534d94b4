"""What makes a location a remote, told without opening it (and without importing the remote
modules: a local load asks this first).

Example:
    >>> is_remote_url("s3://bucket/corpora"), is_remote_url("/data/casdb")
    (True, False)
"""

from __future__ import annotations

from pathlib import Path

MARKER = "casdb-remote.json"
"""The file at the top of every remote (its format and audio codec)."""


def is_remote_url(location: str | Path) -> bool:
    """Whether ``location`` names a remote (a URL such as ``s3://``, or a folder holding a casdb
    remote)."""
    text = str(location)
    if "://" in text and not text.lower().startswith("file://"):
        return True  # s3:// or a plug-in's scheme (an unknown one fails clearly when opened)
    path = Path(text[len("file://"):] if text.startswith("file://") else text).expanduser()
    return "://" not in text.replace("file://", "", 1) and (path / MARKER).is_file()
