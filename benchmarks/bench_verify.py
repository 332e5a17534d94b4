#!/usr/bin/env python
"""What verified placement (issue 11, item 2) costs, in-process, against its references.

Usage (from the project root):

    .venv/bin/python benchmarks/bench_verify.py                 # 500 files of 3 s, 48 kHz stereo
    .venv/bin/python benchmarks/bench_verify.py --files 100

Printed, best of ``--repeat`` runs each:

* ``check, fingerprints known``: ``ObjectStore.check_blobs`` over every blob of the version
  (what a cold checkout adds before it links), against a plain ``os.stat`` walk of the blobs;
* ``check, no fingerprints``: the same after deleting ``fingerprints.db`` (every blob is
  re-hashed: a repository written by an older casdb, or a damaged database), against hashing
  every blob with blake3 directly (``b3sum``'s work);
* ``cold load`` (empty cache) and ``warm load`` (the folder is ready: ``check_in_place`` runs),
  ``casdb.load`` as users call it, and the warm check alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import casdb
from casdb import Repository
from casdb.checkouts.placed import check_in_place
from casdb.store.fingerprints import DB, hash_file
from casdb.testing.synth import make_dataset


def best(fn, repeat: int, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casdb-verify-"))
    src = make_dataset(work / "src", files=args.files, duration=args.duration,
                       sampling_rate=48000, channels=2)
    repo = Repository.init(work / "repo")
    repo.commit(src, dataset="bench", version="1.0.0")
    blobs = list(repo.media("bench", "1.0.0")["blob"])
    paths = [str(repo.store.blob_path(b)) for b in blobs]
    size = sum(os.path.getsize(p) for p in paths)

    def fresh_repo() -> Repository:
        return Repository(repo.path)  # no fingerprints in memory

    rows = []
    rows.append(("check, fingerprints known", best(lambda: fresh_repo().store.check_blobs(blobs),
                                                   args.repeat),
                 "os.stat of every blob", best(lambda: [os.stat(p) for p in paths], args.repeat)))
    db = repo.path / DB
    saved = db.read_bytes()

    def drop() -> None:
        db.unlink(missing_ok=True)

    rows.append(("check, no fingerprints", best(lambda: fresh_repo().store.check_blobs(blobs),
                                                args.repeat, drop),
                 "blake3 of every blob", best(lambda: [hash_file(p) for p in paths], args.repeat)))
    db.write_bytes(saved)
    n = 0

    def cold() -> None:
        nonlocal n
        n += 1
        casdb.load("bench", "1.0.0", repo=fresh_repo(), cache_root=work / f"c{n}")

    cold_t = best(cold, args.repeat)
    root = work / "warm"
    ds = casdb.load("bench", "1.0.0", repo=repo, cache_root=root)
    warm_t = best(lambda: casdb.load("bench", "1.0.0", repo=repo, cache_root=root), args.repeat)
    check_t = best(lambda: check_in_place(root, Path(ds.root)), args.repeat)
    rows.append(("cold load (empty cache)", cold_t, "", None))
    rows.append(("warm load (folder ready)", warm_t, "of which the warm check", check_t))

    print(f"casdb verified placement on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {sys.version.split()[0]}; {args.files} files, "
          f"{size / 1e6:.0f} MB of blobs; best of {args.repeat}")
    print(f"{'step':<28} {'seconds':>8}   {'reference':<26} {'seconds':>8}")
    for name, t, ref, rt in rows:
        print(f"{name:<28} {t:>8.4f}   {ref:<26} {'' if rt is None else f'{rt:.4f}':>8}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
