"""Media that claim to be audio but that libsndfile cannot decode, found before a commit publishes.

A file claims audio by its name (an extension libsndfile reads: ``.wav``, ``.flac``, ``.ogg``,
``.mp3``, ``.aiff``, ...; :data:`casdb.audio.probe.AUDIO_EXTENSIONS`) or by its header (RIFF/WAVE,
fLaC, OggS, ...; :func:`casdb.audio.probe.claims_audio`). Such a file has a problem when

- libsndfile cannot open it: a text file or an empty file named ``.wav``, a cut-off header;
- it is a WAV whose data chunk is longer than the file (truncated: libsndfile opens it and reads
  what is there, so the header and the bytes disagree on its length).

Every file that is not an attachment counts: casdb checks out and converts every such file as
media, whether a table references it or not. The verdict on a blob's bytes is part of its probe
(:attr:`casdb.audio.probe.MediaInfo.problem`), kept in the repository's probe memory; a media index does
not keep it, so a blob known only from an index is probed again (once) when it could have one.

Example:
    >>> from casdb.audio.probe import MediaInfo
    >>> file_problem("a.wav", 0, MediaInfo("wav", 0, 0, 0, 0.0, ""))
    'empty file'
    >>> file_problem("notes.txt", 5, MediaInfo("txt", 0, 0, 0, 0.0, ""))
    ''
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from casdb.audio.probe import AUDIO_EXTENSIONS, MediaInfo, extension, probe_file
from casdb.core.errors import InvalidDataset
from casdb.core.parallel import workers

if TYPE_CHECKING:
    from casdb.store.objectstore import ObjectStore

SHOWN = 3
"""Files named in a refusal (the rest are counted)."""


def file_problem(path: str, size: int, info: MediaInfo) -> str:
    """What is wrong with the file ``path`` (``size`` bytes, probed as ``info``); "" if nothing."""
    if info.problem:
        return info.problem
    if not info.sampling_rate and extension(path) in AUDIO_EXTENSIONS:
        if size == 0:
            return "empty file"
        return f"not audio libsndfile can open (named .{extension(path)})"
    return ""


def _may_have_problem(info: MediaInfo) -> bool:
    """Whether a blob's probe, without its verdict, could hide one (then it is probed again)."""
    return not info.sampling_rate or info.format == "wav"


def find(
    store: ObjectStore, media_id: str, memory: dict[str, MediaInfo]
) -> tuple[dict[str, str], dict[str, MediaInfo]]:
    """Problems of the files of media index ``media_id`` (path -> problem), and fresh probes.

    ``memory`` is the probe memory; blobs it has no verdict for are probed again from the store
    when their properties could hide a problem (not audio, or WAV). The fresh probes are returned
    so the caller can remember them.
    """
    from casdb.tables import mediaindex

    index = mediaindex.arrow(store, media_id)
    columns = [index.column(c).to_pylist() for c in ("file", *mediaindex.MEDIA_COLUMNS)]
    infos: dict[str, MediaInfo] = {}
    again: dict[str, str] = {}
    for path, blob, _, fmt, rate, channels, depth, duration in zip(*columns, strict=True):
        info = memory.get(blob)
        if info is None or info.problem is None:
            info = MediaInfo(fmt, rate, channels, depth, duration)
            if _may_have_problem(info):
                again.setdefault(blob, path)
                continue
            info = info._replace(problem="")
        infos[blob] = info
    probed: dict[str, MediaInfo] = {}
    if again:
        items = list(again.items())
        with ThreadPoolExecutor(workers()) as pool:
            found = pool.map(lambda item: probe_file(store.blob_file(item[0]), item[1]), items)
            probed = {blob: info for (blob, _), info in zip(items, found, strict=True)
                      if info.problem is not None}  # None: the blob is not here to read
        for blob, path in items:
            infos[blob] = probed.get(blob) or MediaInfo(extension(path), 0, 0, 0, 0.0)
    problems = {}
    for path, blob, size, *_ in zip(*columns, strict=True):
        problem = file_problem(path, size, infos[blob])
        if problem:
            problems[path] = problem
    return problems, probed


def refuse(problems: dict[str, str], header: dict) -> None:
    """``InvalidDataset`` listing the files with ``problems`` that are not attachments."""
    attachments = [spec["path"].rstrip("/") for spec in (header.get("attachments") or {}).values()
                   if isinstance(spec, dict) and isinstance(spec.get("path"), str)]
    bad = sorted(p for p in problems
                 if not any(p == a or p.startswith(a + "/") for a in attachments))
    if not bad:
        return
    shown = "; ".join(f"{p}: {problems[p]}" for p in bad[:SHOWN])
    more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    count = f"{len(bad)} media files claim" if len(bad) > 1 else "a media file claims"
    raise InvalidDataset(
        f"{count} to be audio that libsndfile cannot decode ({shown}{more}); fix or remove "
        "them, declare them as attachments in db.yaml, or commit with --allow-undecodable "
        "(allow_undecodable=True)"
    )
