"""Flavours: validation, conversion quality, and flavoured checkouts (reuse, renames, failures)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import casdb
from casdb.api import Repository
from casdb.audio.convert import convert_file
from casdb.audio.flavour import Flavour, Target
from casdb.core.errors import InvalidDataset, InvalidInput
from casdb.testing.files import age
from casdb.testing.synth import make_dataset, write_audio, write_tables

# -- the value object --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"sampling_rate": 0}, "invalid sampling rate 0"),
    ({"sampling_rate": 384_001}, "invalid sampling rate"),
    ({"sampling_rate": 16000.0}, "invalid sampling rate"),
    ({"sampling_rate": True}, "invalid sampling rate"),
    ({"bit_depth": 12}, "invalid bit depth 12"),
    ({"format": "mp3"}, "invalid format 'mp3'"),
    ({"channels": -1}, "invalid channels"),
    ({"channels": []}, "invalid channels"),
    ({"channels": "0"}, "invalid channels"),
    ({"mixdown": "yes"}, "invalid mixdown"),
    ({"format": "flac", "bit_depth": 32}, "FLAC holds 16 or 24 bits"),
])
def test_invalid_flavours(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        Flavour(**kwargs)


def test_flavour_id_and_targets():
    assert Flavour().id == "original" and Flavour().is_original
    f = Flavour(sampling_rate=16000, channels=[1, 0], mixdown=True, bit_depth=24, format="FLAC")
    assert f.id == "16000hz-ch1+0-mix-24bit-flac" and f.channels == (1, 0) and f.format == "flac"
    assert Flavour.of({"sampling_rate": 16000}) == Flavour(sampling_rate=16000)
    with pytest.raises(InvalidInput, match="unknown flavour field 'rate'"):
        Flavour.of({"rate": 16000})
    assert Flavour(channels=0).id == "ch0"
    # Already in the flavour, or not audio: linked.
    assert Flavour(sampling_rate=16000).target("wav", 16000, 2, 16) is None
    assert Flavour(mixdown=True).target("wav", 16000, 1, 16) is None
    assert Flavour(format="wav").target("txt", 0, 0, 0) is None
    # Converted: channels repeat on files with fewer, and mp3 becomes wav.
    assert Flavour(channels=[0, 1]).target("wav", 8000, 1, 16).channels == (0, 0)
    assert Flavour(sampling_rate=8000).target("mp3", 44100, 2, 0).format == "wav"
    assert Flavour(format="flac").target("wav", 8000, 1, 32).bit_depth == 24


# -- conversion quality ------------------------------------------------------------------------


def write(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    sf.write(path, x, rate, subtype=subtype)
    return path


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_resampled_sine_keeps_frequency_level_and_length(tmp_path):
    for rate_in, rate_out in ((48000, 16000), (44100, 16000), (8000, 48000), (48000, 22050)):
        x = sine(1000, rate_in, 2.0)
        src = write(tmp_path / f"in{rate_in}.wav", x, rate_in, "PCM_24")
        out = tmp_path / f"out{rate_in}-{rate_out}.wav"
        convert_file(str(src), str(out), Target("wav", rate_out, (0,), False, 24))
        y, rate = sf.read(out)
        assert rate == rate_out
        assert abs(len(y) - len(x) * rate_out / rate_in) <= 1
        m = rate_out // 4
        seg = y[m : len(y) - m]
        peak = np.argmax(np.abs(np.fft.rfft(seg * np.hanning(len(seg))))) * rate_out / len(seg)
        assert abs(peak - 1000) < 2
        middle = y[len(y) // 4 : -len(y) // 4]
        level = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.5 / np.sqrt(2)))
        assert abs(level) < 0.05


def test_mixdown_is_the_mean_of_the_channels(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(-20000, 20000, size=(8000, 3)).astype(np.int16)
    src = tmp_path / "in.wav"
    sf.write(src, x, 8000, subtype="PCM_16")
    out = tmp_path / "out.wav"
    convert_file(str(src), str(out), Target("wav", 8000, (0, 2), True, 24))
    y, _ = sf.read(out, always_2d=True)
    expected = (x[:, 0].astype(np.float64) + x[:, 2]) / 2 / 32768
    assert y.shape == (8000, 1)
    assert np.max(np.abs(y[:, 0] - expected)) <= 2 / 2**23  # within a 24-bit step
    # Channel selection without mixdown keeps the order asked for; indices repeat.
    convert_file(str(src), str(out), Target("wav", 8000, (2, 0), False, 16))
    y, _ = sf.read(out, dtype="int16")
    assert np.array_equal(y, x[:, [2, 0]])


def test_bit_depth_quantises(tmp_path):
    rng = np.random.default_rng(2)
    x24 = rng.integers(-(2**23), 2**23 - 1, size=4000).astype(np.int32) * 256  # 24 bit in int32
    src = tmp_path / "in24.wav"
    sf.write(src, x24, 8000, subtype="PCM_24")
    out = tmp_path / "out16.wav"
    convert_file(str(src), str(out), Target("wav", 8000, (0,), False, 16))
    assert sf.info(out).subtype == "PCM_16"
    y = sf.read(out, dtype="int16")[0].astype(np.int64)
    assert np.max(np.abs(y - x24.astype(np.int64) / 65536)) <= 1  # within one 16-bit step
    # Up from 16 bits is exact.
    x16 = rng.integers(-32768, 32767, size=4000).astype(np.int16)
    sf.write(tmp_path / "in16.wav", x16, 8000, subtype="PCM_16")
    for depth, subtype in ((24, "PCM_24"), (32, "PCM_32")):
        convert_file(str(tmp_path / "in16.wav"), str(tmp_path / f"o{depth}.wav"),
                     Target("wav", 8000, (0,), False, depth))
        assert sf.info(tmp_path / f"o{depth}.wav").subtype == subtype
        y = sf.read(tmp_path / f"o{depth}.wav", dtype="int32")[0]
        assert np.array_equal(y, x16.astype(np.int32) * 65536)


def test_flac_round_trips_losslessly(tmp_path):
    rng = np.random.default_rng(3)
    for depth, subtype, dtype in ((16, "PCM_16", "int16"), (24, "PCM_24", "int32")):
        x = rng.integers(-30000, 30000, size=(6000, 2)).astype(dtype)
        if depth == 24:
            x = x * 256
        src = tmp_path / f"in{depth}.wav"
        sf.write(src, x, 16000, subtype=subtype)
        flac = tmp_path / f"x{depth}.flac"
        convert_file(str(src), str(flac), Target("flac", 16000, (0, 1), False, depth))
        back = tmp_path / f"back{depth}.wav"
        convert_file(str(flac), str(back), Target("wav", 16000, (0, 1), False, depth))
        assert np.array_equal(sf.read(flac, dtype=dtype)[0], x)
        assert np.array_equal(sf.read(back, dtype=dtype)[0], x)


def test_conversion_is_deterministic(tmp_path):
    src = write(tmp_path / "in.wav", sine(440, 44100, 3.0, 0.9), 44100)
    for i in range(2):
        convert_file(str(src), str(tmp_path / f"{i}.flac"), Target("flac", 16000, (0,), False, 16))
    assert (tmp_path / "0.flac").read_bytes() == (tmp_path / "1.flac").read_bytes()


@pytest.mark.slow
def test_an_hour_converts_in_bounded_memory(tmp_path):
    import tracemalloc

    rate = 8000
    src = tmp_path / "hour.wav"
    with sf.SoundFile(src, "w", rate, 1, "PCM_16") as f:
        block = sine(300, rate, 60.0, 0.3)
        for _ in range(60):
            f.write(block)
    tracemalloc.start()
    convert_file(str(src), str(tmp_path / "out.flac"), Target("flac", 16000, (0,), False, 16))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sf.info(tmp_path / "out.flac").frames == 3600 * 16000
    assert peak < 40 * 2**20  # blocks, not the hour (which is 460 MB as float64)


# -- flavoured checkouts -----------------------------------------------------------------------


FLAC16 = Flavour(sampling_rate=16000, mixdown=True, format="flac")


def test_flavoured_checkout_is_a_consistent_audformat_folder(stereo, tmp_path):
    import audformat

    ds = casdb.load("synth", "1.0.0", repo=stereo, cache_root=tmp_path / "c", flavour=FLAC16,
                    full_path=False)
    assert ds.root.name == "16000hz-mix-flac"
    assert ds.files[0] == "audio/000/000000.flac" and len(ds.files) == 9
    info = sf.info(ds.root / ds.files[0])
    assert (info.samplerate, info.channels, info.frames, info.format) == (16000, 1, 8000, "FLAC")
    emotion = ds["emotion"].get()
    assert emotion.index[0] == "audio/000/000000.flac"
    original = stereo.table("synth", "segments", "1.0.0")
    segments = ds["segments"].get()
    assert list(segments.index.get_level_values("start")) == list(original.index.get_level_values("start"))
    assert list(segments.index.get_level_values("end")) == list(original.index.get_level_values("end"))
    media = ds.header["media"]["microphone"]
    assert media["format"] == "flac" and media["sampling_rate"] == 16000 and media["channels"] == 1
    assert media["flavour"] == {"sampling_rate": 16000, "mixdown": True, "format": "flac"}
    db = audformat.Database.load(str(ds.root))
    pd.testing.assert_frame_equal(db["emotion"].get(), emotion)
    assert db.media["microphone"].format == "flac"
    # The text file is not audio: linked from the store, not converted.
    blob = stereo.media("synth", "1.0.0").loc["notes.txt", "blob"]
    assert os.path.samefile(ds.root / "notes.txt", stereo.store.blob_path(blob))


def test_files_already_in_the_flavour_are_linked(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=4, duration=0.2, sampling_rate=16000)
    write_audio(src / "audio/000/000001.wav", 7, 0.2, 48000, 1)  # one file needs resampling
    repo.commit(src, dataset="synth", version="1.0.0")
    out = casdb.checkout("synth", "1.0.0", cache_root=tmp_path / "c",
                         flavour=Flavour(sampling_rate=16000), repo=repo)
    assert out.converted == 1
    media = repo.media("synth", "1.0.0")
    linked = out.path / "audio/000/000000.wav"
    assert os.path.samefile(linked, repo.store.blob_path(media.loc["audio/000/000000.wav", "blob"]))
    assert sf.info(out.path / "audio/000/000001.wav").samplerate == 16000


def test_converted_once_per_file_across_versions_and_datasets(stereo, tmp_path):
    cache_root = tmp_path / "c"
    first = casdb.checkout("synth", "1.0.0", cache_root=cache_root, flavour=FLAC16, repo=stereo)
    assert first.converted == 8
    src = tmp_path / "src"
    for i in range(8, 10):
        write_audio(src / f"audio/000/{i:06d}.wav", 50 + i, 0.5, 48000, 2)
    write_tables(src, range(10), seed=3)
    age(src)
    stereo.commit(src, dataset="synth", version="2.0.0")
    second = casdb.checkout("synth", "2.0.0", cache_root=cache_root, flavour=FLAC16, repo=stereo)
    assert second.converted == 2 and second.state.complete
    stereo.commit(src, dataset="copy", version="1.0.0")  # the same audio in another dataset
    third = casdb.checkout("copy", "1.0.0", cache_root=cache_root, flavour=FLAC16, repo=stereo)
    assert third.converted == 0 and len(third.state.link) >= 1
    a = first.path / "audio/000/000003.flac"
    assert os.path.samefile(a, third.path / "audio/000/000003.flac")
    # Another flavour converts again, into its own folder.
    other = casdb.checkout("synth", "1.0.0", cache_root=cache_root,
                           flavour=Flavour(sampling_rate=16000), repo=stereo)
    assert other.converted == 8 and sf.info(other.path / "audio/000/000003.wav").channels == 2


def test_invalid_flavour_for_the_data_fails_before_any_work(stereo, tmp_path):
    with pytest.raises(InvalidInput, match="channel 2 is out of range: the files have at most 2"):
        casdb.load("synth", "1.0.0", repo=stereo, cache_root=tmp_path / "c",
                   flavour={"channels": [0, 2]})
    with pytest.raises(InvalidInput, match="invalid bit depth"):
        casdb.load("synth", "1.0.0", repo=stereo, cache_root=tmp_path / "c",
                   flavour={"bit_depth": 12})
    assert not (tmp_path / "c").exists()


def test_a_corrupt_file_is_named_and_the_rest_is_kept(tmp_path):
    repo = Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=6, duration=0.5, sampling_rate=48000)
    bad = src / "audio/000/000004.flac"
    sf.write(bad, sine(500, 48000, 1.0), 48000, subtype="PCM_16")
    data = bytearray(bad.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 2000):
        data[i] = (data[i] * 7 + 13) % 256
    bad.write_bytes(bytes(data))
    repo.commit(src, dataset="synth", version="1.0.0")
    flavour = Flavour(sampling_rate=16000)
    with pytest.raises(InvalidDataset, match="cannot convert audio/000/000004.flac: .*lost sync"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "c", flavour=flavour)
    derived = tmp_path / "c" / ".derived" / flavour.id
    kept = sorted(derived.rglob("*"))
    assert len([p for p in kept if p.is_file()]) == 6  # every other file was converted and kept
    assert casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "c", flavour=flavour,
                      media=r"00000[0-3]\.wav").state.link == {"hardlink": 4}
    out = casdb.checkout("synth", "1.0.0", cache_root=tmp_path / "c", flavour=flavour,
                         request=casdb.Request(media=r"\.wav$"), repo=repo)
    assert out.converted == 0  # a rerun converts nothing it converted before
    with pytest.raises(InvalidDataset, match="000004.flac"):
        casdb.load("synth", "1.0.0", repo=repo, cache_root=tmp_path / "c", flavour=flavour)


def test_cache_verify_understands_flavoured_folders(stereo, tmp_path):
    from casdb.checkouts.cachecheck import verify

    ds = casdb.load("synth", "1.0.0", repo=stereo, cache_root=tmp_path / "c", flavour=FLAC16)
    assert all(r.ok and not r.repaired for r in verify(tmp_path / "c", stereo))
    target = ds.root / "audio/000/000002.flac"
    target.unlink()
    shutil.copy(ds.root / "audio/000/000003.flac", target)
    reports = verify(tmp_path / "c", stereo)
    assert [x for r in reports for x in r.repaired] == ["audio/000/000002.flac (modified)"]
    assert all(r.ok for r in verify(tmp_path / "c", stereo))
