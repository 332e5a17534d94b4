"""The branches last seen on a remote, so that deleting one can travel (``prune``).

A repository records, per remote and dataset, each branch and its head as they stood on the
remote after the last push or pull (``<repo>/remotes/<name>/branches.json``). Pruning acts only
on branches in that record, like Git's remote-tracking branches:

- push ``prune``: a recorded branch deleted here is deleted on the remote if it is still where
  it was seen (compare-and-swap); one moved there meanwhile is ``Conflict``: pull first;
- pull ``prune``: a recorded branch gone from the remote is deleted here if it did not move
  here since (a branch with new local commits stays: it is work the next push sends).

A branch never seen (someone else's, or one made here and never pushed) is never pruned. With
no record (a remote without a cache folder, a damaged record), nothing is pruned.

Example:
    >>> import tempfile, pathlib
    >>> from casdb.remote.layout import Remote
    >>> r = Remote.create(tempfile.mkdtemp(), cache=pathlib.Path(tempfile.mkdtemp()))
    >>> record(r, "emodb", {"heads/main": "ab" * 32, "tags/1.0.0": "ab" * 32})
    >>> seen(r, "emodb")
    {'heads/main': 'abababababababababababababababababababababababababababababababab'}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from casdb.core.atomic import atomic_write
from casdb.core.errors import InvalidInput
from casdb.core.ids import is_id
from casdb.core.names import check_branch

if TYPE_CHECKING:
    from casdb.remote.layout import Remote

FILE = "branches.json"


def _load(remote: Remote) -> dict[str, dict[str, str]]:
    if remote.cache is None:
        return {}
    try:
        data = json.loads((remote.cache / FILE).read_text())
    except (OSError, ValueError):
        return {}  # no record (or a damaged one): nothing is pruned
    if not isinstance(data, dict):
        return {}
    return {d: {r: c for r, c in refs.items() if _branch(r) and isinstance(c, str) and is_id(c)}
            for d, refs in data.items() if isinstance(refs, dict)}


def _branch(ref: str) -> bool:
    """Whether ``ref`` is ``heads/<valid branch>``: a record never names a tag (never pruned)
    or a key outside the dataset's branches, whatever the file holds."""
    kind, _, name = ref.partition("/")
    try:
        check_branch(name)
    except InvalidInput:
        return False
    return kind == "heads"


def seen(remote: Remote, dataset: str) -> dict[str, str]:
    """``heads/<branch>`` -> commit id of ``dataset`` as last seen on ``remote``."""
    return _load(remote).get(dataset, {})


def record(remote: Remote, dataset: str, refs: dict[str, str], *, pruned: bool = True) -> None:
    """Remember the branches among ``refs`` (the remote's refs of ``dataset`` now).

    Without ``pruned`` (a push or pull without ``prune``), branches recorded before and gone
    from the remote since stay recorded, so that a later ``prune`` still acts on them.
    """
    if remote.cache is None:
        return
    data = _load(remote)
    heads = {r: c for r, c in refs.items() if r.startswith("heads/")}
    if not pruned:
        heads = {**data.get(dataset, {}), **heads}
    data[dataset] = dict(sorted(heads.items()))
    remote.cache.mkdir(parents=True, exist_ok=True)
    atomic_write(remote.cache / FILE, json.dumps(data, indent=1).encode(), tmp_dir=remote.cache)
