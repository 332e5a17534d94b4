"""Helpers shared by the load benchmarks (bench_checkout.py, bench_flavour.py, bench_remote.py).

Each script runs as ``python benchmarks/bench_x.py`` and re-runs itself as a child with
``python -P bench_x.py --child SPEC`` (``-P``: the script's folder is not put on ``sys.path``, and
``PYTHONPATH`` may point at a snapshot of casdb). So every script puts its own folder on
``sys.path`` before ``import _common``; this folder holds no ``casdb/`` that could shadow the one
under test.

Parent side: the options every script takes, the casdb under test (installed, a git revision or a
snapshot of the working tree), the machine line, a timed child run, the best of repeated runs, a
step's one-line summary and the report's frame (machine, targets). Child side: one load (casdb or
audb) and the reading of every table, as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable

PRELOAD = ("pandas", "pyarrow")  # imported before the timed call in every child
CLI_CODE = ("import sys; sys.argv[0] = 'casdb'; from casdb.cli import main; sys.exit(main())")
"""``python -P -c CLI_CODE``: the casdb CLI of the casdb on ``PYTHONPATH`` (a revision, a snapshot)."""


# -- child ---------------------------------------------------------------------------------------


def preload() -> None:
    """Import what both tools need before the timed call, so it is not counted in it."""
    for mod in PRELOAD:
        __import__(mod)


def load_and_read(spec: dict, load: Callable, audb_backend: str) -> dict:
    """``load`` (``casdb.load`` or ``audb.load``, as ``spec["tool"]`` says) of one version into
    ``spec["cache"]``, then every table read (misc tables too, as audb's database holds them).

    Returns load_s, tables_s, the CPU of the load call (load_cpu_self, load_cpu_workers), rows per
    table, files listed and present, root and one example path.
    """
    t1 = time.perf_counter()
    c0 = os.times()
    if spec["tool"] == "casdb":
        ds = load(spec["name"], spec["version"], repo=spec["repo"], cache_root=spec["cache"],
                  full_path=True, **spec["kwargs"])
        t2 = time.perf_counter()
        c1 = os.times()
        rows = {t: len(ds[t].get()) for t in [*ds.tables, *getattr(ds, "misc_tables", [])]}
        t3 = time.perf_counter()
        files, root = list(ds.files), str(ds.root)
    else:
        import audb

        audb.config.REPOSITORIES = [audb.Repository(spec["repo_name"], spec["host"], audb_backend)]
        db = load(spec["name"], version=spec["version"], cache_root=spec["cache"], verbose=False,
                  full_path=True, **spec["kwargs"])
        t2 = time.perf_counter()
        c1 = os.times()
        rows = {t: len(db[t].get()) for t in list(db)}
        t3 = time.perf_counter()
        files, root = list(db.files), db.root
    return {"load_s": t2 - t1, "tables_s": t3 - t2,
            "load_cpu_self": (c1.user - c0.user) + (c1.system - c0.system),
            "load_cpu_workers": (c1.children_user - c0.children_user)
            + (c1.children_system - c0.children_system),
            "rows": rows, "files": len(files), "present": sum(os.path.exists(f) for f in files),
            "root": root, "example": files[0] if files else None}


def run_main(child: Callable[[str], None], main: Callable[[], None]) -> None:
    """``bench_x.py --child SPEC`` runs ``child(SPEC)``, anything else ``main()``."""
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()


# -- parent: set-up ------------------------------------------------------------------------------


def parser(doc: str, data_holds: str, files_help: str = "files in 1.0.0"):
    """An argument parser described by the first paragraph of ``doc``, with the options every
    load benchmark takes."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)

    ap.add_argument("--data", type=Path, default=Path("/tmp/casdb-bench"),
                    help=f"data dir: {data_holds} (default %(default)s)")
    ap.add_argument("--files", type=int, default=2000, help=f"{files_help} (default %(default)s)")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per file")
    ap.add_argument("--sampling-rate", type=int, default=48000)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--rev", help="benchmark casdb as of this git revision (exported to the data "
                    "dir) instead of the working tree")
    ap.add_argument("--snapshot", action="store_true", help="benchmark a copy of casdb/ as it is "
                    "now in the working tree (uncommitted changes included), taken at the start")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", type=Path, help="also write the results here")
    return ap


def add_load_args(ap, repeat_help: str) -> None:
    """The options of the benchmarks that compare casdb's load with audb's on local folders."""
    import sys
    from pathlib import Path

    ap.add_argument("--casdb", default=str(Path(sys.executable).parent / "casdb"),
                    help="casdb executable for init/commit/checkout (default: beside this python)")
    ap.add_argument("--repeat", type=int, default=1, help=repeat_help)
    ap.add_argument("--skip-audb", action="store_true", help="casdb steps only")
    ap.add_argument("--skip-casdb", action="store_true", help="audb steps only")
    ap.add_argument("--republish", action="store_true", help="publish the audb repository anew")


def casdb_command(args, export_revision: Callable) -> tuple[list[str], str, str | None]:
    """For bench_commit.py and bench_gc.py: (the casdb command, the python it runs on, the
    revision or None). ``--casdb`` (its python read from its ``#!`` line), or with ``--rev`` the
    CLI of that revision, exported by ``export_revision``, which the children import (their
    ``PYTHONPATH`` comes before the editable install)."""
    from pathlib import Path

    casdb = [args.casdb]
    python = Path(args.casdb).read_text(errors="replace").splitlines()[0][2:].strip() \
        if Path(args.casdb).is_file() else sys.executable
    rev = None
    if args.rev:
        rev, snapshot = export_revision(args.rev, args.data)
        os.environ["PYTHONPATH"] = str(snapshot)
        # -P: do not put the current folder first on sys.path (it may hold another casdb/).
        casdb = [python, "-P", "-c", CLI_CODE]
    return casdb, python, rev


def casdb_under_test(bc, args) -> str | None:
    """Point the children at ``--rev`` or ``--snapshot`` (``PYTHONPATH``); the revision name, or
    None for the installed casdb."""
    if not (args.rev or args.snapshot):
        return None
    if args.rev:
        rev, snapshot = bc.export_revision(args.rev, args.data)
    else:
        rev, snapshot = snapshot_worktree(bc, args.data)
    os.environ["PYTHONPATH"] = str(snapshot)
    return rev


def snapshot_worktree(bc, data) -> tuple[str, object]:
    """Copy casdb/ of the working tree to ``data/casdb-wt-<digest>`` (once); (name, folder)."""
    import shutil

    rev = bc.casdb_revision()
    folder = data / f"casdb-wt-{bc.sources_digest()}"
    if not (folder / "casdb" / "__init__.py").exists():
        tmp = data / f".casdb-wt-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(bc.PROJECT / "casdb", tmp / "casdb",
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.replace(tmp, folder)
    return f"{rev} (snapshot {folder.name})", folder


def start(bc, args, kind: str, packages: Iterable[str]) -> tuple[str | None, object, object, dict]:
    """Set up a run: the casdb under test, a work folder ``<data>/<kind>-<pid>`` with ``logs``,
    caches kept in it; prints the machine line. (revision, work, logs, machine)."""
    args.data.mkdir(parents=True, exist_ok=True)
    rev = casdb_under_test(bc, args)
    work = args.data / f"{kind}-{os.getpid()}"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    isolate_caches(work)
    machine = describe_machine(bc, args, rev, sys.executable, packages)
    print(f"casdb {machine['casdb_rev']} ({machine['casdb_from']}); {machine['packages']}; "
          f"{machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB, python "
          f"{machine['python']}, {machine['fs']}; load avg {load_avgs()}", flush=True)
    return rev, work, logs, machine


def casdb_cli(args, rev: str | None) -> list[str]:
    """The casdb command: ``--casdb``, or the CLI of the revision or snapshot under test."""
    return [args.casdb] if rev is None else [sys.executable, "-P", "-c", CLI_CODE]


def isolate_caches(work) -> None:
    """Neither tool may fall back to a cache in the home folder."""
    os.environ.update(AUDB_CACHE_ROOT=str(work / "audb-default-cache"),
                      AUDB_SHARED_CACHE_ROOT=str(work / "audb-shared-cache"),
                      CASDB_CACHE=str(work / "casdb-default-cache"))


def describe_machine(bc, args, rev: str | None, python: str, packages: Iterable[str]) -> dict:
    """``bench_commit.machine_info``, plus where the children import casdb from and the
    versions of ``packages`` ("-" if not installed, all in ``packages`` as one string)."""
    import subprocess

    machine = bc.machine_info(args.data, rev)
    machine["casdb_from"] = subprocess.run(
        [python, "-P", "-c", "import casdb, os; print(os.path.dirname(casdb.__file__))"],
        capture_output=True, text=True, check=True, cwd=bc.WORK_DIR).stdout.strip()
    versions = subprocess.run(
        [python, "-P", "-c", "import importlib.metadata as m\n"
         f"for p in {tuple(packages)!r}:\n"
         "    try: print(p, m.version(p))\n"
         "    except Exception: print(p, '-')"],
        capture_output=True, text=True, cwd=bc.WORK_DIR).stdout.split("\n")
    machine["packages"] = ", ".join(v for v in versions if v.strip())
    machine["audb"] = next((v.split()[1] for v in versions if v.startswith("audb ")), "-")
    return machine


def load_avgs() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- parent: data --------------------------------------------------------------------------------


def two_versions(bc, args, work) -> tuple[dict, object, object, list]:
    """``bench_commit.large_set`` as two folders in ``work``, 1.0.0 and 2.0.0 (hard-link copies,
    2.0.0 with :func:`apply_v2`, whose files get an old mtime); (the set, src1, src2, the files
    2.0.0 changed)."""
    ds = bc.large_set(args.data, args.files, args.duration, args.sampling_rate, args.channels)
    src1, src2 = work / "src-1.0.0", work / "src-2.0.0"
    bc.link_tree(ds["base"], src1)
    bc.link_tree(ds["base"], src2)
    changed = apply_v2(bc, ds, src2)
    bc.set_old_mtime(changed)
    return ds, src1, src2, changed


def apply_v2(bc, ds: dict, src) -> list:
    """Turn a hard-link copy of 1.0.0 into 2.0.0: new files, re-recordings, new tables."""
    changed = []
    for d in (ds["new"], ds["rewrite"]):
        for p in bc.all_files(d):
            dst = src / p.relative_to(d)
            bc.replace_file(p, dst)
            changed.append(dst)
    for p in ds["tables"].iterdir():
        bc.replace_file(p, src / p.name)
        changed.append(src / p.name)
    return changed


def media_files(root) -> list[str]:
    """The WAV files below ``root/audio``, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in (root / "audio").rglob("*.wav"))


def commit_versions(bc, casdb_cli: list[str], repo, versions: dict[str, object], logs,
                    res: dict, name: str) -> None:
    """``casdb init`` of ``repo``, then a commit of each (version -> folder), folder warm, into
    ``res["casdb_commit_<version>"]``; a failed commit ends the benchmark."""
    import subprocess

    print(f"\ncasdb: repository {repo}", flush=True)
    subprocess.run([*casdb_cli, "init", str(repo)], check=True, stdout=subprocess.DEVNULL,
                   cwd=bc.WORK_DIR)
    for version, src in versions.items():
        bc.warm(src)
        bc.sync()
        r = timed(bc, [*casdb_cli, "--repo", str(repo), "commit", str(src), "--dataset", name,
                       "--version", version], logs / f"commit-{version}.log")
        if "error" in r:
            sys.exit(f"casdb commit {version} failed:\n{r['error']}")
        res[f"casdb_commit_{version}"] = r
        print(f"  commit {version}: {r['seconds']:.2f} s", flush=True)


def save_results(args, kind: str, out: dict, work, started: float) -> None:
    """Write the results to ``--json`` (else ``<data>/<kind>-results-<time>.json``), then remove
    the work folder unless ``--keep``."""
    import shutil
    from pathlib import Path

    path = args.json or Path(args.data) / f"{kind}-results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nresults: {path} ({time.time() - started:.0f} s in all)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def warn_if_changed(bc, args, digest: str) -> None:
    """Warn if the working tree's casdb/ changed during a run that imports it from there."""
    if not (args.rev or args.snapshot or args.skip_casdb) and bc.sources_digest() != digest:
        print("\nWARNING: casdb/ sources changed during the run; the figures mix two versions.")


# -- parent: steps -------------------------------------------------------------------------------


def timed(bc, cmd: list[str], log) -> dict:
    """``bench_commit.run_timed``, plus the child's JSON line; a failure is recorded, not raised."""
    try:
        r = bc.run_timed(cmd, log)
    except SystemExit as exc:
        return {"seconds": float("nan"), "error": str(exc)[-2000:]}
    lines = log.read_text(errors="replace").strip().splitlines()
    if lines and lines[-1].startswith("{"):
        r.update(json.loads(lines[-1]))
    return r


def synced_run(bc, cmd: list[str], log) -> dict:
    """:func:`timed` between two syncs (the second timed as ``sync_s``), with the 1-minute load
    average before it (``load_avg``)."""
    bc.sync()
    load = os.getloadavg()[0]
    r = timed(bc, cmd, log)
    t0 = time.perf_counter()
    bc.sync()
    r.update(sync_s=time.perf_counter() - t0, load_avg=load)
    return r


def best_run(runs: list[dict], **extra) -> dict:
    """The fastest run that did not fail (else the first), with the walls and load-call times
    of all runs and ``extra``."""
    ok = [r for r in runs if "error" not in r]
    best = min(ok, key=lambda r: r["seconds"]) if ok else runs[0]
    return {**best, **extra, "runs": len(runs),
            "all_walls": [round(r["seconds"], 3) for r in runs],
            "all_load_s": [round(r["load_s"], 3) for r in runs if "load_s" in r]}


def step_line(label: str, r: dict, details: Callable[[dict], list[str]], *, width: int,
              error_chars: int = 160) -> str:
    """One line for a step: label and wall, then ``details(r)``; a failed step shows the last
    line of its error instead."""
    if "error" in r:
        last = r["error"].strip().splitlines()[-1] if r["error"].strip() else "?"
        return f"{label:{width}} FAILED: {last[:error_chars]}"
    return "  ".join([f"{label:{width}} wall {r['seconds']:6.2f} s", *details(r)])


def resources(bc, r: dict) -> list[str]:
    """Peak RSS and CPU of a child, the sync after it and the load average before it."""
    parts = [f"RSS {bc.human(r.get('peak_rss', 0))}  cpu {r.get('cpu', 0):.1f} s"]
    if "sync_s" in r:
        parts.append(f"sync {r['sync_s']:.2f} s")
    if "load_avg" in r:
        parts.append(f"load avg {r['load_avg']:.1f}")
    return parts


# -- parent: report ------------------------------------------------------------------------------


def succeeded(steps: dict) -> Callable[[str], bool]:
    """Whether a step (by key) ran and did not fail."""
    return lambda key: key in steps and "error" not in steps[key]


def in_process(r: dict) -> float:
    """A load step's seconds in the child's process: the load call and the table reads."""
    return r["load_s"] + r["tables_s"]


def print_machine(machine: dict, *lines: tuple[str, str]) -> None:
    """The machine section of a report: the machine, the load now, then ``(name, value)`` lines."""
    load = ("load avg", f"{load_avgs()} now (1/5/15-min; 1-min per step in the JSON)")
    print("\n== machine ==")
    for k, v in [*machine.items(), load, *lines]:
        print(f"  {k:13} {v}")


def print_targets(targets: list[tuple[str, str, bool | None]]) -> list[dict]:
    """The targets section: (name, detail, passed; None: a figure beside a target, not one);
    the same as JSON records."""
    print("\n== targets ==")
    for name, detail, passed in targets:
        mark = "info" if passed is None else "PASS" if passed else "FAIL"
        print(f"  [{mark}] {name}: {detail}")
    return [{"name": n, "detail": d, "pass": p} for n, d, p in targets]
