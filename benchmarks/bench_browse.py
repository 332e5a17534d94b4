"""Benchmark of browsing a remote without cloning it (issue 14, item 1): requests and bytes.

A version of 2000 files (and a second version with 1 % of the files re-recorded) is pushed to a
folder remote and, with --s3, to SeaweedFS on 127.0.0.1. Then, each from an empty remote object
cache, in one process, with every backend call counted (a proxy around the remote's backend):
``ls`` (datasets and versions), ``show`` (casdb.info of 2.0.0), ``log``, ``diff 1.0.0 2.0.0``,
and again warm; the reference is ``clone``, what browsing needed before (every blob).

    .venv/bin/python benchmarks/bench_browse.py [--files 2000] [--s3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import casdb
from casdb.store.backends import registry
from casdb.testing.synth import make_dataset, write_audio


class Counting:
    """The backend, with its calls and the bytes they returned counted."""

    def __init__(self, inner, counts: dict) -> None:
        self._inner, self._counts = inner, counts

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def counted(*args, **kwargs):
            out = attr(*args, **kwargs)
            if name == "list":
                out = list(out)
            self._counts["requests"] += 1
            if isinstance(out, bytes):
                self._counts["bytes"] += len(out)
            elif isinstance(out, list) and out and isinstance(out[0], bytes):
                self._counts["bytes"] += sum(len(b) for b in out)
            elif name == "get_file":
                self._counts["bytes"] += os.path.getsize(args[1])
            return out

        return counted


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def measure(url: str, base: Path, counts: dict) -> list[tuple[str, int, int, float]]:
    """Each command from an empty remote object cache (cold), then again with what it
    fetched (warm; a new view lists the refs again)."""
    steps = [
        ("ls", lambda v: [v.versions(d) for d in v.datasets()]),
        ("show 2.0.0", lambda v: casdb.info("synth", "2.0.0", repo=v)),
        ("log", lambda v: v.log("synth")),
        ("diff 1.0.0 2.0.0", lambda v: v.diff("synth", "1.0.0", "2.0.0")),
    ]
    rows = []
    for name, step in steps:
        cache = base / f"cache-{time.monotonic_ns()}"
        for warm in (False, True):
            counts.update(requests=0, bytes=0)
            t = time.perf_counter()
            step(casdb.open_repository(url, cache_root=cache))
            rows.append((name + (" (warm)" if warm else ""), counts["requests"], counts["bytes"],
                         time.perf_counter() - t))
        blobs = list((cache / ".remotes").rglob("blobs/*/*"))
        assert not blobs, f"{name} fetched {len(blobs)} blobs"
    counts.update(requests=0, bytes=0)
    t = time.perf_counter()
    casdb.Repository.clone(url, base / f"clone-{time.monotonic_ns()}")
    rows.append(("reference: clone", counts["requests"], counts["bytes"], time.perf_counter() - t))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--s3", action="store_true", help="also SeaweedFS on 127.0.0.1")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    base = Path(tempfile.mkdtemp(prefix="casdb-bench-browse-"))
    counts = {"requests": 0, "bytes": 0}
    opened = registry.open_backend
    registry.open_backend = lambda url: Counting(opened(url), counts)
    import casdb.remote.layout as layout

    layout.open_backend = registry.open_backend  # imported by name there
    server = None
    try:
        repo = casdb.Repository.init(base / "repo")
        src = make_dataset(base / "src", files=args.files, duration=0.5, sampling_rate=16000)
        repo.commit(src, dataset="synth", version="1.0.0")
        for i in range(0, args.files, 100):  # 1 % re-recorded
            write_audio(src / f"audio/{i // 1000:03d}/{i:06d}.wav", 10_000 + i, 0.5, 16000, 1)
        repo.commit(src, dataset="synth", version="2.0.0")
        size = sum(p.stat().st_size for p in src.rglob("*.wav"))
        print(f"synth: {args.files} files, {size / 1e6:.0f} MB per version, 2 versions")
        urls = {"folder": str(base / "remote")}
        if args.s3:
            from casdb.testing.seaweed import SeaweedFS

            server = SeaweedFS(base / "seaweed")
            server.start()
            os.environ.update(server.env)
            urls["s3"] = "s3://casdb/browse"
        for kind, url in urls.items():
            repo.remote_add(kind, url)
            repo.push(kind)
            print(f"\n{kind} remote ({url})")
            print(f"{'step':<26} {'requests':>8} {'bytes':>12} {'seconds':>8}")
            for name, requests, nbytes, seconds in measure(url, base, counts):
                print(f"{name:<26} {requests:>8} {nbytes:>12,} {seconds:>8.2f}")
    finally:
        if server is not None:
            server.stop()
        for dirpath, _, _ in os.walk(base):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
