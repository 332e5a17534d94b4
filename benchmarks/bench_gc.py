#!/usr/bin/env python
"""Purge and gc benchmark (issue 7): ``casdb gc`` of a repository of 1M stored files, and
``casdb purge`` of 100 files from a dataset with 20 versions.

Usage (from the project root, with the project's virtualenv)::

    .venv/bin/python benchmarks/bench_gc.py                      # full run
    .venv/bin/python benchmarks/bench_gc.py --files 2000 --gone-files 1000 --total 20000 \\
        --purge-files 300 --versions 5 --purge 20 --gc-runs 1   # quick run (about 1 min)

gc
--
The repository is built once and cached under ``--data`` (default /tmp/casdb-bench,
``gc-repo-...``; ``--rebuild`` redoes it). It holds ``--total`` files in ``objects/`` and
``blobs/`` (default 1,000,000):

* reachable: dataset ``alpha`` (``--files`` small WAVs, 0.2 s, 16 kHz mono, 6.4 KB each, plus
  db.yaml and three tables), committed as 1.0.0, then 2.0.0 with 1 % of the files re-recorded,
  1 % added and the tables rewritten; dataset ``beta`` (another ``--files`` such WAVs, other
  bytes), 1.0.0. Each is a normal ``casdb commit`` (child process): every file is a blob, trees,
  tables, partitions, the media index, headers and commits are objects;
* unreachable, as a deleted dataset leaves them: dataset ``gamma`` (``--gone-files`` WAVs)
  committed, then its ``refs/gamma`` folder removed;
* unreachable, written straight through the store to reach ``--total``: half objects
  (``store.put(Header(...))`` with a random description: under 1 KB stored), half blobs
  (``store.put_blob_bytes`` of 1 to 4 KB of random bytes), published in batches of 20,000, with
  no ref; and 100 stale temporary files in ``tmp/`` (a crashed commit's).

Then every file under objects/, blobs/ and tmp/ gets an mtime 2 hours ago, so that gc's grace
period (1 h) spares none of them. The build counts what the repository holds with
``casdb.maintenance.gc.mark`` and a walk of gamma's commit (printed and in the JSON).

Each gc run works on a real copy (``cp -a``; a hard-link copy would make every unlink cheaper
than a real delete) of the cached repository, timed apart, then ``sync``:

With ``--in-place``, one run works on the cached repository itself (its files were linked
from tmp/ as a commit links them, where a copy lays each fan-out folder out anew); the cache is
deleted afterwards. ``--gc-runs 0`` only builds.

1. ``casdb --repo R gc --dry-run`` (first run only), through ``.venv/bin/casdb``;
2. ``casdb --repo R gc``: run 1 through ``.venv/bin/casdb``; later runs (``--gc-runs``, default
   2) through ``casdb.cli.main`` with ``casdb.maintenance.gc.mark_compact`` (``mark`` before
   issue 16), ``_collect`` (and ``_files``, before issue 16) wrapped to time each phase: mark,
   listing objects/ and blobs/ (a phase of its own before issue 16; since, each fan-out folder
   is read as it is swept), and the sweep (stat + unlink of every unmarked file, the tmp/
   sweep); ``_Sweeper.probe`` records the sweep's thread count. A dry run is phased the same
   way.
3. ``casdb --repo R fsck --no-blobs`` after the gc, to confirm that the reachable part is intact
   and nothing unreachable is left; then ``casdb gc`` again, with nothing to delete.

Wall time is the child's whole life (start-up included); peak RSS and CPU are the child's own,
from ``/usr/bin/time``. Targets: gc under 60 s and under 1 GB (10^9 B) of peak RSS for
1M objects, judged on the slowest and largest of the gc runs.

purge
-----
A dataset ``bench`` of ``--purge-files`` WAVs (default 2000; 0.2 s, 16 kHz, mono, by
``casdb.testing.synth.make_dataset``, cached) committed as ``--versions`` versions (default 20):
each version after the first re-records ``--changes`` files (default 5; same names, new bytes),
adds ``--changes`` new ones and rewrites the tables. Then ``casdb checkout`` of the first and
the last version into a fresh cache (``--cache C``), and ``--purge`` paths (default 100): 10 %
re-recorded files (several blobs each), 5 % files added in a later version, the rest files
never changed. Timed: ``casdb purge bench P1 ... P100 --reason bench --cache C --dry-run``, then
the same without ``--dry-run``; then ``casdb fsck`` (blobs re-hashed), and a checkout of the last
version again, which must lack exactly the purged paths. The expected numbers of blobs and
holders are computed from the change schedule and compared with what purge printed; the blobs/
folder is counted before and after. No target.

Common options: ``--rev REV`` benchmarks casdb as of a git revision (exported under ``--data``,
put first on the children's ``PYTHONPATH``), as bench_commit.py does; ``--cold`` drops the page
cache before each timed step (needs root); ``--keep`` keeps the work folder
(``--data``/gc-<pid>); ``--json PATH`` writes the results (default
``<data>/gc-results-<time>.json``); ``--skip-gc`` / ``--skip-purge``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
HOURS_AGO_2 = 2 * 3600
GB = 1_000_000_000
BATCH = 20_000
STALE_TMP = 100

# The gc CLI with its phases timed: the same entry point as .venv/bin/casdb (casdb.cli.main),
# with three functions of casdb.maintenance.gc wrapped (each is called once per gc, through the
# module's globals). The phases go to the JSON file named by BENCH_PHASES.
PHASED_CLI = r"""
import json, os, sys, time
T0 = time.perf_counter()
try:
    import casdb.maintenance.gc as g
except ImportError:  # a revision before casdb.maintenance
    import casdb.gc as g
ph = {"files": {}}
def rss():
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return out
# Since issue 16 the sweep reads one fan-out folder at a time (no _files) and marks into
# compact arrays (mark_compact); its thread count comes from _Sweeper.probe.
MARK = "mark_compact" if hasattr(g, "mark_compact") else "mark"
_mark, _files, _collect = getattr(g, MARK), getattr(g, "_files", None), g._collect
def mark(repo):
    t = time.perf_counter()
    r = _mark(repo)
    ph["mark"] = time.perf_counter() - t
    ph["rss_after_mark"] = rss()
    return r
if hasattr(g, "_Sweeper"):
    _probe = g._Sweeper.probe
    def probe(self, folders, marked):
        t = time.perf_counter()
        n = _probe(self, folders, marked)
        ph["probe"] = {"seconds": time.perf_counter() - t, "threads": n, "folders": len(folders)}
        return n
    g._Sweeper.probe = probe
def files(top):
    t = time.perf_counter()
    r = _files(top)
    ph["files"][os.path.basename(str(top))] = {"seconds": time.perf_counter() - t, "n": len(r)}
    ph["rss_after_list_" + os.path.basename(str(top))] = rss()
    return r
def collect(repo, *args):
    t = time.perf_counter()
    ph["start_to_collect"] = t - T0
    r = _collect(repo, *args)
    ph["collect"] = time.perf_counter() - t
    ph["rss_end"] = rss()
    return r
setattr(g, MARK, mark)
g._collect = collect
if _files is not None:
    g._files = files
def save():
    with open(os.environ["BENCH_PHASES"], "w") as f:
        json.dump(ph, f)
import atexit
atexit.register(save)
sys.argv[0] = "casdb"
from casdb.cli import main
sys.exit(main())
"""


def bench_commit():
    sys.path.insert(0, HERE)
    import bench_commit as bc

    return bc


# -- children (run with -P, in the casdb under test) -----------------------------------------------


def child_fill(repo_path: str, n_obj: int, n_blob: int, n_tmp: int, seed: int) -> None:
    """Write ``n_obj`` objects and ``n_blob`` blobs that no ref reaches, and stale temp files."""
    from casdb import Repository

    try:
        from casdb.core.atomic import temp_name
        from casdb.core.ids import hash_bytes
        from casdb.model.objects import Header
    except ImportError:  # a revision before the layer packages
        from casdb.atomic import temp_name
        from casdb.ids import hash_bytes
        from casdb.objects import Header

    repo = Repository(repo_path)
    store = repo.store
    rng = random.Random(seed)
    t0 = time.perf_counter()
    out = {"objects": 0, "blobs": 0, "object_bytes": 0, "blob_bytes": 0}
    for i in range(n_obj):
        store.put(Header({"name": f"gc-bench-{seed}-{i}",
                          "description": os.urandom(rng.randint(16, 640)).hex()}))
        if (i + 1) % BATCH == 0:
            out["objects"] += store.publish()
            print(f"  objects {i + 1}/{n_obj}  {time.perf_counter() - t0:.0f} s", flush=True)
    out["objects"] += store.publish()
    for i in range(n_blob):
        data = os.urandom(rng.randint(1000, 4000))
        store.put_blob_bytes(hash_bytes(data), data)
        out["blob_bytes"] += len(data)
        if (i + 1) % BATCH == 0:
            out["blobs"] += store.publish()
            print(f"  blobs {i + 1}/{n_blob}  {time.perf_counter() - t0:.0f} s", flush=True)
    out["blobs"] += store.publish()
    tmp = repo.path / "tmp"
    for _ in range(n_tmp):
        with open(temp_name(tmp), "xb") as f:
            f.write(os.urandom(rng.randint(1000, 100_000)))
    out["seconds"] = time.perf_counter() - t0
    print("FILL " + json.dumps(out), flush=True)


def child_count(repo_path: str, gone_commit: str) -> None:
    """What the repository holds: reachable (gc's own mark), gamma's, and the rest."""
    from casdb import Repository

    try:
        from casdb.model.graph import references

        def children(obj, blobs):
            refs = references(obj)
            blobs.update(refs.blobs)
            return refs.objects
    except ImportError:  # a revision before casdb.model.graph
        try:
            from casdb.maintenance.fsck import children
        except ImportError:  # a revision before casdb.maintenance
            from casdb.fsck import children
    try:
        from casdb.maintenance.gc import mark
    except ImportError:
        from casdb.gc import mark

    repo = Repository(repo_path)
    t0 = time.perf_counter()
    objects, blobs, problems = mark(repo)
    mark_s = time.perf_counter() - t0
    assert not problems, problems
    store = repo.store
    seen, gblobs, stack = set(), {}, [(gone_commit, "commit")] if gone_commit else []
    while stack:
        oid, kind = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        stack.extend(children(store.get(oid, kind), gblobs))
    gone_objects = {bytes.fromhex(o) for o in seen} - objects
    gone_blobs = {bytes.fromhex(b) for b in gblobs} - blobs
    count = {}
    for top in ("objects", "blobs"):
        n = size = 0
        for fan in os.scandir(repo.path / top):
            for entry in os.scandir(fan.path):
                n += 1
                size += entry.stat(follow_symlinks=False).st_size
        count[top] = {"files": n, "bytes": size}
    tmp = [e for e in os.scandir(repo.path / "tmp") if e.is_file()]
    print("COUNT " + json.dumps({
        "reachable_objects": len(objects), "reachable_blobs": len(blobs),
        "gone_objects": len(gone_objects), "gone_blobs": len(gone_blobs),
        "objects": count["objects"], "blobs": count["blobs"], "tmp_files": len(tmp),
        "mark_seconds_in_process": mark_s}), flush=True)


# -- helpers -------------------------------------------------------------------------------------


GC_RE = re.compile(r"(would delete|deleted) (\d+) objects, (\d+) blobs and (\d+) temporary files "
                   r"\((.*?)\); kept (\d+) reachable objects and (\d+) blobs, and (\d+) unreachable")
FSCK_RE = re.compile(r"checked (\d+) objects and (\d+) blobs.*?\nunreachable: (\d+) objects, "
                     r"(\d+) blobs, (\d+) temporary", re.S)
HELD_RE = re.compile(r"^(\d+) blobs? held by:", re.M)
PURGED_RE = re.compile(r"purged: (\d+) blobs deleted from the repository, (\d+) cache folders "
                       r"and (\d+) converted")


def step(bc, args, cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """One timed child: settle (sync; drop caches with --cold), run, keep its output."""
    bc.settle(args.cold)
    load = os.getloadavg()[0]
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        r = bc.run_timed(cmd, log)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    r["load"] = load
    r["output"] = log.read_text(errors="replace").strip()
    return r


def count_files(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def du(path: Path) -> int:
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return int(out.split()[0])


def fmt_run(label: str, r: dict) -> str:
    return (f"  {label:44} {r['seconds']:8.2f} s  peak RSS {r['peak_rss'] / 1e6:7.0f} MB  "
            f"cpu {r['cpu']:6.1f} s  load {r['load']:.1f}")


# -- gc ------------------------------------------------------------------------------------------


def build_gc_repo(bc, args, casdb: list[str], python: str) -> dict:
    """Build (once) the repository of ``--total`` stored files; return its description."""
    top = args.data / f"gc-repo-f{args.files}-g{args.gone_files}-t{args.total}"
    repo = top / "repo"
    marker = top / "complete.json"
    if marker.exists() and not args.rebuild:
        info = json.loads(marker.read_text())
        info["cached"] = True
        return info
    bc.rm_rf(top)
    top.mkdir(parents=True)
    logs = top / "logs"
    logs.mkdir()
    t0 = time.monotonic()
    info: dict = {"repo": str(repo), "built_with": None, "steps": {}}
    # Sources: three sets of small WAVs with different bytes (each is random PCM).
    srcs = {}
    for name, n in (("alpha", args.files), ("beta", args.files), ("gamma", args.gone_files)):
        srcs[name] = bc.small_set(args.data / "gc-sources" / name, n, 0.2, 16000)
    subprocess.run([*casdb, "init", str(repo)], check=True, stdout=subprocess.DEVNULL)

    def commit(src: Path, dataset: str, version: str) -> None:
        log = logs / f"commit-{dataset}-{version}.log"
        r = bc.run_timed([*casdb, "--repo", str(repo), "commit", str(src), "--dataset", dataset,
                          "--version", version], log)
        summary = log.read_text().strip().splitlines()[-1]
        info["steps"][f"commit {dataset} {version}"] = {"seconds": r["seconds"],
                                                        "summary": summary}
        print(f"  commit {dataset} {version}: {r['seconds']:.1f} s  {summary}", flush=True)

    # alpha 1.0.0, then 2.0.0 on a hard-link copy: 1 % re-recorded, 1 % added, tables rewritten.
    from casdb.testing import synth

    work_src = top / "alpha-src"
    bc.link_tree(srcs["alpha"], work_src)
    commit(work_src, "alpha", "1.0.0")
    n = args.files
    k = max(1, n // 100)
    frames = int(0.2 * 16000)
    head = bc.wav_header(frames, 16000)
    changed = []
    for j in range(k):
        for i in (j * (n // k), n + j):  # one re-recorded (same name, new bytes), one new
            path = work_src / synth.file_name(i)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()  # never write through the hard link into the cached source
            path.write_bytes(head + os.urandom(frames * 2))
            changed.append(path)
    for name in ("db.emotion.csv", "db.segments.csv", "db.speaker.csv"):
        (work_src / name).unlink()
    synth.write_tables(work_src, range(n + k))
    changed += [work_src / name for name in ("db.emotion.csv", "db.segments.csv", "db.speaker.csv")]
    bc.set_old_mtime(changed)
    commit(work_src, "alpha", "2.0.0")
    commit(srcs["beta"], "beta", "1.0.0")
    commit(srcs["gamma"], "gamma", "1.0.0")
    gone = (repo / "refs" / "gamma" / "tags" / "1.0.0").read_text().strip()
    bc.rm_rf(repo / "refs" / "gamma")
    bc.rm_rf(work_src)
    info["gone_commit"] = gone

    # Fill up to --total with unreachable objects and blobs, written through the store.
    existing = sum(count_files(repo / t) for t in ("objects", "blobs"))
    need = max(0, args.total - existing)
    n_obj, n_blob = need // 2, need - need // 2
    print(f"  {existing} files stored by the commits; writing {n_obj} objects and {n_blob} blobs "
          f"with no ref ...", flush=True)
    log = logs / "fill.log"
    r = bc.run_timed([python, "-P", __file__, "--child-fill", str(repo), str(n_obj), str(n_blob),
                      str(STALE_TMP), "7"], log)
    fill = json.loads(log.read_text().split("FILL ", 1)[1].splitlines()[0])
    fill["wall"] = r["seconds"]
    info["fill"] = fill
    print(f"  filled in {r['seconds']:.0f} s", flush=True)

    # Everything 2 hours old: the grace period (1 h) spares nothing.
    when = time.time() - HOURS_AGO_2
    t1 = time.monotonic()
    for top_name in ("objects", "blobs", "tmp"):
        for dirpath, _dirs, names in os.walk(repo / top_name):
            for name in names:
                os.utime(os.path.join(dirpath, name), (when, when))
    info["steps"]["set mtime"] = {"seconds": time.monotonic() - t1}

    log = logs / "count.log"
    bc.run_timed([python, "-P", __file__, "--child-count", str(repo), gone], log)
    info["count"] = json.loads(log.read_text().split("COUNT ", 1)[1].splitlines()[0])
    info["disk_bytes"] = du(repo)
    info["build_seconds"] = time.monotonic() - t0
    info["built_at"] = time.time()
    marker.write_text(json.dumps(info, indent=2))
    info["cached"] = False
    return info


def describe(info: dict) -> dict:
    c = info["count"]
    ro, rb = c["reachable_objects"], c["reachable_blobs"]
    go, gb = c["gone_objects"], c["gone_blobs"]
    so = c["objects"]["files"] - ro - go
    sb = c["blobs"]["files"] - rb - gb
    return {
        "total": c["objects"]["files"] + c["blobs"]["files"],
        "objects": c["objects"]["files"], "blobs": c["blobs"]["files"],
        "reachable_objects": ro, "reachable_blobs": rb,
        "gone_objects": go, "gone_blobs": gb,
        "store_objects": so, "store_blobs": sb,
        "unreachable_objects": go + so, "unreachable_blobs": gb + sb,
        "tmp_files": c["tmp_files"],
        "object_bytes": c["objects"]["bytes"], "blob_bytes": c["blobs"]["bytes"],
        "disk_bytes": info["disk_bytes"],
    }


def print_holdings(d: dict) -> None:
    print(f"  {d['total']:,} files in objects/ and blobs/ ({d['objects']:,} objects, "
          f"{d['blobs']:,} blobs; {d['object_bytes'] / 1e6:,.0f} MB + {d['blob_bytes'] / 1e6:,.0f} MB, "
          f"{d['disk_bytes'] / 1e9:.2f} GB on disk), {d['tmp_files']} files in tmp/")
    print(f"    reachable:   {d['reachable_objects']:>9,} objects  {d['reachable_blobs']:>9,} blobs  "
          "(alpha 1.0.0 + 2.0.0, beta 1.0.0)")
    print(f"    unreachable: {d['gone_objects']:>9,} objects  {d['gone_blobs']:>9,} blobs  "
          "(gamma 1.0.0, refs deleted)")
    print(f"    unreachable: {d['store_objects']:>9,} objects  {d['store_blobs']:>9,} blobs  "
          "(written through the store, no ref)")


def gc_cmd(casdb: list[str], python: str, repo: Path, phased: bool, *extra: str) -> list[str]:
    base = [python, "-P", "-c", PHASED_CLI] if phased else casdb
    return [*base, "--repo", str(repo), *extra]


def bench_gc(bc, args, casdb: list[str], python: str, work: Path, logs: Path) -> dict:
    print("\n== gc: building / reusing the repository ==", flush=True)
    info = build_gc_repo(bc, args, casdb, python)
    holdings = describe(info)
    cached = Path(info["repo"])
    print(f"  {'reused' if info['cached'] else 'built'} {cached} "
          f"(build took {info['build_seconds']:.0f} s)")
    print_holdings(holdings)
    res: dict = {"holdings": holdings, "build": {k: v for k, v in info.items() if k != "cached"},
                 "runs": []}
    runs = 1 if args.in_place else args.gc_runs
    for run in range(runs):
        phased = run > 0 or runs == 1 and args.phased_only
        if args.in_place:
            # The cached repository itself, as the build wrote it (files linked from tmp/);
            # it is gone after this run, so the next run builds a new one.
            repo = cached
            (cached.parent / "complete.json").unlink()
            copy_s = sync_s = 0.0
            how = "in place, on the cached repository"
        else:
            repo = work / f"gc-repo-{run}"
            bc.rm_rf(repo)
            bc.sync()
            t0 = time.perf_counter()
            subprocess.run(["cp", "-a", str(cached), str(repo)], check=True)
            copy_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            bc.sync()
            sync_s = time.perf_counter() - t0
            how = f"copy {copy_s:.0f} s + sync {sync_s:.0f} s"
        out: dict = {"copy_seconds": copy_s, "copy_sync_seconds": sync_s, "phased": phased,
                     "in_place": args.in_place}
        print(f"\n== gc run {run + 1}: {'casdb.cli.main with phases timed' if phased else '.venv/bin/casdb'} "
              f"({how}) ==", flush=True)
        if run == 0:
            out["dry_run"] = step(bc, args, gc_cmd(casdb, python, repo, False, "gc", "--dry-run"),
                                  logs / f"gc{run}-dry.log")
            print(fmt_run("gc --dry-run (.venv/bin/casdb)", out["dry_run"]), flush=True)
            print(f"    {out['dry_run']['output'].splitlines()[-1]}")
            pf = logs / f"gc{run}-dry-phases.json"
            out["dry_run_phased"] = step(bc, args, gc_cmd(casdb, python, repo, True, "gc", "--dry-run"),
                                         logs / f"gc{run}-dry-phased.log", {"BENCH_PHASES": str(pf)})
            out["dry_run_phased"]["phases"] = phases(json.loads(pf.read_text()))
            print(fmt_run("gc --dry-run (phases timed)", out["dry_run_phased"]), flush=True)
            print_phases(out["dry_run_phased"]["phases"])
        pf = logs / f"gc{run}-phases.json"
        out["gc"] = step(bc, args, gc_cmd(casdb, python, repo, phased, "gc"), logs / f"gc{run}.log",
                         {"BENCH_PHASES": str(pf)} if phased else None)
        m = GC_RE.search(out["gc"]["output"])
        assert m, out["gc"]["output"]
        out["gc"]["deleted"] = {"objects": int(m[2]), "blobs": int(m[3]), "temporary": int(m[4]),
                                "bytes": m[5], "kept_objects": int(m[6]), "kept_blobs": int(m[7]),
                                "kept_young": int(m[8])}
        print(fmt_run(f"gc ({'phases timed' if phased else '.venv/bin/casdb'})", out["gc"]), flush=True)
        print(f"    {out['gc']['output'].splitlines()[-1]}")
        if phased:
            out["gc"]["phases"] = phases(json.loads(pf.read_text()))
            print_phases(out["gc"]["phases"])
        d = out["gc"]["deleted"]
        out["gc"]["as_expected"] = (
            d["objects"] == holdings["unreachable_objects"]
            and d["blobs"] == holdings["unreachable_blobs"]
            and d["temporary"] == holdings["tmp_files"]
            and d["kept_objects"] == holdings["reachable_objects"]
            and d["kept_blobs"] == holdings["reachable_blobs"] and d["kept_young"] == 0)
        print(f"    deleted exactly the unreachable files: {out['gc']['as_expected']}")
        if run == 0:
            out["fsck"] = step(bc, args, [*casdb, "--repo", str(repo), "fsck", "--no-blobs"],
                               logs / f"fsck{run}.log")
            m = FSCK_RE.search(out["fsck"]["output"])
            out["fsck"]["ok"] = bool(
                m and out["fsck"]["output"].splitlines()[-1] == "ok"
                and int(m[1]) == holdings["reachable_objects"]
                and int(m[2]) == holdings["reachable_blobs"]
                and (int(m[3]), int(m[4]), int(m[5])) == (0, 0, 0))
            print(fmt_run("fsck --no-blobs after gc", out["fsck"]), flush=True)
            print("    " + " | ".join(out["fsck"]["output"].splitlines()[-3:])
                  + f"  -> intact, nothing unreachable left: {out['fsck']['ok']}")
            out["files_after"] = sum(count_files(repo / t) for t in ("objects", "blobs"))
            out["gc_again"] = step(bc, args, gc_cmd(casdb, python, repo, False, "gc"),
                                   logs / f"gc{run}-again.log")
            print(fmt_run("gc again (nothing to delete)", out["gc_again"]), flush=True)
            print(f"    {out['gc_again']['output'].splitlines()[-1]}")
        res["runs"].append(out)
        if args.in_place:
            if not args.keep:
                bc.rm_rf(cached.parent)
        elif not args.keep:
            bc.rm_rf(repo)
    return res


def phases(ph: dict) -> dict:
    listed = sum(f["seconds"] for f in ph["files"].values())
    sweep = ph["collect"] - ph["mark"] - listed
    return {"start_to_collect": ph["start_to_collect"], "mark": ph["mark"],
            "list": {k: v for k, v in ph["files"].items()}, "list_total": listed,
            "sweep": sweep, "collect": ph["collect"],
            "rss_after_mark": ph["rss_after_mark"].get("VmRSS"),
            "rss_after_list_objects": ph.get("rss_after_list_objects", {}).get("VmRSS"),
            "rss_after_list_blobs": ph.get("rss_after_list_blobs", {}).get("VmRSS"),
            "hwm_end": ph["rss_end"].get("VmHWM"), "probe": ph.get("probe")}


def print_phases(p: dict) -> None:
    lists = ", ".join(f"{k} {v['n']:,} in {v['seconds']:.2f} s" for k, v in p["list"].items())
    print(f"    phases: start-up + imports + lock {p['start_to_collect']:.2f} s | mark "
          f"{p['mark']:.2f} s | list {p['list_total']:.2f} s ({lists}) | sweep {p['sweep']:.2f} s "
          f"| collect {p['collect']:.2f} s")
    if p.get("probe"):
        print(f"    sweep: {p['probe']['folders']} fan-out folders on {p['probe']['threads']} "
              f"thread(s), chosen in {p['probe']['seconds']:.2f} s")
    print(f"    RSS: after mark {p['rss_after_mark'] / 1e6:.0f} MB, after listing objects "
          f"{(p['rss_after_list_objects'] or 0) / 1e6:.0f} MB, blobs "
          f"{(p['rss_after_list_blobs'] or 0) / 1e6:.0f} MB; high-water {p['hwm_end'] / 1e6:.0f} MB")


# -- purge ---------------------------------------------------------------------------------------


def bench_purge(bc, args, casdb: list[str], work: Path, logs: Path) -> dict:
    from casdb.testing import synth

    print("\n== purge ==", flush=True)
    n, nv, k = args.purge_files, args.versions, args.changes
    top = args.data / f"purge-src-n{n}"
    base = top / "base"
    if not (top / "complete.json").exists():
        bc.rm_rf(top)
        t0 = time.monotonic()
        synth.make_dataset(base, files=n, duration=0.2, sampling_rate=16000)
        bc.set_old_mtime(bc.all_files(base))
        (top / "complete.json").write_text(json.dumps({"seconds": time.monotonic() - t0}))
    src = work / "purge-src"
    bc.link_tree(base, src)
    repo = work / "repo-purge"
    bc.rm_rf(repo)
    subprocess.run([*casdb, "init", str(repo)], check=True, stdout=subprocess.DEVNULL)
    tables = ("db.emotion.csv", "db.segments.csv", "db.speaker.csv")

    # contents[path] = distinct seeds the path held in some version; present[v] = paths of v
    contents: dict[str, set[int]] = {synth.file_name(i): {i} for i in range(n)}
    present: dict[int, set[str]] = {}
    rerecorded: list[str] = []
    added: list[str] = []
    commits = []
    for v in range(1, nv + 1):
        changed = []
        if v > 1:
            for j in range(k):
                i = (v * 37 + j * (n // k)) % n  # re-record: same name, new bytes
                seed = 5_000_000 + v * 1000 + j
                path = synth.file_name(i)
                (src / path).unlink()
                synth.write_audio(src / path, seed, 0.2, 16000, 1)
                contents[path].add(seed)
                rerecorded.append(path)
                changed.append(src / path)
            for j in range(k):
                i = n + (v - 2) * k + j  # new file
                path = synth.file_name(i)
                synth.write_audio(src / path, i, 0.2, 16000, 1)
                contents[path] = {i}
                added.append(path)
                changed.append(src / path)
            for name in tables:
                (src / name).unlink()
            synth.write_tables(src, range(n + (v - 1) * k), seed=v)
            changed += [src / name for name in tables]
            bc.set_old_mtime(changed)
        present[v] = set(contents)
        version = f"{v}.0.0"
        log = logs / f"purge-commit-{version}.log"
        r = bc.run_timed([*casdb, "--repo", str(repo), "commit", str(src), "--dataset", "bench",
                          "--version", version], log)
        commits.append(r["seconds"])
    print(f"  committed {nv} versions of {n}..{n + (nv - 1) * k} files "
          f"({k} re-recorded + {k} added per version): {sum(commits):.1f} s in all, "
          f"{min(commits):.2f} to {max(commits):.2f} s each", flush=True)

    # The paths: 10 % re-recorded, 5 % added later, the rest never changed (evenly spread).
    want = args.purge
    uniq_re = list(dict.fromkeys(rerecorded))
    chosen = uniq_re[: max(1, want // 10)] + added[:: max(1, len(added) // max(1, want // 20))][: max(1, want // 20)]
    never = [synth.file_name(i) for i in range(n) if len(contents[synth.file_name(i)]) == 1]
    rest = want - len(chosen)
    chosen += never[:: max(1, len(never) // rest)][:rest]
    assert len(chosen) == len(set(chosen)) == want, (len(chosen), want)
    expect_blobs = sum(len(contents[p]) for p in chosen)
    expect_holders = sum(len(present[v] & set(chosen)) for v in present)
    last = f"{nv}.0.0"

    cache = work / "purge-cache"
    bc.rm_rf(cache)
    res: dict = {"files": n, "versions": nv, "changes_per_version": k, "paths": want,
                 "paths_rerecorded": sum(1 for p in chosen if len(contents[p]) > 1),
                 "paths_added_later": sum(1 for p in chosen if p in added),
                 "expected_blobs": expect_blobs, "expected_holders": expect_holders,
                 "commit_seconds": commits}
    for v in ("1.0.0", last):
        r = step(bc, args, [*casdb, "--repo", str(repo), "checkout", f"bench@{v}", "--cache",
                            str(cache)], logs / f"purge-checkout-{v}.log")
        res[f"checkout_{v}"] = r
        print(fmt_run(f"checkout bench@{v} (cache, before)", r), flush=True)
    blobs_before = count_files(repo / "blobs")
    cmd = [*casdb, "--repo", str(repo), "purge", "bench", *chosen, "--reason", "bench",
           "--cache", str(cache)]
    res["dry_run"] = step(bc, args, [*cmd, "--dry-run"], logs / "purge-dry.log")
    out = res["dry_run"]["output"]
    m = HELD_RE.search(out)
    res["dry_run"]["blobs"] = int(m[1]) if m else None
    res["dry_run"]["holders"] = sum(1 for line in out.splitlines() if line.startswith("  bench "))
    res["dry_run"]["unchanged"] = count_files(repo / "blobs") == blobs_before
    print(fmt_run(f"purge --dry-run ({want} paths)", res["dry_run"]), flush=True)
    print(f"    {res['dry_run']['blobs']} blobs held by {res['dry_run']['holders']} "
          f"(dataset, version, path) entries; expected {expect_blobs} and {expect_holders}; "
          f"nothing deleted: {res['dry_run']['unchanged']}")

    res["purge"] = step(bc, args, cmd, logs / "purge.log")
    out = res["purge"]["output"]
    m, mp = HELD_RE.search(out), PURGED_RE.search(out)
    res["purge"].update(blobs=int(m[1]) if m else None,
                        holders=sum(1 for line in out.splitlines() if line.startswith("  bench ")),
                        deleted_blobs=int(mp[1]) if mp else None,
                        cache_folders=int(mp[2]) if mp else None,
                        derived=int(mp[3]) if mp else None)
    res["blobs_before"] = blobs_before
    res["blobs_after"] = count_files(repo / "blobs")
    print(fmt_run(f"purge ({want} paths, cache of 2 versions)", res["purge"]), flush=True)
    print(f"    {out.splitlines()[-1]}")
    print(f"    blobs/ {blobs_before} -> {res['blobs_after']} files "
          f"({blobs_before - res['blobs_after']} gone; expected {expect_blobs}); "
          f"cache folders left: {sorted(p.name for p in cache.iterdir() if not p.name.startswith('.'))}")

    # The tombstones: one per blob; each lists the paths and holders it records.
    stones = json.loads((repo / "purged").read_text())
    res["tombstones"] = {
        "count": len(stones), "file_bytes": (repo / "purged").stat().st_size,
        "holders": [min(len(t["holders"]) for t in stones), max(len(t["holders"]) for t in stones)],
        "holders_sum": sum(len(t["holders"]) for t in stones),
        "paths": [min(len(t["paths"]) for t in stones), max(len(t["paths"]) for t in stones)]}
    ts = res["tombstones"]
    print(f"    tombstones: {ts['count']} in {ts['file_bytes'] / 1e6:.2f} MB (<repo>/purged); "
          f"holders per tombstone {ts['holders'][0]}..{ts['holders'][1]}, {ts['holders_sum']} in "
          f"all (the blobs' own holders: {expect_holders}); paths per tombstone "
          f"{ts['paths'][0]}..{ts['paths'][1]}")

    res["fsck"] = step(bc, args, [*casdb, "--repo", str(repo), "fsck"], logs / "purge-fsck.log")
    res["fsck"]["ok"] = res["fsck"]["output"].splitlines()[-1] == "ok"
    print(fmt_run("fsck (blobs re-hashed) after purge", res["fsck"]), flush=True)
    print("    " + " | ".join(res["fsck"]["output"].splitlines()[-3:]))

    r = step(bc, args, [*casdb, "--repo", str(repo), "checkout", f"bench@{last}", "--cache",
                        str(cache)], logs / "purge-checkout-after.log")
    folder = Path(r["output"].splitlines()[-1])
    wavs = {p.relative_to(folder).as_posix() for p in folder.rglob("*.wav")}
    r["files"] = len(wavs)
    r["expected_files"] = len(present[nv] - set(chosen))
    r["lacks_exactly_purged"] = wavs == present[nv] - set(chosen)
    res["checkout_after"] = r
    print(fmt_run(f"checkout bench@{last} after purge", r), flush=True)
    print(f"    {r['files']} WAV files (expected {r['expected_files']}); lacks exactly the purged "
          f"paths: {r['lacks_exactly_purged']}")
    res["ok"] = (res["purge"]["blobs"] == expect_blobs == res["purge"]["deleted_blobs"]
                 == blobs_before - res["blobs_after"] and res["purge"]["holders"] == expect_holders
                 and res["purge"]["cache_folders"] == 2 and res["fsck"]["ok"]
                 and r["lacks_exactly_purged"] and res["dry_run"]["unchanged"])
    if not args.keep:
        bc.rm_rf(repo)
        bc.rm_rf(src)
        bc.rm_rf(cache)
    return res


# -- report --------------------------------------------------------------------------------------


def report(gc: dict | None, purge: dict | None) -> list[dict]:
    targets = []
    if gc and gc["runs"]:
        runs = [r["gc"] for r in gc["runs"]]
        total = gc["holdings"]["total"]
        slow = max(r["seconds"] for r in runs)
        big = max(r["peak_rss"] for r in runs)
        walls = ", ".join(f"{r['seconds']:.1f} s" for r in runs)
        rss = ", ".join(f"{r['peak_rss'] / 1e6:.0f} MB" for r in runs)
        targets.append({"name": f"gc of {total:,} objects and blobs under 60 s",
                        "detail": f"{walls} (child wall, start-up included)", "pass": slow < 60})
        targets.append({"name": f"gc of {total:,} objects and blobs under 1 GB of memory",
                        "detail": f"peak RSS {rss}", "pass": big < GB})
        ok = all(r["as_expected"] for r in runs) and gc["runs"][0]["fsck"]["ok"]
        targets.append({"name": "check: gc deleted exactly the unreachable files; fsck ok after",
                        "detail": "", "pass": ok})
    if purge:
        targets.append({"name": "check: purge deleted the expected blobs and cache folders; "
                                "fsck ok; checkout lacks exactly the purged paths",
                        "detail": "", "pass": purge["ok"]})
    print("\n== targets ==")
    for t in targets:
        print(f"  [{'PASS' if t['pass'] else 'FAIL'}] {t['name']}" + (f": {t['detail']}" if t["detail"] else ""))
    return targets


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-fill":
        a = sys.argv[2:]
        child_fill(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-count":
        child_count(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/casdb-bench"))
    ap.add_argument("--files", type=int, default=100_000,
                    help="gc: files of each reachable dataset, alpha and beta (default %(default)s)")
    ap.add_argument("--gone-files", type=int, default=50_000,
                    help="gc: files of gamma, whose refs are deleted (default %(default)s)")
    ap.add_argument("--total", type=int, default=1_000_000,
                    help="gc: files in objects/ + blobs/ (default %(default)s)")
    ap.add_argument("--gc-runs", type=int, default=2,
                    help="gc runs, each on a fresh copy; run 1 through .venv/bin/casdb, the "
                    "others with phases timed (default %(default)s)")
    ap.add_argument("--phased-only", action="store_true",
                    help="with --gc-runs 1: time the phases of that run too")
    ap.add_argument("--rebuild", action="store_true", help="gc: rebuild the cached repository")
    ap.add_argument("--in-place", action="store_true",
                    help="gc: one run on the cached repository itself instead of a copy (it is "
                    "deleted afterwards, and built again by the next run)")
    ap.add_argument("--purge-files", type=int, default=2000, help="purge: files of 1.0.0")
    ap.add_argument("--versions", type=int, default=20, help="purge: versions")
    ap.add_argument("--changes", type=int, default=5,
                    help="purge: files re-recorded and files added by each version")
    ap.add_argument("--purge", type=int, default=100, help="purge: paths purged")
    ap.add_argument("--skip-gc", action="store_true")
    ap.add_argument("--skip-purge", action="store_true")
    ap.add_argument("--casdb", default=str(Path(sys.executable).parent / "casdb"))
    ap.add_argument("--rev", help="benchmark casdb as of this git revision")
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each timed step")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    bc = bench_commit()
    args.data.mkdir(parents=True, exist_ok=True)
    import _common as common  # on sys.path since bench_commit()

    casdb, python, rev = common.casdb_command(args, bc.export_revision)
    machine = bc.machine_info(args.data, rev)
    machine["casdb_from"] = subprocess.run(
        [python, "-P", "-c", "import casdb, os; print(os.path.dirname(casdb.__file__))"],
        capture_output=True, text=True, check=True, cwd=args.data).stdout.strip()
    print(f"casdb {machine['casdb_rev']} ({machine['casdb_from']}) on {machine['cpu']}, "
          f"{machine['cores']} cores, {machine['ram_gib']} GiB, python {machine['python']}, "
          f"{machine['fs']}", flush=True)
    work = args.data / f"gc-{os.getpid()}"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    digest = bc.sources_digest()
    started = time.time()

    gc = None if args.skip_gc else bench_gc(bc, args, casdb, python, work, logs)
    purge = None if args.skip_purge else bench_purge(bc, args, casdb, work, logs)

    print("\n== machine ==")
    for key, value in machine.items():
        print(f"  {key:13} {value}")
    print(f"  {'page cache':13} {'dropped before each timed step' if args.cold else 'warm'}")
    print(f"  {'load avg':13} {os.getloadavg()[0]:.2f} now (1-min; per step in the JSON)")
    targets = report(gc, purge)
    if not args.rev and bc.sources_digest() != digest:
        print("\nWARNING: casdb/ sources changed during the run; the figures mix two versions.")
    out = {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
           "gc": gc, "purge": purge, "targets": targets, "total_seconds": time.time() - started}
    path = args.json or args.data / f"gc-results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nresults: {path}")
    if not args.keep:
        bc.rm_rf(work)


if __name__ == "__main__":
    main()
