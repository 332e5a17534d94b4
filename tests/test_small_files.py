"""Many small files (issue 16): a small file is read once, stored, and its WAV header parsed from
the bytes in memory. The parsed properties must be exactly what probing the stored blob gives,
and the parser must agree with libsndfile on every header it accepts (else it must decline)."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from casdb.audio.probe import HEAD, probe_bytes, probe_file
from casdb.commit.ingest import ingest
from casdb.commit.scan import scan
from casdb.store.backends.local import LocalBackend
from casdb.store.objectstore import SMALL_FILE, ObjectStore
from casdb.testing.profiles import examples

_DEPTHS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
           "DOUBLE": 64}


@st.composite
def wav_files(draw) -> bytes:
    """RIFF/WAVE files with crafted headers: odd tags, depths, block sizes, chunks before and
    after ``fmt``, a data chunk longer or shorter than what follows it."""
    tag = draw(st.sampled_from([1, 1, 1, 3, 3, 0xFFFE, 2, 6, 0x55, draw(st.integers(0, 0xFFFF))]))
    channels = draw(st.sampled_from([1, 2, 6, 0, draw(st.integers(0, 0xFFFF))]))
    rate = draw(st.sampled_from([8000, 16000, 44100, 0, 1, draw(st.integers(0, 2**32 - 1))]))
    bits = draw(st.sampled_from([8, 16, 24, 32, 64, 0, 12, 20, draw(st.integers(0, 0xFFFF))]))
    align = (channels * bits // 8) & 0xFFFF if draw(st.booleans()) else draw(st.integers(0, 0xFFFF))
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align & 0xFFFFFFFF, align, bits)
    if draw(st.booleans()):  # cbSize, and for WAVE_FORMAT_EXTENSIBLE its fields
        extra = b""
        if tag == 0xFFFE and draw(st.booleans()):
            sub = draw(st.sampled_from([1, 3, 2]))
            extra = struct.pack("<HI", bits, 0) + struct.pack("<H", sub) + (
                b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
        fmt += struct.pack("<H", len(extra)) + extra
    chunks = [b"fmt " + struct.pack("<I", len(fmt)) + fmt]
    for _ in range(draw(st.integers(0, 2))):  # other chunks, odd lengths padded
        body = draw(st.binary(max_size=40))
        chunk = draw(st.sampled_from([b"LIST", b"fact", b"junk", b"bext"]))
        item = chunk + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)
        chunks.insert(draw(st.integers(0, len(chunks))), item)
    data = draw(st.binary(max_size=600))
    declared = draw(st.sampled_from([len(data), len(data) + draw(st.integers(1, 5000)),
                                     max(0, len(data) - draw(st.integers(0, 50)))]))
    body = b"WAVE" + b"".join(chunks) + b"data" + struct.pack("<I", declared) + data
    if draw(st.booleans()):
        body += draw(st.binary(max_size=20))  # trailing bytes after the data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@settings(max_examples=examples(300), deadline=None)
@given(raw=wav_files())
def test_parsed_wav_header_agrees_with_libsndfile(tmp_path_factory, raw):
    """Whatever header the parser accepts, libsndfile opens with the same rate, channels and
    frames (a truncated file: libsndfile opens it, and the parser reports the truncation)."""
    info = probe_bytes(raw[:HEAD], "a.wav", len(raw))
    if info is None:
        return  # declined: probed by libsndfile instead
    path = tmp_path_factory.mktemp("w") / "a.wav"
    path.write_bytes(raw)
    real = sf.info(str(path))  # raises if libsndfile cannot open what the parser accepted
    assert (info.sampling_rate, info.channels) == (real.samplerate, real.channels)
    assert info.bit_depth == _DEPTHS.get(real.subtype, info.bit_depth + 1)
    if not info.problem:
        assert info.duration == real.frames / real.samplerate
    else:
        assert info.problem.startswith("truncated")


def _folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "db.yaml").write_text("name: demo\n")
    return src


def test_ingest_probes_are_what_probing_the_blob_gives(tmp_path):
    """The probes an ingest makes from the bytes it read equal :func:`probe_file` of the stored
    blob, for every kind of small file; files it cannot parse are left to the media index."""
    src = _folder(tmp_path)
    for subtype in ("PCM_16", "PCM_24", "FLOAT", "PCM_U8"):
        sf.write(src / f"{subtype}.wav", np.zeros((800, 2)), 16000, subtype=subtype)
    sf.write(src / "a.flac", np.zeros((800, 1)), 16000)
    full = (src / "PCM_16.wav").read_bytes()
    (src / "cut.wav").write_bytes(full[:1000])  # truncated
    (src / "empty.wav").write_bytes(b"")
    (src / "text.wav").write_text("not audio")
    (src / "notes.txt").write_text("hello")
    sf.write(src / "big.wav", np.zeros((SMALL_FILE, 1)), 16000)  # not a small file
    store = ObjectStore(LocalBackend(tmp_path / "repo"))
    result = ingest(store, {}, scan(src).files)
    store.publish()
    by_path = {p: blob for p, (blob, _) in result.files.items()}
    parsed = {p for p, blob in by_path.items() if blob in result.probes}
    # libsndfile's float WAV holds a PEAK chunk: left to libsndfile, like FLAC and non-audio
    assert parsed == {"PCM_16.wav", "PCM_24.wav", "PCM_U8.wav", "cut.wav"}
    for path in parsed:
        assert result.probes[by_path[path]] == probe_file(str(store.blob_path(by_path[path])),
                                                          path)
    assert result.probes[by_path["cut.wav"]].problem.startswith("truncated")
    for path, blob in by_path.items():  # every stored byte hashed: the id is the content's
        assert blob == ObjectStore(LocalBackend(tmp_path / "repo")).put_file(
            str(src / path))[0]
        assert store.blob_path(blob).read_bytes() == (src / path).read_bytes()


def test_small_file_changed_after_the_scan_is_not_vouched_for(tmp_path):
    """A file replaced or grown between the scan and its read: its bytes are stored as read, but
    the stat cache does not keep it (the next commit reads it again)."""
    src = _folder(tmp_path)
    (src / "a.bin").write_bytes(b"x" * 100)
    (src / "b.bin").write_bytes(b"y" * 100)
    (src / "c.bin").write_bytes(b"z" * 100)
    files = scan(src).files
    (src / "a.bin").write_bytes(b"x" * (SMALL_FILE + 10))  # grew past a small file
    (tmp_path / "new").write_bytes(b"z" * 100)
    os.replace(tmp_path / "new", src / "b.bin")  # replaced: same size, another inode
    store = ObjectStore(LocalBackend(tmp_path / "repo"))
    result = ingest(store, {}, files)
    assert set(result.stats) == {"c.bin"}
    got = open(store.blob_file(result.files["a.bin"][0]), "rb").read()
    assert got == b"x" * (SMALL_FILE + 10)
    assert open(store.blob_file(result.files["b.bin"][0]), "rb").read() == b"z" * 100


@pytest.fixture
def gone(tmp_path):
    src = _folder(tmp_path)
    (src / "a.bin").write_bytes(b"x")
    return src


def test_small_file_gone_after_the_scan_is_a_clear_error(tmp_path, gone):
    from casdb.core.errors import InvalidDataset

    files = scan(gone).files
    (gone / "a.bin").unlink()
    with pytest.raises(InvalidDataset, match="cannot read"):
        ingest(ObjectStore(LocalBackend(tmp_path / "repo")), {}, files)
