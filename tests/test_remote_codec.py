"""Lossless audio on remotes (docs/remotes.md "Audio codec"): PCM WAV/AIFF blobs stored as FLAC
plus side bytes, rebuilt bit-exact and verified on every fetch."""

from __future__ import annotations

import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casdb
from casdb.core.errors import Error, IntegrityError, InvalidInput
from casdb.core.ids import hash_bytes
from casdb.maintenance.fsck import check
from casdb.remote.audiocodec import MAGIC, decode, encode
from casdb.remote.layout import AUDIO, BLOB, MARKER, Remote
from casdb.testing.corrupt import files_holding
from casdb.testing.profiles import examples
from casdb.testing.speech import espeak, prompts, riff_wav, speak
from casdb.testing.synth import file_name, make_dataset

needs_espeak = pytest.mark.skipif(espeak() is None, reason="espeak-ng is not installed (apt-get "
                                  "install espeak-ng; scripts/_venv.sh does it as root)")


@pytest.fixture(scope="module")
def speech():
    """Three sentences spoken by espeak-ng: int16 (n, 1) at 22050 Hz each."""
    if espeak() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; scripts/_venv.sh "
                    "does it as root)")
    return [speak(t, v)[0] for t, v in [("The birch canoe slid on the smooth planks.", "en"),
                                        ("Glue the sheet to the dark blue background.", "en+f3"),
                                        ("Rice is often served in round bowls.", "en-us")]]


def _file(samples, fmt: str, subtype: str, rate: int = 22050) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _roundtrip(data: bytes) -> float:
    """The coded size as a share of ``data``; asserts it was coded and rebuilds bit-exact."""
    blob = hash_bytes(data)
    record = encode(data, blob)
    assert record is not None and record.startswith(MAGIC)
    assert decode(record, blob, len(data)) == data
    return len(record) / len(data)


def _stereo(x):
    return np.concatenate([x, (x // 2)[::-1]], axis=1)


@needs_espeak
@pytest.mark.parametrize(("fmt", "subtype", "channels"), [
    ("WAV", "PCM_16", 1), ("WAV", "PCM_16", 2), ("WAV", "PCM_24", 1), ("WAV", "PCM_24", 2),
    ("WAV", "PCM_U8", 1), ("WAVEX", "PCM_16", 2), ("AIFF", "PCM_16", 1), ("AIFF", "PCM_24", 2),
    ("AIFF", "PCM_S8", 1)])
def test_real_speech_rebuilt_bit_exact_and_smaller(speech, fmt, subtype, channels):
    for x in speech:
        samples = _stereo(x) if channels == 2 else x
        share = _roundtrip(_file(samples, fmt, subtype))
        assert share < (0.8 if subtype != "PCM_24" else 0.9)  # speech compresses; noise not


def test_recorded_voice_prompts_rebuilt_bit_exact_and_smaller():
    files = prompts()
    if not files:
        pytest.skip("asterisk-core-sounds-en-wav is not installed (apt-get install "
                    "asterisk-core-sounds-en-wav; scripts/_venv.sh does it as root)")
    wav = coded = 0
    for path in files:
        data = path.read_bytes()
        wav += len(data)
        coded += len(data) * _roundtrip(data)  # every prompt is coded and rebuilt bit-exact
    assert len(files) > 500 and coded / wav < 0.7


@needs_espeak
@pytest.mark.parametrize("case", ["list-info", "odd-chunk", "data-first", "extensible",
                                  "partial-frame", "bytes-after", "24-bit-extensible"])
def test_odd_wav_files_rebuilt_bit_exact(speech, case):
    x = speech[0]
    info = b"INFOINAM\x05\x00\x00\x00canoe\x00ISFT\x03\x00\x00\x00ab\x00\x00"
    kwargs = {
        "list-info": {"extra": [(b"LIST", info), (b"bext", b"\x01" * 602)]},
        "odd-chunk": {"extra": [(b"junk", b"abc"), (b"cue ", b"\x00" * 5)]},
        "data-first": {"extra": [(b"LIST", info), (b"id3 ", b"ID3tag!")], "data_first": True},
        "extensible": {"extensible": True},
        "partial-frame": {"trailer": b"\x07"},
        "24-bit-extensible": {"extensible": True, "bits": 24},
    }.get(case, {})
    samples = _stereo(x) if case in ("extensible", "partial-frame") else x
    if kwargs.get("bits") == 24:
        samples = samples.astype(np.int32) * 256 + 17
    wav = riff_wav(samples, 22050, **kwargs)
    if case == "bytes-after":
        wav += b"trailing bytes after the last chunk"
    assert sf.info(io.BytesIO(wav)).frames > 0  # a file libsndfile reads
    assert _roundtrip(wav) < 0.9


def test_what_flac_cannot_carry_is_not_coded():
    rng = np.random.default_rng(0)
    tone = (3000 * np.sin(np.arange(8000) / 5)).astype(np.int16)[:, None]
    noise = rng.integers(-32768, 32767, (8000, 1), dtype=np.int16)
    for data in [_file(tone / 32768, "WAV", "FLOAT"), _file(tone, "WAV", "PCM_32"),
                 _file(tone, "WAV", "ULAW"), riff_wav(noise, 8000),  # FLAC not smaller
                 riff_wav(tone[:0], 8000), b"RIFF\x00\x00\x00\x00WAVE", b"not audio at all",
                 _file(tone, "FLAC", "PCM_16")]:
        assert encode(data, hash_bytes(data)) is None


def test_a_coding_that_does_not_round_trip_is_never_used():
    wav = riff_wav((3000 * np.sin(np.arange(8000) / 5)).astype(np.int16)[:, None], 8000)
    assert encode(wav, "ab" * 32) is None  # the id does not match: stored as it is


# -- remotes: push, fetch, load, stream ------------------------------------------------------


@pytest.fixture(scope="module")
def spoken(tmp_path_factory, speech):
    """A dataset of 6 speech files (mono/stereo, 16/24-bit, odd chunks) and 1 big one (4 MiB+,
    stored alone), committed as ``sp 1.0.0``; plus its source folder."""
    base = tmp_path_factory.mktemp("spoken")
    src = make_dataset(base / "src", files=7, audio=False, name="sp")
    variants = [
        _file(speech[0], "WAV", "PCM_16"), _file(_stereo(speech[1]), "WAV", "PCM_24"),
        riff_wav(speech[2], 22050, extra=[(b"LIST", b"INFOx"), (b"junk", b"abc")],
                 data_first=True),
        riff_wav(_stereo(speech[0]), 22050, extensible=True, trailer=b"\x01"),
        _file(speech[1], "AIFF", "PCM_16"),
        _file(np.zeros((0, 1), np.int16) + 1, "WAV", "FLOAT"),  # not coded: stored as it is
        _file(np.tile(_stereo(speech[2]), (25, 1)), "WAV", "PCM_16"),  # >= 4 MiB: alone
    ]
    assert len(variants[-1]) >= 4 << 20
    for i, data in enumerate(variants):
        (src / file_name(i)).parent.mkdir(parents=True, exist_ok=True)
        (src / file_name(i)).write_bytes(data)
    repo = casdb.Repository.init(base / "repo")
    repo.commit(src, dataset="sp", version="1.0.0")
    return repo, src


def _same_files(folder: Path, src: Path, n: int = 7) -> None:
    for i in range(n):
        assert (Path(folder) / file_name(i)).read_bytes() == (src / file_name(i)).read_bytes()


def _name(tmp_path: Path, base: str) -> str:
    """A remote name unique to the test (the module's repository is shared)."""
    return f"{base}-{hash_bytes(str(tmp_path).encode())[:8]}"


def _kinds(url: str) -> dict[str, str]:
    return {i: e.kind for i, e in Remote.open(url).index().items()}


def test_push_codes_speech_and_clone_rebuilds_every_file(spoken, tmp_path):
    repo, src = spoken
    url = str(tmp_path / "remote")
    repo.remote_add(_name(tmp_path, "coded"), url)
    assert json.loads((tmp_path / "remote" / MARKER).read_text()) == {"format": 2,
                                                                     "audio_codec": "flac"}
    sent = repo.push(_name(tmp_path, "coded")).bytes
    kinds = _kinds(url)
    blobs = {hash_bytes((src / file_name(i)).read_bytes()): i for i in range(7)}
    assert sorted(kinds[b] for b in blobs) == [AUDIO] * 6 + [BLOB]  # the float file is not
    assert list((tmp_path / "remote" / "blobs").rglob("*.flac"))  # the big one, alone
    total = sum((src / file_name(i)).stat().st_size for i in range(7))
    assert sent < 0.8 * total
    clone = casdb.Repository.clone(url, tmp_path / "clone")
    _same_files(casdb.load("sp", "1.0.0", repo=clone, cache_root=tmp_path / "co").root, src)
    assert check(clone).ok


def test_load_and_stream_from_a_coded_remote(spoken, tmp_path):
    repo, src = spoken
    url = str(tmp_path / "remote")
    repo.remote_add(_name(tmp_path, "coded"), url)
    repo.push(_name(tmp_path, "coded"))
    ds = casdb.load("sp", "1.0.0", repo=url, cache_root=tmp_path / "cache")
    _same_files(ds.root, src)
    seen = 0
    for frame, paths in casdb.stream("sp", "1.0.0", repo=url, tables="emotion", batch_size=3,
                                     cache_root=tmp_path / "cache2", cache_budget=20 << 20):
        for file, path in zip(frame.index, paths, strict=True):
            assert Path(path).read_bytes() == (src / file).read_bytes()
            seen += 1
    assert seen == 7


def test_push_to_a_none_remote_stores_wav(spoken, tmp_path):
    repo, src = spoken
    url = str(tmp_path / "plain")
    repo.remote_add(_name(tmp_path, "plain"), url, audio_codec="none")
    assert json.loads((tmp_path / "plain" / MARKER).read_text()) == {"format": 1}
    repo.push(_name(tmp_path, "plain"))
    assert set(_kinds(url).values()) <= {"o", BLOB}
    assert files_holding(tmp_path / "plain", (src / file_name(0)).read_bytes()[1000:3000])
    assert not list((tmp_path / "plain").rglob("*.flac"))


def _corrupt_flac(remote: Path, big: bool) -> None:
    if big:
        path = next(remote.rglob("*.flac"))
    else:
        path = max(remote.glob("packs/*.pack"), key=lambda p: p.stat().st_size)
    data = bytearray(path.read_bytes())
    at = data.find(b"fLaC")  # the FLAC stream of the first coded record
    assert at >= 0
    data[at + 2000 : at + 2040] = bytes(40)  # inside the first coded record's FLAC frames
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("big", [False, True])
def test_a_corrupt_flac_on_the_remote_is_integrity_error_and_nothing_is_stored(
        spoken, tmp_path, big):
    repo, _ = spoken
    url = tmp_path / "remote"
    repo.remote_add(_name(tmp_path, "coded"), str(url))
    repo.push(_name(tmp_path, "coded"))
    _corrupt_flac(url, big)
    target = casdb.Repository.init(tmp_path / "target")
    target.remote_add("origin", str(url), create=False)
    with pytest.raises(IntegrityError, match="arrived corrupt"):
        target.pull()
    assert target.refs.tags("sp") == {} and check(target).ok
    with pytest.raises(IntegrityError, match="arrived corrupt"):
        casdb.load("sp", "1.0.0", repo=str(url), cache_root=tmp_path / "cache")
    with pytest.raises(IntegrityError, match="arrived corrupt"):
        list(casdb.stream("sp", "1.0.0", repo=str(url), tables="emotion", batch_size=7,
                          cache_root=tmp_path / "cache2", cache_budget=30 << 20))


def test_old_remotes_keep_working_and_mix_with_coded_pushes(spoken, tmp_path):
    repo, src = spoken
    url = tmp_path / "old"
    url.mkdir()
    (url / MARKER).write_text('{"format": 1}\n')  # as an older casdb made it
    repo.remote_add(_name(tmp_path, "old"), str(url), create=False)
    assert repo.remote(_name(tmp_path, "old")).audio_codec == "none"
    repo.push(_name(tmp_path, "old"))
    assert AUDIO not in _kinds(str(url)).values()
    # switched to flac: new pushes code, old blobs stay as they are; both read back
    repo.remote_add(_name(tmp_path, "old-flac"), str(url), create=False, audio_codec="flac")
    assert json.loads((url / MARKER).read_text())["format"] == 2
    more = make_dataset(tmp_path / "more", files=2, audio=False, name="sp")
    for i, name in enumerate([file_name(0), file_name(1)]):
        (more / name).parent.mkdir(parents=True, exist_ok=True)
        (more / name).write_bytes((src / file_name(i + 2)).read_bytes() + b"")
    shutil.copytree(src / "audio", more / "audio", dirs_exist_ok=True)
    (more / file_name(0)).write_bytes(_file(np.arange(30000, dtype=np.int16)[:, None] % 300,
                                            "WAV", "PCM_16"))
    repo.commit(more, dataset="sp", version="2.0.0")
    repo.push(_name(tmp_path, "old-flac"))
    kinds = set(_kinds(str(url)).values())
    assert AUDIO in kinds and BLOB in kinds
    clone = casdb.Repository.clone(str(url), tmp_path / "clone")
    _same_files(casdb.load("sp", "1.0.0", repo=clone, cache_root=tmp_path / "v1").root, src)
    assert (Path(casdb.load("sp", "2.0.0", repo=clone, cache_root=tmp_path / "v2").root) / file_name(0)).read_bytes() \
        == (more / file_name(0)).read_bytes()
    # a repository with an old and a new remote pushes to both
    repo.remote_add(_name(tmp_path, "new"), str(tmp_path / "new"))
    repo.push(_name(tmp_path, "new"))
    assert AUDIO in _kinds(str(tmp_path / "new")).values()


def test_unknown_codec_or_format_fails_clearly(tmp_path):
    with pytest.raises(InvalidInput, match="unknown audio codec"):
        Remote.create(str(tmp_path / "r"), audio_codec="mp3")
    (tmp_path / "r").mkdir(exist_ok=True)
    (tmp_path / "r" / MARKER).write_text('{"format": 2, "audio_codec": "opus"}')
    with pytest.raises(IntegrityError, match="unknown audio codec"):
        Remote.open(str(tmp_path / "r"))
    (tmp_path / "r" / MARKER).write_text('{"format": 3}')
    with pytest.raises(IntegrityError, match="unsupported remote format 3"):
        Remote.open(str(tmp_path / "r"))


def test_cli_option(tmp_path, repo):
    from casdb.testing.cli import run_casdb

    out = run_casdb("remote", "add", "p", str(tmp_path / "p"), "--audio-codec", "none",
                    repo=repo.path)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "p" / MARKER).read_text()) == {"format": 1}
    out = run_casdb("remote", "add", "q", str(tmp_path / "q"), "--audio-codec", "mp3",
                    repo=repo.path)
    assert out.returncode == 2 and "mp3" in out.stderr


# -- purge and gc ----------------------------------------------------------------------------


def test_purge_of_coded_blobs(spoken, tmp_path):
    _, src = spoken
    repo = casdb.Repository.init(tmp_path / "repo")  # its own: the purge rewrites history
    repo.commit(src, dataset="sp", version="1.0.0")
    url = tmp_path / "remote"
    repo.remote_add(_name(tmp_path, "coded"), str(url))
    repo.push(_name(tmp_path, "coded"))
    remote = Remote.open(str(url))
    before = remote.index()
    small, big = hash_bytes((src / file_name(1)).read_bytes()), \
        hash_bytes((src / file_name(6)).read_bytes())
    assert before[small].kind == AUDIO and before[big].kind == AUDIO
    record = dict(remote.read(before, [small]))[small]
    repo.purge("sp", [file_name(1), file_name(6)], "consent withdrawn")
    after = Remote.open(str(url)).index()
    assert small not in after and big not in after
    assert not list(url.rglob("*.flac")) and not files_holding(url, record[-3000:-1000])
    # the repacked pack still decodes its other coded blobs
    clone = casdb.Repository.clone(str(url), tmp_path / "clone")
    folder = Path(casdb.load("sp", "1.0.0", repo=clone, cache_root=tmp_path / "co").root)
    for i in (0, 2, 3, 4, 5):
        assert (folder / file_name(i)).read_bytes() == (src / file_name(i)).read_bytes()


def test_remote_gc_drops_unreachable_coded_blobs(tmp_path, speech):
    from casdb.maintenance.remotegc import collect_remote

    repo = casdb.Repository.init(tmp_path / "repo")
    src = make_dataset(tmp_path / "src", files=2, audio=False, name="g")
    for i, x in enumerate(speech[:2]):
        (src / file_name(i)).parent.mkdir(parents=True, exist_ok=True)
        (src / file_name(i)).write_bytes(_file(np.tile(x, (1 + 59 * i, 1)), "WAV", "PCM_16"))
    repo.commit(src, dataset="g", branch="work")
    url = tmp_path / "remote"
    repo.remote_add(_name(tmp_path, "coded"), str(url))
    repo.push(_name(tmp_path, "coded"))
    assert list(url.rglob("*.flac")) and AUDIO in _kinds(str(url)).values()
    remote = Remote.open(str(url))
    remote.refstore.remove("g", "heads/work", remote.refs("g")["heads/work"])
    report = collect_remote(remote, grace=0)
    assert report.blobs == 1 and report.packs_deleted == 1
    assert not list(url.rglob("*.flac")) and Remote.open(str(url)).index() == {}


# -- S3 ------------------------------------------------------------------------------------------


def test_load_from_a_coded_s3_remote(spoken, tmp_path, s3_url):
    repo, src = spoken
    repo.remote_add(_name(tmp_path, "s3"), s3_url)
    repo.push(_name(tmp_path, "s3"))
    assert AUDIO in {e.kind for e in repo.remote(_name(tmp_path, "s3")).index().values()}
    ds = casdb.load("sp", "1.0.0", repo=s3_url, cache_root=tmp_path / "cache")
    _same_files(ds.root, src)


# -- fuzzing the record decoder ------------------------------------------------------------------


@pytest.fixture(scope="module")
def records():
    """Coded records of small files (mono/stereo, 8/16/24-bit, odd chunks): (record, id)."""
    t = np.arange(3000)
    x = ((2000 * np.sin(t / 7) + 300 * np.sin(t / 3.1)).astype(np.int16))[:, None]
    files = [riff_wav(x, 8000), riff_wav(_stereo(x), 8000, bits=24, extensible=True),
             riff_wav(x // 256, 8000, bits=8, extra=[(b"LIST", b"INFOabc")], data_first=True),
             _file(x, "AIFF", "PCM_16", 8000)]
    out = []
    for data in files:
        blob = hash_bytes(data)
        record = encode(data, blob)
        assert record is not None
        out.append((record, blob, len(data)))
    return out


_FIELDS = struct.Struct("<8sQQQBBBB")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 3), field=st.integers(1, 7), value=st.integers(0, (1 << 64) - 1),
       size=st.booleans())
def test_fuzz_header_fields(records, which, field, value, size):
    record, blob, n = records[which]
    fields = list(_FIELDS.unpack_from(record))
    fields[field] = value % 256 if field >= 4 else value  # lengths 8 bytes, formats 1
    try:
        crafted = _FIELDS.pack(*fields) + record[_FIELDS.size :]
    except struct.error:
        return
    try:
        out = decode(crafted, blob, n if size else None)
    except Error as exc:
        assert isinstance(exc, IntegrityError)
    else:
        assert hash_bytes(out) == blob  # only a harmless change (never a wrong file)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 3), cuts=st.lists(st.tuples(st.integers(0, 1 << 20), st.binary(max_size=8)),
                                              max_size=4), truncate=st.integers(0, 1 << 20))
def test_fuzz_record_bytes(records, which, cuts, truncate):
    record, blob, n = records[which]
    data = bytearray(record)
    for at, patch in cuts:
        at %= len(data)
        data[at : at + len(patch)] = patch
    if truncate % 5 == 0:
        data = data[: truncate % len(data)]
    try:
        out = decode(bytes(data), blob, n)
    except Error as exc:
        assert isinstance(exc, IntegrityError)
    else:
        assert out == decode(record, blob, n)


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(data):
    with pytest.raises(IntegrityError):
        decode(MAGIC + data, "ab" * 32)
    with pytest.raises(IntegrityError):
        decode(data, "ab" * 32)


def test_repair_from_a_coded_remote(spoken, tmp_path):
    from casdb.remote.repair import repair_blobs

    repo, src = spoken
    url = str(tmp_path / "remote")
    repo.remote_add(_name(tmp_path, "coded"), url)
    repo.push(_name(tmp_path, "coded"))
    clone = casdb.Repository.clone(url, tmp_path / "clone")
    blobs = [hash_bytes((src / file_name(i)).read_bytes()) for i in (0, 6)]  # packed, alone
    assert {Remote.open(url).index()[b].kind for b in blobs} == {AUDIO}
    for blob in blobs:
        path = clone.store.blob_path(blob)
        path.chmod(0o644)
        path.write_bytes(b"damaged")
    assert sorted(repair_blobs(clone, blobs, [Remote.open(url)])) == sorted(blobs)
    for blob, i in zip(blobs, (0, 6), strict=True):
        assert clone.store.blob_path(blob).read_bytes() == (src / file_name(i)).read_bytes()


@settings(max_examples=examples(300), deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, 200), st.binary(min_size=1, max_size=6)),
                     min_size=1, max_size=4),
       aiff=st.booleans())
def test_fuzz_encoder_headers(cuts, aiff):
    """Any blob may reach the encoder on a push: damaged headers never raise, and what is
    coded decodes to the same bytes."""
    x = (np.arange(600, dtype=np.int16) * 37 % 2000)[:, None]
    data = bytearray(_file(x, "AIFF", "PCM_16", 8000) if aiff else riff_wav(x, 8000))
    for at, patch in cuts:
        data[at : at + len(patch)] = patch
    data = bytes(data)
    record = encode(data, hash_bytes(data))
    assert record is None or decode(record, hash_bytes(data), len(data)) == data
