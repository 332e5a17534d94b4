"""Data cards (``casdb card``): :func:`card` for one version, or several compared side by side.

Example:
    >>> import tempfile
    >>> from casdb.api.repository import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> r = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = r.commit(make_dataset(tempfile.mkdtemp(), files=3, duration=0.1), dataset="d",
    ...              version="1.0.0")
    >>> card("d@1.0.0", repo=r).cards[0].duration_stats()["count"]
    3
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.api.repository import Repository, open_repository
from casdb.core.errors import Error, InvalidInput, StorageError

if TYPE_CHECKING:
    from casdb.research.cards import Cards


def card(*refs: str, repo: Repository | str | Path | None = None,
         html: str | Path | None = None, sample: int = 200, seed: int = 0,
         cache_root: str | Path | None = None) -> Cards:
    """The data cards of ``refs`` (``NAME@VERSION``; a bare name: the head of ``main``).

    ``cards.text()`` is the terminal card. With ``html``, the page (plots, an audio example,
    acoustic statistics of up to ``sample`` files per corpus chosen by ``seed``) is written
    there; :func:`card_html` makes the page's text. ``repo`` may be a remote URL: only the
    metadata and the blobs the card reads are fetched (into the remote's object cache under
    ``cache_root``).
    """
    from casdb.core.atomic import atomic_write
    from casdb.research.cards import Cards, make_card

    if not refs:
        raise InvalidInput("card: name at least one NAME@VERSION")
    if sample < 0:
        raise InvalidInput(f"card: the sample size must be 0 or more, not {sample}")
    target = _check_target(Path(html)) if html is not None else None
    if target is not None and importlib.util.find_spec("matplotlib") is None:
        raise Error("card --html draws its plots with matplotlib: pip install 'casdb[cards]'")
    r = open_repository(repo, cache_root)  # a remote: its object cache fetches what is read
    cards = Cards([make_card(r, ref, audio=target is not None, sample=sample, seed=seed)
                   for ref in refs])
    if target is not None:
        try:
            atomic_write(target, card_html(cards).encode("utf-8"), mode=0o644)
        except (OSError, StorageError) as exc:  # the folder changed since the check
            raise InvalidInput(f"card: cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from exc
    return cards


def _check_target(path: Path) -> Path:
    """Fail before any work when the page cannot be written there."""
    path = path.expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InvalidInput(f"card: {path} is a folder; name the HTML file to write")
    if not parent.is_dir():
        raise InvalidInput(f"card: cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(f"card: cannot write {path}: folder {parent} is not writable")
    return path


def card_html(cards: Cards) -> str:
    """The self-contained HTML page of ``cards`` (plots as inline SVG, audio as a data: URI)."""
    from casdb.research.cardpage import page

    return page(cards.cards)
