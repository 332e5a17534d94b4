#!/usr/bin/env python
"""Augmentation benchmark (issue 13): an augmented flavour, casdb against a plain loop.

Usage (from the project root)::

    python benchmarks/bench_augment.py                  # 400 files of 3 s, 48 kHz stereo
    python benchmarks/bench_augment.py --files 40       # quick run

Data
----
``bench_commit.large_set`` (cached under ``--data``): ``--files`` WAV files (``--duration`` s,
48 kHz, stereo, 16-bit) with db.yaml and three tables, committed as ``bench`` 1.0.0 into a fresh
repository by the casdb CLI.

The flavour: 16 kHz mono 16-bit WAV with every augmentation casdb has, at its defaults
(time stretch, time shift, equalisation, reverb, pink noise, frequency and time masks, fade),
``seed: 7, share: 1.0``: every file is augmented.

Steps (each one child process, ``python -P bench_augment.py --child SPEC``; the child imports
casdb, numpy, scipy.signal, librosa (and the submodules it loads lazily on first use), soxr,
soundfile, pedalboard and colorednoise before the timed part, so imports are not counted for
either side):

1. **casdb**: ``casdb.checkout("bench", "1.0.0", repo=R, cache_root=C, flavour=F)`` into an empty
   cache: plans, draws the parameters, converts and augments in one worker process per core,
   links the files into the version folder, writes the tables and the ``augmentation`` table.
   Timed: the call.
2. **loop**: the libraries called directly, one file after the other, in one process: soundfile
   reads the source file (16-bit integers), the channels are summed and scaled (as casdb mixes
   down), ``soxr.resample`` (HQ) to 16 kHz, then ``librosa.effects.time_stretch``, ``numpy.roll``,
   ``scipy.signal.butter``/``sosfilt`` (9th order, high- then low-pass), ``pedalboard.Reverb``,
   ``colorednoise.powerlaw_psd_gaussian`` scaled to the SNR, ``scipy.signal.stft``/``istft``
   with the masked bands zeroed, zeroed time spans, linear fades, a clip to [-1, 1] and
   ``soundfile.write`` as 16-bit WAV. The parameters of each file are the ones casdb drew (read
   from its ``augmentation`` table): both sides compute the same thing. Timed: the loop.

Checks: every output file of the loop is compared byte for byte with casdb's file.

Target (PASS/FAIL): casdb at least 1.7x faster than the loop (timed parts), with identical
bytes. ``--repeat N`` runs both steps N times and keeps the best of each.
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
SPEC = {"seed": 7, "share": 1.0, "augmentations": {
    n: {} for n in ("time_stretch", "time_shift", "equalisation", "reverb", "pink_noise",
                    "frequency_mask", "time_mask", "fade")}}
FLAVOUR = {"sampling_rate": 16000, "mixdown": True, "bit_depth": 16, "format": "wav",
           "augment": SPEC}
LIBS = ("numpy", "scipy.signal", "librosa", "librosa.effects", "soxr", "soundfile", "pedalboard",
        "colorednoise", "pyarrow.parquet")


# -- child ---------------------------------------------------------------------------------------


def child(spec_json: str) -> None:
    spec = json.loads(spec_json)
    import casdb

    for mod in LIBS:
        __import__(mod)
    import librosa

    # librosa loads its submodules lazily, on first use (about 1 s): an import, made here
    librosa.stft, librosa.istft, librosa.phase_vocoder, librosa.util.fix_length  # noqa: B018
    c0 = os.times()
    t0 = time.perf_counter()
    if spec["tool"] == "casdb":
        out = casdb.checkout(NAME, "1.0.0", repo=spec["repo"], cache_root=spec["cache"],
                             flavour=FLAVOUR, progress=False)
        result = {"converted": out.converted, "root": str(out.path)}
    else:
        result = {"converted": plain_loop(spec["src"], spec["casdb_root"], spec["out"])}
    t1 = time.perf_counter()
    c1 = os.times()
    result.update(call_s=t1 - t0, cpu_self=c1.user - c0.user + c1.system - c0.system,
                  cpu_workers=c1.children_user - c0.children_user + c1.children_system
                  - c0.children_system)
    print(json.dumps(result))


def plain_loop(src: str, casdb_root: str, out: str) -> int:
    """Augment every file of ``src`` with the parameters of casdb's table, library by library."""
    from pathlib import Path

    import pyarrow.parquet as pq

    table = pq.read_table(Path(casdb_root) / "db.augmentation.parquet").to_pylist()
    for row in table:
        dest = Path(out) / row["file"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        augment_one(str(Path(src) / row["file"]), str(dest), json.loads(row["parameters"]))
    return len(table)


def augment_one(source: str, dest: str, p: dict) -> None:
    import colorednoise
    import librosa
    import numpy as np
    import soundfile as sf
    import soxr
    from pedalboard import Reverb
    from scipy.signal import butter, istft, sosfilt, stft

    rate = 16000
    x, sr = sf.read(source, dtype="int16", always_2d=True)
    y = x.astype(np.int32).sum(axis=1).astype(np.float32) * np.float32(1 / 32768 / x.shape[1])
    y = soxr.resample(y[:, None], sr, rate, quality="HQ")
    y = y if y.ndim == 2 else y[:, None]
    if "time_stretch" in p:
        y = np.ascontiguousarray(librosa.effects.time_stretch(
            np.ascontiguousarray(y.T), rate=p["time_stretch"]["rate"]).T)
    if "time_shift" in p:
        y = np.roll(y, int(round(p["time_shift"]["shift"] * len(y))), axis=0)
    if "equalisation" in p:
        q = p["equalisation"]
        for kind in ("highpass", "lowpass"):
            if q[f"{kind}_hz"] is not None:
                y = sosfilt(butter(q["order"], q[f"{kind}_hz"], btype=kind, fs=rate,
                                   output="sos"), y, axis=0)
        y = y.astype(np.float32)
    if "reverb" in p:
        q = p["reverb"]
        y = Reverb(room_size=q["room_size"], damping=q["damping"], wet_level=q["wet_level"],
                   dry_level=q["dry_level"], width=q["width"])(np.ascontiguousarray(y.T), rate)
        y = np.ascontiguousarray(y.T)
    if "pink_noise" in p:
        signal = float(np.mean(np.square(y, dtype=np.float64)))
        if signal:
            noise = colorednoise.powerlaw_psd_gaussian(1.0, (1, len(y)), random_state=(
                np.random.default_rng(p["pink_noise"]["noise_seed"]))).T
            scale = np.sqrt(signal / (float(np.mean(np.square(noise)))
                                      * 10 ** (p["pink_noise"]["snr_db"] / 10)))
            y = (y + scale * noise).astype(np.float32)
    if "frequency_mask" in p:
        frame = min(512, len(y))
        freqs, _, spec = stft(y.T, fs=rate, nperseg=frame)
        for low, width in p["frequency_mask"]["masks"]:
            spec[:, (freqs >= low * rate / 2) & (freqs < (low + width) * rate / 2), :] = 0
        z = istft(spec, fs=rate, nperseg=frame)[1].T[: len(y)]
        y = np.pad(z, ((0, len(y) - len(z)), (0, 0))).astype(np.float32)
    if "time_mask" in p:
        for start, width in p["time_mask"]["masks"]:
            a = int(start * len(y))
            y[a: a + int(round(width * len(y)))] = 0
    if "fade" in p:
        n_in = int(round(p["fade"]["fade_in"] * len(y)))
        n_out = int(round(p["fade"]["fade_out"] * len(y)))
        if n_in:
            y[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)[:, None]
        if n_out:
            y[len(y) - n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)[:, None]
    y = np.clip(np.ascontiguousarray(y, dtype=np.float32), -1.0, 1.0)
    sf.write(dest, y, rate, subtype="PCM_16", format="WAV")


# -- parent --------------------------------------------------------------------------------------


def main() -> None:
    from pathlib import Path

    import bench_commit as bc

    ap = common.parser(__doc__, "cached sources, work folders")
    ap.set_defaults(files=400)
    ap.add_argument("--casdb", default=str(Path(sys.executable).parent / "casdb"),
                    help="casdb executable for init/commit (default: beside this python)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each step (best kept)")
    args = ap.parse_args()
    rev, work, logs, machine = common.start(
        bc, args, "augment", ("numpy", "scipy", "librosa", "soxr", "soundfile", "pedalboard",
                              "colorednoise"))
    started = time.time()
    ds = bc.large_set(args.data, args.files, args.duration, args.sampling_rate, args.channels)
    src = ds["base"]
    res: dict = {"files": args.files, "flavour": FLAVOUR, "steps": {}}
    repo = work / "repo"
    common.commit_versions(bc, common.casdb_cli(args, rev), repo, {"1.0.0": src}, logs, res, NAME)
    bc.warm(src)
    bc.warm(repo / "blobs")

    def step(key: str, spec: dict) -> dict:
        cmd = [sys.executable, "-P", os.path.abspath(__file__), "--child", json.dumps(spec)]
        r = common.synced_run(bc, cmd, logs / f"{key}.log")
        print(f"  {key:6} wall {r['seconds']:6.2f} s  timed {r.get('call_s', float('nan')):6.2f} s"
              f"  files {r.get('converted')}  cpu {r.get('cpu_self', 0):.1f} s + workers "
              f"{r.get('cpu_workers', 0):.1f} s  load avg {r['load_avg']:.1f}", flush=True)
        return r

    runs: dict[str, list] = {"casdb": [], "loop": []}
    print()
    for i in range(args.repeat):
        cache = work / f"cache-{i}"
        runs["casdb"].append(step("casdb", {"tool": "casdb", "repo": str(repo),
                                            "cache": str(cache)}))
        root = runs["casdb"][-1].get("root")
        if root is None:
            sys.exit("casdb failed: see " + str(logs / "casdb.log"))
        out = work / f"loop-{i}"
        runs["loop"].append(step("loop", {"tool": "loop", "src": str(src), "casdb_root": root,
                                          "out": str(out)}))
        if i:  # keep the first pair's files for the check
            bc.rm_rf(out)
    for key, rs in runs.items():
        res["steps"][key] = common.best_run(rs)
    # identical output: every file of the loop against casdb's
    root, out = Path(runs["casdb"][0]["root"]), work / "loop-0"
    files = sorted(p.relative_to(out) for p in out.rglob("*.wav"))
    same = sum((out / f).read_bytes() == (root / f).read_bytes() for f in files)
    res["identical"] = {"files": len(files), "same": same}
    casdb_s = min(r["call_s"] for r in runs["casdb"] if "call_s" in r)
    loop_s = min(r["call_s"] for r in runs["loop"] if "call_s" in r)
    ratio = loop_s / casdb_s
    res.update(casdb_s=casdb_s, loop_s=loop_s, ratio=ratio)
    common.print_machine(machine)
    print(f"\n== augmentation of {args.files} files ({args.duration:g} s, "
          f"{args.sampling_rate} Hz, {args.channels} ch) to 16 kHz mono + 8 augmentations ==")
    print(f"  casdb checkout (all cores): {casdb_s:7.2f} s  "
          f"({args.files / casdb_s:6.1f} files/s, "
          f"{args.files * args.duration / casdb_s:7.1f} s of audio per s)")
    print(f"  plain loop (one process):   {loop_s:7.2f} s  ({args.files / loop_s:6.1f} files/s)")
    print(f"  identical bytes: {same} of {len(files)} files")
    res["targets"] = common.print_targets([
        ("casdb >= 1.7x the plain loop", f"{ratio:.2f}x on {machine['cores']} cores",
         ratio >= 1.7),
        ("output identical", f"{same}/{len(files)} files byte-equal", same == len(files) > 0),
    ])
    out_json = {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()},
                "results": res, "total_seconds": time.time() - started}
    common.save_results(args, "augment", out_json, work, started)


if __name__ == "__main__":
    common.run_main(child, main)
