#!/usr/bin/env python
"""Many small files (issue 16, item 4 and item 1): a first commit of 100k small WAV files
against ``cp -r`` + ``sync`` of the same folder, and a no-op re-commit against a ``stat`` walk.

Usage (from the project root)::

    /work/main/.venv/bin/python benchmarks/bench_small.py                  # 100k files, 2 rounds
    /work/main/.venv/bin/python benchmarks/bench_small.py --files 5000     # quick run
    /work/main/.venv/bin/python benchmarks/bench_small.py --profile        # py-spy both commits

Data: the small set of bench_commit.py (``--files`` WAV files of 0.2 s, 16 kHz mono 16-bit,
about 6.4 KB each, plus db.yaml and three tables), generated once under ``--data`` and reused.

Each round, interleaved so that the references and casdb see the same machine:

* ``cp -r + sync``: ``cp -r SRC DST`` then ``sync`` (the copy is removed, untimed, and synced);
* ``first commit + sync``: ``casdb init`` (untimed), then ``casdb commit SRC -d bench`` then
  ``sync`` (casdb syncs before it publishes; the trailing ``sync`` only keeps the two alike);
* ``no-op commit``: the same command again, three times, best (nothing changed: nothing recorded);
* ``stat walk``: ``find SRC -printf '%s %T@ %i'``, the floor of a no-op commit (one stat a file).

casdb runs from this checkout (``PYTHONPATH`` = the project root) as a child process; its wall
time includes Python start-up and imports. ``--rev REV`` runs casdb as of a git revision (exported under ``--data``). ``--profile`` records each casdb commit of the first
round with py-spy (``<data>/profile-*.txt``, raw format; wall times of profiled runs are not
reported as results). The ratio reported is per round (casdb / ``cp -r`` + ``sync`` of the same
round), then the best of the rounds; CPU seconds (user + system, from ``getrusage``) of each
child are recorded too, being less sensitive than wall time to other work on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(HERE))
import bench_commit as bc  # noqa: E402

PYTHON = sys.executable
PYSPY = Path(sys.executable).with_name("py-spy")


CPU: dict[str, float] = {}
"""CPU seconds (user + system) of the last child :func:`timed` ran: less sensitive than wall
time to other work on a shared machine."""


def timed(cmd: list[str], env: dict | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return wall


def casdb(args: list[str], profile: Path | None = None) -> list[str]:
    cmd = [PYTHON, "-c", "import sys; from casdb.cli import main; sys.exit(main())", *args]
    if profile is not None:
        return [str(PYSPY), "record", "-r", "100", "-f", "raw", "-o", str(profile), "--", *cmd]
    return cmd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=0.2)
    ap.add_argument("--sampling-rate", type=int, default=16000)
    ap.add_argument("--data", type=Path, default=Path("/tmp/casdb-bench"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--rev", help="benchmark casdb as of this git revision (exported)")
    args = ap.parse_args()

    src = bc.small_set(args.data, args.files, args.duration, args.sampling_rate)
    work = args.data / f"small-run-{os.getpid()}"
    work.mkdir(parents=True)
    code, rev = PROJECT, bc.casdb_revision()
    if args.rev:
        rev, code = bc.export_revision(args.rev, args.data)
    env = {**os.environ, "PYTHONPATH": str(code), "CASDB_AUTHOR": "bench"}
    size = bc.dir_bytes(src)
    print(f"{args.files} files, {bc.human(size)} in {src}; casdb from {code} "
          f"({rev}); load {os.getloadavg()[0]:.1f}", flush=True)
    rounds = []
    try:
        for i in range(args.rounds):
            r: dict = {"load": os.getloadavg()[0]}
            dst, repo = work / "cp-copy", work / "repo"
            bc.sync()
            t0 = time.perf_counter()
            timed(["cp", "-r", str(src), str(dst)])
            r["cp"] = time.perf_counter() - t0
            r["cp_cpu"] = CPU["last"]
            bc.sync()
            r["cp_sync"] = time.perf_counter() - t0
            shutil.rmtree(dst)
            bc.sync()
            timed(casdb(["init", str(repo)]), env)
            prof = args.data / f"profile-first-{os.getpid()}.txt" if args.profile and not i else None
            t0 = time.perf_counter()
            timed(casdb(["--repo", str(repo), "commit", str(src), "-d", "bench"], prof), env)
            r["commit"] = time.perf_counter() - t0
            r["commit_cpu"] = CPU["last"]
            bc.sync()
            r["commit_sync"] = time.perf_counter() - t0
            noop = []
            for j in range(3):
                prof = (args.data / f"profile-noop-{os.getpid()}.txt"
                        if args.profile and not i and not j else None)
                wall = timed(casdb(["--repo", str(repo), "commit", str(src), "-d", "bench"],
                                   prof), env)
                if prof is None:
                    noop.append((wall, CPU["last"]))
            r["noop"], r["noop_cpu"] = min(noop)
            r["stat_walk"] = min(timed(["find", str(src), "-printf", "%s %T@ %i\n"])
                                 for _ in range(3))
            r["ratio"] = r["commit_sync"] / r["cp_sync"]
            shutil.rmtree(repo)
            rounds.append(r)
            print(f"round {i + 1}: cp -r + sync {r['cp_sync']:.2f} s (cp {r['cp']:.2f}); "
                  f"first commit + sync {r['commit_sync']:.2f} s (commit {r['commit']:.2f}), "
                  f"{r['ratio']:.2f}x, CPU {r['commit_cpu']:.1f} s against cp's "
                  f"{r['cp_cpu']:.1f} s; no-op commit {r['noop']:.2f} s (CPU "
                  f"{r['noop_cpu']:.2f} s); stat walk "
                  f"{r['stat_walk']:.2f} s; load {r['load']:.1f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = min(rounds, key=lambda r: r["ratio"])
    print(f"best round: {best['ratio']:.2f}x of cp -r + sync (target 3x); "
          f"no-op commit {min(r['noop'] for r in rounds):.2f} s (target 1 s)")
    out = args.json or args.data / f"small-results-{int(time.time())}.json"
    out.write_text(json.dumps({"files": args.files, "bytes": size, "rev": rev, "rounds": rounds,
                               "machine": {"cpus": os.cpu_count()}}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
