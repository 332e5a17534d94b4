#!/usr/bin/env python
"""Checkout and load benchmark (issue 4): ``casdb.load`` from a local store against ``audb.load``.

Usage (from the project root; audb lives in a venv of its own, made by bench_env.sh)::

    PY=$(benchmarks/bench_env.sh)
    $PY benchmarks/bench_checkout.py                  # full run: 2000 files, 1.15 GB
    $PY benchmarks/bench_checkout.py --files 50       # quick run

Data
----
The large set of bench_commit.py (its generator and cache are reused: ``--files`` WAV files,
3 s, 48 kHz, stereo, 16-bit, plus db.yaml and three tables, by ``casdb.testing.synth``):

* 1.0.0: the generated folder;
* 2.0.0: 10 % new files, 1 % re-recorded (same names and sizes, new content), tables rewritten.

casdb commits both into a fresh repository (``casdb --repo R commit SRC --dataset bench
--version V``). audb publishes both (``audb.publish``) to a file-system repository; that
repository depends only on the data and the audb version, so it is cached under ``--data`` and
reused (``--republish`` redoes it). Both databases are named ``bench``.

Steps
-----
Each step is one child process (``python -P bench_checkout.py --child SPEC``) that imports the
tool, then loads, then reads every table into a DataFrame. Printed per step:

* ``wall``: the child's wall time, from the parent, so Python start-up and imports included;
* ``import``: ``import casdb`` / ``import audb``, plus pandas and pyarrow, imported before the
  timed call so that the call's time is the same work for both tools (audb imports them anyway);
* ``load``: the load call itself (``casdb.load`` / ``audb.load``);
* ``tables``: ``ds[t].get()`` for every table (audb's call has read them already);
* peak RSS and CPU seconds of the child (``/usr/bin/time``), and ``sync`` after the step, timed
  apart (audb writes 1.15 GB without syncing; whatever casdb syncs is inside its time).

Steps, the same selections on both sides (audb's defaults: ``num_workers=1``,
``only_metadata=False``, ``tables=None``, ``media=None``, ``pickle_tables=True``; the benchmark
passes ``verbose=False, full_path=True``):

1. cold: 2.0.0 into an empty cache (audb twice: default ``num_workers=1``, and ``None``, which
   is 5 threads per core);
2. warm: 2.0.0 again, into the same cache;
3. switch: 1.0.0 into that cache, which holds only 2.0.0 (audb copies what it can from the
   cached 2.0.0 and fetches the rest);
4. metadata only: 2.0.0, ``only_metadata=True``, empty cache;
5. 10 media: ``media=[10 paths]``, empty cache;
6. one table: ``tables=["emotion"]``, empty cache. Both tools add the misc table a scheme uses
   (speaker) and load the media the table references: here all of them;
7. one table, metadata only: ``tables=["emotion"], only_metadata=True``, empty cache.

casdb also runs ``casdb --repo R checkout bench@2.0.0 --cache C`` once, cold.

Disk: the casdb cache is walked after the switch; a file whose (st_dev, st_ino) is a blob of the
repository (``blobs/``) costs nothing extra; every other file (its allocated blocks) and every
folder counts. Printed in bytes and as a share of the media bytes of 2.0.0. audb's cache is
measured the same way (allocated blocks, hard links once).

Targets (PASS/FAIL): cold checkout at least 20x faster than audb's faster cold load (child wall
times); extra disk of the casdb cache under 1 % of the media bytes; switching versions under
0.5 s (the in-process load call; the child's wall is printed too).

Conditions: page cache warm (the casdb repository was just written, the audb repository is read
once before timing); ``sync`` before every step; each step run once (``--repeat`` for more,
best wall kept). Work folders live under ``--data``/checkout-<pid> and are removed at the end
unless ``--keep``. ``--rev REV`` benchmarks casdb as of a git revision, as bench_commit.py does.
"""

from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # children run with -P, which leaves this folder off sys.path
import _common as common  # noqa: E402

NAME = "bench"


# -- child ---------------------------------------------------------------------------------------


def child(spec_json: str) -> None:
    """Run one load and print one JSON line: import, load and tables seconds, what was loaded."""
    spec = json.loads(spec_json)
    t0 = time.perf_counter()
    if spec["tool"] == "casdb":
        import casdb

        load = casdb.load
    else:
        import audb

        load = audb.load
    common.preload()
    out = {"import_s": time.perf_counter() - t0}
    out.update(common.load_and_read(spec, load, "file-system"))
    print(json.dumps(out))


# -- parent --------------------------------------------------------------------------------------


def main() -> None:
    from pathlib import Path

    import bench_commit as bc

    ap = common.parser(__doc__, "cached sources, audb repository, work folders")
    common.add_load_args(ap, "runs per step, best wall kept")
    args = ap.parse_args()

    python = sys.executable
    rev, work, logs, machine = common.start(bc, args, "checkout", ("audb",))
    casdb_cli = common.casdb_cli(args, rev)
    digest = bc.sources_digest()
    started = time.time()

    # -- sources: 1.0.0 and 2.0.0 as folders -------------------------------------------------
    ds, src1, src2, changed = common.two_versions(bc, args, work)
    media1 = common.media_files(src1)
    media2 = common.media_files(src2)
    media_bytes = sum((src2 / m).stat().st_size for m in media2)
    print(f"\n1.0.0: {len(media1)} files; 2.0.0: {len(media2)} files, {bc.human(media_bytes)} "
          f"of media ({len(changed)} files changed)", flush=True)
    pick = [media2[i * len(media2) // 10] for i in range(10)]
    res = {"files_v1": len(media1), "files_v2": len(media2), "media_bytes_v2": media_bytes,
           "media_list": pick, "steps": {}}

    def run_step(key: str, label: str, spec: dict, *, clear: list[Path], fresh: Path | None):
        """Run a step ``--repeat`` times; ``fresh`` is emptied and ``clear`` removed before each."""
        runs = []
        for i in range(args.repeat):
            if fresh is not None:
                bc.rm_rf(fresh)
            for p in clear:
                bc.rm_rf(p)
            cmd = [python, "-P", os.path.abspath(__file__), "--child", json.dumps(spec)]
            runs.append(common.synced_run(bc, cmd, logs / f"{key}-{i}.log"))
        best = common.best_run(runs, label=label)
        res["steps"][key] = best
        print("  " + step_line(bc, label, best), flush=True)
        return best

    res["startup"] = startup(bc, python, args)
    print("\nstart-up (best of 3 child processes): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in res["startup"].items()), flush=True)

    # -- casdb ----------------------------------------------------------------------------------
    if not args.skip_casdb:
        repo = work / "casdb-repo"
        common.commit_versions(bc, casdb_cli, repo, {"1.0.0": src1, "2.0.0": src2}, logs, res,
                               NAME)
        bc.sync()
        caches = work / "casdb-caches"

        def spec(version: str, cache: Path, **kw) -> dict:
            return {"tool": "casdb", "name": NAME, "version": version, "repo": str(repo),
                    "cache": str(cache), "kwargs": kw}

        c1 = caches / "main"
        run_step("casdb_cold", "casdb cold: 2.0.0, empty cache", spec("2.0.0", c1),
                 clear=[], fresh=c1)
        run_step("casdb_warm", "casdb warm: 2.0.0 again", spec("2.0.0", c1), clear=[], fresh=None)
        run_step("casdb_switch", "casdb switch: 1.0.0, cache holds 2.0.0",
                 spec("1.0.0", c1), clear=[c1 / NAME / "1.0.0"], fresh=None)
        res["casdb_disk"] = cache_disk(c1, blob_inodes(repo / "blobs"))
        run_step("casdb_meta", "casdb metadata only: 2.0.0",
                 spec("2.0.0", caches / "meta", only_metadata=True), clear=[], fresh=caches / "meta")
        run_step("casdb_media10", "casdb 10 media (list)",
                 spec("2.0.0", caches / "media10", media=pick), clear=[], fresh=caches / "media10")
        run_step("casdb_table", "casdb one table (emotion)",
                 spec("2.0.0", caches / "table", tables=["emotion"]), clear=[],
                 fresh=caches / "table")
        run_step("casdb_table_meta", "casdb one table, metadata only",
                 spec("2.0.0", caches / "tablemeta", tables=["emotion"], only_metadata=True),
                 clear=[], fresh=caches / "tablemeta")
        cli_cache = caches / "cli"
        bc.sync()
        load_avg = os.getloadavg()[0]
        r = common.timed(bc, [*casdb_cli, "--repo", str(repo), "checkout", f"{NAME}@2.0.0",
                       "--cache", str(cli_cache)], logs / "cli-checkout.log")
        r["load_avg"] = load_avg
        r["label"] = "casdb CLI checkout bench@2.0.0, empty cache"
        res["steps"]["casdb_cli"] = r
        print("  " + step_line(bc, r["label"], r), flush=True)
        bc.rm_rf(caches)

    # -- audb ---------------------------------------------------------------------------------
    if not args.skip_audb:
        host, repo_name, pub = audb_repository(bc, args, ds, work)
        res["audb_publish"] = pub
        caches = work / "audb-caches"

        def aspec(version: str, cache: Path, **kw) -> dict:
            return {"tool": "audb", "name": NAME, "version": version, "host": str(host),
                    "repo_name": repo_name, "cache": str(cache), "kwargs": kw}

        a1 = caches / "main"
        run_step("audb_cold", "audb cold: 2.0.0, empty cache (num_workers=1, default)",
                 aspec("2.0.0", a1), clear=[], fresh=a1)
        run_step("audb_warm", "audb warm: 2.0.0 again", aspec("2.0.0", a1), clear=[], fresh=None)
        run_step("audb_switch", "audb switch: 1.0.0, cache holds 2.0.0", aspec("1.0.0", a1),
                 clear=[a1 / NAME / "1.0.0"], fresh=None)
        res["audb_disk"] = cache_disk(a1, set())
        res["audb_layout"] = layout(a1)
        bc.rm_rf(a1)
        run_step("audb_cold_parallel", f"audb cold: 2.0.0, num_workers=None "
                 f"({5 * (os.cpu_count() or 1)} threads)",
                 aspec("2.0.0", caches / "par", num_workers=None), clear=[], fresh=caches / "par")
        bc.rm_rf(caches / "par")
        run_step("audb_meta", "audb metadata only: 2.0.0",
                 aspec("2.0.0", caches / "meta", only_metadata=True), clear=[],
                 fresh=caches / "meta")
        run_step("audb_media10", "audb 10 media (list)",
                 aspec("2.0.0", caches / "media10", media=pick), clear=[],
                 fresh=caches / "media10")
        run_step("audb_table", "audb one table (emotion)",
                 aspec("2.0.0", caches / "table", tables=["emotion"]), clear=[],
                 fresh=caches / "table")
        bc.rm_rf(caches / "table")
        run_step("audb_table_meta", "audb one table, metadata only",
                 aspec("2.0.0", caches / "tablemeta", tables=["emotion"], only_metadata=True),
                 clear=[], fresh=caches / "tablemeta")
        bc.rm_rf(caches)

    out = report(bc, machine, args, res)
    common.warn_if_changed(bc, args, digest)
    out.update(machine=machine, args={k: str(v) for k, v in vars(args).items()}, results=res,
               total_seconds=time.time() - started)
    common.save_results(args, "checkout", out, work, started)


def startup(bc, python: str, args) -> dict:
    """Fixed costs in every child's wall: the interpreter, pandas and pyarrow, each tool."""
    pre = ", ".join(common.PRELOAD)
    codes = {"python": "pass", "python + pandas, pyarrow": f"import {pre}"}
    if not args.skip_casdb:
        codes["python + casdb.load + pandas, pyarrow"] = f"import casdb; casdb.load; import {pre}"
    if not args.skip_audb:
        codes["python + audb.load + pandas, pyarrow"] = f"import audb; audb.load; import {pre}"
    return {k: min(bc.run_timed([python, "-P", "-c", c])["seconds"] for _ in range(3))
            for k, c in codes.items()}


def step_line(bc, label: str, r: dict) -> str:
    def details(r: dict) -> list[str]:
        parts = []
        if "load_s" in r:
            parts.append(f"import {r['import_s']:5.2f}  load {r['load_s']:6.2f}  tables "
                         f"{r['tables_s']:5.2f}  files {r['present']}/{r['files']}")
        return parts + common.resources(bc, r)

    return common.step_line(label, r, details, width=52)


# -- disk ----------------------------------------------------------------------------------------


def blob_inodes(blobs) -> set[tuple[int, int]]:
    out = set()
    for dirpath, _dirs, names in os.walk(blobs):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            out.add((st.st_dev, st.st_ino))
    return out


def cache_disk(root, blobs: set[tuple[int, int]]) -> dict:
    """Allocated bytes under ``root``: files that are blobs of the repository cost nothing;
    every other file (once per inode) and every folder counts."""
    seen = set()
    d = {"linked_files": 0, "linked_bytes": 0, "own_files": 0, "own_file_bytes": 0,
         "own_file_size": 0, "dirs": 0, "dir_bytes": 0, "symlinks": 0}
    for dirpath, dirs, names in os.walk(root):
        st = os.lstat(dirpath)
        d["dirs"] += 1
        d["dir_bytes"] += st.st_blocks * 512
        for n in names + [x for x in dirs if os.path.islink(os.path.join(dirpath, x))]:
            st = os.lstat(os.path.join(dirpath, n))
            key = (st.st_dev, st.st_ino)
            if os.path.islink(os.path.join(dirpath, n)):
                d["symlinks"] += 1
            if key in blobs:
                d["linked_files"] += 1
                d["linked_bytes"] += st.st_size
            elif key not in seen:
                seen.add(key)
                d["own_files"] += 1
                d["own_file_bytes"] += st.st_blocks * 512
                d["own_file_size"] += st.st_size
    d["extra_bytes"] = d["own_file_bytes"] + d["dir_bytes"]
    return d


def layout(root) -> list[str]:
    """The first levels of a cache folder, and the files at the top of each version folder."""
    out = []
    for dirpath, dirs, names in os.walk(root):
        depth = os.path.relpath(dirpath, root).count(os.sep)
        rel = os.path.relpath(dirpath, root)
        if depth <= 3:
            out.append(f"{rel}/  ({len(dirs)} folders, {len(names)} files: "
                       f"{', '.join(sorted(names)[:8])}{' ...' if len(names) > 8 else ''})")
        dirs.sort()
    return out[:40]


# -- audb repository ---------------------------------------------------------------------------


def audb_repository(bc, args, ds: dict, work) -> tuple:
    """Publish 1.0.0 and 2.0.0 with audb to a file-system repository, cached under --data; print
    it and read it once (warm). (host folder, repository name, publish times)."""
    host, repo_name, pub = publish_audb(bc, args, ds, work)
    print(f"\naudb: repository {host} (published in {pub['1.0.0']['seconds']:.1f} s + "
          f"{pub['2.0.0']['seconds']:.1f} s{', cached' if pub.get('cached') else ''})",
          flush=True)
    bc.warm(host)
    return host, repo_name, pub


def publish_audb(bc, args, ds: dict, work) -> tuple:
    """Publish 1.0.0 and 2.0.0 with audb to a file-system repository, cached under --data."""
    import audb

    host = args.data / f"audb-host-{ds['top'].name}-audb{audb.__version__}"
    repo_name = "bench-repo"
    marker = host / "complete.json"
    if marker.exists() and not args.republish:
        pub = json.loads(marker.read_text())
        pub["cached"] = True
        return host, repo_name, pub
    bc.rm_rf(host)
    (host / repo_name).mkdir(parents=True)
    repository = audb.Repository(repo_name, str(host), "file-system")
    audb.config.REPOSITORIES = [repository]
    pub_cache = work / "audb-publish-cache"
    p1, p2 = work / "audb-pub-1.0.0", work / "audb-pub-2.0.0"
    pub = {}
    # 1.0.0: the generated folder, with the header and tables as copies of their own (publish
    # writes db.parquet into the folder, audformat may write table caches) and the name "bench".
    bc.link_tree(ds["base"], p1)
    own_metadata(bc, p1)
    for version, folder, previous in (("1.0.0", p1, None), ("2.0.0", p2, "1.0.0")):
        if version == "2.0.0":
            bc.link_tree(p1, p2)  # 1.0.0's folder after publishing: holds its db.parquet
            own_metadata(bc, p2)
            common.apply_v2(bc, ds, p2)
        bc.warm(folder)
        bc.sync()
        print(f"audb.publish {version} from {folder} ...", flush=True)
        t0 = time.perf_counter()
        audb.publish(str(folder), version, repository, previous_version=previous,
                     cache_root=str(pub_cache), num_workers=os.cpu_count(), verbose=False)
        pub[version] = {"seconds": time.perf_counter() - t0, "num_workers": os.cpu_count()}
        print(f"  {pub[version]['seconds']:.1f} s", flush=True)
    pub["host_bytes"] = cache_disk(host, set())["extra_bytes"]
    marker.write_text(json.dumps(pub))
    for p in (p1, p2, pub_cache):
        bc.rm_rf(p)
    return host, repo_name, pub


def own_metadata(bc, folder) -> None:
    """Replace every non-media file of a hard-link copy by a copy of its own; name it ``bench``."""
    for p in list(folder.iterdir()):
        if p.is_file():
            tmp = p.with_name(p.name + ".tmp")
            bc.replace_file(p, tmp)
            os.replace(tmp, p)
    header = folder / "db.yaml"
    text = header.read_text()
    lines = text.splitlines(keepends=True)
    lines = [f"name: {NAME}\n" if ln.startswith("name:") else ln for ln in lines]
    header.write_text("".join(lines))


# -- report --------------------------------------------------------------------------------------


def report(bc, machine: dict, args, res: dict) -> dict:
    s = res["steps"]
    common.print_machine(
        machine,
        ("page cache", f"warm; sync before every step; {args.repeat} run(s) per step"),
    )

    ok, inproc = common.succeeded(s), common.in_process

    print("\n== steps (wall: child incl. start-up and imports; in-proc: load call + tables) ==")
    print(f"  {'step':34} {'casdb wall':>10} {'in-proc':>8} {'audb wall':>10} {'in-proc':>8} "
          f"{'audb/casdb wall':>15} {'in-proc':>8}")
    pairs = [("cold 2.0.0", "casdb_cold", "audb_cold"),
             ("cold 2.0.0, audb num_workers=None", "casdb_cold", "audb_cold_parallel"),
             ("warm 2.0.0", "casdb_warm", "audb_warm"),
             ("switch to 1.0.0", "casdb_switch", "audb_switch"),
             ("metadata only", "casdb_meta", "audb_meta"),
             ("10 media (list)", "casdb_media10", "audb_media10"),
             ("one table (emotion)", "casdb_table", "audb_table"),
             ("one table, metadata only", "casdb_table_meta", "audb_table_meta")]
    ratios = {}
    for label, c, a in pairs:
        cw = f"{s[c]['seconds']:.2f}" if ok(c) else ("fail" if c in s else "-")
        ci = f"{inproc(s[c]):.3f}" if ok(c) else "-"
        aw = f"{s[a]['seconds']:.2f}" if ok(a) else ("fail" if a in s else "-")
        ai = f"{inproc(s[a]):.3f}" if ok(a) else "-"
        rw = ri = "-"
        if ok(c) and ok(a):
            rw = f"{s[a]['seconds'] / s[c]['seconds']:.1f}x"
            ri = f"{inproc(s[a]) / inproc(s[c]):.1f}x"
            ratios[label] = {"wall": s[a]["seconds"] / s[c]["seconds"],
                             "in_process": inproc(s[a]) / inproc(s[c])}
        print(f"  {label:34} {cw:>10} {ci:>8} {aw:>10} {ai:>8} {rw:>15} {ri:>8}")
    if "casdb_cli" in s:
        print("  " + step_line(bc, "casdb CLI checkout, cold", s["casdb_cli"]))

    mb = res["media_bytes_v2"]
    print("\n== disk ==")
    if "casdb_disk" in res:
        d = res["casdb_disk"]
        print(f"  casdb cache (2.0.0 + 1.0.0): {d['linked_files']} files hard-linked to blobs "
              f"({bc.human(d['linked_bytes'])}); {d['own_files']} files of its own "
              f"({bc.human(d['own_file_bytes'])} allocated, {bc.human(d['own_file_size'])} size), "
              f"{d['dirs']} folders ({bc.human(d['dir_bytes'])}); extra {d['extra_bytes']} B = "
              f"{100 * d['extra_bytes'] / mb:.3f} % of 2.0.0's media ({bc.human(mb)})")
    if "audb_disk" in res:
        d = res["audb_disk"]
        print(f"  audb cache (2.0.0 + 1.0.0): {d['own_files']} files, "
              f"{bc.human(d['extra_bytes'])} allocated = {100 * d['extra_bytes'] / mb:.0f} % of "
              f"2.0.0's media")
        print(f"  audb repository: {bc.human(res['audb_publish'].get('host_bytes', 0))}")
        for line in res.get("audb_layout", [])[:12]:
            print(f"    {line}")

    targets = []
    if ok("casdb_cold") and (ok("audb_cold") or ok("audb_cold_parallel")):
        audb_best = min((s[k] for k in ("audb_cold", "audb_cold_parallel") if ok(k)),
                        key=lambda r: r["seconds"])
        ratio = audb_best["seconds"] / s["casdb_cold"]["seconds"]
        targets.append(("cold checkout at least 20x faster than audb's cold load",
                        f"casdb {s['casdb_cold']['seconds']:.2f} s vs audb "
                        f"{audb_best['seconds']:.2f} s ({audb_best['label']}): {ratio:.1f}x "
                        f"(child wall times, start-up and imports included)", ratio >= 20))
        ratio = inproc(audb_best) / inproc(s["casdb_cold"])
        targets.append(("the same, in-process (load call + tables, imports excluded)",
                        f"casdb {inproc(s['casdb_cold']):.3f} s vs audb {inproc(audb_best):.2f} s: "
                        f"{ratio:.1f}x", ratio >= 20))
    if "casdb_disk" in res:
        d = res["casdb_disk"]
        targets.append(("casdb cache extra disk under 1 % of media bytes",
                        f"{d['extra_bytes']} B = {100 * d['extra_bytes'] / mb:.3f} %",
                        d["extra_bytes"] < 0.01 * mb))
    if ok("casdb_switch"):
        r = s["casdb_switch"]
        targets.append(("switching versions under 0.5 s (in-process load call)",
                        f"load call {r['load_s']:.3f} s (+ tables {r['tables_s']:.3f} s); "
                        f"child wall {r['seconds']:.2f} s", r["load_s"] < 0.5))
    return {"ratios": ratios, "targets": common.print_targets(targets)}


if __name__ == "__main__":
    common.run_main(child, main)
