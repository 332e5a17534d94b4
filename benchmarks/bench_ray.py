"""casdb.ray on a local Ray instance: start time, memory, and read throughput of a small set.

Method: write ``--files`` WAV files (``--duration`` s, 16 kHz mono) with
``casdb.testing.synth.make_dataset`` and commit them into a fresh repository; time
``ray.init(num_cpus=CPUS, include_dashboard=False)`` and sum the resident memory of the Ray
processes at rest (the driver and every process the raylet started); then read the ``emotion``
table with :func:`casdb.ray.read` (``audio="arrays"``, the original flavour, then resampled to
8 kHz) into an empty cache (cold) and again (warm: the files are in the cache), consuming every
row with ``iter_batches``; a first read before them, timed apart, starts the workers. The limit: the same rows read on the driver from a ``casdb.load``
checkout with soundfile, one file after another.

    .venv/bin/python benchmarks/bench_ray.py [--files 200] [--duration 1.0] [--cpus 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


def machine() -> str:
    import psutil

    mem = psutil.virtual_memory().total / 2**30
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{mem:.0f} GiB, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")


def ray_memory() -> tuple[float, int]:
    """MB resident in the driver and every process of the local Ray instance, and their count."""
    import psutil

    me = psutil.Process()
    procs = [me]
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.pid != me.pid and ("ray/" in cmd or "ray::" in cmd or "raylet" in cmd
                                or "gcs_server" in cmd):
            procs.append(p)
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20, len(procs)


def consume(ds) -> tuple[int, int]:
    """Rows and audio bytes of every batch."""
    rows = size = 0
    for batch in ds.iter_batches(batch_size=64, batch_format="numpy"):
        rows += len(batch["file"])
        size += sum(a.nbytes for a in batch["audio"])
    return rows, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    print("machine:", machine())

    import numpy as np
    import soundfile

    import casdb
    from casdb.testing.synth import make_dataset

    work = Path(tempfile.mkdtemp(prefix="casdb-bench-ray-"))
    try:
        repo = casdb.Repository.init(work / "repo")
        src = make_dataset(work / "src", files=args.files, duration=args.duration,
                           sampling_rate=16000)
        repo.commit(src, dataset="synth", version="1.0.0")
        mb = sum(f.stat().st_size for f in (src / "audio").rglob("*")) / 1e6
        print(f"set: {args.files} files x {args.duration} s, 16 kHz mono, {mb:.1f} MB")

        t = time.perf_counter()
        import ray

        import casdb.ray
        t_import = time.perf_counter() - t
        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        t_init = time.perf_counter() - t
        time.sleep(1.0)  # let the prestarted workers settle before measuring memory
        rss, procs = ray_memory()
        print(f"import ray + casdb.ray: {t_import:.2f} s; ray.init(num_cpus={args.cpus}): "
              f"{t_init:.2f} s; at rest: {rss:.0f} MB resident in {procs} processes")

        # the first job starts the workers' Python (casdb, pandas, pyarrow imported there):
        # timed apart, into a cache of its own, so that "cold" below means a cold cache only
        t = time.perf_counter()
        consume(casdb.ray.read("synth", "1.0.0", repo=repo.path, table="emotion",
                               cache_root=work / "cache-first"))
        print(f"first read (workers start, cold cache): {time.perf_counter() - t:.2f} s")
        for label, flavour in (("original", None), ("8 kHz", {"sampling_rate": 8000})):
            cache = work / f"cache-{label[:2]}"
            for run in ("cold", "warm"):
                t = time.perf_counter()
                ds = casdb.ray.read("synth", "1.0.0", repo=repo.path, table="emotion",
                                    flavour=flavour, cache_root=cache)
                rows, size = consume(ds)
                s = time.perf_counter() - t
                print(f"casdb.ray.read {label:8s} {run}: {rows} rows in {s:.2f} s = "
                      f"{rows / s:.0f} files/s, {size / 1e6 / s:.1f} MB/s decoded")
        rss, procs = ray_memory()
        print(f"after the reads: {rss:.0f} MB resident in {procs} processes")
        ray.shutdown()

        ref = casdb.load("synth", "1.0.0", repo=repo, cache_root=work / "ref")
        t = time.perf_counter()
        size = 0
        for f in ref["emotion"].get().index:
            data, _ = soundfile.read(f, dtype="float32", always_2d=True)
            size += np.ascontiguousarray(data.T).nbytes
        s = time.perf_counter() - t
        print(f"limit (soundfile over the checkout, one process): {args.files} files in "
              f"{s:.2f} s = {args.files / s:.0f} files/s, {size / 1e6 / s:.1f} MB/s decoded")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
