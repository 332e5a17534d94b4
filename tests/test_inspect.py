"""show and diff as users read them: figures that mean what they say."""

from __future__ import annotations


def test_diff_files_is_diff_media(repo, source):
    repo.commit(source, dataset="synth", version="1")
    (source / "notes.txt").write_text("notes")
    repo.commit(source, dataset="synth", version="2")
    d = repo.diff("synth", "1", "2")
    assert [c.path for c in d.media] == ["notes.txt"] and d.files == d.media
    assert d.files[0].kind == "added"
