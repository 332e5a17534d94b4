"""Small emotion corpora with speakers, for split tests and benchmarks: the rows per speaker and
label are chosen exactly, the media are tiny WAV files (a header and a few distinct bytes).

The folder has a filewise table ``emotion`` (columns ``emotion``, ``agreement``, ``session``,
and ``speaker`` unless ``speaker_column`` is False), a filewise table ``files`` (``speaker``), a
misc table ``sessions`` (index ``session``, column ``speaker``) and, with ``official``, the
dataset's own splits: tables ``official.train`` and ``official.test`` (speakers alternate).

Example:
    >>> import tempfile
    >>> root = make_corpus(tempfile.mkdtemp(), speakers=3, per_cell=2)
    >>> len((root / "db.emotion.csv").read_text().splitlines())  # header + 3 x 4 x 2 rows
    25
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

LABELS = ("angry", "happy", "neutral", "sad")


def make_corpus(
    root: str | Path,
    *,
    speakers: int = 5,
    labels: Sequence[str] = LABELS,
    per_cell: int | Sequence[Sequence[int]] = 3,
    name: str = "emo",
    speaker_column: bool = True,
    official: bool = False,
    seed: int = 0,
) -> Path:
    """Write the corpus; ``per_cell``: rows per speaker and label (one number, or a
    speakers x labels matrix)."""
    import numpy as np

    from casdb.testing.synth import wav_header

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = (np.full((speakers, len(labels)), per_cell) if isinstance(per_cell, int)
              else np.asarray(per_cell))
    rng = np.random.default_rng(seed)
    emotion = ["file,emotion,agreement,session" + (",speaker" if speaker_column else "")]
    files = ["file,speaker"]
    train, test = ["file,emotion"], ["file,emotion"]
    i = 0
    for s in range(speakers):
        for j, label in enumerate(labels):
            for _ in range(int(counts[s, j])):
                path = f"audio/spk{s:02d}/{i:05d}.wav"
                body = i.to_bytes(4, "little") * 8
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(wav_header(len(body)) + body)
                agreement = round(float(rng.uniform(0.5, 1.0)), 2)
                row = f"{path},{label},{agreement},ses{s:02d}"
                emotion.append(row + (f",spk{s:02d}" if speaker_column else ""))
                files.append(f"{path},spk{s:02d}")
                (test if s % 2 else train).append(f"{path},{label}")
                i += 1
    write = {"emotion": emotion, "files": files,
             "sessions": ["session,speaker"] + [f"ses{s:02d},spk{s:02d}" for s in range(speakers)]}
    if official:
        write |= {"official.train": train, "official.test": test}
    for table, lines in write.items():
        (root / f"db.{table}.csv").write_text("\n".join(lines) + "\n")
    (root / "db.yaml").write_text(_header(name, labels, speaker_column, official))
    return root


def _header(name: str, labels: Sequence[str], speaker_column: bool, official: bool) -> str:
    speaker = "\n      speaker: {scheme_id: speaker}" if speaker_column else ""
    text = f"""name: {name}
languages: [eng]
schemes:
  emotion: {{dtype: str, labels: [{', '.join(labels)}]}}
  agreement: {{dtype: float, minimum: 0.0, maximum: 1.0}}
  speaker: {{dtype: str}}
  session: {{dtype: str}}
media:
  microphone: {{type: audio, format: wav}}
tables:
  emotion:
    type: filewise
    media_id: microphone
    columns:
      emotion: {{scheme_id: emotion}}
      agreement: {{scheme_id: agreement}}
      session: {{scheme_id: session}}{speaker}
  files:
    type: filewise
    columns:
      speaker: {{scheme_id: speaker}}
"""
    if official:
        text += """  official.train:
    type: filewise
    split_id: train
    columns:
      emotion: {scheme_id: emotion}
  official.test:
    type: filewise
    split_id: test
    columns:
      emotion: {scheme_id: emotion}
splits:
  train: {type: train}
  test: {type: test}
"""
    return text + """misc_tables:
  sessions:
    levels: {session: str}
    columns:
      speaker: {scheme_id: speaker}
"""
