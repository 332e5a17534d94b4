"""The remotes a repository knows: ``<repo>/remotes.json`` (name -> URL).

Credentials are never stored: they come from the environment or the AWS config files.

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> remote_url = tempfile.mkdtemp() + "/remote"
    >>> add(repo, "origin", remote_url)
    >>> configured(repo) == {"origin": remote_url}
    True
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from casdb.core.atomic import atomic_write
from casdb.core.errors import AlreadyExists, Error, IntegrityError, InvalidInput, NotFound
from casdb.core.names import check_branch
from casdb.store.backends.base import redact

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository
    from casdb.remote.layout import Remote

FILE = "remotes.json"


def configured(repo: BaseRepository) -> dict[str, str]:
    """Remote name -> URL."""
    file = repo.path / FILE
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{file} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise IntegrityError(f"{file} is damaged: expected a mapping of names to URLs")
    return data


def add(repo: BaseRepository, name: str, url: str, *, create: bool = True,
        audio_codec: str | None = None) -> None:
    """Remember ``url`` as remote ``name`` (marking it as a casdb remote if it is new).

    ``audio_codec`` (``flac`` or ``none``) is recorded on the remote itself, so every client
    pushing there codes alike; default: ``flac`` for a new remote, unchanged for an existing
    one."""
    from casdb.remote.layout import Remote

    check_branch(name)
    if redact(url) != url:
        raise InvalidInput(f"{redact(url)}: put credentials in the environment or the AWS "
                           "config files, never in the URL")
    remotes = configured(repo)
    if name in remotes:
        raise AlreadyExists(f"remote {name!r} exists already ({remotes[name]})")
    if create:
        Remote.create(url, audio_codec=audio_codec)
    else:
        remote = Remote.open(url)
        if audio_codec is not None and audio_codec != remote.audio_codec:
            Remote.create(url, audio_codec=audio_codec)
    remotes[name] = url
    atomic_write(repo.path / FILE, json.dumps(remotes, indent=2).encode() + b"\n",
                 tmp_dir=repo.path / "tmp")


def open_named(repo: BaseRepository, name: str | None = None) -> Remote:
    """The remote named ``name`` (default: ``origin``, or the only one)."""
    from casdb.remote.layout import Remote

    remotes = configured(repo)
    if name is None:
        if len(remotes) == 1:
            name = next(iter(remotes))
        elif "origin" in remotes:
            name = "origin"
        else:
            raise InvalidInput("name the remote: " + (", ".join(remotes) or "none is set up "
                               "(casdb remote add NAME URL)"))
    if name not in remotes:
        hint = f" (remotes: {', '.join(remotes)})" if remotes else ""
        raise NotFound(f"no remote {name!r}{hint}")
    return Remote.open(remotes[name], cache=repo.path / "remotes" / name)


def reachable(repo: BaseRepository) -> list[Remote]:
    """Every configured remote that opens now (those out of reach are skipped)."""
    out = []
    try:
        names = list(configured(repo))
    except Error:
        return []
    for name in names:
        try:
            out.append(open_named(repo, name))
        except Error:
            continue
    return out
