"""Benchmark of the table layer (issues 3 and 11): a 1M-row filewise and a 2M-row segmented table.

For each table, with its rows in the file sorted by index and again shuffled (issue 11: casdb
keeps the file's row order): read + validate + store it (the table part of a commit), load it
back into a pandas DataFrame with audformat dtypes, then store three second versions — 1% of
one column relabelled, 1% rows appended, and both — counting the bytes each adds, and diff the
first and the last row by row. Load time is compared with pandas reading the same table from CSV
and parquet. Media checks are not part of this benchmark (a million media files would dominate).

    .venv/bin/python benchmarks/bench_tables.py [--rows 1000000] [--segments 2000000]
        [--order sorted|shuffled|both]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import ObjectStore
from casdb.tables.files import read_table_file
from casdb.tables.frames import to_frame
from casdb.tables.partitions import store_table
from casdb.tables.rowdiff import diff_tables
from casdb.tables.schema import layout

EMOTIONS = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]
HEADER = {
    "name": "bench",
    "schemes": {
        "emotion": {"dtype": "str", "labels": EMOTIONS},
        "arousal": {"dtype": "float", "minimum": 0.0, "maximum": 1.0},
        "speaker": {"dtype": "int"},
        "confidence": {"dtype": "float"},
    },
    "tables": {
        "files": {"type": "filewise", "columns": {
            "emotion": {"scheme_id": "emotion"}, "arousal": {"scheme_id": "arousal"},
            "speaker": {"scheme_id": "speaker"}}},
        "segments": {"type": "segmented", "columns": {
            "emotion": {"scheme_id": "emotion"}, "confidence": {"scheme_id": "confidence"}}},
    },
}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def filewise(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {"file": [f"audio/{i // 1000:04d}/{i:07d}.wav" for i in range(n)],
         "emotion": rng.choice(EMOTIONS, n),
         "arousal": rng.random(n).round(4),
         "speaker": rng.integers(0, 1000, n)})


def segmented(n: int, rng: np.random.Generator) -> pd.DataFrame:
    files = n // 4
    starts = np.tile(np.arange(4) * 2.5, files)
    return pd.DataFrame(
        {"file": np.repeat([f"audio/{i // 1000:04d}/{i:07d}.wav" for i in range(files)], 4),
         "start": pd.to_timedelta(starts, unit="s"),
         "end": pd.to_timedelta(starts + 2.5, unit="s"),
         "emotion": rng.choice(EMOTIONS, len(starts)),
         "confidence": rng.random(len(starts)).round(3)})


def relabel(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """1% of the emotion column relabelled, at random rows."""
    df = df.copy()
    picks = rng.choice(len(df), len(df) // 100, replace=False)
    df.loc[picks, "emotion"] = [EMOTIONS[(EMOTIONS.index(e) + 1) % len(EMOTIONS)]
                                for e in df.loc[picks, "emotion"]]
    return df


def append(df: pd.DataFrame, maker, rng: np.random.Generator) -> pd.DataFrame:
    """1% rows appended at the end of the file (new files, named after the last one)."""
    extra = maker(len(df) // 100, rng)
    last = len(df) if "start" not in df else len(df) // 4
    offset = int(last)
    extra["file"] = [f"audio/{(offset + i) // 1000:04d}/{offset + i:07d}.wav"
                     for i in range(len(extra))] if "start" not in extra else np.repeat(
        [f"audio/{(offset + i) // 1000:04d}/{offset + i:07d}.wav" for i in range(len(extra) // 4)], 4)
    return pd.concat([df, extra], ignore_index=True)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    for col in ("start", "end"):
        if col in out:
            out[col] = out[col].astype(str)
    out.to_csv(path, index=False)


def object_bytes(store: ObjectStore, ids: set[str]) -> int:
    return sum(os.path.getsize(store._path("objects", i)) for i in ids)


def table_ids(store: ObjectStore, table_id: str) -> set[str]:
    table = store.get(table_id, "table")
    order = getattr(table, "order", ())  # runs against casdb before issue 11 too
    return {table_id} | {p for run in table.runs for p in run.columns} | set(order)


def timed(fn, repeat: int = 1):
    best, value = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def bench(name: str, table_id: str, df: pd.DataFrame, maker, rng, work: Path) -> dict:
    from casdb.tables.partitions import load_arrow

    lay = layout(HEADER, table_id)
    store = ObjectStore(LocalBackend(work / f"repo-{table_id}"))
    csv1 = work / f"db.{table_id}.v1.csv"
    write_csv(df, csv1)
    parquet = work / f"db.{table_id}.parquet"
    index = list(lay.levels)
    df.set_index(index).to_parquet(parquet)

    def commit(path):
        table = read_table_file(path, lay)
        tid = store_table(store, table_id, lay.kind, table, index)
        store.publish()
        return tid

    t_commit, v1 = timed(lambda: commit(csv1))
    bytes_v1 = object_bytes(store, table_ids(store, v1))
    t_load, loaded = timed(
        lambda: to_frame(load_arrow(store, ObjectStore(store.backend).get(v1, "table")), lay),
        repeat=3)
    assert len(loaded) == len(df)
    in_order = loaded.index.get_level_values("file").tolist() == df["file"].tolist()
    t_csv, _ = timed(lambda: pd.read_csv(csv1), repeat=3)
    t_parquet, _ = timed(lambda: pd.read_parquet(parquet), repeat=3)
    before = table_ids(store, v1)

    relabelled = relabel(df, rng)
    added = {}
    for kind, version in (("relabel", relabelled), ("append", append(df, maker, rng)),
                          ("both", append(relabelled, maker, rng))):
        path = work / f"db.{table_id}.{kind}.csv"
        write_csv(version, path)
        seconds, tid = timed(lambda path=path: commit(path))
        added[kind] = (object_bytes(store, table_ids(store, tid) - before), seconds, tid)
    t_commit2, v2 = added["both"][1:]
    fresh = ObjectStore(store.backend)
    t_diff, d = timed(lambda: diff_tables(fresh, fresh.get(v1, "table"), fresh.get(v2, "table")))
    return {
        "table": name, "rows": len(df), "runs": len(store.get(v1, "table").runs),
        "commit_s": t_commit, "load_s": t_load, "csv_s": t_csv, "parquet_s": t_parquet,
        "table_mb": bytes_v1 / 1e6, "commit2_s": t_commit2, "diff_s": t_diff,
        "added_rows": len(d.added), "changed_rows": d.changed_rows, "runs_decoded": d.runs_decoded,
        "added": {k: (b / 1e6, 100 * b / bytes_v1) for k, (b, _, _) in added.items()},
        "added_mb": added["both"][0] / 1e6, "added_pct": 100 * added["both"][0] / bytes_v1,
        "csv_mb": os.path.getsize(csv1) / 1e6, "parquet_mb": os.path.getsize(parquet) / 1e6,
        "in_order": in_order,
    }


def shuffle(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--segments", type=int, default=2_000_000)
    ap.add_argument("--order", choices=["sorted", "shuffled", "both"], default="both",
                    help="rows of the files sorted by index, shuffled, or both (default)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="casdb-bench-tables-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}")
    orders = ["sorted", "shuffled"] if args.order == "both" else [args.order]
    results = []
    for order in orders:
        for name, table_id, maker, n in (("filewise", "files", filewise, args.rows),
                                         ("segmented", "segments", segmented, args.segments)):
            df = maker(n, rng)
            if order == "shuffled":
                df = shuffle(df, rng)
            (work / order).mkdir(exist_ok=True)
            results.append(bench(f"{name} {n:,} ({order})", table_id, df, maker, rng,
                                 work / order))
    for r in results:
        print(f"\n{r['table']} rows ({r['runs']} runs; CSV {r['csv_mb']:.1f} MB, parquet "
              f"{r['parquet_mb']:.1f} MB, casdb {r['table_mb']:.1f} MB; loads in file order: "
              f"{'yes' if r['in_order'] else 'NO'})")
        print(f"  commit (read CSV, validate, store)  {r['commit_s']:6.2f} s")
        print(f"  load into pandas (audformat dtypes) {r['load_s']:6.2f} s   "
              f"[pandas.read_csv {r['csv_s']:.2f} s, pandas.read_parquet {r['parquet_s']:.2f} s]")
        print(f"  second version: commit             {r['commit2_s']:6.2f} s")
        print(f"  row diff v1 -> v2                   {r['diff_s']:6.2f} s   "
              f"({r['added_rows']} added, {r['changed_rows']} changed, "
              f"{r['runs_decoded']} of {r['runs']} runs decoded)")
        for kind, label in (("relabel", "1% relabelled"), ("append", "1% appended"),
                            ("both", "both")):
            mb, pct = r["added"][kind]
            print(f"  bytes a second version adds: {label:14s} {mb:6.2f} MB = {pct:.1f}% of the first")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB")
    targets = [
        ("load under 1 s for 1M rows",
         all(r["load_s"] < 1.0 for r in results if r["table"].startswith("filewise"))),
        ("rows load in the file's order", all(r["in_order"] for r in results)),
        ("diff under 0.5 s", all(r["diff_s"] < 0.5 for r in results)),
        ("second version adds under 10%", all(r["added_pct"] < 10 for r in results)),
    ]
    for label, ok in targets:
        print(f"target: {label}: {'PASS' if ok else 'FAIL'}")
    if args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
