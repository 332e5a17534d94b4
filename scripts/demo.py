"""The demo behind scripts/demo: two versions of a small dataset in a local repository, then
checkouts into a cache (as is, in a flavour, a subset) and a load from Python."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from casdb.testing.synth import file_name, make_dataset, write_audio, write_tables


def casdb(*args: str) -> None:
    print(f"\n$ casdb {' '.join(args)}", flush=True)
    subprocess.run([str(Path(sys.executable).parent / "casdb"), *args], check=True)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="casdb-demo-"))
    os.environ["CASDB_REPO"] = str(work / "repo")
    os.environ["CASDB_CACHE"] = str(work / "cache")
    src = work / "mydb"
    print(f"demo folder: {work}")
    make_dataset(src, files=40, duration=1.0, sampling_rate=16000, name="mydb")
    casdb("init")
    casdb("commit", str(src), "--dataset", "mydb", "--version", "1.0.0", "-m", "first release")

    # Version 2: five new recordings, one re-recorded, three labels fixed.
    for i in range(40, 45):
        write_audio(src / file_name(i), i, 1.0, 16000, 1)
    write_audio(src / file_name(3), 999, 1.0, 16000, 1)
    write_tables(src, range(45))
    table = src / "db.emotion.csv"
    with open(table, newline="") as f:
        rows = list(csv.reader(f))
    for i in (2, 7, 11):
        rows[i][1] = "neutral"  # the emotion column
    with open(table, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    casdb("commit", str(src), "--dataset", "mydb", "--version", "2.0.0", "-m",
          "five more files, three labels fixed")

    casdb("ls")
    casdb("log", "mydb")
    casdb("diff", "mydb", "1.0.0", "2.0.0", "--rows", "6")
    casdb("show", "mydb@2.0.0")
    casdb("fsck")

    # Load: a version into the cache (media linked from the store), then in a 8 kHz FLAC flavour.
    casdb("checkout", "mydb@1.0.0")
    casdb("checkout", "mydb@2.0.0", "--sampling-rate", "8000", "--format", "flac")
    casdb("checkout", "mydb@2.0.0", str(work / "subset"), "--tables", "emotion", "--media", "00001")
    casdb("cache", "ls")
    casdb("cache", "verify")
    print("\n>>> ds = casdb.load('mydb', '2.0.0'); ds['emotion'].get(map={'speaker': 'age'})",
          flush=True)
    import casdb as api

    ds = api.load("mydb", "2.0.0")
    print(ds["emotion"].get(map={"speaker": "age"}).head(3).to_string())
    print("\n>>> for frame, audio in casdb.stream('mydb', '2.0.0', tables='emotion', "
          "batch_size=16, shuffle=True, seed=0, audio='arrays', flavour={'sampling_rate': "
          "8000}, cache_budget=2**20): ...", flush=True)
    for frame, audio in api.stream("mydb", "2.0.0", tables="emotion", batch_size=16,
                                   shuffle=True, seed=0, audio="arrays",
                                   flavour={"sampling_rate": 8000}, cache_budget=2**20):
        print(f"batch of {len(frame)}: first {frame.index[0]} ({frame['emotion'].iloc[0]}), "
              f"audio {audio[0].array.shape} at {audio[0].sampling_rate} Hz")
    if "--keep" not in sys.argv:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
