"""Inspecting a repository: casdb log, ls, show and diff."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from casdb.history.summary import summarize
from casdb.testing.files import age
from casdb.testing.synth import make_dataset


def test_commit_log_ls_show_diff_fsck(cli, source, repo):
    result = cli("commit", str(source), "--dataset", "synth", "--version", "1.0.0", "-m", "first")
    assert result.exit_code == 0, result.output
    first_id = result.output.splitlines()[0]
    assert len(first_id) == 64 and "committed synth 1.0.0" in result.output
    (source / "extra.txt").write_text("notes")
    assert cli("commit", str(source), "-d", "synth", "-v", "1.1.0", "-m", "notes").exit_code == 0

    log = cli("log", "synth").output
    assert log.index("(1.1.0)") < log.index("(1.0.0)")
    assert "+1 added" in log and "first" in log and first_id[:10] in log
    assert cli("ls").output.split() == ["synth", "1.0.0", "1.1.0"]
    show = cli("show", "synth@1.0.0").output
    assert "synth 1.0.0" in show and "emotion" in show and "12 files" in show
    diff = cli("diff", "synth", "1.0.0", "1.1.0").output
    assert "1 added" in diff and "+ extra.txt" in diff and "header: unchanged" in diff
    fsck = cli("fsck")
    assert fsck.exit_code == 0 and fsck.output.rstrip().endswith("ok")


def test_show_card_and_row_diff(cli, source):
    from casdb.testing.synth import write_tables

    cli("commit", str(source), "-d", "synth", "-v", "1")
    write_tables(source, range(11), seed=1)
    (source / "db.yaml").write_text((source / "db.yaml").read_text().replace("CC0-1.0", "MIT"))
    cli("commit", str(source), "-d", "synth", "-v", "2")
    show = cli("show", "synth@2").output
    for text in ("license:      MIT", "12 files", "2.4 s of audio", "sampling rates: 8000 (12)",
                 "emotion [emotion]", "labels anger, happiness, neutral, sadness",
                 "labels from table speaker", "range [0.0, 1.0]", "train: train", "gold: human"):
        assert text in show, text
    diff = cli("diff", "synth", "1", "2").output
    assert "changed emotion (12 -> 11 rows): +0 added, -1 removed, ~11 changed (emotion: 11)" in diff
    assert "- audio/000/000011.wav" in diff and "header: license" in diff
    assert "emotion: 'anger' -> 'happiness'" in diff


def test_show_says_n_a_for_bit_depths_of_compressed_formats(repo, tmp_path, cli):
    src = make_dataset(tmp_path / "src", files=3, duration=0.2, sampling_rate=8000)
    tone = 0.3 * np.sin(np.linspace(0, 400, 16000))
    sf.write(src / "audio" / "extra.ogg", tone, 16000, format="OGG", subtype="VORBIS")
    sf.write(src / "audio" / "extra.mp3", tone, 16000, format="MP3", subtype="MPEG_LAYER_III")
    age(src)
    repo.commit(src, dataset="synth", version="1")
    media = summarize(repo, "synth", "1").media
    assert media.bit_depths == {16: 3, None: 2} and 0 not in media.bit_depths
    assert media.formats == {"wav": 3, "ogg": 1, "mp3": 1}
    out = cli("show", "synth@1").output
    line = next(s for s in out.splitlines() if s.strip().startswith("bit depths:"))
    assert line.split(":", 1)[1].split() == ["16", "(3),", "n/a", "(2)"]
