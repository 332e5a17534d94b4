"""Branches and tags made, listed and deleted after the fact (``casdb branch``, ``casdb tag``).

A branch starts at any commit a dataset's refs reach (named by version, branch or commit
prefix, as ``NAME@REF`` everywhere); a version tag can be put on an existing commit; both are
deleted by compare-and-swap under the dataset lock, so a ref moved meanwhile by another writer is
never deleted (``Conflict``). What gc keeps follows: whatever no ref reaches any more goes.

Rules where a choice was needed:

- ``main`` is deleted only with ``force``: commits and loads default to it;
- the last ref of a dataset is deleted only with ``force``: without refs the dataset is gone;
- a version is immutable, so tagging one that exists is ``AlreadyExists``, even on the same
  commit; deleting a tag is allowed (the CLI asks first), but a remote keeps its copy (see
  docs/remotes.md).

Example:
    >>> import tempfile, pathlib
    >>> from casdb.api import Repository
    >>> src = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (src / "db.yaml").write_text("name: demo\\n")
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> c = repo.commit(src, dataset="demo", version="1.0.0")
    >>> create_branch(repo, "demo", "fix", "1.0.0") == c.id
    True
    >>> [(b.name, b.versions) for b in listing(repo, "demo")]
    [('fix', ('1.0.0',)), ('main', ('1.0.0',))]
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from casdb.core.errors import AlreadyExists, InvalidInput, NotFound
from casdb.core.ids import short
from casdb.core.names import check_branch, check_version, version_key
from casdb.store.refs import HEADS, TAGS, RefUpdate

if TYPE_CHECKING:
    from casdb.history.repository import BaseRepository

MAIN = "main"


@dataclass(frozen=True)
class Branch:
    """One branch: its head commit and the versions tagged on that commit."""

    name: str
    commit: str
    versions: tuple[str, ...]


def listing(repo: BaseRepository, dataset: str) -> list[Branch]:
    """The branches of ``dataset``, by name, each with the versions that point at its head."""
    heads = repo.branches(dataset)
    tags = repo.refs.tags(dataset)
    out = []
    for name in sorted(heads):
        commit = heads[name]
        versions = sorted((v for v, c in tags.items() if c == commit), key=version_key)
        out.append(Branch(name, commit, tuple(versions)))
    return out


def create_branch(repo: BaseRepository, dataset: str, branch: str, ref: str | None = None) -> str:
    """Start ``branch`` at ``ref`` (a version, branch or commit prefix; None: the head of
    ``main``); return its commit id. ``AlreadyExists`` if the branch exists."""
    check_branch(branch)
    commit = repo.resolve(dataset, ref)
    current = repo.refs.get(dataset, f"{HEADS}/{branch}")
    if current is not None:
        raise AlreadyExists(f"{dataset} has a branch {branch!r} already (at {short(current)})")
    repo.refs.update(dataset, [RefUpdate(f"{HEADS}/{branch}", None, commit)])
    return commit


def delete_branch(repo: BaseRepository, dataset: str, branch: str, *, force: bool = False) -> str:
    """Delete ``branch``; return the commit it pointed at. ``main`` and a dataset's last ref
    only with ``force``."""
    check_branch(branch)
    heads = repo.branches(dataset)
    if branch not in heads:
        raise NotFound(f"{dataset} has no branch {branch!r}{_hint(branch, heads)}")
    if branch == MAIN and not force:
        raise InvalidInput(f"refusing to delete the main branch of {dataset} (use --force): "
                           "commits and loads start from it")
    _check_not_last(repo, dataset, f"branch {branch!r}", force)
    repo.refs.delete(dataset, f"{HEADS}/{branch}", heads[branch])
    return heads[branch]


def tag(repo: BaseRepository, dataset: str, ref: str | None, version: str) -> str:
    """Publish ``version`` on the commit ``ref`` names (None: the head of ``main``); return
    the commit id. ``AlreadyExists`` if the version exists (versions are immutable)."""
    check_version(version)
    commit = repo.resolve(dataset, ref)
    current = repo.refs.get(dataset, f"{TAGS}/{version}")
    if current is not None:
        raise AlreadyExists(f"{dataset} {version} exists already (commit {short(current)}); "
                            "versions are immutable")
    repo.refs.update(dataset, [RefUpdate(f"{TAGS}/{version}", None, commit)])
    return commit


def delete_tag(repo: BaseRepository, dataset: str, version: str, *, force: bool = False) -> str:
    """Delete the tag of ``version``; return the commit it named. A dataset's last ref only
    with ``force``."""
    check_version(version)
    repo.check_known(dataset)
    tags = repo.refs.tags(dataset)
    if version not in tags:
        raise NotFound(f"{dataset} has no version {version!r}{_hint(version, tags)}")
    _check_not_last(repo, dataset, f"version {version}", force)
    repo.refs.delete(dataset, f"{TAGS}/{version}", tags[version])
    return tags[version]


def _check_not_last(repo: BaseRepository, dataset: str, what: str, force: bool) -> None:
    if not force and len(repo.refs.of(dataset)) == 1:
        raise InvalidInput(f"{what} is the last ref of {dataset}: deleting it drops the dataset "
                           "(use --force)")


def _hint(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""
