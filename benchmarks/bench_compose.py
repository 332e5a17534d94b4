"""Benchmark of composition (issue 13, item 6): three corpora of 2000 files each as one.

Three synthetic corpora (real WAV files; the third spells its labels differently and needs a
label map) are committed; then, in the same run:

- ``casdb.compose``: the composition committed as a dataset of its own (the sources' blobs);
- reference "link + commit": what one does without compose — a folder of hard links to the
  6000 media files plus the combined table written with pandas, committed with
  ``Repository.commit`` (every media byte read and hashed, none stored: the blobs exist);
- reference "tables only": reading the three label tables from the repository, mapping the
  labels and concatenating them in pandas (the metadata work any composition does);
- ``casdb.load_corpora`` into an empty cache (media hard-linked), then again warm.

    .venv/bin/python benchmarks/bench_compose.py [--files 2000] [--duration 1.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

import casdb
from casdb.testing.synth import EMOTIONS, make_dataset

SHORT = {"anger": "ang", "happiness": "hap", "neutral": "neu", "sadness": "sad"}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def corpora(base: Path, files: int, duration: float) -> tuple[casdb.Repository, dict]:
    repo = casdb.Repository.init(base / "repo")
    parts = []
    for i, name in enumerate(("c1", "c2", "c3")):
        root = make_dataset(base / name, files=files, duration=duration, seed=i + 1, name=name)
        if name == "c3":  # spelled differently: needs a map
            text = (root / "db.yaml").read_text()
            for long, short in SHORT.items():
                text = text.replace(long, short)
            (root / "db.yaml").write_text(text)
            for table in ("emotion", "segments"):
                path = root / f"db.{table}.csv"
                rows = [r.split(",") for r in path.read_text().splitlines()]
                col = rows[0].index("emotion")
                for r in rows[1:]:
                    r[col] = SHORT[r[col]]
                path.write_text("\n".join(",".join(r) for r in rows) + "\n")
        repo.commit(root, dataset=name, version="1.0.0")
        part = {"name": name, "version": "1.0.0", "table": "emotion", "label": "emotion",
                "speaker": "speaker"}
        if name == "c3":
            part["labels"] = {s: long for long, s in SHORT.items()}
        parts.append(part)
    return repo, {"datasets": parts}


def tables_only(repo: casdb.Repository, spec: dict) -> pd.DataFrame:
    frames = []
    for part in spec["datasets"]:
        df = repo.table(part["name"], part["table"], part["version"]).reset_index()
        labels = df[part["label"]].astype(str)
        df["label"] = labels.map(part["labels"]) if "labels" in part else labels
        df["file"] = part["name"] + "/" + df["file"]
        df["dataset"] = part["name"]
        frames.append(df[["file", "dataset", "label", "speaker"]])
    return pd.concat(frames, ignore_index=True)


def link_and_commit(repo: casdb.Repository, base: Path, spec: dict, run: int) -> tuple:
    folder = base / f"linked-{run}"
    combined = tables_only(repo, spec)
    for part in spec["datasets"]:
        src = base / part["name"]
        for wav in src.rglob("*.wav"):
            target = folder / part["name"] / wav.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(wav, target)
    header = {"name": "linked", "source": "bench", "usage": "unrestricted",
              "schemes": {"label": {"dtype": "str", "labels": EMOTIONS},
                          "dataset": {"dtype": "str"}, "speaker": {"dtype": "str"}},
              "tables": {"labels": {"type": "filewise", "columns": {
                  c: {"scheme_id": c} for c in ("dataset", "label", "speaker")}}}}
    (folder / "db.yaml").write_text(yaml.safe_dump(header))
    combined[["file", "dataset", "label", "speaker"]].to_csv(folder / "db.labels.csv",
                                                             index=False)
    t = time.perf_counter()
    out = repo.commit(folder, dataset=f"linked{run}", version="1.0.0")
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    base = Path(tempfile.mkdtemp(prefix="casdb-bench-compose-"))
    try:
        t = time.perf_counter()
        repo, spec = corpora(base, args.files, args.duration)
        size = sum(p.stat().st_size for p in base.rglob("*.wav"))
        print(f"3 corpora x {args.files} files, {size / 1e6:.0f} MB of WAV, committed in "
              f"{time.perf_counter() - t:.1f} s")
        rows = {"compose": [], "link + commit": [], "tables only": [], "load_corpora cold": [],
                "load_corpora warm": []}
        for run in range(args.runs):  # interleaved
            t = time.perf_counter()
            out = casdb.compose(spec, dataset=f"composed{run}", version="1.0.0", repo=repo)
            rows["compose"].append(time.perf_counter() - t)
            assert out.commit.new_bytes == 0 and out.rows == 3 * args.files
            seconds, linked = link_and_commit(repo, base, spec, run)
            rows["link + commit"].append(seconds)
            t = time.perf_counter()
            tables_only(repo, spec)
            rows["tables only"].append(time.perf_counter() - t)
            cache = base / f"cache-{run}"
            t = time.perf_counter()
            df = casdb.load_corpora(spec, repo=repo, cache_root=cache)
            rows["load_corpora cold"].append(time.perf_counter() - t)
            t = time.perf_counter()
            casdb.load_corpora(spec, repo=repo, cache_root=cache)
            rows["load_corpora warm"].append(time.perf_counter() - t)
            assert len(df) == 3 * args.files
        print(f"compose: {out.commit.files} files, {out.commit.new_bytes} new bytes, "
              f"{out.commit.hashed_files} read; link + commit: {linked.hashed_files} files read, "
              f"{linked.new_bytes} new bytes")
        print(f"{'step':<20} {'best s':>8} {'median s':>9}   (runs: {args.runs})")
        for name, values in rows.items():
            print(f"{name:<20} {min(values):>8.2f} {statistics.median(values):>9.2f}")
        print(f"compose vs link + commit: {min(rows['link + commit']) / min(rows['compose']):.1f}x")
    finally:
        for dirpath, _, _ in os.walk(base):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
