"""show and diff as users read them: figures that mean what they say."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from casdb.history.summary import summarize
from casdb.testing.files import age
from casdb.testing.synth import make_dataset


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


def test_diff_files_is_diff_media(repo, source):
    repo.commit(source, dataset="synth", version="1")
    (source / "notes.txt").write_text("notes")
    repo.commit(source, dataset="synth", version="2")
    d = repo.diff("synth", "1", "2")
    assert [c.path for c in d.media] == ["notes.txt"] and d.files == d.media
    assert d.files[0].kind == "added"
