#!/usr/bin/env python
"""Lossless audio on remotes (issue 16): push and clone of real speech to SeaweedFS with and
without FLAC, and the codec's speed per core.

Usage (from the project root; espeak-ng must be installed: ``apt-get install espeak-ng``)::

    python benchmarks/bench_codec.py                 # 300 sentences
    python benchmarks/bench_codec.py --files 60      # quick run

Data (``--corpus espeak``, the default): ``--files`` WAV files (16-bit mono, 16 kHz) of English sentences spoken by espeak-ng with
six voices and varying speed and pitch (``casdb.testing.speech.speech_corpus``: 1-3 Harvard
sentences each, resampled from espeak's 22050 Hz), plus the tables of a synthetic dataset,
cached under ``--data``. This is synthetic speech: real recordings carry room noise and compress
less (the issue measured 0.52-0.59 for LibriSpeech-like 16 kHz speech, 0.64 for 8 kHz prompts).
``--corpus prompts``: recorded speech, the 568 voice prompts of Debian's
asterisk-core-sounds-en-wav (8 kHz 16-bit mono WAV, 24.5 MB; the first ``--files``).

Steps, in this process (times include nothing but the call): commit into a fresh repository;
for each codec (``none``, then ``flac``, ``--repeat`` rounds): ``remote add`` of
``s3://codec-bench/<codec>-<round>`` on a
SeaweedFS server on loopback (``weed mini``, started here), **push**, then **clone** into an
empty folder, then a check that every file of the clone's checkout equals the source. Reported:
wall time, this process's CPU time (user + system, all threads), the server's CPU time (from
/proc), and the bytes the server holds under the prefix (sum of the listed objects' sizes).

Codec speed: every file coded once on one thread (``encode``, which includes the verifying
decode and hash), then decoded once (``decode``, which includes the hash), in MB of WAV per
CPU-second of that thread; the FLAC stream alone (``_flac``) is timed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def corpus(data: Path, files: int, kind: str) -> Path:
    """The dataset folder: ``files`` spoken sentences (or recorded prompts) and tables
    (cached)."""
    from casdb.testing.speech import prompts, speech_corpus
    from casdb.testing.synth import file_name, make_dataset

    src = data / f"{kind}-{files}"
    if (src / ".complete").exists():
        return src
    shutil.rmtree(src, ignore_errors=True)
    make_dataset(src, files=files, audio=False, name="speech")
    if kind == "prompts":
        spoken = prompts()[:files]
    else:
        spoken = speech_corpus(data / f"spoken-{files}", files)
    for i, path in enumerate(spoken):
        target = src / file_name(i)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (src / ".complete").write_text("")
    return src


def codec_speed(paths: list[Path]) -> dict:
    """MB of WAV per CPU-second of one thread: FLAC alone, encode (with its check), decode."""
    from casdb.core.ids import hash_bytes
    from casdb.remote.audiocodec import _flac, decode, encode
    from casdb.remote.pcmspan import pcm_span

    files = [p.read_bytes() for p in paths]
    ids = [hash_bytes(d) for d in files]
    total = sum(len(d) for d in files) / 1e6
    t0 = time.thread_time()
    for d in files:
        span = pcm_span(d)
        _flac(memoryview(d)[span.offset : span.offset + span.length], span)
    flac_only = time.thread_time() - t0
    t0 = time.thread_time()
    records = [encode(d, i) for d, i in zip(files, ids, strict=True)]
    enc = time.thread_time() - t0
    t0 = time.thread_time()
    for r, i, d in zip(records, ids, files, strict=True):
        assert decode(r, i, len(d)) == d
    dec = time.thread_time() - t0
    coded = sum(len(r) for r in records) / 1e6
    return {"wav_MB": total, "coded_MB": coded, "ratio": coded / total,
            "flac_MBps": total / flac_only, "encode_MBps": total / enc,
            "decode_MBps": total / dec}


def server_bytes(server, bucket: str, prefix: str) -> tuple[int, int]:
    """(bytes, objects) under ``prefix``."""
    client = server.client()
    size = count = 0
    token = None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = client.list_objects_v2(**kw)
        for o in page.get("Contents", []):
            size += o["Size"]
            count += 1
        token = page.get("NextContinuationToken")
        if not token:
            return size, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "casdb-bench")
    parser.add_argument("--corpus", choices=["espeak", "prompts"], default="espeak",
                        help="espeak-ng sentences at 16 kHz, or Debian's recorded asterisk "
                             "voice prompts (8 kHz; at most 568)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="rounds of (none, flac) push and clone, each to a new prefix")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    from casdb.testing.speech import espeak, prompts

    if args.corpus == "espeak" and espeak() is None:
        sys.exit("espeak-ng is not installed: apt-get install espeak-ng")
    if args.corpus == "prompts":
        if not prompts():
            sys.exit("no voice prompts: apt-get install asterisk-core-sounds-en-wav")
        args.files = min(args.files, len(prompts()))
    import casdb
    from casdb.testing.seaweed import SeaweedFS
    from casdb.testing.synth import file_name

    args.data.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    src = corpus(args.data, args.files, args.corpus)
    wavs = [src / file_name(i) for i in range(args.files)]
    wav_bytes = sum(p.stat().st_size for p in wavs)
    print(f"corpus: {args.files} files, {wav_bytes / 1e6:.1f} MB of WAV "
          f"({time.perf_counter() - t0:.1f} s to make or find)", flush=True)
    res: dict = {"corpus": args.corpus, "files": args.files, "wav_bytes": wav_bytes, "cores": os.cpu_count()}
    res["speed"] = codec_speed(wavs)
    s = res["speed"]
    print(f"codec on one core: FLAC alone {s['flac_MBps']:.0f} MB/s, encode (with check) "
          f"{s['encode_MBps']:.0f} MB/s, decode (with hash) {s['decode_MBps']:.0f} MB/s; "
          f"coded/WAV {s['ratio']:.3f}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-codec-", dir=args.data))
    server = SeaweedFS(work / "seaweed").start()
    try:
        os.environ.update(server.env)
        server.create_bucket("codec-bench")
        repo = casdb.Repository.init(work / "repo")
        repo.commit(src, dataset="speech", version="1.0.0")
        for n, codec in enumerate(["none", "flac"] * args.repeat):
            name = f"{codec}-{n // 2}"
            url = f"s3://codec-bench/{name}"
            repo.remote_add(name, url, audio_codec=codec)
            out = {}
            for step in ("push", "clone"):
                os.sync()
                w0, c0, s0 = time.perf_counter(), cpu(), process_cpu(server.process.pid)
                if step == "push":
                    result = repo.push(name)
                else:
                    clone = casdb.Repository.clone(url, work / f"clone-{name}")
                w1, c1, s1 = time.perf_counter(), cpu(), process_cpu(server.process.pid)
                out[step] = {"wall_s": w1 - w0, "cpu_s": c1 - c0, "server_cpu_s": s1 - s0}
            out["push"]["sent_bytes"] = result.bytes
            out["server_bytes"], out["server_objects"] = server_bytes(server, "codec-bench",
                                                                      name + "/")
            ds = casdb.load("speech", "1.0.0", repo=clone, cache_root=work / f"cache-{name}")
            for i in range(args.files):
                file = file_name(i)
                assert (Path(ds.root) / file).read_bytes() == (src / file).read_bytes(), file
            res.setdefault(codec, []).append(out)
            print(f"{name:>6}: server holds {out['server_bytes'] / 1e6:7.1f} MB in "
                  f"{out['server_objects']} objects; push {out['push']['wall_s']:.2f} s wall, "
                  f"{out['push']['cpu_s']:.2f} s CPU (server {out['push']['server_cpu_s']:.2f});"
                  f" clone {out['clone']['wall_s']:.2f} s wall, {out['clone']['cpu_s']:.2f} s "
                  f"CPU (server {out['clone']['server_cpu_s']:.2f}); every file bit-exact",
                  flush=True)
        share = res["flac"][0]["server_bytes"] / res["none"][0]["server_bytes"]
        print(f"bytes on the server with FLAC: {share:.3f} of those without", flush=True)
        res["flac_share"] = share
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
