#!/usr/bin/env python
"""Engine benchmark (issue 15): a flavoured load and a commit on a Dask LocalCluster against
casdb's built-in pools, on one machine, with identical output checked.

Usage (from the project root, with casdb[dask] installed)::

    python benchmarks/bench_engine.py                  # full run: 2000 files, 1.15 GB
    python benchmarks/bench_engine.py --files 200      # quick run

Data: the large set of bench_commit.py (``--files`` WAV files of 3 s, 48 kHz, stereo, 16-bit,
plus db.yaml and three tables), generated once under ``--data``.

Steps, each in this process, page cache warm (the sources are read once before timing):

1. commit the set into a fresh repository with the built-in threads (``engine="threads"``);
2. the same commit into another fresh repository on the cluster (``engine=dask://...``);
   the two commits must hold the same tree, tables, header and media index;
3. ``casdb.load(..., flavour={"sampling_rate": 16000, "mixdown": True})`` into an empty cache
   with the built-in process pool (one worker process per core);
4. the same load into another empty cache on the cluster;
5. the converted files of 3 and 4 are compared by blake3 hash, file by file.

The cluster is a ``distributed.LocalCluster(n_workers=--workers, threads_per_worker=1,
processes=True)`` started before the timed steps (its start-up is timed apart); the client is
connected through ``dask://127.0.0.1:PORT`` as a user would, the connection included in the
timed call. One untimed commit first pays for imports. Each timed step runs ``--repeat`` times (fresh repository or cache each time) and
the best is kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_commit as bc  # noqa: E402

FLAVOUR = {"sampling_rate": 16000, "mixdown": True}


def hashes(root: Path) -> dict[str, str]:
    from casdb.core.ids import new_hasher

    out = {}
    for p in sorted(root.rglob("*.wav")):
        h = new_hasher()
        h.update_mmap(str(p))
        out[p.relative_to(root).as_posix()] = h.hexdigest()
    return out


def best(runs: list[float]) -> str:
    return f"{min(runs):.2f} s (runs: {', '.join(f'{r:.2f}' for r in runs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/casdb-bench"))
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import casdb
    from casdb.testing.dask import local_cluster

    ds = bc.large_set(args.data, args.files, args.duration, 48000, 2)
    src = ds["base"]
    for p in src.rglob("*"):  # warm the page cache
        if p.is_file():
            p.read_bytes()
    work = args.data / f"engine-{os.getpid()}"
    work.mkdir(parents=True)
    os.environ["CASDB_CACHE"] = str(work / "default-cache")
    res: dict[str, list[float]] = {k: [] for k in (
        "commit threads", "commit dask", "load threads", "load dask")}
    try:
        t0 = time.monotonic()
        with local_cluster(workers=args.workers) as (_, address):
            started = time.monotonic() - t0
            # untimed: imports (pyarrow, pandas, soundfile) and first-use costs
            casdb.Repository.init(work / "repo-warm").commit(src, dataset="bench")
            commits = {}
            for i in range(args.repeat):
                for kind, engine in (("threads", "threads"), ("dask", address)):
                    repo = casdb.Repository.init(work / f"repo-{kind}-{i}")
                    t = time.monotonic()
                    result = repo.commit(src, dataset="bench", version="1.0.0", engine=engine)
                    res[f"commit {kind}"].append(time.monotonic() - t)
                    commits[kind] = dataclasses.replace(
                        repo.store.get(result.id, "commit"), time=0)
            same_commit = commits["threads"] == commits["dask"]
            repo = casdb.Repository(work / "repo-threads-0")
            roots = {}
            for i in range(args.repeat):
                for kind, engine in (("threads", None), ("dask", address)):
                    cache = work / f"cache-{kind}-{i}"
                    t = time.monotonic()
                    out = casdb.load("bench", "1.0.0", repo=repo, cache_root=cache,
                                     flavour=FLAVOUR, engine=engine)
                    res[f"load {kind}"].append(time.monotonic() - t)
                    roots[kind] = out.root
        a, b = hashes(roots["threads"]), hashes(roots["dask"])
        identical = a == b and len(a) == args.files
        machine = bc.machine_info(args.data)
        import distributed

        print("\n== machine ==")
        for k in ("cpu", "cores", "cores_usable", "ram_gib", "kernel", "python"):
            print(f"  {k:13} {machine.get(k)}")
        print(f"  {'dask':13} distributed {distributed.__version__}; LocalCluster "
              f"{args.workers} worker processes x 1 thread")
        print(f"  {'load avg':13} {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"\n== {args.files} files of {args.duration:g} s, 48 kHz stereo -> 16 kHz mono ==")
        print(f"  cluster start-up          {started:.2f} s (not in the figures below)")
        for k, runs in res.items():
            print(f"  {k:25} {best(runs)}")
        ratio = min(res["load dask"]) / min(res["load threads"])
        print(f"  dask / built-in (load)    {ratio:.2f}x")
        print(f"  dask / built-in (commit)  {min(res['commit dask']) / min(res['commit threads']):.2f}x")
        print(f"  converted files identical {identical} ({len(a)} files compared by blake3)")
        print(f"  commits identical         {same_commit} (tree, tables, header, media index)")
        if not (identical and same_commit):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
