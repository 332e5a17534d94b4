"""Splitting one version by a benchmark protocol and committing the split as a new version.

The protocols themselves are pure functions (:mod:`casdb.research.splits`); this module reads the
rows they need from a version (labels, speakers, a filter), turns their assignment into audformat
split tables (one per fold and partition, ``split_id`` set, rows of the label table) and
``splits`` entries, records the protocol in the header (``casdb_splits``), and commits the result
with :func:`casdb.commit.committer.commit_files`: every other table as it was, the media as the
stored blobs they are (zero new media bytes).

Example:
    >>> import tempfile
    >>> from casdb.history.repository import BaseRepository
    >>> from casdb.testing.synth import make_dataset
    >>> repo = BaseRepository.init(tempfile.mkdtemp() + "/r")
    >>> from casdb.commit.committer import commit
    >>> _ = commit(repo, make_dataset(tempfile.mkdtemp(), files=20, duration=0.05),
    ...            dataset="d", version="1.0.0")
    >>> out = split(repo, "d", "1.0.0", SplitSpec("loso"), new_version="1.1.0")
    >>> out.rule, out.tables[:2]
    ('loso', ['loso.fold1.train', 'loso.fold1.test'])
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casdb.core.errors import AlreadyExists, InvalidInput, NotFound
from casdb.core.names import check_branch, check_version
from casdb.research import splits as protocols

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from casdb.commit.committer import CommitResult
    from casdb.history.repository import BaseRepository
    from casdb.history.snapshot import Snapshot

PROTOCOLS = ("emobox", "serab", "loso", "kfold", "balanced")
HEADER_KEY = "casdb_splits"
"""Top-level db.yaml key recording each split's protocol (audformat keeps it in ``db.meta``)."""
DEFAULT_LABELS = ("angry", "happy", "neutral", "sad")
_WHERE = re.compile(r"^\s*([^<>=!\s]+)\s*(>=|<=|==|!=|>|<)\s*([^<>=!\s].*?)\s*$")


@dataclass(frozen=True)
class SplitSpec:
    """A protocol and its parameters (what ``casdb split`` takes); checked by :meth:`check`."""

    protocol: str
    table: str | None = None
    """The table whose rows are split (default: the first filewise or segmented table with the
    label column)."""
    label: str = "emotion"
    speaker: str = "speaker"
    """A column of the table, or ``TABLE.COLUMN``: a table indexed by file, or a misc table
    whose index is a column of the table."""
    ratios: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """serab: train/dev/test shares of the rows (fractions or percentages)."""
    folds: int = 5
    """kfold: the number of folds."""
    seed: int = 0
    items: int = 240
    """balanced: rows in the test set."""
    labels: tuple[str, ...] = DEFAULT_LABELS
    """balanced: the labels the test set draws from."""
    where: str | None = None
    """Keep only rows meeting ``COLUMN OP VALUE`` (``agreement>=0.8``); others are left out."""
    prefix: str | None = None
    """Split and table ids start with this (default: the protocol)."""
    official: bool = True
    """emobox: keep the dataset's own train/test splits if it has them."""

    def check(self) -> SplitSpec:
        if self.protocol not in PROTOCOLS:
            raise InvalidInput(f"unknown protocol {self.protocol!r} "
                               f"(expected {', '.join(PROTOCOLS)})")
        if self.protocol == "serab":
            protocols.check_ratios(self.ratios)
        if self.protocol == "kfold" and self.folds < 2:
            raise InvalidInput(f"kfold needs at least 2 folds, not {self.folds}")
        if self.protocol == "balanced" and self.items < 1:
            raise InvalidInput(f"a balanced test set needs at least 1 item, not {self.items}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidInput(f"the seed must be a non-negative integer, not {self.seed!r}")
        prefix = self.name
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", prefix):
            raise InvalidInput(f"split prefix {prefix!r}: letters, digits, '-' and '_' only")
        if self.where is not None and not _WHERE.match(self.where):
            raise InvalidInput(f"--where {self.where!r}: expected COLUMN OP VALUE, "
                               "OP one of >=, <=, >, <, ==, !=")
        return self

    @property
    def name(self) -> str:
        return self.prefix or self.protocol

    def parameters(self) -> dict[str, Any]:
        """The parameters that matter for this protocol (recorded in the header)."""
        out: dict[str, Any] = {"table": self.table, "label": self.label, "speaker": self.speaker}
        if self.protocol == "serab":
            out["ratios"] = [round(r, 6) for r in protocols.check_ratios(self.ratios)]
        if self.protocol == "kfold":
            out["folds"] = self.folds
        if self.protocol == "balanced":
            out["items"] = self.items
            out["labels"] = list(self.labels)
        if self.protocol == "emobox":
            out["official"] = self.official
        if self.where:
            out["where"] = self.where
        return out


@dataclass
class SplitResult:
    """What a split assigned (and committed, unless it was a dry run)."""

    dataset: str
    version: str | None
    spec: SplitSpec
    rule: str
    """The rule applied (for emobox the one its conditions chose: ``official``,
    ``speaker-dependent``, ``loso`` or ``kfold``)."""
    reason: str
    folds: int
    tables: list[str]
    """The split table ids written, fold by fold."""
    counts: pd.DataFrame
    """Rows per fold, partition, speaker and label (columns ``fold``, ``partition``,
    ``speaker``, ``label``, ``rows``)."""
    rows: int
    left_out: int
    """Rows of the table in no partition (a missing label or speaker, the filter, not drawn)."""
    stats: dict[str, Any] = field(default_factory=dict)
    commit: CommitResult | None = None

    def summary(self) -> str:
        """Lines for the terminal: the rule, then one line per fold and partition with its rows,
        speakers and rows per label."""
        lines = [f"{self.dataset}@{self.version}: {self.spec.protocol} -> {self.rule} "
                 f"({self.reason}); {self.folds} fold{'s' if self.folds != 1 else ''}, "
                 f"{self.rows} rows, {self.left_out} left out"]
        c = self.counts
        for (fold, part), g in c.groupby(["fold", "partition"], sort=False):
            speakers = sorted(g["speaker"].unique())
            shown = ", ".join(speakers[:6]) + (", ..." if len(speakers) > 6 else "")
            labels = g.groupby("label", sort=True)["rows"].sum()
            lines.append(f"  {fold:<8} {part:<6} {int(g['rows'].sum()):>7} rows  "
                         f"{len(speakers):>4} speakers ({shown})  "
                         + " ".join(f"{k}={int(v)}" for k, v in labels.items()))
        if self.commit is not None:
            lines.append(self.commit.summary())
        return "\n".join(lines)


def split(
    repo: BaseRepository,
    dataset: str,
    version: str | None,
    spec: SplitSpec,
    *,
    new_version: str | None = None,
    branch: str | None = None,
    message: str | None = None,
    dry_run: bool = False,
    author: str | None = None,
) -> SplitResult:
    """Split ``dataset@version`` by ``spec`` and (unless ``dry_run``) commit it as
    ``new_version`` and/or on ``branch`` (default ``main``). Every argument is checked before
    anything is stored."""
    spec.check()
    if not dry_run:
        if new_version is None and branch is None:
            raise InvalidInput("give a new version (--version) or a branch (--branch) for the "
                               "split, or make it a dry run")
        if new_version is not None:
            check_version(new_version)
            existing = repo.refs.get(dataset, f"tags/{new_version}")
            if existing is not None:
                raise AlreadyExists(f"{dataset} {new_version} exists already "
                                    f"(commit {existing[:10]})")
        check_branch(branch or "main")
    snap = repo.snapshot(dataset, version)
    result, header, frame, assignment = _plan(snap, version, spec)
    if dry_run:
        return result
    with tempfile.TemporaryDirectory(prefix="casdb-split-") as tmp:
        folder = Path(tmp)
        _write_folder(snap, folder, header, frame, assignment, result, spec)
        result.commit = _commit(repo, snap, folder, new_version, branch or "main", author,
                                message or _message(result, snap))
    return result


# -- planning -------------------------------------------------------------------------------------

def _plan(snap: Snapshot, version: str | None, spec: SplitSpec):
    """The assignment, the new header and the label table (no writing)."""
    import numpy as np

    header = snap.header
    existing = {**(header.get("splits") or {}), **(header.get("tables") or {}),
                **(header.get("misc_tables") or {})}
    taken = sorted(k for k in map(str, existing) if k.startswith(spec.name + "."))
    if taken or spec.name in recorded(header):
        raise AlreadyExists(f"{snap.dataset} has splits named {spec.name}.* already "
                            f"({taken[0] if taken else spec.name}): choose another --prefix")
    table = _label_table(snap, spec)
    lay = snap.layout(table)
    if spec.label not in lay.columns:
        raise InvalidInput(f"table {table!r} of {snap.dataset} has no column {spec.label!r} "
                           f"(columns: {', '.join(lay.columns) or 'none'})")
    frame = snap.table(table, [c for c in lay.columns if c in _own_columns(spec, lay)])
    labels = frame[spec.label]
    valid = labels.notna().to_numpy().copy()
    label_values = _strings(labels)
    speakers = _lookup(snap, table, frame, spec.speaker, "speaker")  # every protocol counts them
    valid &= speakers.notna().to_numpy()
    speaker_values = _strings(speakers)
    if spec.where:
        valid &= _where(snap, table, frame, spec.where)
    official = _official(snap, frame) if spec.protocol == "emobox" and spec.official else None
    rows = np.flatnonzero(valid)
    if not len(rows):
        raise InvalidInput(f"table {table!r} has no row with a {spec.label!r} and a speaker"
                           + (f" meeting {spec.where!r}" if spec.where else ""))
    if official is not None:
        sub = protocols.Assignment(official[None, rows], "official",
                                   "the dataset's own train/test splits are kept", {})
    else:
        sub = _assign(spec, speaker_values[rows], label_values[rows])
    folds = np.full((sub.folds.shape[0], len(frame)), protocols.LEFT_OUT, dtype=np.int8)
    folds[:, rows] = sub.folds
    assignment = protocols.Assignment(folds, sub.rule, sub.reason, sub.stats)
    ids = _table_ids(spec, assignment)
    counts = _counts(assignment, speaker_values, label_values, ids)
    left_out = int((folds == protocols.LEFT_OUT).all(axis=0).sum())
    result = SplitResult(snap.dataset, version, spec, assignment.rule, assignment.reason,
                         folds.shape[0], [t for t, _, _ in ids], counts, len(frame), left_out,
                         _plain(assignment.stats))
    return result, header, frame, (assignment, ids, table)


def _strings(values: pd.Series) -> np.ndarray:
    """The values as a NumPy array of str (missing values as ""; their rows are left out)."""
    import numpy as np

    return np.asarray(values.astype(object).where(values.notna(), "").map(str), dtype=str)


def recorded(header: dict) -> dict[str, dict]:
    """The ``casdb_splits`` entries of a header (prefix -> record); a value that is not such a
    mapping (a header written by hand) counts as none."""
    value = header.get(HEADER_KEY)
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def _own_columns(spec: SplitSpec, lay) -> set[str]:
    """Columns of the label table that the split tables carry: the label and (if a column of
    the table) the speaker."""
    return {spec.label, spec.speaker} & set(lay.columns)


def _label_table(snap: Snapshot, spec: SplitSpec) -> str:
    kinds = {t: snap.layout(t).kind for t in snap.table_ids}
    if spec.table is not None:
        if spec.table not in kinds:
            raise NotFound(f"{snap.dataset} has no table {spec.table!r} "
                           f"(tables: {', '.join(kinds) or 'none'})")
        if kinds[spec.table] == "misc":
            raise InvalidInput(f"table {spec.table!r} is a misc table: split a filewise or "
                               "segmented table")
        return spec.table
    for t in (snap.header.get("tables") or {}):
        if kinds.get(str(t)) in ("filewise", "segmented") and spec.label in snap.layout(str(t)).columns:
            return str(t)
    raise InvalidInput(f"no table of {snap.dataset} has a column {spec.label!r}: "
                       "give the table (--table) and the label column (--label)")


def _lookup(snap: Snapshot, table: str, frame: pd.DataFrame, ref: str, what: str) -> pd.Series:
    """One value per row of ``frame`` for ``ref``: a column of ``table``, or ``TABLE.COLUMN`` (a
    table indexed by file, or a misc table indexed by a column of ``table``)."""
    import pandas as pd

    lay = snap.layout(table)
    if ref in lay.columns:
        col = frame[ref] if ref in frame else snap.table(table, [ref])[ref]
        return pd.Series(col.to_numpy(), index=frame.index)
    other, dot, column = ref.partition(".")
    if not dot:
        raise InvalidInput(f"table {table!r} has no {what} column {ref!r} (columns: "
                           f"{', '.join(lay.columns) or 'none'}); give --{what} COLUMN or "
                           "TABLE.COLUMN")
    if other not in snap.table_ids:
        raise NotFound(f"{snap.dataset} has no table {other!r} (for --{what} {ref})")
    olay = snap.layout(other)
    if column not in olay.columns:
        raise InvalidInput(f"table {other!r} has no column {column!r} (for --{what} {ref})")
    values = snap.table(other, [column])[column]
    if olay.kind == "misc":
        level = values.index.names[0]
        if len(values.index.names) != 1 or level not in lay.columns:
            raise InvalidInput(f"misc table {other!r} is indexed by {list(values.index.names)}, "
                               f"not by a column of {table!r}: it cannot map its rows")
        keys = snap.table(table, [level])[level].astype(object).to_numpy()
        mapped = values.astype(object).reindex(pd.Index(keys))
    else:
        per_file = values.groupby(level="file", sort=False, observed=True)
        if (per_file.nunique(dropna=True) > 1).any():
            bad = per_file.nunique(dropna=True)
            raise InvalidInput(f"table {other!r} gives file {bad[bad > 1].index[0]!r} more "
                               f"than one {column!r}: it cannot name one {what} per file")
        first = per_file.first()
        mapped = first.astype(object).reindex(frame.index.get_level_values("file"))
    return pd.Series(mapped.to_numpy(), index=frame.index)


def _where(snap: Snapshot, table: str, frame: pd.DataFrame, where: str) -> np.ndarray:
    """The rows meeting ``COLUMN OP VALUE`` (numbers compared as numbers)."""
    import operator

    import pandas as pd

    column, op, value = _WHERE.match(where).groups()
    values = _lookup(snap, table, frame, column, "where")
    try:
        target: Any = float(value)
        values = pd.to_numeric(values, errors="raise")
    except ValueError:
        target = value.strip("'\"")
        values = values.astype(object)
        if op not in ("==", "!="):
            raise InvalidInput(f"--where {where!r}: {op} needs a number") from None
    ops = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
           "==": operator.eq, "!=": operator.ne}
    return (ops[op](values, target) & values.notna()).to_numpy(dtype=bool)


def _official(snap: Snapshot, frame: pd.DataFrame) -> np.ndarray | None:
    """The partition of each row in the dataset's own splits (a train and a test split, each
    used by a table), or None if it has none. A file in splits of two types counts for the
    later of train, dev, test (a test file is never trained on); casdb's own splits do not count."""
    import numpy as np

    header = snap.header
    ours = {str(s) for entry in recorded(header).values()
            for s in (entry.get("splits") if isinstance(entry.get("splits"), list) else [])}
    types = {str(k): (v or {}).get("type") for k, v in (header.get("splits") or {}).items()
             if str(k) not in ours}
    used: dict[str, list[str]] = {}
    for tid, t in (header.get("tables") or {}).items():
        sid = str((t or {}).get("split_id"))
        if types.get(sid) in protocols.PARTITIONS and str(tid) in snap.table_ids:
            used.setdefault(types[sid], []).append(str(tid))
    if "train" not in used or "test" not in used:
        return None
    files = frame.index.get_level_values("file")
    out = np.full(len(frame), protocols.LEFT_OUT, dtype=np.int8)
    for code, part in enumerate(protocols.PARTITIONS):
        for tid in used.get(part, []):
            members = snap.arrow(tid, []).column("file").unique()
            out[files.isin(members.to_pylist())] = code
    return out


def _assign(spec: SplitSpec, speakers: np.ndarray, labels: np.ndarray) -> protocols.Assignment:
    if spec.protocol == "emobox":
        return protocols.emobox(speakers, labels, spec.seed)
    if spec.protocol == "serab":
        return protocols.serab(speakers, spec.ratios, spec.seed)
    if spec.protocol == "loso":
        return protocols.loso(speakers)
    if spec.protocol == "kfold":
        return protocols.kfold(speakers, spec.folds, spec.seed)
    present = set(labels.tolist())
    unknown = [lab for lab in spec.labels if lab not in present]
    if unknown:
        raise InvalidInput(f"label {unknown[0]!r} is not a value of column {spec.label!r} "
                           f"(values: {', '.join(sorted(present))}); choose --labels")
    return protocols.balanced(speakers, labels, spec.items, spec.labels, spec.seed)


def _table_ids(spec: SplitSpec, a: protocols.Assignment) -> list[tuple[str, int, int]]:
    """(split and table id, fold, partition code) of every non-empty fold x partition:
    ``PREFIX.foldK.PARTITION`` (K zero-padded to the width of the fold count), or
    ``PREFIX.PARTITION`` for the one-fold protocols serab and balanced."""
    k = a.folds.shape[0]
    width = len(str(k))
    out = []
    for f in range(k):
        for code, part in enumerate(protocols.PARTITIONS):
            if not (a.folds[f] == code).any():
                continue
            fold = "" if spec.protocol in ("serab", "balanced") else f".fold{f + 1:0{width}d}"
            out.append((f"{spec.name}{fold}.{part}", f, code))
    return out


def _counts(a: protocols.Assignment, speakers: np.ndarray, labels: np.ndarray,
            ids: list[tuple[str, int, int]]) -> pd.DataFrame:
    """Rows per fold, partition, speaker and label (non-zero cells only), one bincount per
    split table."""
    import numpy as np
    import pandas as pd

    su, si = np.unique(speakers, return_inverse=True)
    lu, li = np.unique(labels, return_inverse=True)
    cell = si.reshape(-1) * len(lu) + li.reshape(-1)
    cols: dict[str, list] = {"fold": [], "partition": [], "speaker": [], "label": [], "rows": []}
    for tid, f, code in ids:
        counts = np.bincount(cell[a.folds[f] == code], minlength=len(su) * len(lu))
        nz = np.flatnonzero(counts)
        fold = tid.split(".")[1] if tid.count(".") == 2 else "fold1"
        cols["fold"].append(np.full(len(nz), fold, dtype=object))
        cols["partition"].append(np.full(len(nz), protocols.PARTITIONS[code], dtype=object))
        cols["speaker"].append(su[nz // len(lu)].astype(object))
        cols["label"].append(lu[nz % len(lu)].astype(object))
        cols["rows"].append(counts[nz].astype(np.int64))
    if not ids:
        return pd.DataFrame(columns=list(cols))
    return pd.DataFrame({k: np.concatenate(v) for k, v in cols.items()})


def _plain(value: Any) -> Any:
    """Numbers and containers as plain Python values (for YAML and msgpack)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- writing and committing -----------------------------------------------------------------------

def _write_folder(snap: Snapshot, folder: Path, header: dict, frame: pd.DataFrame,
                  plan, result: SplitResult, spec: SplitSpec) -> None:
    """db.yaml (the version's header plus the splits) and every table file: the version's
    tables as stored, and one parquet file per split table."""
    import pyarrow as pa
    import yaml

    assignment, ids, table = plan
    for tid in snap.table_ids:
        _write_parquet(snap.arrow(tid), folder / f"db.{tid}.parquet")
    source = next(v for k, v in (header.get("tables") or {}).items() if str(k) == table)
    new = dict(header)
    splits = dict(header.get("splits") or {})
    tables = dict(header.get("tables") or {})
    for tid, f, code in ids:
        part = protocols.PARTITIONS[code]
        splits[tid] = {"type": part, "description": _description(result, f, part)}
        spec_out = {"type": source["type"], "split_id": tid}
        if source.get("media_id") is not None:
            spec_out["media_id"] = source["media_id"]
        spec_out["columns"] = {c: dict(source["columns"][c] or {}) for c in frame.columns}
        tables[tid] = spec_out
        rows = frame[assignment.folds[f] == code]
        arrow = pa.Table.from_pandas(rows.reset_index(), preserve_index=False)
        _write_parquet(arrow, folder / f"db.{tid}.parquet")
    new["splits"] = splits
    new["tables"] = tables
    record = recorded(new)
    record[spec.name] = {
        "protocol": spec.protocol,
        "rule": result.rule,
        "reason": result.reason,
        "parameters": {**spec.parameters(), "table": table},
        "seed": spec.seed,
        "folds": result.folds,
        "splits": [t for t, _, _ in ids],
        "stats": result.stats,
        "source": {"dataset": snap.dataset, "version": result.version, "commit": snap.commit_id},
        "casdb": _casdb_version(),
    }
    new[HEADER_KEY] = record
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    (folder / "db.yaml").write_text(yaml.dump(new, Dumper=dumper, sort_keys=False,
                                              allow_unicode=True))


def _description(result: SplitResult, fold: int, part: str) -> str:
    folds = f", fold {fold + 1} of {result.folds}" if result.folds > 1 else ""
    return f"{result.spec.protocol} ({result.rule}){folds}: {part}, seed {result.spec.seed}"


def _write_parquet(table, target: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, target, compression="zstd")


def _commit(repo: BaseRepository, snap: Snapshot, folder: Path, version: str | None,
            branch: str, author: str | None, message: str) -> CommitResult:
    from casdb.commit.committer import commit_files
    from casdb.tables.mediaindex import arrow, known_properties

    if snap.commit.media is None:
        raise NotFound(f"{snap.dataset} at {snap.commit_id[:10]} has no media index")
    media = arrow(repo.store, snap.commit.media)  # Arrow lists: 100k rows in milliseconds
    files = dict(zip(media.column("file").to_pylist(),
                     zip(media.column("blob").to_pylist(), media.column("bytes").to_pylist(),
                         strict=True),
                     strict=True))
    known = known_properties(repo.store, snap.commit.media)
    with repo.writing():
        return commit_files(repo, folder, files, dataset=snap.dataset, known_media=known,
                            version=version, branch=branch, message=message, author=author,
                            files_of=snap.commit)


def _message(result: SplitResult, snap: Snapshot) -> str:
    src = result.version or snap.commit_id[:10]
    return (f"split {snap.dataset}@{src} by {result.spec.protocol} ({result.rule}, "
            f"{result.folds} fold{'s' if result.folds != 1 else ''}, seed {result.spec.seed})")


def _casdb_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casdb")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"
