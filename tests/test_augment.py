"""Augmentation flavours: the spec, seeded draws, each augmentation's effect, and augmented
checkouts (determinism, reuse, the augmentation table, bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import casdb
from casdb.api import Repository
from casdb.audio import augmenters
from casdb.audio.augment import AUGMENTATIONS, Augment
from casdb.audio.flavour import Flavour
from casdb.core.errors import InvalidInput
from casdb.testing.profiles import examples
from casdb.testing.synth import make_dataset, media_blobs

BLOB = "ab" * 32
SPEC = {"seed": 7, "share": 1.0,
        "augmentations": {"pink_noise": {"snr_db": [10, 20]}, "fade": {}}}

# -- the spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, message", [
    ({"share": 1.5}, "invalid augment share 1.5"),
    ({"share": -0.1}, "invalid augment share"),
    ({"share": "half"}, "invalid augment share"),
    ({"share": float("nan")}, "invalid augment share"),
    ({"seed": -1}, "invalid augment seed"),
    ({"seed": "7"}, "invalid augment seed"),
    ({"seed": True}, "invalid augment seed"),
    ({"copies": 0}, "invalid augment copies"),
    ({"copies": 2}, "only copies: 1"),
    ({"augmentations": ["pink_noise"]}, "invalid augmentations"),
    ({"augmentations": {"echo": {}}}, "unknown augmentation 'echo'"),
    ({"augmentations": {"time_stretch": {"rate": [0.5, 3]}}}, r"time_stretch rate \[0.5, 3\] "
                                                              "is out of range"),
    ({"augmentations": {"time_stretch": {"rate": [1.2, 0.9]}}}, "low is above high"),
    ({"augmentations": {"time_stretch": {"rate": "fast"}}}, "invalid time_stretch rate 'fast'"),
    ({"augmentations": {"time_stretch": {"rate": [1, 2, 3]}}}, "invalid time_stretch rate"),
    ({"augmentations": {"time_stretch": {"speed": 1}}}, "unknown parameter 'speed'"),
    ({"augmentations": {"time_stretch": 1.1}}, "invalid parameters for time_stretch"),
    ({"augmentations": {"reverb": {"wet_level": 1.5}}}, "reverb wet_level 1.5 is out of range"),
    ({"augmentations": {"reverb": {"room_size": [0, 2]}}}, "out of range"),
    ({"augmentations": {"fade": {"fade_in": 0.2}}}, "fade fade_in 0.2 is out of range"),
    ({"augmentations": {"time_mask": {"masks": 1.5}}}, "invalid time_mask masks"),
    ({"augmentations": {"time_shift": {"rollover": "yes"}}}, "invalid time_shift rollover"),
    ({"augmentations": {"pink_noise": {"p": 2}}}, "invalid pink_noise p 2"),
    ({"augmentations": {"equalisation": {"highpass_hz": 5000, "lowpass_hz": 4000}}},
     "highpass_hz .* must stay below lowpass_hz"),
    ({"speed": 1}, "unknown augment field 'speed'"),
])
def test_invalid_specs(spec, message):
    with pytest.raises(InvalidInput, match=message):
        Augment.of(spec)
    with pytest.raises(InvalidInput, match=message):
        Flavour(sampling_rate=16000, augment=spec)


def test_spec_from_yaml_and_defaults(tmp_path):
    path = tmp_path / "aug.yaml"
    path.write_text("seed: 7\nshare: 1.0\naugmentations:\n  pink_noise: {snr_db: [10, 20]}\n"
                    "  time_stretch: {rate: [0.9, 1.2]}\n")
    a = Augment.of(str(path))
    assert a == Augment.of(path) == Augment(seed=7, share=1.0, augmentations={
        "time_stretch": {"rate": [0.9, 1.2]}, "pink_noise": {"snr_db": [10, 20]}})
    spec = a.as_dict()
    # applied in a fixed order, whatever the order written; defaults filled in
    assert list(spec["augmentations"]) == ["time_stretch", "pink_noise"]
    assert spec["augmentations"]["pink_noise"] == {"snr_db": [10.0, 20.0], "p": 1.0}
    full = Augment(augmentations={n: None for n in AUGMENTATIONS}).as_dict()["augmentations"]
    assert full["time_stretch"]["rate"] == [0.9, 1.2] and full["reverb"]["dry_level"] == [0.4, 0.4]
    assert full["reverb"]["room_size"] == [0.0, 0.2] and full["reverb"]["wet_level"] == [0.0, 0.5]
    assert Augment.of(a.as_dict(libraries=True)) == a  # the recorded spec reads back
    for text, message in (("seed: [7\n", "not valid YAML"), ("- 1\n- 2\n", "invalid augment"),
                          ("share: 2\n", "invalid augment share 2")):
        path.write_text(text)
        with pytest.raises(InvalidInput, match=message):
            Flavour(augment=str(path))
    with pytest.raises(InvalidInput, match="cannot read the augment spec"):
        Augment.of(tmp_path / "missing.yaml")
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInput, match="not text"):
        Augment.of(path)


def test_id_names_spec_and_library_versions():
    a, b = Augment(**SPEC), Augment(**{**SPEC, "seed": 8})
    f = Flavour(sampling_rate=16000, augment=a)
    assert f.id.startswith("16000hz-aug-") and not f.is_original
    assert a.id == Augment(**SPEC).id != b.id
    assert Flavour(augment=a).id == a.id
    assert dict(a.libraries)["pedalboard"] and "libraries" in f.as_dict()["augment"]
    other = Augment(**SPEC)
    other.__dict__["libraries"] = (("pedalboard", "0.0.1"),)  # another install: another id
    assert other.id != a.id


def test_draws_are_seeded_by_seed_and_blob():
    a = Augment(seed=1, augmentations={n: {} for n in AUGMENTATIONS})
    p = a.draw(BLOB, 16000)
    assert p == a.draw(BLOB, 16000) and list(p) == list(AUGMENTATIONS)
    assert p != a.draw("cd" * 32, 16000) and p != Augment(
        seed=2, augmentations={n: {} for n in AUGMENTATIONS}).draw(BLOB, 16000)
    # one augmentation's draws do not depend on which others are asked for
    alone = Augment(seed=1, augmentations={"reverb": {}}).draw(BLOB, 16000)
    assert alone["reverb"] == p["reverb"]
    assert 0 <= p["reverb"]["room_size"] <= 0.2 and 0 <= p["reverb"]["wet_level"] <= 0.5
    assert p["reverb"]["dry_level"] == 0.4 and 0.9 <= p["time_stretch"]["rate"] <= 1.2
    assert p["equalisation"]["order"] == 9
    # a low-pass at or above Nyquist filters nothing: not applied
    eq = Augment(augmentations={"equalisation": {"lowpass_hz": 9000}}).draw(BLOB, 16000)
    assert eq["equalisation"]["lowpass_hz"] is None
    # share: each blob picked with that chance, the same blobs whatever else changes
    blobs = [f"{i:064x}" for i in range(400)]
    half = Augment(seed=3, share=0.5, augmentations={"fade": {}})
    picked = {b for b in blobs if half.draw(b, 16000) is not None}
    assert 160 < len(picked) < 240
    assert picked == {b for b in blobs if Augment(seed=3, share=0.5, augmentations={
        "pink_noise": {}}).draw(b, 8000) is not None}
    assert not any(Augment(share=0.0, augmentations={"fade": {}}).draw(b, 16000) for b in blobs)
    p_half = Augment(augmentations={"fade": {"p": 0.5}})
    assert 160 < sum(p_half.draw(b, 16000) is not None for b in blobs) < 240


# -- each augmentation does what it says -------------------------------------------------------


def sine(freq: float, rate: int = 16000, seconds: float = 1.0, amplitude: float = 0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)[:, None]


def level_db(x) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


@pytest.mark.slow  # about 4 s: librosa's first time stretch (imports, numba compilation)
def test_time_stretch_changes_duration_by_the_rate():
    y = sine(440)
    for rate in (0.9, 1.2):
        out = augmenters.apply(y, 16000, {"time_stretch": {"rate": rate}})
        assert len(out) == round(len(y) / rate) and out.dtype == y.dtype
        spectrum = np.abs(np.fft.rfft(out[:, 0]))
        assert abs(np.argmax(spectrum) * 16000 / len(out) - 440) < 5  # pitch kept


def test_pink_noise_at_the_drawn_snr():
    y = sine(440)
    out = augmenters.apply(y, 16000, {"pink_noise": {"snr_db": 15.0, "noise_seed": 3}})
    noise = out - y
    assert abs(level_db(y) - level_db(noise) - 15.0) < 0.01
    power = np.abs(np.fft.rfft(noise[:, 0])) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / 16000)
    low, high = power[(freqs > 100) & (freqs < 200)].mean(), power[(freqs > 4000) & (
        freqs < 8000)].mean()
    assert 10 * np.log10(low / high) > 10  # pink: falls 3 dB per octave (about 15 dB here)
    silent = np.zeros((1000, 1), np.float32)
    assert not augmenters.apply(silent, 16000, {"pink_noise": {"snr_db": 15.0,
                                                               "noise_seed": 3}}).any()


def test_fade_makes_the_edges_quiet():
    y = sine(440)
    out = augmenters.apply(y, 16000, {"fade": {"fade_in": 0.1, "fade_out": 0.05}})
    assert out[0, 0] == 0 and out[-1, 0] == 0
    assert level_db(out[:80]) < level_db(y[:80]) - 20  # the first 5 % of the ramp
    assert level_db(out[-40:]) < level_db(y[-40:]) - 20
    assert np.array_equal(out[2000:15000], y[2000:15000])


def test_equalisation_filters_below_and_above_the_cutoffs():
    p = {"equalisation": {"highpass_hz": 400.0, "lowpass_hz": 3000.0, "order": 9}}
    for freq, passes in ((50, False), (1000, True), (6000, False)):
        y = sine(freq)
        out = augmenters.apply(y, 16000, p)[4000:]  # after the filter settles
        change = level_db(out) - level_db(y[4000:])
        assert (abs(change) < 1) if passes else change < -40, (freq, change)


def test_reverb_adds_a_tail_and_keeps_the_dry_level():
    y = np.zeros((16000, 1), np.float32)
    y[:100] = 0.5
    p = {k: v for k, v in {"room_size": 0.2, "damping": 0.5, "wet_level": 0.5,
                           "dry_level": 0.4, "width": 1.0}.items()}
    out = augmenters.apply(y, 16000, {"reverb": p})
    assert out.shape == y.shape and level_db(out[2000:8000]) > -80  # a tail where y is silent
    dry = augmenters.apply(y, 16000, {"reverb": {**p, "wet_level": 0.0}})
    # pedalboard (JUCE's Freeverb) scales the dry signal by 2 x dry_level
    assert np.allclose(dry[:50], 2 * 0.4 * y[:50], atol=1e-3)


def test_masks_shift():
    y = sine(440) + sine(3000)
    out = augmenters.apply(y, 16000, {"time_mask": {"masks": [[0.25, 0.1]]}})
    assert not out[4000:5600].any() and np.array_equal(out[:4000], y[:4000])
    out = augmenters.apply(y, 16000, {"frequency_mask": {"masks": [[0.3, 0.1]]}})  # 2.4-3.2 kHz
    spectrum = lambda x, f: np.abs(np.fft.rfft(x[2000:-2000, 0]))[int(f * 12000 / 16000)]  # noqa: E731
    assert spectrum(out, 3000) < spectrum(y, 3000) / 100
    assert abs(spectrum(out, 440) / spectrum(y, 440) - 1) < 0.01
    assert np.array_equal(augmenters.apply(y, 16000, {"time_shift": {
        "shift": 0.1, "rollover": True}}), np.roll(y, 1600, axis=0))
    shifted = augmenters.apply(y, 16000, {"time_shift": {"shift": -0.1, "rollover": False}})
    assert np.array_equal(shifted[:-1600], y[1600:]) and not shifted[-1600:].any()


# -- augmented checkouts -----------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Repository:
    repo = Repository.init(tmp_path / "repo")
    repo.commit(make_dataset(tmp_path / "src", files=12, duration=0.3, sampling_rate=16000),
                dataset="synth", version="1.0.0")
    return repo


def read(path) -> bytes:
    return Path(path).read_bytes()


def test_augmented_checkout_table_and_determinism(corpus, tmp_path):
    flavour = casdb.Flavour(sampling_rate=8000, augment=SPEC)
    ds = casdb.load("synth", "1.0.0", repo=corpus, cache_root=tmp_path / "c1", flavour=flavour)
    again = casdb.load("synth", "1.0.0", repo=corpus, cache_root=tmp_path / "c2",
                       flavour={"sampling_rate": 8000, "augment": SPEC})
    assert [read(f) for f in ds.files] == [read(f) for f in again.files]  # bit-identical
    assert ds.root.name == flavour.id and "augmentation" in ds.tables
    table = ds["augmentation"].get()
    blobs = media_blobs(corpus)
    assert len(table) == 12 and table["augmented"].all()
    for file, row in table.iterrows():
        rel = Path(file).relative_to(ds.root).as_posix()
        assert json.loads(row["parameters"]) == Augment(**SPEC).draw(blobs[rel], 8000)
        assert row["augmentations"] == "pink_noise,fade"
        assert 10 <= json.loads(row["parameters"])["pink_noise"]["snr_db"] <= 20
        assert sf.info(file).samplerate == 8000
    plain = casdb.load("synth", "1.0.0", repo=corpus, cache_root=tmp_path / "c1",
                       flavour={"sampling_rate": 8000})
    assert all(read(a) != read(b) for a, b in zip(ds.files, plain.files, strict=True))
    # db.yaml records the spec and the library versions; audformat reads the folder
    import audformat
    import yaml

    header = yaml.safe_load((ds.root / "db.yaml").read_text())
    recorded = header["media"]["microphone"]["flavour"]["augment"]
    assert recorded["seed"] == 7 and recorded["libraries"]["pedalboard"] == "0.9.26"
    db = audformat.Database.load(str(ds.root))
    assert db["augmentation"].get()["augmented"].tolist() == [True] * 12


def test_share_zero_is_the_plain_flavour_and_half_picks_the_seeds_files(corpus, tmp_path):
    cache = tmp_path / "c"
    plain = casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache,
                       flavour={"sampling_rate": 8000})
    none = casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache, flavour={
        "sampling_rate": 8000, "augment": {**SPEC, "share": 0.0}})
    assert [read(f) for f in none.files] == [read(f) for f in plain.files]
    assert not none["augmentation"].get()["augmented"].any()
    half = {**SPEC, "share": 0.5, "seed": 1}
    ds = casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache,
                    flavour={"sampling_rate": 8000, "augment": half})
    blobs = media_blobs(corpus)
    picked = {p for p, b in blobs.items() if Augment(**half).draw(b, 8000) is not None}
    assert 0 < len(picked) < 12
    changed = {Path(a).relative_to(ds.root).as_posix()
               for a, b in zip(ds.files, plain.files, strict=True) if read(a) != read(b)}
    assert changed == picked
    table = ds["augmentation"].get(index=None)
    assert {Path(f).relative_to(ds.root).as_posix()
            for f in table.index[table["augmented"].astype(bool)]} == picked
    # with no other conversion, files the seed leaves out are linked from the store unchanged
    only = casdb.checkout("synth", "1.0.0", repo=corpus, cache_root=cache,
                          flavour={"augment": half})
    assert only.converted == len(picked)


def test_same_blob_same_bytes_across_datasets_and_versions_and_reuse(corpus, tmp_path):
    src = make_dataset(tmp_path / "src", files=14, duration=0.3, sampling_rate=16000)
    corpus.commit(src, dataset="synth", version="2.0.0")  # two files more
    corpus.commit(src, dataset="other", version="1.0.0")
    cache = tmp_path / "c"
    flavour = {"sampling_rate": 8000, "augment": SPEC}
    first = casdb.checkout("synth", "1.0.0", repo=corpus, cache_root=cache, flavour=flavour)
    second = casdb.checkout("synth", "2.0.0", repo=corpus, cache_root=cache, flavour=flavour)
    third = casdb.checkout("other", "1.0.0", repo=corpus, cache_root=cache, flavour=flavour)
    assert (first.converted, second.converted, third.converted) == (12, 2, 0)
    for path in (first.path / "audio/000").iterdir():
        rel = path.relative_to(first.path)
        assert read(path) == read(second.path / rel) == read(third.path / rel)
    assert casdb.checkout("synth", "1.0.0", repo=corpus, cache_root=cache,
                          flavour=flavour).converted == 0


def test_bad_spec_changes_nothing(corpus, tmp_path):
    cache = tmp_path / "c"
    before = sorted(p.relative_to(corpus.path) for p in corpus.path.rglob("*"))
    for spec in ({"share": 1.5}, {"augmentations": {"echo": {}}}, str(tmp_path / "none.yaml")):
        with pytest.raises(InvalidInput):
            casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache,
                       flavour={"augment": spec})
    assert not cache.exists()
    assert sorted(p.relative_to(corpus.path) for p in corpus.path.rglob("*")) == before


# -- fuzzed specs: a valid Augment or InvalidInput, nothing else -------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
_params = st.dictionaries(st.sampled_from(["rate", "snr_db", "wet_level", "room_size", "p",
                                           "masks", "width", "fade_in", "order", "shift",
                                           "rollover", "x"]), _values, max_size=3)
_specs = st.fixed_dictionaries({}, optional={
    "seed": _values, "share": st.one_of(st.floats(-1, 2), _values), "copies": _values,
    "augmentations": st.one_of(_values, st.dictionaries(
        st.sampled_from([*AUGMENTATIONS, "echo"]), st.one_of(st.none(), _params), max_size=3)),
    "other": _values})


@settings(max_examples=examples(200))
@given(_specs)
def test_fuzzed_specs_are_valid_or_invalid_input(spec):
    try:
        a = Augment.of(spec)
    except InvalidInput as exc:
        assert "\n" not in str(exc)
        return
    assert Augment.of(a.as_dict(libraries=True)) == a and a.id.startswith("aug-")
    for params in (a.draw(f"{i:064x}", 16000) for i in range(3)):
        assert params is None or set(params) <= set(AUGMENTATIONS)


@settings(max_examples=examples(100))
@given(st.binary(max_size=200))
def test_fuzzed_yaml_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("spec") / "aug.yaml"
    path.write_bytes(data)
    try:
        Augment.of(path)
    except InvalidInput:
        pass


def test_cache_verify_repairs_augmented_files_and_the_table(corpus, tmp_path):
    cache = tmp_path / "c"
    flavour = {"sampling_rate": 8000, "augment": SPEC}
    ds = casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache, flavour=flavour)
    good = {f: read(f) for f in ds.files}
    table = (ds.root / "db.augmentation.parquet").read_bytes()
    derived = sorted((cache / ".derived").rglob("*"))
    victim = next(p for p in derived if p.is_file())
    victim.chmod(0o644)
    victim.write_bytes(b"damaged")  # the converted copy itself (the folder's file is its link)
    (ds.root / "db.augmentation.parquet").unlink()
    casdb.cache_verify(repo=corpus, cache_root=cache)
    again = casdb.load("synth", "1.0.0", repo=corpus, cache_root=cache, flavour=flavour)
    assert {f: read(f) for f in again.files} == good  # augmented again, the same bytes
    assert (ds.root / "db.augmentation.parquet").read_bytes() == table
