#!/usr/bin/env python
"""Fixed-cost benchmark (issue 16): commands that do little work, against ``cp``/``stat`` limits.

Usage (from the project root)::

    /work/main/.venv/bin/python benchmarks/bench_fixed.py               # 2000 files, 1.15 GB
    /work/main/.venv/bin/python benchmarks/bench_fixed.py --files 200   # quick run
    /work/main/.venv/bin/python benchmarks/bench_fixed.py --rev main    # casdb as of a revision

Data: the large set of bench_commit.py (``--files`` WAV files, 3 s, 48 kHz stereo, db.yaml and
three tables). 1.0.0 is the generated folder, 3.0.0 the same without every 20th file (5 %) and
their table rows.

Steps, each one process timed from outside (wall, best of ``--repeat``), Python start-up and
imports included:

* ``noop commit``: ``casdb commit SRC -d bench`` of the folder committed just before;
* ``removals commit``: the folder with 5 % of its files removed and the tables rewritten
  (the files are put back, untimed, between repeats);
* ``log``, ``ls``, ``show bench@1.0.0``;
* ``switch``: ``casdb checkout bench@1.0.0 --cache C`` and back to 3.0.0, both already cached;
* ``warm load``: ``casdb.load`` of a cached version in a fresh process (``python -c``);
* ``metadata load``: ``casdb.load(only_metadata=True)`` into an empty cache, in a fresh process;
  the call's own time (imports inside it) is printed too, and the call's time in a process that
  imported casdb, pandas and pyarrow first (how bench_checkout.py times it for both tools: audb
  imports them at ``import audb``);
* ``copy checkout``: ``casdb checkout bench@1.0.0 DEST --link copy`` then ``sync``, against
  ``cp -r`` + ``sync`` of the same folder.

References measured in the same run: ``python -c pass``; a ``stat`` walk of the source
(``find -printf``); ``cp -r`` + ``sync``; and git-annex (if installed) doing the same no-op
commit, removals commit and switch (``git checkout``) on its own copy in locked mode.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common as common  # noqa: E402
import bench_commit as bc  # noqa: E402

TARGETS = {  # step -> seconds (issue 16)
    "noop commit": 0.1, "switch": 0.2, "removals commit": 0.3, "metadata load (call)": 0.1,
    "metadata load (call, pandas imported)": 0.1,
}


def run(cmd: list[str], cwd: Path | None = None, check: bool = True) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, "CASDB_AUTHOR": "bench"})
    wall = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return wall


def best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def write_tables(src: Path, keep: list[int], when: float) -> None:
    from casdb.testing import synth

    for name in ("db.emotion.csv", "db.segments.csv", "db.speaker.csv"):
        (src / name).unlink(missing_ok=True)  # never write through a hard link to the base set
    synth.write_tables(src, keep)
    bc.set_old_mtime([src / n for n in ("db.emotion.csv", "db.segments.csv", "db.speaker.csv")],
                     when)


def removed_files(files: int) -> list[int]:
    return list(range(0, files, 20))


def remove(src: Path, files: int, when: float) -> None:
    from casdb.testing import synth

    gone = set(removed_files(files))
    for i in gone:
        (src / synth.file_name(i)).unlink()
    write_tables(src, [i for i in range(files) if i not in gone], when)


def restore(src: Path, base: Path, files: int, when: float) -> None:
    from casdb.testing import synth

    for i in removed_files(files):
        dst = src / synth.file_name(i)
        if not dst.exists():
            os.link(base / synth.file_name(i), dst)
    write_tables(src, list(range(files)), when)


def load_code(kwargs: str, preimport: bool = False) -> str:
    """A child that loads and prints the load's time: from before ``import casdb``, or (with
    ``preimport``) after ``import casdb, pandas, pyarrow``, as bench_checkout.py times audb's
    call (``import audb`` imports both)."""
    first = "import casdb, pandas, pyarrow.parquet; " if preimport else ""
    return (f"import time, sys; {first}t = time.perf_counter(); import casdb; "
            f"casdb.load('bench', {kwargs}); print(time.perf_counter() - t)")


def casdb_steps(args, casdb, python, work: Path, base: Path, res: dict) -> None:
    src, repo, cache = work / "src", work / "repo", work / "cache"
    bc.link_tree(base, src)
    write_tables(src, list(range(args.files)), time.time() - 7200)
    run([*casdb, "init", str(repo)])
    c = [*casdb, "--repo", str(repo)]
    run([*c, "commit", str(src), "-d", "bench", "--version", "1.0.0"])
    res["noop commit"] = best(lambda: run([*c, "commit", str(src), "-d", "bench"]), args.repeat)
    times = []
    for i in range(args.repeat):
        remove(src, args.files, time.time() - 5000 + 2 * i)
        times.append(run([*c, "commit", str(src), "-d", "bench", "-m", "removals"]))
        restore(src, base, args.files, time.time() - 4000 + 2 * i)
        run([*c, "commit", str(src), "-d", "bench", "-m", "restore"])
    res["removals commit"] = min(times)
    remove(src, args.files, time.time() - 3000)
    run([*c, "commit", str(src), "-d", "bench", "--version", "3.0.0"])
    res["log"] = best(lambda: run([*c, "log", "bench"]), args.repeat)
    res["ls"] = best(lambda: run([*c, "ls"]), args.repeat)
    res["show"] = best(lambda: run([*c, "show", "bench@1.0.0"]), args.repeat)
    for v in ("3.0.0", "1.0.0"):
        run([*c, "checkout", f"bench@{v}", "--cache", str(cache)])
    switches = []
    for _ in range(args.repeat):
        for v in ("3.0.0", "1.0.0"):
            switches.append(run([*c, "checkout", f"bench@{v}", "--cache", str(cache)]))
    res["switch"] = min(switches)
    py = [python, "-P", "-c"]
    kw = f"'1.0.0', repo={str(repo)!r}, cache_root={str(cache)!r}"
    res["warm load"] = best(lambda: run([*py, load_code(kw)]), args.repeat)
    walls, calls, after = [], [], []
    for _ in range(args.repeat):
        kw = f"'1.0.0', repo={str(repo)!r}, cache_root={str(work / 'meta-cache')!r}, only_metadata=True"
        for pre, into in ((False, calls), (True, after)):
            bc.rm_rf(work / "meta-cache")
            t0 = time.perf_counter()
            out = subprocess.run([*py, load_code(kw, pre)], capture_output=True, text=True,
                                 check=True)
            if not pre:
                walls.append(time.perf_counter() - t0)
            into.append(float(out.stdout.strip().splitlines()[-1]))
    res["metadata load"], res["metadata load (call)"] = min(walls), min(calls)
    res["metadata load (call, pandas imported)"] = min(after)
    copies = []
    for _ in range(args.repeat):
        dest = work / "copy-checkout"
        bc.rm_rf(dest)
        bc.sync()
        t0 = time.perf_counter()
        run([*c, "checkout", "bench@1.0.0", str(dest), "--link", "copy"])
        bc.sync()
        copies.append(time.perf_counter() - t0)
    res["copy checkout + sync"] = min(copies)
    bc.rm_rf(work / "copy-checkout")


def reference_steps(args, python, work: Path, base: Path, res: dict) -> None:
    res["python -c pass"] = best(lambda: run([python, "-c", "pass"]), args.repeat)
    res["stat walk (find)"] = best(
        lambda: run(["find", str(base), "-printf", "%s %T@ %i\n"]), args.repeat)
    copies = []
    for _ in range(args.repeat):
        dest = work / "cp-copy"
        bc.rm_rf(dest)
        bc.sync()
        t0 = time.perf_counter()
        subprocess.run(["cp", "-r", str(base), str(dest)], check=True)
        bc.sync()
        copies.append(time.perf_counter() - t0)
    res["cp -r + sync"] = min(copies)
    bc.rm_rf(work / "cp-copy")


def annex_steps(args, work: Path, base: Path, res: dict) -> None:
    src = work / "annex"
    bc.link_tree(base, src)
    write_tables(src, list(range(args.files)), time.time() - 7200)
    g = ["git", "-C", str(src)]
    env_cmds = [["git", "init", "-q"], ["git", "config", "user.email", "b@b"],
                ["git", "config", "user.name", "bench"], ["git", "annex", "init", "-q", "bench"]]
    for cmd in env_cmds:
        run(cmd, cwd=src)

    def commit(msg: str) -> float:
        t0 = time.perf_counter()
        run(["git", "annex", "add", "-q", "."], cwd=src)
        run([*g, "add", "-A"])
        run([*g, "commit", "-q", "-m", msg], check=False)  # exit 1: nothing to commit
        return time.perf_counter() - t0

    commit("1.0.0")
    run([*g, "tag", "v1"])
    res["annex noop commit"] = best(lambda: commit("noop"), args.repeat)
    times = []
    for i in range(args.repeat):
        remove(src, args.files, time.time() - 5000 + 2 * i)
        times.append(commit("removals"))
        run([*g, "reset", "-q", "--hard", "v1"])
    res["annex removals commit"] = min(times)
    remove(src, args.files, time.time() - 3000)
    commit("3.0.0")
    run([*g, "tag", "v3"])
    res["annex switch"] = min(run([*g, "checkout", "-q", t]) for _ in range(args.repeat)
                              for t in ("v1", "v3"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/casdb-bench"))
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--sampling-rate", type=int, default=48000)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs per step, best kept")
    ap.add_argument("--casdb", default=str(Path(sys.executable).parent / "casdb"))
    ap.add_argument("--rev", help="benchmark casdb as of this git revision")
    ap.add_argument("--skip-annex", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    casdb, python, rev = common.casdb_command(args, bc.export_revision)
    # An installed casdb has its bytecode: compile the one under test once, and let the children
    # use it (PYTHONDONTWRITEBYTECODE in the environment would make every step compile casdb).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    where = subprocess.run([python, "-P", "-c", "import casdb, os; print(os.path.dirname(casdb.__file__))"],
                           capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", where], check=True)
    machine = bc.machine_info(args.data, rev)
    print(f"casdb {machine['casdb_rev']} on {machine['cpu']}, {machine['cores']} cores, "
          f"{machine['ram_gib']} GiB, python {machine['python']}, {machine['fs']}", flush=True)
    ds = bc.large_set(args.data, args.files, args.duration, args.sampling_rate, args.channels)
    work = args.data / f"fixed-{os.getpid()}"
    work.mkdir(parents=True)
    res: dict = {}
    try:
        reference_steps(args, python, work, ds["base"], res)
        casdb_steps(args, casdb, python, work, ds["base"], res)
        annex = not args.skip_annex and subprocess.run(
            ["git", "annex", "version"], capture_output=True).returncode == 0
        if annex:
            annex_steps(args, work, ds["base"], res)
        else:
            print("git-annex: not installed, skipped")
    finally:
        if not args.keep:
            bc.rm_rf(work)
    print(f"\n{args.files} files, best of {args.repeat}")
    for step, secs in res.items():
        target = TARGETS.get(step)
        mark = f"  target {target:.2f} s: {'PASS' if secs <= target else 'FAIL'}" if target else ""
        print(f"  {step:24s} {secs:7.3f} s{mark}")
    copy, cp = res["copy checkout + sync"], res["cp -r + sync"]
    print(f"  copy checkout / cp -r   {copy / cp:7.2f} x  target 1.20 x: "
          f"{'PASS' if copy <= 1.2 * cp else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": res}, indent=1))


if __name__ == "__main__":
    main()
