"""audformat's own rich test database, extended with what casdb must carry through unchanged
(unicode names, misc tables with multi-level indexes, empty tables, open segments, attachments).

audformat is a test extra: it is imported when :func:`build_db` runs.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.testing.synth import write_audio

if TYPE_CHECKING:
    import audformat


def build_db(root: Path, storage_format: str) -> audformat.Database:
    """audformat's own rich test database, plus unicode names, empty and multi-level tables,
    saved under ``root`` as ``csv`` or ``parquet`` tables with real audio."""
    import audformat
    import audformat.testing
    import numpy as np
    import pandas as pd

    random.seed(1)  # audformat's generator draws its values from these
    np.random.seed(1)
    db = audformat.testing.create_db(minimal=False)
    db.expires = dt.date(2031, 12, 24)
    db.license_url = "https://creativecommons.org/publicdomain/zero/1.0/"
    db.meta["pipeline"] = {"steps": ["denoise", "trim"], "version": 2}
    db.schemes["speaker_age"] = audformat.Scheme("int", minimum=0)
    db.schemes["object"] = audformat.Scheme("object")
    db.misc_tables["speakers"] = audformat.MiscTable(
        pd.Index(["spk-ä", "spk-b"], dtype="string", name="speaker"))
    db.misc_tables["speakers"]["age"] = audformat.Column(scheme_id="speaker_age")
    db.misc_tables["speakers"]["age"].set([31, 47])
    db.schemes["speaker"] = audformat.Scheme("str", labels="speakers")
    db.misc_tables["pairs"] = audformat.MiscTable(pd.MultiIndex.from_arrays(
        [pd.Series([1, 2, 2], dtype="Int64"), pd.Series(["x", "y", "z"], dtype="string")],
        names=["run", "item"]))
    db.misc_tables["pairs"]["score"] = audformat.Column(scheme_id="float")
    db.misc_tables["pairs"]["score"].set([0.5, None, -0.25])
    files = ["audio/ünïcödé/straße.wav", "audio/日本語.wav", "audio/plain.wav"]
    db["people"] = audformat.Table(audformat.filewise_index(files), media_id="microphone")
    db["people"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["people"]["speaker"].set(["spk-ä", None, "spk-b"])
    db["people"]["object"] = audformat.Column(scheme_id="object")
    db["people"]["object"].set(["a", "b", None])
    db["empty"] = audformat.Table(audformat.filewise_index([]))
    db["empty"]["label"] = audformat.Column(scheme_id="label")
    db["open_segments"] = audformat.Table(audformat.segmented_index(
        files=[files[0], files[0], files[1]], starts=["0s", "1s", "0.5s"], ends=["1s", pd.NaT, pd.NaT]))
    db["open_segments"]["label"] = audformat.Column(scheme_id="label")
    db["open_segments"]["label"].set(["label1", "label2", None])
    db.save(root, storage_format=storage_format)
    audformat.testing.create_audio_files(db, file_duration="0.1s")  # short: the test is about tables
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        write_audio(root / f, 0, 0.01, 8000, 1)  # real audio: a commit refuses fake WAVs
    (root / "extra" / "folder" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "extra" / "file.txt").write_text("attachment")
    (root / "extra" / "folder" / "sub" / "notes.md").write_text("# notes")
    return db
