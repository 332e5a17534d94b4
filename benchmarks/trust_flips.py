#!/usr/bin/env python
"""Flipped-byte campaign (issue 11): flip one bit of one stored or cached file, then load, and
count how often wrong bytes are handed out (the target is 0). Not a timing benchmark.

Usage (from the project root):

    .venv/bin/python benchmarks/trust_flips.py              # 80 trials per kind
    .venv/bin/python benchmarks/trust_flips.py --trials 20

Kinds of file, and the load that follows each flip:

* ``store blob``: a blob in the repository (mtime kept, as a careful attacker would), then a
  checkout into an empty cache;
* ``checkout file``: a media file of a hardlinked checkout written through (root ignores 0444),
  then a warm load of that folder, and a checkout into an empty cache;
* ``converted file``: a file of the cache's ``.derived/`` store, then a checkout of the flavour
  into a new folder of the same cache;
* ``remote cache blob``: a blob of a remote's object cache (``.remotes/``), then a checkout
  from the remote into a new folder;
* ``table`` / ``db.yaml``: a checked-out table or header, then a warm load reading every table.

An outcome is ``refused`` (a casdb.Error), ``repaired`` (the load succeeded with the right
bytes: re-fetched or re-converted) or ``handed out`` (the load succeeded with wrong bytes).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import casdb
from casdb.api import Repository
from casdb.audio.flavour import Flavour
from casdb.core.errors import Error
from casdb.store.fingerprints import hash_file
from casdb.testing.corrupt import flip_byte
from casdb.testing.synth import make_dataset


def media_ok(folder: Path, files: dict[str, str]) -> bool:
    return all(hash_file(str(folder / f)) == b for f, b in files.items() if (folder / f).exists())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="casdb-flips-"))
    repo = Repository.init(work / "repo")
    src = make_dataset(work / "src", files=16, duration=0.3, sampling_rate=16000)
    repo.commit(src, dataset="synth", version="1.0.0")
    remote = str(work / "remote")
    repo.remote_add("origin", remote)
    repo.push()
    media = repo.media("synth", "1.0.0")
    files = dict(zip(media.index, media["blob"], strict=True))
    names = sorted(files)
    outcomes: dict[str, Counter] = {}
    n = 0

    def fresh() -> Path:
        nonlocal n
        n += 1
        return work / f"t{n}"

    def trial(kind: str, victim: Path, load, check, keep_mtime: bool = True) -> None:
        original = hash_file(str(victim))
        undo = flip_byte(victim, rng, keep_mtime=keep_mtime)
        try:
            out = load()
        except Error:
            result = "refused"
        else:
            result = "repaired" if check(out) else "handed out"
        finally:
            if victim.exists() and hash_file(str(victim)) != original:
                undo()  # not repaired (a repair puts a good file in its place)
        outcomes.setdefault(kind, Counter())[result] += 1

    # 1. store blobs: a cold checkout (the repository has no remote for half the trials)
    for i in range(args.trials):
        blob = repo.store.blob_path(files[rng.choice(names)])
        with_remote = i % 2 == 0
        r = Repository(repo.path)
        if not with_remote:
            (r.path / "remotes.json").rename(r.path / "remotes.off")
        try:
            trial(f"store blob ({'a remote has it' if with_remote else 'no remote'})", blob,
                  lambda r=r: casdb.load("synth", "1.0.0", repo=r, cache_root=fresh()),
                  lambda ds: media_ok(Path(ds.root), files))
        finally:
            if not with_remote:
                (r.path / "remotes.off").rename(r.path / "remotes.json")
        for b in set(files.values()):  # a repaired trial left a good blob; an undone one too
            repo.store.verify_blob(b)

    # 2. writes through a hardlinked checkout: warm load of the folder, then a fresh checkout
    warm_root = fresh()
    for _ in range(args.trials):
        ds = casdb.load("synth", "1.0.0", repo=repo, cache_root=warm_root)
        victim = Path(ds.root) / rng.choice(names)
        trial("checkout file, warm load", victim,
              lambda: casdb.load("synth", "1.0.0", repo=repo, cache_root=warm_root),
              lambda ds: media_ok(Path(ds.root), files), keep_mtime=False)

    # 3. converted files
    flavour = Flavour(sampling_rate=8000)
    conv_root = fresh()
    casdb.load("synth", "1.0.0", repo=repo, cache_root=conv_root, flavour=flavour)
    good = {p: hash_file(str(p)) for p in (conv_root / ".derived").rglob("*") if p.is_file()}
    for _ in range(args.trials):
        victim = rng.choice(sorted(good))
        trial("converted file", victim,
              lambda: casdb.checkout("synth", "1.0.0", dest=fresh(), cache_root=conv_root,
                                     flavour=flavour, repo=repo),
              lambda out: all(hash_file(str(p)) == h for p, h in good.items()))

    # 4. a remote's object cache
    rc_root = fresh()
    casdb.load("synth", "1.0.0", repo=remote, cache_root=rc_root)
    cached = [p for p in (rc_root / ".remotes").rglob("blobs/*/*") if p.is_file()]
    for _ in range(args.trials):
        victim = rng.choice(cached)
        trial("remote cache blob", victim,
              lambda: casdb.checkout("synth", "1.0.0", dest=fresh(), cache_root=rc_root, repo=remote),
              lambda out: media_ok(out.path, files))

    # 5. tables and db.yaml of a checkout, then a warm load reading every table
    meta_root = fresh()
    ds = casdb.load("synth", "1.0.0", repo=repo, cache_root=meta_root)
    expected = {t: ds[t].get() for t in ds.tables}
    for name in ["db.emotion.parquet", "db.yaml"]:
        for _ in range(args.trials):
            def load():
                d = casdb.load("synth", "1.0.0", repo=repo, cache_root=meta_root)
                return {t: d[t].get() for t in d.tables}
            trial("table" if name != "db.yaml" else "db.yaml", Path(ds.root) / name, load,
                  lambda got: got.keys() == expected.keys() and all(
                      got[t].equals(expected[t]) for t in got))

    print(f"casdb flipped-byte campaign on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {sys.version.split()[0]}; {args.trials} trials per "
          f"kind, seed {args.seed}")
    print(f"{'kind':<32} {'trials':>6} {'refused':>8} {'repaired':>9} {'handed out':>11}")
    total = 0
    for kind, c in outcomes.items():
        total += c["handed out"]
        print(f"{kind:<32} {sum(c.values()):>6} {c['refused']:>8} {c['repaired']:>9} "
              f"{c['handed out']:>11}")
    print(f"handed out in total: {total}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
