"""Probing media: the WAV header parser agrees with libsndfile; other files degrade gracefully."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.audio.probe import MediaInfo, probe_file
from casdb.testing.profiles import examples


@settings(max_examples=examples(40), deadline=None)
@given(
    rate=st.sampled_from([8000, 16000, 22050, 44100, 48000, 96000]),
    channels=st.integers(min_value=1, max_value=8),
    subtype=st.sampled_from(["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]),
    frames=st.integers(min_value=0, max_value=3000),
)
def test_wav_header_matches_libsndfile(tmp_path_factory, rate, channels, subtype, frames):
    path = tmp_path_factory.mktemp("p") / "a.wav"
    sf.write(path, np.zeros((frames, channels)), rate, subtype=subtype)
    info = sf.info(path)
    got = probe_file(str(path), "a.wav")
    assert got.format == "wav"
    assert (got.sampling_rate, got.channels) == (info.samplerate, info.channels)
    assert got.duration == pytest.approx(info.frames / info.samplerate)
    assert got.bit_depth == {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
                             "FLOAT": 32, "DOUBLE": 64}[subtype]


@pytest.mark.parametrize("fmt, subtype, bits", [("FLAC", "PCM_16", 16), ("OGG", "VORBIS", 0)])
def test_other_formats_go_through_libsndfile(tmp_path, fmt, subtype, bits):
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, np.zeros((16000, 1)), 16000, format=fmt, subtype=subtype)
    got = probe_file(str(path))
    assert (got.format, got.sampling_rate, got.channels, got.bit_depth) == (fmt.lower(), 16000, 1, bits)
    assert got.duration == pytest.approx(1.0)


@pytest.mark.parametrize("content", [b"", b"RIFF", b"RIFF\x00\x00\x00\x00WAVEjunk", b"hello world"])
def test_non_audio_and_truncated_files(tmp_path, content):
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    assert probe_file(str(path))[:5] == MediaInfo("wav", 0, 0, 0, 0.0)[:5]


def test_missing_file_is_not_audio(tmp_path):
    assert probe_file(str(tmp_path / "gone.txt")) == MediaInfo("txt", 0, 0, 0, 0.0, None)
