"""``casdb.split``: split a version by a benchmark protocol and commit the splits (``casdb split``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.names import check_dataset

if TYPE_CHECKING:
    from casdb.api.repository import Repository
    from casdb.research.splitting import SplitResult


def split(
    dataset: str,
    version: str | None = None,
    *,
    protocol: str,
    table: str | None = None,
    label: str = "emotion",
    speaker: str = "speaker",
    ratios: Sequence[float] = (0.6, 0.2, 0.2),
    folds: int = 5,
    seed: int = 0,
    items: int = 240,
    labels: Sequence[str] = ("angry", "happy", "neutral", "sad"),
    where: str | None = None,
    prefix: str | None = None,
    official: bool = True,
    new_version: str | None = None,
    branch: str | None = None,
    message: str | None = None,
    dry_run: bool = False,
    author: str | None = None,
    repo: Repository | str | Path | None = None,
) -> SplitResult:
    """Split ``dataset@version`` by ``protocol`` and commit the split tables as ``new_version``
    (and/or on ``branch``; default ``main``), storing no media bytes; ``dry_run`` only reports.

    Protocols (docs/research.md, "Splits"): ``emobox`` (the EmoBox rule picks official splits,
    speaker-dependent 25 % per label, leave-one-speaker-out, or 4 speaker folds), ``serab``
    (speaker-independent train/dev/test by ``ratios``), ``loso``, ``kfold`` (``folds``
    speaker-independent folds) and ``balanced`` (a test set of ``items`` rows over ``labels``,
    balanced over label x speaker, rows meeting ``where`` such as ``"agreement>=0.8"``).
    ``speaker`` is a column of ``table`` or ``TABLE.COLUMN`` (a table indexed by file, or a misc
    table indexed by a column of ``table``). The same arguments and seed give the same tables on
    every machine. Bad arguments raise ``InvalidInput``/``NotFound``/``AlreadyExists`` before
    anything is stored.

    Example:
        >>> import tempfile
        >>> from casdb.api.repository import Repository
        >>> from casdb.testing.synth import make_dataset
        >>> r = Repository.init(tempfile.mkdtemp() + "/r")
        >>> _ = r.commit(make_dataset(tempfile.mkdtemp(), files=20, duration=0.05), dataset="d",
        ...              version="1.0.0")
        >>> out = split("d", "1.0.0", protocol="kfold", folds=2, new_version="1.1.0", repo=r)
        >>> out.rule, out.folds, out.commit.new_bytes
        ('kfold', 2, 0)
    """
    from casdb.api.repository import open_local
    from casdb.research.splitting import SplitSpec
    from casdb.research.splitting import split as run

    check_dataset(dataset)
    spec = SplitSpec(protocol, table=table, label=label, speaker=speaker,
                     ratios=tuple(ratios), folds=folds, seed=seed, items=items,
                     labels=tuple(labels), where=where, prefix=prefix, official=official)
    return run(open_local(repo), dataset, version, spec, new_version=new_version, branch=branch,
               message=message, dry_run=dry_run, author=author)
