#!/usr/bin/env python
"""Flavour benchmark (issue 5): a converted load, casdb against audb, then the next version.

Usage (from the project root; audb lives in a venv of its own, made by bench_env.sh)::

    PY=$(benchmarks/bench_env.sh)
    $PY benchmarks/bench_flavour.py                  # full run: 2000 files, 1.15 GB
    $PY benchmarks/bench_flavour.py --files 50       # quick run

Data
----
The data of bench_checkout.py, built by its functions and cached under ``--data``: 1.0.0 is
``--files`` WAV files (3 s, 48 kHz, stereo, 16-bit) plus db.yaml and three tables; 2.0.0 adds
10 % new files, re-records 1 % (same names and sizes, new content) and rewrites the tables.
casdb commits both into a fresh repository; audb's file-system repository of the same two
folders is the one bench_checkout.py publishes and caches (``--republish`` redoes it).

The flavour: 16 kHz mono, 16-bit WAV (the sources' format and bit depth, so only the rate and
the channels change).

* casdb: ``casdb.load("bench", V, repo=R, cache_root=C, flavour={"sampling_rate": 16000,
  "mixdown": True})``: conversions on every core (worker processes), soxr at quality HQ;
* audb: ``audb.load("bench", version=V, sampling_rate=16000, mixdown=True, cache_root=A)``;
  ``channels=None`` (mixdown then averages all channels, as casdb's does), ``format=None`` and
  ``bit_depth=None`` (kept from the source: WAV, 16-bit); audresample at quality ``"h"`` (soxr
  HQ). Run with audb's default ``num_workers=1`` and with ``num_workers=None`` (5 threads per
  core).

Steps
-----
Each step is one child process (``python -P bench_flavour.py --child SPEC``), as in
bench_checkout.py: it imports the tool, pandas and pyarrow, then calls the load (timed), then
reads every table into a DataFrame (timed apart). For each tool and setting:

1. 1.0.0 in the flavour into an empty cache (every file is converted);
2. 2.0.0 in the flavour into the same cache: the "next version". casdb converts only the files
   whose bytes it has not converted yet (``<cache>/.derived``); audb copies the files it finds
   in the cached 1.0.0 of the same flavour (by checksum) and fetches and converts the rest.

casdb also runs the CLI, ``casdb --repo R checkout bench@V --sampling-rate 16000 --mixdown
--cache C``, for 1.0.0 then 2.0.0 into an empty cache, and a reference load of 1.0.0 without a
flavour (plain links to the store), so the cost of converting stands out.

Printed per step: the child's wall time (start-up and imports included), the load call, the
tables, peak RSS and CPU seconds of the child (``/usr/bin/time``; CPU includes the worker
processes, which are reaped; peak RSS is the largest single process, not the sum over casdb's
workers), the load call's own CPU split into the calling process and its workers
(``os.times``), the files converted, the ``sync`` after the step (timed apart: audb does not
sync what it writes) and the 1-minute load average. For casdb the child also times
``casdb.checkouts.converted.convert_missing`` (wrapped before ``casdb.checkouts.materialise`` imports it): the
conversion phase, pool start-up included; the rest of the load call is planning, linking and
writing tables. For audb it sums the time in ``audb.Flavor.__call__`` (over threads, so with
``num_workers=None`` it can exceed the wall time).

Checks (after the timing): every audio file of each checked-out folder is opened with
``soundfile.info`` (rate, channels, subtype, frames); a few files of casdb's and audb's 1.0.0
(and new files of 2.0.0) are compared sample by sample (max difference in LSB, SNR). Cache
sizes: allocated bytes, each inode once (casdb links the version folders to ``.derived``; a file
hard-linked to a repository blob costs nothing).

Targets (PASS/FAIL): casdb's flavoured load of 1.0.0 at least 5x faster than audb's (child wall
times; decided against audb's faster setting, the default is printed too); the next version
(2.0.0) costs at most 15 % of the first (casdb's load call; 2.0.0 holds 220 files casdb has not
converted, 11 % of the 2000 of 1.0.0, so "about 10 %" is 11 % of the work plus the fixed cost
of a load).

Conditions: page cache warm (sources, repository and audb repository read before timing);
``sync`` before every step; each step once (``--repeat N`` runs the casdb pair N times and keeps
the best of each). ``--rev REV`` / ``--snapshot`` benchmark casdb as of a revision / a copy of
the working tree, as bench_checkout.py does. Work folders live under ``--data``/flavour-<pid>
and are removed at the end unless ``--keep``.
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
RATE = 16000
CASDB_FLAVOUR = {"sampling_rate": RATE, "mixdown": True}
AUDB_FLAVOUR = {"sampling_rate": RATE, "mixdown": True}  # channels, format, bit_depth: None


# -- child ---------------------------------------------------------------------------------------


def child(spec_json: str) -> None:
    """Run one load and print one JSON line: times, CPU split, conversions, folder."""
    spec = json.loads(spec_json)
    t0 = time.perf_counter()
    conv = {"s": 0.0, "n": 0, "calls": 0}
    if spec["tool"] == "casdb":
        import casdb

        load = casdb.load
        try:  # wrap the conversion phase before casdb.checkouts.materialise imports it by name
            try:
                import casdb.checkouts.converted as fl
            except ImportError:  # a revision before the layer packages
                import casdb.flavoured as fl

            inner = fl.convert_missing

            def convert_missing(*a, **k):
                t = time.perf_counter()
                try:
                    n = inner(*a, **k)
                finally:
                    conv["s"] += time.perf_counter() - t
                    conv["calls"] += 1
                conv["n"] += n or 0
                return n

            fl.convert_missing = convert_missing
        except (ImportError, AttributeError):
            pass
    else:
        import threading

        import audb
        from audb.core.flavor import Flavor

        lock = threading.Lock()
        inner = Flavor.__call__

        def call(self, *a, **k):
            t = time.perf_counter()
            try:
                return inner(self, *a, **k)
            finally:
                with lock:
                    conv["s"] += time.perf_counter() - t
                    conv["calls"] += 1

        Flavor.__call__ = call
        load = audb.load
    common.preload()
    out = {"import_s": time.perf_counter() - t0}
    out.update(common.load_and_read(spec, load, "file-system"))
    if spec["tool"] == "casdb":
        out["converted"] = conv["n"] if conv["calls"] else None
    else:
        out["converted"] = conv["calls"]  # Flavor.__call__ also copies files already in flavour
    out["convert_s"] = conv["s"] if conv["calls"] else None
    print(json.dumps(out))


# -- parent --------------------------------------------------------------------------------------


def main() -> None:
    import re
    from pathlib import Path

    import bench_checkout as bco
    import bench_commit as bc

    ap = common.parser(__doc__, "cached sources, audb repository, work folders")
    common.add_load_args(ap, "runs of casdb's 1.0.0 + 2.0.0 pair (best of each kept)")
    ap.add_argument("--skip-audb-parallel", action="store_true",
                    help="audb with its default num_workers=1 only")
    ap.add_argument("--compare", type=int, default=5,
                    help="files of 1.0.0 compared sample by sample, casdb against audb")
    args = ap.parse_args()

    python = sys.executable
    rev, work, logs, machine = common.start(
        bc, args, "flavour", ("audb", "audresample", "audiofile", "soxr", "soundfile", "numpy"))
    casdb_cli = common.casdb_cli(args, rev)
    digest = bc.sources_digest()
    started = time.time()

    # -- sources ------------------------------------------------------------------------------
    ds, src1, src2, _changed = common.two_versions(bc, args, work)
    media1, media2 = common.media_files(src1), common.media_files(src2)
    media_bytes1 = sum((src1 / m).stat().st_size for m in media1)
    new_media = sorted(set(media2) - set(media1))
    rewritten = sorted(m for m in set(media1) & set(media2)
                       if (src2 / m).stat().st_ino != (src1 / m).stat().st_ino)
    print(f"\n1.0.0: {len(media1)} files, {bc.human(media_bytes1)}; 2.0.0: {len(media2)} files "
          f"({len(new_media)} new, {len(rewritten)} re-recorded, "
          f"{len(media1) - len(rewritten)} shared = "
          f"{100 * (len(media1) - len(rewritten)) / len(media2):.0f} % of 2.0.0)", flush=True)
    res = {"files_v1": len(media1), "files_v2": len(media2), "new_v2": len(new_media),
           "rewritten_v2": len(rewritten), "media_bytes_v1": media_bytes1,
           "casdb_flavour": CASDB_FLAVOUR, "audb_flavour": AUDB_FLAVOUR, "steps": {}}

    def run_step(key: str, label: str, spec: dict, *, fresh: Path | None) -> dict:
        """One child; ``fresh`` (a cache) is emptied first. Repeats are keyed ``key#i``."""
        if fresh is not None:
            bc.rm_rf(fresh)
        cmd = [python, "-P", os.path.abspath(__file__), "--child", json.dumps(spec)]
        r = common.synced_run(bc, cmd, logs / f"{key}.log")
        r["label"] = label
        print("  " + step_line(bc, label, r), flush=True)
        return r

    def keep_best(key: str, runs: list[dict]) -> None:
        res["steps"][key] = common.best_run(runs)

    res["startup"] = bco.startup(bc, python, args)
    print("\nstart-up (best of 3 child processes): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in res["startup"].items()), flush=True)

    checks, roots = {}, {}

    # -- casdb --------------------------------------------------------------------------------
    if not args.skip_casdb:
        repo = work / "casdb-repo"
        common.commit_versions(bc, casdb_cli, repo, {"1.0.0": src1, "2.0.0": src2}, logs, res,
                               NAME)
        bc.warm(repo / "blobs")
        bc.sync()
        caches = work / "casdb-caches"

        def spec(version: str, cache: Path, **kw) -> dict:
            return {"tool": "casdb", "name": NAME, "version": version, "repo": str(repo),
                    "cache": str(cache), "kwargs": kw}

        c1 = caches / "flavour"
        runs1, runs2 = [], []
        for i in range(args.repeat):
            tag = f"#{i}" if args.repeat > 1 else ""
            runs1.append(run_step(f"casdb_v1{tag}", "casdb 1.0.0 flavoured, empty cache",
                                  spec("1.0.0", c1, flavour=CASDB_FLAVOUR), fresh=c1))
            runs1[-1]["derived_files"] = count_files(c1 / ".derived")
            runs2.append(run_step(f"casdb_v2{tag}", "casdb 2.0.0 flavoured, cache holds 1.0.0",
                                  spec("2.0.0", c1, flavour=CASDB_FLAVOUR), fresh=None))
            runs2[-1]["derived_files"] = count_files(c1 / ".derived")
        keep_best("casdb_v1", runs1)
        keep_best("casdb_v2", runs2)
        for key in ("casdb_v1", "casdb_v2"):
            r = res["steps"][key]
            if "root" in r:
                roots[key] = r["root"]
                checks[key] = check_folder(Path(r["root"]))
        res["casdb_disk"] = bco.cache_disk(c1, bco.blob_inodes(repo / "blobs"))
        res["casdb_derived_disk"] = bco.cache_disk(c1 / ".derived", set())

        c0 = caches / "original"
        keep_best("casdb_ref", [run_step("casdb_ref", "ref: casdb 1.0.0, no flavour, empty cache",
                                         spec("1.0.0", c0), fresh=c0)])
        bc.rm_rf(c0)

        cli_cache = caches / "cli"
        bc.rm_rf(cli_cache)
        for version in ("1.0.0", "2.0.0"):
            bc.sync()
            load_avg = os.getloadavg()[0]
            log = logs / f"cli-{version}.log"
            r = common.timed(bc, [*casdb_cli, "--repo", str(repo), "checkout", f"{NAME}@{version}",
                               "--sampling-rate", str(RATE), "--mixdown", "--cache",
                               str(cli_cache)], log)
            text = log.read_text(errors="replace") if log.exists() else ""
            m = re.search(r"converted (\d+|one) files?", text)
            r.update(load_avg=load_avg, label=f"casdb CLI checkout bench@{version} "
                     f"--sampling-rate {RATE} --mixdown", converted=None if not m else
                     (1 if m.group(1) == "one" else int(m.group(1))))
            t0 = time.perf_counter()
            bc.sync()
            r["sync_s"] = time.perf_counter() - t0
            res["steps"][f"casdb_cli_v{version[0]}"] = r
            print("  " + step_line(bc, r["label"], r), flush=True)
        bc.rm_rf(cli_cache)

    # -- audb ---------------------------------------------------------------------------------
    if not args.skip_audb:
        host, repo_name, pub = bco.audb_repository(bc, args, ds, work)
        res["audb_publish"] = pub
        caches = work / "audb-caches"

        def aspec(version: str, cache: Path, **kw) -> dict:
            return {"tool": "audb", "name": NAME, "version": version, "host": str(host),
                    "repo_name": repo_name, "cache": str(cache), "kwargs": {**AUDB_FLAVOUR, **kw}}

        settings = [("", "num_workers=1, default", {})]
        if not args.skip_audb_parallel:
            settings.append(("_par", f"num_workers=None ({5 * (os.cpu_count() or 1)} threads)",
                             {"num_workers": None}))
        for suffix, what, kw in settings:
            a = caches / f"main{suffix}"
            for v, label, fresh in (("1", "1.0.0 flavoured, empty cache", a),
                                    ("2", "2.0.0 flavoured, cache holds 1.0.0", None)):
                key = f"audb{suffix}_v{v}"
                keep_best(key, [run_step(key, f"audb {label} ({what})",
                                         aspec(f"{v}.0.0", a, **kw), fresh=fresh)])
                if "root" in res["steps"][key]:
                    roots[key] = res["steps"][key]["root"]
                    checks[key] = check_folder(Path(roots[key]))
            res[f"audb{suffix}_disk"] = bco.cache_disk(a, set())
            if suffix:  # the default run's cache stays for the comparison
                bc.rm_rf(a)

    # -- checks -------------------------------------------------------------------------------
    res["checks"] = checks
    comp = {}
    step = max(1, len(media1) // max(args.compare, 1))
    for v, ca, aa, names in (("1.0.0", "casdb_v1", "audb_v1", media1[::step][: args.compare]),
                             ("2.0.0", "casdb_v2", "audb_v2", new_media[:2] + rewritten[:1])):
        if ca in roots and aa in roots:
            comp[v] = compare(Path(roots[ca]), Path(roots[aa]), names)
    res["compare"] = comp

    out = report(bc, machine, args, res)
    common.warn_if_changed(bc, args, digest)
    out.update(machine=machine, args={k: str(v) for k, v in vars(args).items()}, results=res,
               total_seconds=time.time() - started)
    common.save_results(args, "flavour", out, work, started)


def count_files(root) -> int:
    return sum(len(names) for _d, _s, names in os.walk(root))


def check_folder(root) -> dict:
    """``soundfile.info`` of every audio file under ``root``: counts by (rate, channels,
    subtype, format, frames)."""
    import soundfile as sf

    kinds: dict[str, int] = {}
    n = 0
    for dirpath, _dirs, names in os.walk(root):
        if ".casdb" in dirpath.split(os.sep):
            continue
        for name in names:
            if not name.endswith((".wav", ".flac")):
                continue
            info = sf.info(os.path.join(dirpath, name))
            k = f"{info.samplerate} Hz, {info.channels} ch, {info.subtype}, {info.format}, " \
                f"{info.frames} frames"
            kinds[k] = kinds.get(k, 0) + 1
            n += 1
    return {"audio_files": n, "kinds": kinds}


def compare(casdb_root, audb_root, names: list[str]) -> dict:
    """casdb's converted file against audb's, sample by sample (int16)."""
    import numpy as np
    import soundfile as sf

    out = {"files": len(names), "max_diff_lsb": 0, "min_snr_db": float("inf"),
           "same_length": True, "identical": 0}
    for name in names:
        a, _ = sf.read(casdb_root / name, dtype="int16", always_2d=True)
        b, _ = sf.read(audb_root / name, dtype="int16", always_2d=True)
        if a.shape != b.shape:
            out["same_length"] = False
            n = min(len(a), len(b))
            a, b = a[:n], b[:n]
        d = a.astype(np.int64) - b.astype(np.int64)
        out["max_diff_lsb"] = max(out["max_diff_lsb"], int(np.abs(d).max()) if d.size else 0)
        if not d.any():
            out["identical"] += 1
            continue
        snr = 10 * np.log10(float((a.astype(np.float64) ** 2).sum()) / float((d ** 2).sum()))
        out["min_snr_db"] = min(out["min_snr_db"], snr)
    return out


def step_line(bc, label: str, r: dict) -> str:
    def details(r: dict) -> list[str]:
        parts = []
        if "load_s" in r:
            conv = f" (convert {r['convert_s']:.2f})" if r.get("convert_s") is not None else ""
            parts.append(f"import {r['import_s']:4.2f}  load {r['load_s']:6.2f}{conv}  tables "
                         f"{r['tables_s']:4.2f}  load cpu {r['load_cpu_self']:.1f}+"
                         f"{r['load_cpu_workers']:.1f} s  files {r['present']}/{r['files']}")
        if r.get("converted") is not None:
            parts.append(f"converted {r['converted']}")
        return parts + common.resources(bc, r)

    return common.step_line(label, r, details, width=62)


# -- report --------------------------------------------------------------------------------------


def report(bc, machine: dict, args, res: dict) -> dict:
    s = res["steps"]
    common.print_machine(
        machine,
        ("page cache", f"warm; sync before every step; casdb pair run {args.repeat} time(s)"),
    )

    ok, inproc = common.succeeded(s), common.in_process

    print("\n== steps (wall: child incl. start-up and imports; in-proc: load call + tables) ==")
    print(f"  {'step':58} {'wall':>7} {'in-proc':>8} {'load':>7} {'convert':>8} {'conv.':>6} "
          f"{'CPU s':>6} {'RSS':>9} {'sync':>5} {'load avg':>8}")
    order = [("casdb_ref", "casdb 1.0.0, no flavour (reference)"),
             ("casdb_v1", "casdb 1.0.0 16 kHz mono, empty cache"),
             ("casdb_v2", "casdb 2.0.0 16 kHz mono, same cache"),
             ("casdb_cli_v1", "casdb CLI checkout 1.0.0, empty cache"),
             ("casdb_cli_v2", "casdb CLI checkout 2.0.0, same cache"),
             ("audb_v1", "audb 1.0.0, empty cache (num_workers=1)"),
             ("audb_v2", "audb 2.0.0, same cache (num_workers=1)"),
             ("audb_par_v1", "audb 1.0.0, empty cache (num_workers=None)"),
             ("audb_par_v2", "audb 2.0.0, same cache (num_workers=None)")]
    for key, label in order:
        if key not in s:
            continue
        r = s[key]
        if not ok(key):
            print(f"  {label:58} FAILED")
            continue
        ip = f"{inproc(r):.2f}" if "load_s" in r else "-"
        ld = f"{r['load_s']:.2f}" if "load_s" in r else "-"
        cv = f"{r['convert_s']:.2f}" if r.get("convert_s") is not None else "-"
        n = str(r["converted"]) if r.get("converted") is not None else "-"
        print(f"  {label:58} {r['seconds']:7.2f} {ip:>8} {ld:>7} {cv:>8} {n:>6} "
              f"{r.get('cpu', 0):6.1f} {bc.human(r.get('peak_rss', 0)):>9} "
              f"{r.get('sync_s', 0):5.2f} {r.get('load_avg', 0):8.1f}")

    ratios = {}
    print("\n== ratios ==")
    for v in ("1", "2"):
        c = f"casdb_v{v}"
        for a, what in ((f"audb_v{v}", "num_workers=1"), (f"audb_par_v{v}", "num_workers=None")):
            if ok(c) and ok(a):
                rw = s[a]["seconds"] / s[c]["seconds"]
                ri = inproc(s[a]) / inproc(s[c])
                ratios[f"{a}/{c}"] = {"wall": rw, "in_process": ri}
                print(f"  {v}.0.0: audb ({what}) / casdb: wall {rw:.1f}x, in-process {ri:.1f}x")
    for tool, k1, k2 in (("casdb", "casdb_v1", "casdb_v2"), ("casdb CLI", "casdb_cli_v1",
                                                             "casdb_cli_v2"),
                         ("audb num_workers=1", "audb_v1", "audb_v2"),
                         ("audb num_workers=None", "audb_par_v1", "audb_par_v2")):
        if ok(k1) and ok(k2):
            parts = {"wall": s[k2]["seconds"] / s[k1]["seconds"],
                     "cpu": s[k2].get("cpu", 0) / max(s[k1].get("cpu", 0), 1e-9)}
            if "load_s" in s[k1]:
                parts["load_call"] = s[k2]["load_s"] / s[k1]["load_s"]
                parts["in_process"] = inproc(s[k2]) / inproc(s[k1])
            ratios[f"{k2}/{k1}"] = parts
            print(f"  {tool} 2.0.0 / 1.0.0: " + ", ".join(
                f"{k} {100 * x:.1f} %" for k, x in parts.items()))
    if ok("casdb_v1") and ok("casdb_ref"):
        print(f"  casdb flavoured 1.0.0 / unflavoured 1.0.0: wall "
              f"{s['casdb_v1']['seconds'] / s['casdb_ref']['seconds']:.1f}x, load call "
              f"{s['casdb_v1']['load_s'] / s['casdb_ref']['load_s']:.1f}x")
    for key in ("casdb_v1", "casdb_v2", "audb_v1", "audb_par_v1"):
        if ok(key) and s[key].get("convert_s") is not None:
            r = s[key]
            cpu = r["load_cpu_self"] + r["load_cpu_workers"]
            split = (f"in Flavor.__call__ {r['convert_s']:.2f} s summed over threads"
                     if key.startswith("audb_par") else
                     f"= convert {r['convert_s']:.2f} s + rest {r['load_s'] - r['convert_s']:.2f} s")
            print(f"  {key}: load call {r['load_s']:.2f} s {split}; load CPU {cpu:.1f} s "
                  f"(caller {r['load_cpu_self']:.1f}, workers {r['load_cpu_workers']:.1f}) = "
                  f"{cpu / r['load_s']:.2f} cores; per converted file "
                  f"{1000 * r['convert_s'] / max(r['converted'] or 1, 1):.1f} ms wall")

    print("\n== outputs ==")
    for key, c in res.get("checks", {}).items():
        kinds = "; ".join(f"{n} x {k}" for k, n in c["kinds"].items())
        print(f"  {key:12} {c['audio_files']} audio files: {kinds}")
    for v, c in res.get("compare", {}).items():
        print(f"  casdb vs audb, {v}, {c['files']} files: max difference {c['max_diff_lsb']} LSB, "
              f"lowest SNR {c['min_snr_db']:.1f} dB, {c['identical']} identical, same length: "
              f"{c['same_length']}")
    mb = res["media_bytes_v1"]
    print("\n== disk (allocated, each inode once) ==")
    if "casdb_disk" in res:
        d, dd = res["casdb_disk"], res["casdb_derived_disk"]
        print(f"  casdb cache (1.0.0 + 2.0.0 flavoured): {bc.human(d['extra_bytes'])} "
              f"({d['own_files']} inodes, {d['dirs']} folders; {d['linked_files']} files linked to "
              f"repository blobs); .derived {bc.human(dd['extra_bytes'])} "
              f"({dd['own_files']} files)")
    for key, what in (("audb_disk", "num_workers=1"), ("audb_par_disk", "num_workers=None")):
        if key in res:
            d = res[key]
            print(f"  audb cache ({what}, 1.0.0 + 2.0.0): {bc.human(d['extra_bytes'])} "
                  f"({d['own_files']} files)")
    print(f"  (1.0.0's source media: {bc.human(mb)})")

    targets = []
    if ok("casdb_v1"):
        audb_keys = [k for k in ("audb_v1", "audb_par_v1") if ok(k)]
        if audb_keys:
            best = min(audb_keys, key=lambda k: s[k]["seconds"])
            c = s["casdb_v1"]
            ratio = s[best]["seconds"] / c["seconds"]
            extra = ""
            if best != "audb_v1" and ok("audb_v1"):
                extra = f"; against audb's default: {s['audb_v1']['seconds'] / c['seconds']:.1f}x"
            targets.append(("flavoured load at least 5x faster than audb (both cores)",
                            f"1.0.0: casdb {c['seconds']:.2f} s vs audb {s[best]['seconds']:.2f} s "
                            f"({s[best]['label']}): {ratio:.1f}x (child wall times){extra}",
                            ratio >= 5))
            ri = inproc(s[best]) / inproc(c)
            targets.append(("the same, in-process (load call + tables, imports excluded)",
                            f"casdb {inproc(c):.2f} s vs audb {inproc(s[best]):.2f} s: {ri:.1f}x",
                            ri >= 5))
    if ok("casdb_v1") and ok("casdb_v2"):
        a, b = s["casdb_v1"], s["casdb_v2"]
        share = (b.get("converted") or 0) / max(a.get("converted") or 1, 1)
        rl = b["load_s"] / a["load_s"]
        targets.append(("next version (2.0.0) at most ~10-15 % of the first (load call)",
                        f"{b['load_s']:.2f} s / {a['load_s']:.2f} s = {100 * rl:.1f} %; it "
                        f"converted {b.get('converted')} files against {a.get('converted')} "
                        f"({100 * share:.0f} %)", rl <= 0.15))
        rw = b["seconds"] / a["seconds"]
        targets.append(("the same, child wall (start-up and imports included)",
                        f"{b['seconds']:.2f} s / {a['seconds']:.2f} s = {100 * rw:.1f} %",
                        rw <= 0.15))
    return {"ratios": ratios, "targets": common.print_targets(targets)}


if __name__ == "__main__":
    common.run_main(child, main)
