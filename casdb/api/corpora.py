"""Several corpora as one: :func:`load_corpora` (a DataFrame, media in one flavour) and
:func:`compose` (committed as a dataset of its own). See docs/research.md, "Composition".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casdb.api.repository import open_local, open_repository

if TYPE_CHECKING:
    import pandas as pd

    from casdb.audio.flavour import Flavour
    from casdb.history.repository import BaseRepository
    from casdb.research.composition import Composition
    from casdb.research.corpora import CorpusSpec


def load_corpora(
    spec: CorpusSpec | dict | str | Path,
    *,
    flavour: Flavour | dict | None = None,
    repo: BaseRepository | str | Path | None = None,
    cache_root: str | Path | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Load the datasets of a corpus spec (a :class:`CorpusSpec`, a mapping or a YAML file) as
    one DataFrame: ``dataset``, ``version``, ``file`` (local path, media in ``flavour``),
    ``start``/``end`` for segments, ``label`` (mapped), ``original_label``, ``speaker``,
    ``split``. ``repo`` may be a remote: only what the spec reads is fetched."""
    from casdb.audio.flavour import Flavour
    from casdb.checkouts.layout import cache_root as default_root
    from casdb.research.composition import load_corpora as run

    root = default_root(cache_root)
    return run(open_repository(repo, root), spec, flavour=Flavour.of(flavour), cache_root=root,
               progress=progress)


def compose(
    spec: CorpusSpec | dict | str | Path,
    *,
    dataset: str,
    version: str | None = None,
    branch: str = "main",
    message: str = "",
    author: str | None = None,
    repo: BaseRepository | str | Path | None = None,
) -> Composition:
    """Commit the datasets of a corpus spec as dataset ``dataset`` (``casdb compose``): the
    sources' blobs (no new media bytes), one ``labels`` table with mapped labels, the splits
    taken, and the spec and source commits in the header (``composition``)."""
    from casdb.research.composition import compose as run

    local = open_local(repo)
    with local.writing():
        return run(local, spec, dataset=dataset, version=version, branch=branch,
                   message=message, author=author)
