"""Several corpora as one: rows of each dataset's label table with mapped labels, loaded in one
flavour (:func:`load_corpora`) or committed as a dataset of its own (:func:`compose`).

A composition's media are the source versions' blobs under ``<dataset>/<path>``: it stores no
media byte. Its header records the spec, the source commits and casdb's version
(``composition``), which ``show`` prints.

Example:
    >>> import tempfile
    >>> from casdb.api import Repository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = Repository.init(tempfile.mkdtemp() + "/r")
    >>> for name in ("a", "b"):
    ...     _ = repo.commit(make_dataset(tempfile.mkdtemp(), files=4, duration=0.1), dataset=name,
    ...                     version="1.0.0")
    >>> spec = {"datasets": [{"name": n, "table": "emotion", "label": "emotion",
    ...                       "speaker": "speaker"} for n in ("a", "b")]}
    >>> out = compose(repo, spec, dataset="ab", version="1.0.0")
    >>> out.rows, out.commit.new_bytes
    (8, 0)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.core.errors import InvalidInput
from casdb.research.corpora import CorpusPart, CorpusSpec

if TYPE_CHECKING:
    import pandas as pd

    from casdb.audio.flavour import Flavour
    from casdb.checkouts.source import ObjectSource
    from casdb.commit.committer import CommitResult
    from casdb.history.repository import BaseRepository

TABLE = "labels"
"""The table of a composition: one row per item (file, or segment) of every dataset."""
COLUMNS = ["dataset", "label", "original_label", "speaker", "split"]


def load_corpora(
    repo: ObjectSource,
    spec: CorpusSpec | dict | str | Path,
    *,
    flavour: Flavour | None = None,
    cache_root: str | Path | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """One DataFrame of every dataset of ``spec``: ``dataset``, ``version``, ``file`` (the local
    path, media in ``flavour``), ``start``/``end`` for segments, ``label`` (mapped),
    ``original_label``, ``speaker``, ``split``. Media are checked out (converted once per blob
    and flavour, as any load); only the tables the spec names are read."""
    import pandas as pd

    from casdb.checkouts.dataset import Dataset
    from casdb.checkouts.materialise import checkout
    from casdb.checkouts.selection import Request

    spec = CorpusSpec.of(spec)
    frames = {}
    for part in spec.datasets:
        # The header first (no media: a remote sends only metadata), then what the spec reads.
        meta = checkout(repo, part.name, part.version, Request(only_metadata=True),
                        root=cache_root, flavour=flavour, progress=progress)
        header = Dataset(meta.path).full_header
        request = Request.make([part.table, *_other_tables(header, part)], None, False)
        out = checkout(repo, part.name, meta.state.commit, request, root=cache_root,
                       flavour=flavour, progress=progress)
        ds = Dataset(out.path, request)
        rows = _rows(lambda tid, ds=ds: ds[tid].get(), header, part)
        rows.insert(0, "version", out.state.version)
        frames[part.name] = rows
    mapped = _map_labels(spec, frames)
    df = pd.concat(mapped.values(), ignore_index=True)
    index = [c for c in ("file", "start", "end") if c in df.columns]
    df = df[["dataset", "version", *index, *COLUMNS[1:]]]
    return df.astype({c: "string" for c in ("dataset", "version", "file", *COLUMNS[1:])})


@dataclass(frozen=True)
class Composition:
    """What :func:`compose` committed."""

    commit: CommitResult
    rows: int
    """Items (files, or segments) in the composition's table."""
    per_dataset: dict[str, int]
    labels: list[str]
    """The composition's label set."""


def compose(
    repo: BaseRepository,
    spec: CorpusSpec | dict | str | Path,
    *,
    dataset: str,
    version: str | None = None,
    branch: str = "main",
    message: str = "",
    author: str | None = None,
) -> Composition:
    """Commit the datasets of ``spec`` as one dataset: the sources' blobs under
    ``<source dataset>/<path>``, one table ``labels`` (dataset, label, original_label, speaker,
    split), the splits the spec takes as split tables, provenance in the header."""
    import pandas as pd

    from casdb.commit.committer import commit_files
    from casdb.history.snapshot import Snapshot
    from casdb.tables import mediaindex

    spec = CorpusSpec.of(spec)
    frames, files, known, sources = {}, {}, {}, []
    for part in spec.datasets:
        commit_id = repo.resolve(part.name, part.version)
        snap = Snapshot(repo.store, part.name, commit_id)
        rows = _rows(snap.table, snap.header, part)
        media = snap.media()
        wanted = set(rows["file"])
        for path, entry in media.iterrows():
            if path in wanted:
                files[f"{part.name}/{path}"] = (entry["blob"], int(entry["bytes"]))
        known.update(mediaindex.known_properties(repo.store, snap.commit.media))
        rows["file"] = part.name + "/" + rows["file"]
        frames[part.name] = rows
        sources.append({"dataset": part.name, "version": part.version or "", "commit": commit_id,
                        "header": snap.header})
    mapped = _map_labels(spec, frames)
    df = pd.concat(mapped.values(), ignore_index=True)
    segmented = "start" in df.columns
    labels = sorted(df["label"].unique())
    with tempfile.TemporaryDirectory(prefix="casdb-compose-") as tmp:
        folder = Path(tmp)
        header = _header(dataset, spec, sources, labels, df, segmented)
        _write(folder, header, df, segmented)
        result = commit_files(repo, folder, files, dataset=dataset, known_media=known,
                              version=version, branch=branch, author=author,
                              message=message or _message(spec))
    return Composition(result, len(df), df.groupby("dataset").size().to_dict(), labels)


# -- rows of one dataset -------------------------------------------------------------------------


def _other_tables(header: dict, part: CorpusPart) -> list[str]:
    """The speaker's table (``TABLE.COLUMN``) and the split tables ``part`` reads."""
    out = []
    if part.speaker and "." in part.speaker:
        out.append(part.speaker.split(".", 1)[0])
    out += [tid for tid, _ in _split_tables(header, part)]
    return out


def _split_tables(header: dict, part: CorpusPart) -> list[tuple[str, str]]:
    """(table id, split id) of the split tables of the splits ``part`` takes."""
    if part.splits is None:
        return []
    declared = header.get("splits") or {}
    tables = header.get("tables") or {}
    out = []
    for split in part.splits:
        if split not in declared:
            raise InvalidInput(f"{part.name} has no split {split!r} "
                               f"(splits: {', '.join(declared) or 'none'})")
        found = [tid for tid, t in tables.items() if (t or {}).get("split_id") == split]
        if not found:
            raise InvalidInput(f"{part.name}: no table holds split {split!r}")
        out += [(tid, split) for tid in found]
    return out


def _rows(table: Callable[[str], pd.DataFrame], header: dict, part: CorpusPart) -> pd.DataFrame:
    """``dataset``, ``file`` (, ``start``, ``end``), ``original_label``, ``speaker``, ``split``
    of one dataset (rows without a label are left out)."""
    import pandas as pd

    tables = header.get("tables") or {}
    if part.table not in tables:
        raise InvalidInput(f"{part.name} has no table {part.table!r} "
                           f"(tables: {', '.join(tables) or 'none'})")
    df = table(part.table)
    if part.label not in df.columns:
        raise InvalidInput(f"{part.name}: table {part.table!r} has no column {part.label!r} "
                           f"(columns: {', '.join(map(str, df.columns))})")
    out = df.index.to_frame(index=False)
    out.insert(0, "dataset", part.name)
    out["original_label"] = df[part.label].astype("object").to_numpy()
    out["speaker"] = _speakers(table, tables, df, part)
    out["split"] = None
    for tid, split in _split_tables(header, part):
        index = table(tid).index
        files = set(index.get_level_values("file"))
        inside = out["file"].isin(files)
        out.loc[inside & out["split"].isna(), "split"] = split
    if part.splits is not None:
        out = out[out["split"].notna()]
    out = out[out["original_label"].notna()]
    out["original_label"] = out["original_label"].astype(str)
    return out.reset_index(drop=True) if len(out) else pd.DataFrame(columns=out.columns)


def _speakers(table, tables: dict, df: pd.DataFrame, part: CorpusPart):
    if part.speaker is None:
        return None
    if part.speaker in df.columns:
        return df[part.speaker].astype("object").to_numpy()
    if "." not in part.speaker:
        raise InvalidInput(f"{part.name}: table {part.table!r} has no speaker column "
                           f"{part.speaker!r} (name a column, or TABLE.COLUMN)")
    tid, column = part.speaker.split(".", 1)
    if tid not in tables or (tables[tid] or {}).get("type") != "filewise":
        raise InvalidInput(f"{part.name}: speaker {part.speaker!r}: no filewise table {tid!r}")
    other = table(tid)
    if column not in other.columns:
        raise InvalidInput(f"{part.name}: table {tid!r} has no column {column!r}")
    lookup = other[column].astype("object")
    lookup.index = other.index.get_level_values("file")
    return df.index.get_level_values("file").map(lookup).to_numpy()


def _map_labels(spec: CorpusSpec, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each dataset's rows with ``label``: mapped, dropped, swapped; an unmapped label that is
    not in the target set is an error naming it."""
    parts = {p.name: p for p in spec.datasets}
    target = spec.target_labels({n: set(f["original_label"]) for n, f in frames.items()
                                 if not parts[n].labels})
    out = {}
    for name, rows in frames.items():
        part = parts[name]
        rows = rows[~rows["original_label"].isin(part.drop)].copy()
        mapped = rows["original_label"].map(part.map_label)
        stray = sorted(set(mapped) - target)
        if stray:
            label = next(o for o, m in zip(rows["original_label"], mapped, strict=True)
                         if m == stray[0])
            raise InvalidInput(
                f"{name}: label {label!r} is not in the label map or the target labels "
                f"({', '.join(sorted(target))}); map it (labels: {{{label}: ...}}) or drop it "
                f"(drop: [{label}])")
        rows["label"] = mapped.map(part.swapped)
        out[name] = rows
    return out


# -- the committed composition --------------------------------------------------------------------


def _header(dataset: str, spec: CorpusSpec, sources: list[dict], labels: list[str],
            df: pd.DataFrame, segmented: bool) -> dict:
    from casdb.core.version import casdb_version

    splits = sorted({s for s in df["split"].dropna()})
    columns = {c: {"scheme_id": c} for c in COLUMNS if c != "split"}
    tables = {TABLE: {"type": "segmented" if segmented else "filewise", "columns": columns}}
    for split in splits:
        tables[f"{TABLE}.{split}"] = {"type": "segmented" if segmented else "filewise",
                                      "split_id": split}
    names = ", ".join(f"{s['dataset']} {s['version'] or 'latest'}" for s in sources)
    headers = [s.pop("header") for s in sources]
    usages = {h.get("usage") for h in headers}
    licenses = {h.get("license") for h in headers}
    languages = sorted({str(lang) for h in headers for lang in (h.get("languages") or [])})
    out = {
        "name": dataset,
        "source": "casdb compose: " + names,
        # the one usage every source shares, else the most careful reading of several
        "usage": usages.pop() if len(usages) == 1 and None not in usages else "restricted",
        "languages": languages,
        "description": f"Composition of {names} (casdb compose).",
        "schemes": {
            "dataset": {"dtype": "str", "labels": sorted(df["dataset"].unique())},
            "label": {"dtype": "str", "labels": labels},
            "original_label": {"dtype": "str"},
            "speaker": {"dtype": "str"},
        },
        "splits": {s: {"type": s if s in ("train", "dev", "test") else "other"} for s in splits},
        "tables": tables,
        "composition": {"spec": spec.to_dict(), "sources": sources, "casdb": casdb_version()},
    }
    if len(licenses) == 1 and None not in licenses:
        out["license"] = licenses.pop()
    return out


def _write(folder: Path, header: dict, df: pd.DataFrame, segmented: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    index = ["file", "start", "end"] if segmented else ["file"]
    (folder / "db.yaml").write_text(yaml.safe_dump(header, sort_keys=False, allow_unicode=True))
    main = df[index + [c for c in COLUMNS if c != "split"]].astype(
        {c: "object" for c in COLUMNS if c != "split"})
    main["speaker"] = main["speaker"].where(main["speaker"].notna(), None)
    pq.write_table(pa.Table.from_pandas(main, preserve_index=False), folder / f"db.{TABLE}.parquet")
    for split in sorted({s for s in df["split"].dropna()}):
        part = df.loc[df["split"] == split, index]
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False),
                       folder / f"db.{TABLE}.{split}.parquet")


def _message(spec: CorpusSpec) -> str:
    return "compose " + ", ".join(
        f"{p.name}@{p.version}" if p.version else p.name for p in spec.datasets)
