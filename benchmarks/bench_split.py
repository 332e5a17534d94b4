"""Benchmark of ``casdb.split`` (issue 13): splitting a 100k-row table by each protocol.

The dataset: a filewise table ``emotion`` of ``--rows`` rows (200 speakers, 6 labels with
per-speaker label mixes, an ``agreement`` column), committed with
``commit.committer.commit_files`` so that its media are one stored 44-byte WAV blob reused for
every path: splitting never reads media (it commits blob ids), so 100k distinct audio files
would only time the commit of the source, not the split. The tree and media index still have
``--rows`` entries, as a real corpus would.

Timed in the same run: reading the table into pandas (``Snapshot.table``; every split starts so),
scikit-learn's ``GroupKFold`` assigning the same 4 speaker folds (the reference for the
assignment itself), then ``casdb.split`` per protocol as a dry run (read, assign, count) and
committed (each run a new version) (plus writing the split tables, storing them, and the commit with its 100k-entry tree
and media index). Best of ``--repeat`` runs.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_split.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import casdb
from casdb.commit.committer import commit_files
from casdb.tables import mediaindex
from casdb.testing.synth import wav_header

LABELS = ["angry", "happy", "neutral", "sad", "fear", "disgust"]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def build(tmp: Path, rows: int, speakers: int) -> casdb.Repository:
    """The repository with ``bench 1.0.0`` (see the module docstring)."""
    repo = casdb.Repository.init(tmp / "repo")
    one = tmp / "one"
    (one / "audio").mkdir(parents=True)
    (one / "audio" / "x.wav").write_bytes(wav_header(0))
    (one / "db.yaml").write_text("name: one\n")
    repo.commit(one, dataset="one", version="1")
    snap = repo.snapshot("one", "1")
    blob, size = snap.media()[["blob", "bytes"]].iloc[0]
    known = mediaindex.known_properties(repo.store, snap.commit.media)
    rng = np.random.default_rng(0)
    spk = rng.integers(0, speakers, rows)
    # each speaker has its own label mix, so the speaker x label table is not uniform
    mix = rng.dirichlet(np.ones(len(LABELS)) * 20, speakers)
    lab = (rng.random(rows)[:, None] > np.cumsum(mix[spk], axis=1)).sum(axis=1)
    files = [f"audio/{s:03d}/{i:06d}.wav" for i, s in enumerate(spk)]
    src = tmp / "src"
    src.mkdir()
    pd.DataFrame({"file": files, "emotion": np.array(LABELS)[lab],
                  "agreement": rng.uniform(0.4, 1.0, rows).round(2),
                  "speaker": [f"spk{s:03d}" for s in spk]}).to_parquet(src / "db.emotion.parquet")
    (src / "db.yaml").write_text(f"""name: bench
source: casdb benchmarks/bench_split.py
usage: unrestricted
schemes:
  emotion: {{dtype: str, labels: [{', '.join(LABELS)}]}}
  agreement: {{dtype: float}}
  speaker: {{dtype: str}}
tables:
  emotion:
    type: filewise
    columns:
      emotion: {{scheme_id: emotion}}
      agreement: {{scheme_id: agreement}}
      speaker: {{scheme_id: speaker}}
""")
    commit_files(repo, src, {f: (str(blob), int(size)) for f in files}, dataset="bench",
                 known_media=known, version="1.0.0")
    return repo


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--speakers", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"casdb {casdb.__file__}; {args.rows} rows, {args.speakers} speakers, "
          f"{len(LABELS)} labels; best of {args.repeat}")
    tmp = Path(tempfile.mkdtemp(prefix="casdb-bench-split-"))
    try:
        t = time.perf_counter()
        repo = build(tmp, args.rows, args.speakers)
        print(f"build (commit_files of {args.rows} paths, one blob): "
              f"{time.perf_counter() - t:.2f} s")

        read_s, frame = best(lambda: repo.snapshot("bench", "1.0.0").table("emotion"),
                             args.repeat)
        print(f"reference  read the table (Snapshot.table)        {read_s:7.3f} s")

        from sklearn.model_selection import GroupKFold

        def group_kfold():
            groups = frame["speaker"].astype(str).to_numpy()
            return [test for _, test in GroupKFold(4).split(np.zeros(len(groups)),
                                                              groups=groups)]

        gkf_s, _ = best(group_kfold, args.repeat)
        print(f"reference  sklearn GroupKFold(4) on the frame     {gkf_s:7.3f} s")
        print(f"reference  read + GroupKFold                      {read_s + gkf_s:7.3f} s")

        cases = [("emobox", {}), ("kfold", {"folds": 5}), ("serab", {}), ("loso", {}),
                 ("balanced", {"where": "agreement>=0.8"})]
        for protocol, kw in cases:
            s, out = best(lambda p=protocol, kw=kw: casdb.split(
                "bench", "1.0.0", protocol=p, dry_run=True, repo=repo, **kw), args.repeat)
            print(f"dry run    {protocol:<9} -> {out.rule:<18} {out.folds:>4} folds "
                  f"{s:7.3f} s  ({s / (read_s + gkf_s):.1f}x read + GroupKFold)")
            if protocol == "emobox":
                print(f"           ({out.reason})")
        versions = iter(range(1, 1000))
        for protocol, kw in cases[:3]:
            s, out = best(lambda p=protocol, kw=kw: casdb.split(
                "bench", "1.0.0", protocol=p, new_version=f"1.{next(versions)}.0", repo=repo,
                **kw), args.repeat)
            print(f"committed  {protocol:<9} -> {out.rule:<18} {out.folds:>4} folds "
                  f"{s:7.3f} s  ({len(out.tables)} split tables, "
                  f"{out.commit.new_bytes} new media bytes)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
