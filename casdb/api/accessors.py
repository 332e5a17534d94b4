"""What ``audb.info`` and audb's top-level helpers offer, for casdb: one function per question.

Every function takes the dataset first, then the version (None: the latest version, as
:func:`casdb.load` takes it: the highest tag, else the head of ``main``), then keywords:
``repo`` (a :class:`casdb.Repository`, a path, a remote URL, or None for ``$CASDB_REPO``) and
``cache_root`` (where a remote's object cache lives).

The metadata accessors (:func:`header` to :func:`dependencies`) read the version's header,
table objects and media index. From a remote they fetch only those (into the remote's object
cache under ``<cache>/.remotes/``), never a media or attachment blob, and write no cache folder.
:func:`load_table`, :func:`load_media` and :func:`load_attachment` are loads: they go through
:func:`casdb.load` and the checkout cache, fetching only what they return (and the version's
attachments, which every checkout places).

Names follow audb where they fit (docs/api.md has the table): ``header``, ``tables``,
``schemes``, ``splits``, ``raters``, ``misc_tables``, ``attachments``, ``media``, ``duration``,
``files``, ``formats``, ``sampling_rates``, ``channels``, ``bit_depths``, ``dependencies``,
``versions``, ``latest_version``, ``exists``, ``cached``.

Example:
    >>> import tempfile
    >>> from casdb.api.repository import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> r = Repository.init(tempfile.mkdtemp() + "/r")
    >>> _ = r.commit(make_dataset(tempfile.mkdtemp(), files=2, duration=0.5), dataset="d",
    ...              version="1.0.0")
    >>> sorted(tables("d", repo=r)), duration("d", repo=r), sampling_rates("d", repo=r)
    (['emotion', 'segments'], Timedelta('0 days 00:00:01'), {16000})
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb.api.repository import open_repository
from casdb.core.errors import InvalidInput, NotFound
from casdb.core.names import check_dataset, version_key

if TYPE_CHECKING:
    import audformat as af
    import pandas as pd

    from casdb.audio.flavour import Flavour
    from casdb.history.repository import BaseRepository
    from casdb.history.snapshot import Snapshot

MEDIA_COLUMNS = ("blob", "bytes", "format", "sampling_rate", "channels", "bit_depth",
                 "duration", "type", "removed")
"""Columns of :func:`dependencies`, indexed by ``file``."""

CACHED_COLUMNS = ("dataset", "version", "flavour", "commit", "complete", "tables", "media",
                  "sampling_rate", "channels", "mixdown", "bit_depth", "format")
"""Columns of :func:`cached`, indexed by the folder's path."""


# -- reading a version -----------------------------------------------------------------------


def _open(dataset: str, version: str | None, repo: BaseRepository | str | Path | None,
          cache_root: str | Path | None) -> tuple[BaseRepository, Snapshot]:
    """The repository and the version's snapshot; from a remote, its metadata objects are
    fetched first (only those: the commit, header, table objects and partitions, media index)."""
    from casdb.checkouts.materialise import version_name
    from casdb.history.snapshot import Snapshot

    check_dataset(dataset)
    source = open_repository(repo, cache_root)
    source.sync_refs(dataset)  # a remote view mirrors the remote's refs; a repository: nothing
    _, commit_id = version_name(source, dataset, version)
    source.fetch_version(commit_id)  # a remote view fetches metadata only; a repository: nothing
    return source, Snapshot(source.store, dataset, commit_id)


def snapshot(dataset: str, version: str | None = None, *,
             repo: BaseRepository | str | Path | None = None,
             cache_root: str | Path | None = None) -> Snapshot:
    """The version as stored (:class:`casdb.history.snapshot.Snapshot`: header, table frames,
    media index), read as the accessors read it."""
    return _open(dataset, version, repo, cache_root)[1]


def _audformat():
    try:
        import audformat
    except ImportError as exc:
        raise InvalidInput("audformat=True needs audformat: pip install audformat") from exc
    return audformat


def header(dataset: str, version: str | None = None, *,
           repo: BaseRepository | str | Path | None = None,
           cache_root: str | Path | None = None,
           audformat: bool = False, load_tables: bool = True) -> dict[str, Any] | af.Database:
    """The header (db.yaml) of a version: a mapping, or with ``audformat`` an
    ``audformat.Database`` without table data (like ``audb.info.header``); ``load_tables`` then
    fills the misc tables that schemes take their labels from, so that their labels resolve.

    Example:
        >>> import tempfile
        >>> from casdb.api.repository import Repository
        >>> from casdb.testing.synth import make_dataset
        >>> r = Repository.init(tempfile.mkdtemp() + "/r")
        >>> _ = r.commit(make_dataset(tempfile.mkdtemp(), files=1, duration=0.1), dataset="d")
        >>> header("d", repo=r)["name"]
        'synth'
    """
    snap = snapshot(dataset, version, repo=repo, cache_root=cache_root)
    if not audformat:
        return copy.deepcopy(snap.header)
    return _database(snap, load_tables)


def _database(snap: Snapshot, load_tables: bool) -> af.Database:
    from casdb.checkouts.selection import label_tables

    module = _audformat()
    db = module.Database.load_header_from_yaml(copy.deepcopy(snap.header))
    if load_tables:
        for table_id in sorted(label_tables(snap.header) & set(db.misc_tables)):
            # audformat keeps a table's data in _df; its own loader fills it the same way
            db.misc_tables[table_id]._df = snap.table(table_id)
    return db


def _section(name: str, attr: str, dataset: str, version: str | None,
             repo: BaseRepository | str | Path | None, cache_root: str | Path | None,
             audformat: bool) -> dict[str, Any]:
    snap = snapshot(dataset, version, repo=repo, cache_root=cache_root)
    if audformat:
        return dict(getattr(_database(snap, load_tables=False), attr))
    return copy.deepcopy(dict(snap.header.get(name) or {}))


def tables(dataset: str, version: str | None = None, *,
           repo: BaseRepository | str | Path | None = None,
           cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Filewise and segmented tables: id -> their header entry (``audformat``: an
    ``audformat.Table`` without data)."""
    return _section("tables", "tables", dataset, version, repo, cache_root, audformat)


def misc_tables(dataset: str, version: str | None = None, *,
                repo: BaseRepository | str | Path | None = None,
                cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Misc tables: id -> their header entry (``audformat``: an ``audformat.MiscTable``)."""
    return _section("misc_tables", "misc_tables", dataset, version, repo, cache_root, audformat)


def schemes(dataset: str, version: str | None = None, *,
            repo: BaseRepository | str | Path | None = None,
            cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Schemes: id -> their header entry (``audformat``: an ``audformat.Scheme``, misc-table
    labels loaded, as ``audb.info.schemes`` gives them)."""
    if audformat:
        snap = snapshot(dataset, version, repo=repo, cache_root=cache_root)
        return dict(_database(snap, load_tables=True).schemes)
    return _section("schemes", "schemes", dataset, version, repo, cache_root, False)


def splits(dataset: str, version: str | None = None, *,
           repo: BaseRepository | str | Path | None = None,
           cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Splits: id -> their header entry (``audformat``: an ``audformat.Split``)."""
    return _section("splits", "splits", dataset, version, repo, cache_root, audformat)


def raters(dataset: str, version: str | None = None, *,
           repo: BaseRepository | str | Path | None = None,
           cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Raters: id -> their header entry (``audformat``: an ``audformat.Rater``)."""
    return _section("raters", "raters", dataset, version, repo, cache_root, audformat)


def attachments(dataset: str, version: str | None = None, *,
                repo: BaseRepository | str | Path | None = None,
                cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Attachments: id -> their header entry (``audformat``: an ``audformat.Attachment``)."""
    return _section("attachments", "attachments", dataset, version, repo, cache_root, audformat)


def media(dataset: str, version: str | None = None, *,
          repo: BaseRepository | str | Path | None = None,
          cache_root: str | Path | None = None, audformat: bool = False) -> dict[str, Any]:
    """Media entries of the header (``audformat``: an ``audformat.Media``)."""
    return _section("media", "media", dataset, version, repo, cache_root, audformat)


# -- the media index -------------------------------------------------------------------------


def dependencies(dataset: str, version: str | None = None, *,
                 repo: BaseRepository | str | Path | None = None,
                 cache_root: str | Path | None = None) -> pd.DataFrame:
    """The media index of a version (audb's dependency table), one row per media or
    attachment file, indexed by ``file``: ``blob`` (its id), ``bytes``, ``format``,
    ``sampling_rate``, ``channels``, ``bit_depth``, ``duration`` (seconds), ``type``
    (``media`` or ``attachment``) and ``removed`` (its bytes were purged)."""
    source, snap = _open(dataset, version, repo, cache_root)
    return _dependencies(snap, source)


def _dependencies(snap: Snapshot, source: BaseRepository) -> pd.DataFrame:
    from casdb.checkouts.selection import attachment_paths, is_attachment
    from casdb.store.tombstones import purged_blobs

    df = snap.media()
    found = attachment_paths(snap.header)
    df["type"] = ["attachment" if is_attachment(f, found) else "media" for f in df.index]
    purged = purged_blobs(source)
    df["removed"] = df["blob"].isin(purged) if purged else False
    return df[list(MEDIA_COLUMNS)]


def _media_rows(dataset: str, version: str | None, repo, cache_root,
                tables_: str | Sequence[str] | None, media_: str | Sequence[str] | None
                ) -> pd.DataFrame:
    """Rows of the media files that load now (not purged, not attachments), narrowed to the
    files of ``tables_`` and to ``media_`` (a regular expression or paths) as a load would be."""
    from casdb.checkouts.selection import Request, select

    source, snap = _open(dataset, version, repo, cache_root)
    df = _dependencies(snap, source)
    df = df[(df["type"] == "media") & ~df["removed"]]
    if tables_ is None and media_ is None:
        return df

    def file_column(table: str) -> list[str]:
        return snap.arrow(table, []).column("file").unique().to_pylist()

    chosen = select(snap.header, list(df.index), file_column,
                    Request.make(tables_, media_, only_metadata=True), dataset).media
    return df if chosen is None else df.loc[chosen]


def files(dataset: str, version: str | None = None, *,
          repo: BaseRepository | str | Path | None = None,
          cache_root: str | Path | None = None) -> list[str]:
    """Media files of a version, sorted (attachments and purged files left out)."""
    return list(_media_rows(dataset, version, repo, cache_root, None, None).index)


def duration(dataset: str, version: str | None = None, *,
             repo: BaseRepository | str | Path | None = None,
             cache_root: str | Path | None = None,
             tables: str | Sequence[str] | None = None,
             media: str | Sequence[str] | None = None) -> pd.Timedelta:
    """Total duration of the media (of ``tables``, of ``media``: as ``casdb.load`` selects)."""
    import pandas as pd

    rows = _media_rows(dataset, version, repo, cache_root, tables, media)
    return pd.to_timedelta(float(rows["duration"].sum()), unit="s")


def _values(column: str, dataset: str, version: str | None, repo, cache_root,
            tables_, media_, audio_only: bool = True) -> set:
    rows = _media_rows(dataset, version, repo, cache_root, tables_, media_)
    if audio_only:  # files that are not audio have no rate, channels or bit depth (0)
        rows = rows[rows["sampling_rate"] > 0]
    return {v.item() if hasattr(v, "item") else v for v in rows[column]}


def formats(dataset: str, version: str | None = None, *,
            repo: BaseRepository | str | Path | None = None,
            cache_root: str | Path | None = None,
            tables: str | Sequence[str] | None = None,
            media: str | Sequence[str] | None = None) -> set[str]:
    """Formats of the media files (``wav``, ``flac``, ...; a file that is not audio: its
    extension)."""
    return _values("format", dataset, version, repo, cache_root, tables, media, False)


def sampling_rates(dataset: str, version: str | None = None, *,
                   repo: BaseRepository | str | Path | None = None,
                   cache_root: str | Path | None = None,
                   tables: str | Sequence[str] | None = None,
                   media: str | Sequence[str] | None = None) -> set[int]:
    """Sampling rates of the audio files."""
    return _values("sampling_rate", dataset, version, repo, cache_root, tables, media)


def channels(dataset: str, version: str | None = None, *,
             repo: BaseRepository | str | Path | None = None,
             cache_root: str | Path | None = None,
             tables: str | Sequence[str] | None = None,
             media: str | Sequence[str] | None = None) -> set[int]:
    """Channel counts of the audio files."""
    return _values("channels", dataset, version, repo, cache_root, tables, media)


def bit_depths(dataset: str, version: str | None = None, *,
               repo: BaseRepository | str | Path | None = None,
               cache_root: str | Path | None = None,
               tables: str | Sequence[str] | None = None,
               media: str | Sequence[str] | None = None) -> set[int]:
    """Bit depths of the audio files; 0 for formats without one (MP3, Vorbis, Opus), as in
    audb's dependency table."""
    return _values("bit_depth", dataset, version, repo, cache_root, tables, media)


# -- versions and the cache ------------------------------------------------------------------


def versions(dataset: str, *, repo: BaseRepository | str | Path | None = None,
             cache_root: str | Path | None = None) -> list[str]:
    """Published versions of ``dataset``, oldest first (natural version order)."""
    check_dataset(dataset)
    source = open_repository(repo, cache_root)
    source.sync_refs(dataset)
    return source.versions(dataset)


def latest_version(dataset: str, *, repo: BaseRepository | str | Path | None = None,
                   cache_root: str | Path | None = None) -> str:
    """The highest published version; ``NotFound`` if ``dataset`` has none."""
    found = versions(dataset, repo=repo, cache_root=cache_root)
    if not found:
        raise NotFound(f"{dataset} has no published version (only branches)")
    return max(found, key=version_key)


def exists(dataset: str, version: str | None = None, *,
           repo: BaseRepository | str | Path | None = None,
           cache_root: str | Path | None = None,
           flavour: Flavour | dict | None = None) -> bool:
    """Whether the cache holds this version in this flavour completely (every table and media
    file), like ``audb.exists``; ``version`` None asks ``repo`` for the latest version."""
    from casdb.audio.flavour import Flavour
    from casdb.checkouts import layout

    check_dataset(dataset)
    flavour = Flavour.of(flavour)
    if version is None:
        version = latest_version(dataset, repo=repo, cache_root=cache_root)
    state = layout.read_state(layout.folder(layout.cache_root(cache_root), dataset, version,
                                            flavour.id))
    return state is not None and state.complete


def cached(dataset: str | None = None, *, cache_root: str | Path | None = None) -> pd.DataFrame:
    """The versions in the checkout cache (of ``dataset``), like ``audb.cached``: one row per
    folder, indexed by its path, with :data:`CACHED_COLUMNS` (``tables``: how many are there;
    ``media``: files in place, or None for every file; the flavour's settings, None if unset)."""
    import pandas as pd

    from casdb.checkouts import layout

    if dataset is not None:
        check_dataset(dataset)
    rows, index = [], []
    for entry in layout.entries(layout.cache_root(cache_root), dataset):
        state = entry.state
        if state is None:
            continue
        conv = state.conversion or {}
        rows.append((state.dataset, state.version, state.flavour, state.commit, state.complete,
                     len(state.tables), None if state.media is None else len(state.media),
                     conv.get("sampling_rate"), conv.get("channels"),
                     bool(conv.get("mixdown", False)), conv.get("bit_depth"),
                     conv.get("format")))
        index.append(str(entry.path))
    # object columns: an unset flavour setting stays None (not NaN), as in audb.cached
    return pd.DataFrame(rows, columns=list(CACHED_COLUMNS), dtype=object,
                        index=pd.Index(index, name="path", dtype="object"))


# -- loading parts ---------------------------------------------------------------------------


def load_table(dataset: str, table: str, version: str | None = None, *,
               repo: BaseRepository | str | Path | None = None,
               cache_root: str | Path | None = None,
               map: dict[str, str | Sequence[str]] | None = None) -> pd.DataFrame:
    """One table as a DataFrame (``map`` as in ``audb.load_table``), through the cache: the
    header and this table (with the misc tables its schemes use), no media."""
    from casdb.api.loading import load

    if not isinstance(table, str):
        raise InvalidInput("table must be a table id (a string)")
    ds = load(dataset, version, repo=repo, cache_root=cache_root, tables=[table],
              only_metadata=True)
    return ds[table].get(map=map)


def load_media(dataset: str, media: str | Sequence[str], version: str | None = None, *,
               repo: BaseRepository | str | Path | None = None,
               cache_root: str | Path | None = None,
               flavour: Flavour | dict | None = None) -> list[str]:
    """Paths of these media files in the cache (sorted; converted to ``flavour``), placing
    only them (and their rows), like ``audb.load_media``."""
    from casdb.api.loading import load

    wanted = [media] if isinstance(media, str) else list(media)
    if not wanted:
        raise InvalidInput("no media file asked for")
    ds = load(dataset, version, repo=repo, cache_root=cache_root, media=wanted, flavour=flavour)
    return list(ds.files)


def load_attachment(dataset: str, attachment: str, version: str | None = None, *,
                    repo: BaseRepository | str | Path | None = None,
                    cache_root: str | Path | None = None) -> list[str]:
    """Paths of the files of one attachment in the cache, sorted, like
    ``audb.load_attachment`` (a checkout of the header and the label tables, no media)."""
    import os

    from casdb.api.loading import load
    from casdb.checkouts.selection import is_attachment

    snap = snapshot(dataset, version, repo=repo, cache_root=cache_root)
    spec = (snap.header.get("attachments") or {}).get(attachment)
    if not isinstance(spec, dict):
        import difflib

        known = list(snap.header.get("attachments") or {})
        close = difflib.get_close_matches(str(attachment), known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise NotFound(f"{dataset} has no attachment {attachment!r}{hint}")
    ds = load(dataset, version, repo=repo, cache_root=cache_root, tables=[],
              only_metadata=True)
    found = [f for f in snap.media().index if is_attachment(f, [spec["path"]])]
    return sorted(os.path.join(ds.root, f) for f in found)

