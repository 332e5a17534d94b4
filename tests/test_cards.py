"""casdb card: the figures of a data card against the tables, the acoustic statistics against
signals of known level, bad input, and the HTML page in a real headless browser (chromium)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casdb
from casdb.research.acoustics import file_stats, measure
from casdb.testing.cards import chromium, demo_repo, probe, varied_corpus
from casdb.testing.cli import run_casdb
from casdb.testing.emocorpus import make_corpus
from casdb.testing.profiles import examples

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (scripts/test installs it with apt-get)")


@pytest.fixture
def repo(tmp_path):
    r = casdb.Repository.init(tmp_path / "repo")
    r.commit(varied_corpus(tmp_path / "v", files=15, seed=4, mean_duration=0.5),
             dataset="synth", version="1.0.0")
    r.commit(make_corpus(tmp_path / "e", speakers=4, official=True,
                         per_cell=[[1, 2, 3, 4], [2, 2, 2, 2], [5, 1, 1, 1], [0, 3, 1, 2]]),
             dataset="emo", version="1.0.0")
    return r


def test_card_figures_match_the_tables(repo):
    (card,) = casdb.card("emo@1.0.0", repo=repo).cards
    table = repo.table("emo", "emotion", "1.0.0")
    (col,) = card.labels  # emotion.emotion: the only labelled column (speaker has no labels)
    assert col.name == "emotion.emotion"
    assert col.counts == table["emotion"].astype(str).value_counts().to_dict()
    for split in ("official.train", "official.test"):
        rows = repo.table("emo", split, "1.0.0")
        assert col.by_split[split] == rows["emotion"].astype(str).value_counts().to_dict()
        assert card.splits[split] == len(rows)
    assert card.items_per_speaker == table["speaker"].value_counts().to_dict()
    media = repo.media("emo", "1.0.0")
    stats = card.duration_stats()
    assert stats["count"] == len(media)
    assert stats["total"] == pytest.approx(media["duration"].sum())
    assert stats["median"] == pytest.approx(media["duration"].median())
    assert set(card.previews) == set(repo.snapshot("emo", "1.0.0").table_ids)
    assert all(len(f) <= 5 for f in card.previews.values())
    assert [e.versions for e in card.history] == [["1.0.0"]]


def test_synth_label_columns_leave_the_speaker_out(repo):
    (card,) = casdb.card("synth", repo=repo).cards  # a bare name: the head of main
    # the speaker scheme has labels (a misc table) but is the speaker section, not a label
    assert [c.name for c in card.labels] == ["emotion.emotion", "segments.emotion"]
    assert card.speaker_column == "speaker" and len(card.items_per_speaker) == 5


def test_terminal_card_from_the_cli(repo):
    done = run_casdb("card", "emo@1.0.0", "synth@1.0.0", repo=repo.path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "emo@1.0.0" in out and "synth@1.0.0" in out
    # the split x label grid: labels most frequent first, a row per split table
    labels = repo.table("emo", "emotion", "1.0.0")["emotion"].astype(str).value_counts()
    train = repo.table("emo", "official.train", "1.0.0")["emotion"].astype(str).value_counts()
    row = r"\s+".join(str(train.get(k, 0)) for k in labels.index)
    assert re.search(r"official\.train\s+" + row + r"\n", out), out
    assert "4 speakers" in out and "sampling rates: 16000" in out
    assert "table official.test (first 5 rows)" in out


def test_acoustic_statistics_of_known_signals():
    rate = 16000
    t = np.arange(rate) / rate
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    assert file_stats(sine, rate)["rms_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)),
                                                                abs=0.01)
    clipped = np.clip(2 * sine, -1, 1)
    assert file_stats(clipped, rate)["clipping"] == pytest.approx(np.mean(np.abs(clipped) >= 0.999))
    half_silent = sine.copy()
    half_silent[: rate // 2] = 1e-4  # -80 dBFS: silence, and not digital silence
    s = file_stats(half_silent, rate)
    assert s["silence"] == pytest.approx(0.5, abs=0.03)
    assert s["snr_db"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2) / 1e-4), abs=1.0)
    assert file_stats(np.zeros(100), rate)["rms_dbfs"] == -120.0


def test_acoustic_sample_is_bounded_and_seeded(repo):
    media = repo.media("synth", "1.0.0")
    a = measure(repo.store, media, sample=5, seed=1)
    b = measure(repo.store, media, sample=5, seed=1)
    c = measure(repo.store, media, sample=5, seed=2)
    assert a.files == 5 and a.values == b.values and a.values != c.values
    assert measure(repo.store, media, sample=100).files == len(media)


def test_example_is_the_median_file_with_verified_bytes(repo, tmp_path):
    from casdb.research.acoustics import example_file

    media = repo.media("synth", "1.0.0")
    name, mime, data = example_file(repo.store, media)
    assert mime == "audio/wav"
    assert media.loc[name, "duration"] == sorted(media["duration"])[len(media) // 2]
    path = repo.store.blob_path(media.loc[name, "blob"])
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(casdb.IntegrityError):
        casdb.card("synth@1.0.0", repo=repo, html=tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize(("args", "code", "text"), [
    (["nosuch@1.0.0"], 4, "nosuch"),
    (["emo@9.9.9"], 4, "9.9.9"),
    (["@1.0.0"], 2, "names no dataset"),
    (["emo@1.0.0", "--html", "{tmp}/missing/card.html"], 2, "does not exist"),
    (["emo@1.0.0", "--html", "{tmp}"], 2, "is a folder"),
    (["emo@1.0.0", "--html", "{tmp}/afile/card.html"], 2, "does not exist"),
    (["emo@1.0.0", "--html", "{tmp}/c.html", "--sample", "-1"], 2, "sample size"),
])
def test_bad_input_is_one_line(repo, tmp_path, args, code, text):
    (tmp_path / "afile").write_text("x")
    done = run_casdb("card", *[a.format(tmp=tmp_path) for a in args], repo=repo.path)
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("casdb: error:")
    assert text in done.stderr
    assert not (tmp_path / "c.html").exists()


def test_import_casdb_and_help_load_no_plotting():
    code = ("import sys, casdb, casdb.api; casdb.card; casdb.api.card; "
            "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    helped = run_casdb("--help")
    assert "card" in helped.stdout


def _check_page(path, work, corpora: int) -> dict:
    text = path.read_text(encoding="utf-8")
    # self-contained: no external script, style, image or font; nothing to fetch
    assert not re.search(r"""(src|href)\s*=\s*['"](?!data:|#)""", text)
    assert "<script" not in text
    result = probe(path, work)
    assert result["errors"] == []
    svgs = text.count("<svg")
    assert len(result["plots"]) == svgs
    for plot in result["plots"]:
        assert plot["width"] > 50 and plot["height"] > 50 and plot["drawn"] > 0, plot
    assert len(result["audio"]) == corpora
    for audio in result["audio"]:
        assert audio["src"].startswith("data:audio/wav;base64,") and audio["error"] is None
    return result


@needs_chromium
@pytest.mark.slow
def test_html_card_renders_in_chromium(tmp_path):
    r = demo_repo(tmp_path)
    one = tmp_path / "one.html"
    done = run_casdb("card", "emo@1.0.0", "--html", str(one), repo=r.path)
    assert done.returncode == 0, done.stderr
    # duration, acoustics, formats/rates, emotion, split x emotion, speakers
    assert len(_check_page(one, tmp_path, 1)["plots"]) == 6

    three = tmp_path / "three.html"
    casdb.card("studio@1.0.0", "phone@1.0.0", "emo@1.0.0", repo=r, html=three, sample=20)
    result = _check_page(three, tmp_path, 3)
    # comparison (durations, acoustics) + studio, phone: duration, formats, 2 labels, speakers
    # + emo: duration, formats, label, split x label, speakers
    assert len(result["plots"]) == 2 + 5 + 5 + 5
    text = three.read_text()
    assert text.index("studio@1.0.0") < text.index("phone@1.0.0") < text.index("emo@1.0.0")
    # the phone corpus is the clipped one: its median clipping ratio shows in the comparison
    cards = casdb.card("studio@1.0.0", "phone@1.0.0", repo=r, html=tmp_path / "two.html").cards
    assert cards[1].acoustics.median("clipping") > 0.05 > cards[0].acoustics.median("clipping")


@pytest.mark.slow  # ~5 s: purge, gc and two cards
def test_purged_files_are_left_out(repo, tmp_path):
    media = repo.media("synth", "1.0.0")
    victim = sorted(media.index)[0]
    repo.purge("synth", [victim], reason="consent withdrawn")
    cards = casdb.card("synth@1.0.0", repo=repo, html=tmp_path / "p.html")
    (card,) = cards.cards
    assert card.duration_stats()["count"] == len(media) - 1 == card.summary.media.files
    assert card.example is not None and card.example[0] != victim
    assert card.acoustics.files == len(media) - 1 and card.acoustics.skipped == 0


def test_a_version_without_tables_or_media(tmp_path):
    src = tmp_path / "bare"
    src.mkdir()
    (src / "db.yaml").write_text("name: bare\n")
    r = casdb.Repository.init(tmp_path / "repo")
    r.commit(src, dataset="bare", version="1.0.0")
    cards = casdb.card("bare@1.0.0", repo=r, html=tmp_path / "bare.html")
    (card,) = cards.cards
    assert card.labels == [] and card.items_per_speaker == {} and card.example is None
    assert "0 files" in cards.text()
    page = (tmp_path / "bare.html").read_text()
    assert "no column with a labelled scheme" in page and "no speaker column" in page


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400), wav=st.booleans())
def test_undecodable_audio_is_skipped_not_raised(repo, body, wav):
    import pandas as pd

    from casdb.core.ids import hash_bytes
    from casdb.testing.synth import wav_header

    data = (wav_header(len(body)) + body) if wav else body
    blob = hash_bytes(data)
    if not repo.store.has_blob(blob):
        repo.store.put_blob_bytes(blob, data)
        repo.store.publish()
    media = pd.DataFrame({"blob": [blob], "bytes": [len(data)], "format": ["wav"],
                          "sampling_rate": [16000], "duration": [0.1]}, index=["x.wav"])
    stats = measure(repo.store, media, sample=5)
    assert stats.files + stats.skipped == 1
    for values in stats.values.values():
        assert all(np.isfinite(v) for v in values)


@pytest.mark.slow  # ~3 s: a remote, a card and its fetches counted
def test_a_card_of_a_remote_fetches_only_what_it_reads(repo, tmp_path):
    url = str(tmp_path / "remote")
    repo.remote_add("origin", url)
    repo.push()
    local = casdb.card("synth@1.0.0", repo=repo, html=tmp_path / "local.html", sample=4)
    cards = casdb.card("synth@1.0.0", repo=url, html=tmp_path / "remote.html", sample=4,
                       cache_root=tmp_path / "c")
    card, mine = cards.cards[0], local.cards[0]
    assert card.example == mine.example and card.example is not None
    assert card.acoustics.values == mine.acoustics.values and card.acoustics.files == 4
    assert [e.id for e in card.history] == [e.id for e in mine.history]
    fetched = [p for p in (tmp_path / "c").rglob(".remotes/*/blobs/*/*") if p.is_file()]
    assert 1 <= len(fetched) <= 5  # the 4 sampled files and the example, not all 15
    text = run_casdb("--repo", url, "card", "emo@1.0.0", env={**__import__("os").environ,
                                                              "CASDB_CACHE": str(tmp_path / "c")})
    assert text.returncode == 0, text.stderr
