"""Media that claim audio but do not decode: refused at commit unless declared; flavours never
hold them; every converted file is checked before it is published; 0-frame inputs convert."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb
from casdb.api import Repository
from casdb.audio.convert import Task, _work, check_output, convert_file, resampled_frames
from casdb.audio.flavour import Flavour, Target
from casdb.core.errors import IntegrityError, InvalidDataset
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset, write_audio

BAD = "audio/000/000001.wav"


def _wav_bytes(tmp_path: Path, frames: int = 8000) -> bytes:
    path = tmp_path / "real.wav"
    sf.write(path, np.random.default_rng(1).uniform(-0.5, 0.5, (frames, 1)), 8000,
             subtype="PCM_16")
    return path.read_bytes()


def _text(tmp_path: Path) -> bytes:
    return b"this is a transcript, not audio\n"


def _empty(tmp_path: Path) -> bytes:
    return b""


def _cut_header(tmp_path: Path) -> bytes:
    return _wav_bytes(tmp_path)[:30]  # RIFF/WAVE and half a fmt chunk


def _cut_data(tmp_path: Path) -> bytes:
    return _wav_bytes(tmp_path)[: 44 + 2 * 3000]  # header says 8000 frames


BAD_FILES = {
    "text": (_text, "not audio libsndfile can open"),
    "empty": (_empty, "empty file"),
    "cut header": (_cut_header, "RIFF/WAVE header, but libsndfile cannot open it"),
    "cut data": (_cut_data, "truncated: header says 8000 frames, file holds 3000"),
}


def _referenced(src: Path, path: str) -> bool:
    return path in (src / "db.emotion.csv").read_text()


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_referenced_file_that_does_not_decode_is_refused(tmp_path, src, kind):
    make, reason = BAD_FILES[kind]
    repo = Repository.init(tmp_path / "repo")
    first = repo.commit(src, dataset="d", version="1")
    assert _referenced(src, BAD)
    (src / BAD).write_bytes(make(tmp_path))
    blobs = sorted((tmp_path / "repo" / "blobs").rglob("*"))
    with pytest.raises(InvalidDataset) as caught:
        repo.commit(src, dataset="d", version="2")
    message = str(caught.value)
    assert f"{BAD}: {reason}" in message and "--allow-undecodable" in message
    assert "\n" not in message
    # nothing visible: no ref moved, no blob published
    assert repo.versions("d") == ["1"] and repo.refs.get("d", "heads/main") == first.id
    assert sorted((tmp_path / "repo" / "blobs").rglob("*")) == blobs


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_the_flag_accepts_and_the_verdict_holds_on_recommits(tmp_path, src, kind):
    make, reason = BAD_FILES[kind]
    repo = Repository.init(tmp_path / "repo")
    (src / BAD).write_bytes(make(tmp_path))
    repo.commit(src, dataset="d", version="1", allow_undecodable=True)
    ds = casdb.load("d", "1", repo=repo, cache_root=tmp_path / "c")
    assert (ds.root / BAD).read_bytes() == (src / BAD).read_bytes()  # the original, as it is
    with pytest.raises(InvalidDataset, match=reason):  # same folder: remembered verdict
        repo.commit(src, dataset="d", version="2")
    repo.forget_stat_cache()  # no probe memory: the blob is probed again from the store
    with pytest.raises(InvalidDataset, match=reason):
        repo.commit(src, dataset="d", version="2")
    copy = tmp_path / "copy"
    os.rename(src, copy)  # another folder, the parent's media index, a fresh memory
    repo.forget_stat_cache()
    with pytest.raises(InvalidDataset, match=reason):
        repo.commit(copy, dataset="d", version="2")


def test_an_attachment_is_not_checked(tmp_path, src):
    repo = Repository.init(tmp_path / "repo")
    (src / BAD).write_bytes(b"")
    (src / "docs").mkdir()
    (src / "docs" / "silence.wav").write_text("placeholder")
    with (src / "db.yaml").open("a") as f:
        f.write(f"attachments:\n  empty: {{path: {BAD}}}\n  docs: {{path: docs}}\n")
    repo.commit(src, dataset="d", version="1")
    assert repo.versions("d") == ["1"]


def test_an_unreferenced_media_file_is_checked_too(tmp_path, src):
    repo = Repository.init(tmp_path / "repo")
    (src / "audio" / "stray.flac").write_text("not a flac")
    assert not _referenced(src, "stray.flac")
    with pytest.raises(InvalidDataset, match=r"audio/stray.flac: not audio .* \(named .flac\)"):
        repo.commit(src, dataset="d", version="1")


def test_a_header_claiming_audio_under_another_name_is_refused(tmp_path, src):
    repo = Repository.init(tmp_path / "repo")
    (src / "audio" / "notes.bin").write_bytes(_cut_header(tmp_path))
    (src / "audio" / "readme.txt").write_text("plain text is fine")
    with pytest.raises(InvalidDataset, match="audio/notes.bin: RIFF/WAVE header"):
        repo.commit(src, dataset="d", version="1")


def test_many_bad_files_are_counted(tmp_path, src):
    repo = Repository.init(tmp_path / "repo")
    for i in range(6):
        (src / "audio" / f"bad{i}.wav").write_bytes(b"")
    with pytest.raises(InvalidDataset, match="6 media files claim .* and 3 more"):
        repo.commit(src, dataset="d", version="1")


def test_a_flavour_never_holds_an_undecodable_file(tmp_path, src):
    repo = Repository.init(tmp_path / "repo")
    (src / BAD).write_text("hello")
    repo.commit(src, dataset="d", version="1", allow_undecodable=True)
    flavour = Flavour(sampling_rate=16000, format="flac")
    with pytest.raises(InvalidDataset, match=f"cannot convert {BAD}: not audio libsndfile"):
        casdb.load("d", "1", repo=repo, cache_root=tmp_path / "c", flavour=flavour)
    held = [p for p in (tmp_path / "c").rglob("*") if p.is_file() and b"hello" in p.read_bytes()]
    assert held == []
    ds = casdb.load("d", "1", repo=repo, cache_root=tmp_path / "c", flavour=flavour,
                    media=r"00000[023]\.wav$")
    assert sorted(p.name for p in (ds.root / "audio/000").iterdir()) == [
        "000000.flac", "000002.flac", "000003.flac"]


ZERO_FRAME_FLAVOURS = [
    Flavour(format="flac"),
    Flavour(format="flac", bit_depth=24),
    Flavour(format="flac", sampling_rate=16000, channels=[0, 0]),
    Flavour(format="wav", bit_depth=24),
    Flavour(format="wav", sampling_rate=16000, mixdown=True),
    Flavour(sampling_rate=44100, channels=[0, 0], bit_depth=32),
    Flavour(sampling_rate=16000, format="flac", mixdown=True, bit_depth=16),
]


@pytest.mark.parametrize("flavour", ZERO_FRAME_FLAVOURS, ids=lambda f: f.id)
def test_a_zero_frame_wav_converts_to_a_valid_zero_frame_file(tmp_path, flavour):
    src = make_dataset(tmp_path / "src", files=2, duration=0.1, sampling_rate=8000)
    write_audio(src / BAD, 1, 0.0, 8000, 1)  # a real 44-byte WAV with no frames
    assert (src / BAD).stat().st_size == 44
    repo = Repository.init(tmp_path / "repo")
    repo.commit(src, dataset="d", version="1")
    ds = casdb.load("d", "1", repo=repo, cache_root=tmp_path / "c", flavour=flavour)
    local = ds.root / "audio/000/000001.wav"  # FLAC cannot hold 0 frames: a WAV in every format
    info = sf.info(local)
    channels = 1 if flavour.mixdown else len(flavour.channels or (0,))
    assert (info.format, info.frames, info.samplerate, info.channels) == (
        "WAV", 0, flavour.sampling_rate or 8000, channels)
    assert sf.read(local, always_2d=True)[0].shape == (0, channels)
    other = sf.info(next(p for p in (ds.root / "audio/000").iterdir() if "000000" in p.name))
    assert other.format == (flavour.format or "wav").upper() and other.frames > 0


@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("depth", [16, 24])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_convert_file_on_zero_frames(tmp_path, fmt, depth, channels, rate):
    source = tmp_path / "in.wav"
    sf.write(source, np.zeros((0, 2)), 8000, subtype="PCM_16")
    dest = tmp_path / f"out.{fmt}"
    target = Target(fmt, rate, tuple(range(channels)), False, depth)
    if fmt == "wav":
        convert_file(str(source), str(dest), target)
        info = sf.info(dest)
        assert (info.frames, info.samplerate, info.channels) == (0, rate, channels)
    else:  # libsndfile writes 0 bytes for an empty FLAC: caught before anything is published
        key, failure = _work(Task("a.wav", str(source), str(dest), target, 44))
        assert failure.integrity and "FLAC cannot hold 0 frames" in failure.message
        assert not dest.exists()


def _crafted(tmp_path: Path, name: str, rate: int, channels: int, frames: int, fmt: str = "WAV",
             subtype: str = "PCM_16") -> str:
    path = tmp_path / name
    sf.write(path, np.zeros((frames, channels)), rate, format=fmt, subtype=subtype)
    return str(path)


def test_check_output_refuses_wrong_conversions(tmp_path):
    target = Target("flac", 16000, (0, 1), False, 16)
    check_output(_crafted(tmp_path, "ok.flac", 16000, 2, 100, "FLAC"), target, 100)
    wrong = {
        "sampling rate 8000 instead of 16000": _crafted(tmp_path, "a.flac", 8000, 2, 100, "FLAC"),
        "channels 1 instead of 2": _crafted(tmp_path, "b.flac", 16000, 1, 100, "FLAC"),
        "frames 99 instead of 100": _crafted(tmp_path, "c.flac", 16000, 2, 99, "FLAC"),
        "subtype PCM_24 instead of PCM_16": _crafted(tmp_path, "d.flac", 16000, 2, 100, "FLAC",
                                                     "PCM_24"),
        "format WAV instead of FLAC": _crafted(tmp_path, "e.wav", 16000, 2, 100),
    }
    for reason, path in wrong.items():
        with pytest.raises(IntegrityError, match=reason):
            check_output(path, target, 100)
    text = tmp_path / "f.flac"
    text.write_text("not audio")
    with pytest.raises(IntegrityError, match="does not open"):
        check_output(str(text), target, 100)


def test_a_truncated_wav_committed_with_the_flag_converts_what_it_holds(tmp_path, src):
    (src / BAD).write_bytes(_cut_data(tmp_path))
    repo = Repository.init(tmp_path / "repo")
    repo.commit(src, dataset="d", version="1", allow_undecodable=True)
    ds = casdb.load("d", "1", repo=repo, cache_root=tmp_path / "c",
                    flavour=Flavour(sampling_rate=16000, format="flac"))
    assert sf.info(ds.root / "audio/000/000001.flac").frames == 6000


@settings(max_examples=examples(60), deadline=None)
@given(frames=st.integers(min_value=0, max_value=5000),
       rates=st.sampled_from([(48000, 16000), (44100, 16000), (8000, 16000), (16000, 44100),
                              (22050, 16000), (48000, 8000), (16000, 16001), (96000, 11025)]))
def test_resampled_frames_is_what_soxr_gives(frames, rates):
    in_rate, out_rate = rates
    stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
    x = np.zeros((frames, 1), np.float32)
    got = sum(len(stream.resample_chunk(x[i:i + 1024], last=i + 1024 >= frames))
              for i in range(0, max(frames, 1), 1024))
    assert resampled_frames(frames, in_rate, out_rate) == got
