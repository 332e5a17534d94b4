"""What a partial load asks for, and what it means for one version: tables, media and rows.

A request names tables (a list), media (a regular expression or a list of paths) and whether to
fetch media at all (``only_metadata``); :func:`select` turns it into a :class:`Selection` for
one version, as audb does:

- ``tables``: those tables, plus every misc table a scheme takes its labels from (the header
  keeps all schemes, and audformat needs their tables); only the media those tables reference.
- ``media``: those media (``re.search`` on the path, or exact paths), and only their rows.
- ``only_metadata``: the header and tables, no media.

The same function serves a checkout (reading the version from the store) and a load from a
cached folder (reading the folder), so both agree on what a request means.

Example:
    >>> header = {"name": "x", "tables": {"a": {"type": "filewise"}, "b": {"type": "filewise"}}}
    >>> files = {"a": ["1.wav", "2.wav"], "b": ["3.wav"]}
    >>> s = select(header, ["1.wav", "2.wav", "3.wav"], files.get, Request(tables=("b",)))
    >>> s.tables, s.media
    (['b'], ['3.wav'])
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from casdb.core.errors import InvalidInput, NotFound
from casdb.tables.header import table_specs


@dataclass(frozen=True)
class Request:
    """A load request: ``tables`` (ids) and ``media`` (regex or paths); None means all."""

    tables: tuple[str, ...] | None = None
    media: str | tuple[str, ...] | None = None
    only_metadata: bool = False

    @classmethod
    def make(
        cls,
        tables: str | Sequence[str] | None = None,
        media: str | Sequence[str] | None = None,
        only_metadata: bool = False,
    ) -> Request:
        """Check and normalise user input; ``InvalidInput`` on a bad regex or type.

        Example:
            >>> Request.make(tables="emotion", media=["b.wav", "a.wav"])
            Request(tables=('emotion',), media=('a.wav', 'b.wav'), only_metadata=False)
        """
        if isinstance(tables, str):
            tables = (tables,)
        if tables is not None:
            if not all(isinstance(t, str) for t in tables):
                raise InvalidInput("tables must be table ids (strings)")
            tables = tuple(sorted(set(tables)))
        if isinstance(media, str):
            try:
                re.compile(media)
            except re.error as exc:
                raise InvalidInput(f"invalid media regular expression {media!r}: {exc}") from exc
        elif media is not None:
            if not all(isinstance(m, str) for m in media):
                raise InvalidInput("media must be a regular expression or a list of paths")
            media = tuple(sorted(set(media)))
        return cls(tables, media, bool(only_metadata))

    @property
    def everything(self) -> bool:
        return self.tables is None and self.media is None and not self.only_metadata

    def key(self) -> str:
        """A stable text form (kept in a cache folder's state to recognise a repeated request)."""
        return json.dumps([self.tables, self.media, self.only_metadata], separators=(",", ":"))


@dataclass(frozen=True)
class Selection:
    """A request applied to one version."""

    tables: list[str]
    """Tables to present, in header order (filewise and segmented first, then misc)."""
    media: list[str] | None
    """Media files chosen, sorted; None: every media file of the version."""
    filtered: bool
    """Whether rows are restricted to the rows of :attr:`media` (a ``media`` request)."""
    fetch: bool
    """Whether the media files are wanted on disk (False for ``only_metadata``)."""


def label_tables(header: dict) -> set[str]:
    """Misc tables that schemes take their labels from."""
    out = set()
    for scheme in (header.get("schemes") or {}).values():
        labels = scheme.get("labels") if isinstance(scheme, dict) else None
        if isinstance(labels, str):
            out.add(labels)
    return out


def attachment_paths(header: dict) -> list[str]:
    """Paths (files or folders) the header declares as attachments."""
    return [
        spec["path"] for spec in (header.get("attachments") or {}).values()
        if isinstance(spec, dict) and isinstance(spec.get("path"), str)
    ]


def is_attachment(path: str, attachments: Sequence[str]) -> bool:
    return any(path == a or path.startswith(a.rstrip("/") + "/") for a in attachments)


def select(
    header: dict,
    media: Sequence[str],
    file_column: Callable[[str], Iterable[str]],
    request: Request,
    dataset: str = "",
) -> Selection:
    """Apply ``request`` to a version with this header and these media files (sorted paths,
    attachments left out); ``file_column(table)`` gives the files a table references.

    Raises ``NotFound`` for a table or media path the version lacks, or a regex that matches
    no media file.
    """
    specs = table_specs(header)
    label = f" of {dataset}" if dataset else ""
    if request.tables is None:
        tables = list(specs)
    else:
        for table in request.tables:
            if table not in specs:
                close = difflib.get_close_matches(table, list(specs), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise NotFound(f"no table {table!r}{label}{hint}")
        wanted = set(request.tables) | (label_tables(header) & specs.keys())
        tables = [t for t in specs if t in wanted]
    if request.tables is None:
        candidates = list(media)
    else:
        used: set[str] = set()
        for table in tables:
            if specs[table] != "misc":
                used.update(file_column(table))
        candidates = [m for m in media if m in used]
    chosen: list[str] | None
    if request.media is None:
        chosen = None if request.tables is None else candidates
    elif isinstance(request.media, str):
        pattern = re.compile(request.media)
        chosen = [m for m in candidates if pattern.search(m)]
        if not chosen:
            where = " in the chosen tables" if request.tables is not None else ""
            raise NotFound(f"no media{label} matches {request.media!r}{where}")
    else:
        known = set(media)
        missing = [m for m in request.media if m not in known]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise NotFound(f"no media file {missing[0]!r}{label}{more}")
        wanted_media = set(request.media)
        chosen = [m for m in candidates if m in wanted_media]
    return Selection(tables, chosen, request.media is not None, not request.only_metadata)
