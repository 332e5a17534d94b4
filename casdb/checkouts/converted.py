"""A checkout in a flavour: which files to convert, where converted files live, and the header.

Converted files are kept in the cache once per (source blob, flavour), whatever version or
dataset asked for them:

    <cache>/.derived/<flavour-id>/ab/cdef...     the source blob's bytes in the flavour

and a version's folder links them under their (possibly renamed) paths. Only files not converted
yet are converted, on every core (:mod:`casdb.audio.convert`). A file that fails names itself in the
error; every other file converted in the same run is kept, so a rerun converts only what is
still missing.

Two kinds of file get special targets (see docs/flavours.md):

- a file whose name claims audio libsndfile reads (``.wav``, ``.flac``, ...) but that the media
  index does not know as audio (committed with ``allow_undecodable``) cannot be in a flavour:
  it gets a target with bit depth 0 that is never converted but reported as a failure, so a
  flavoured folder never holds non-audio under an audio name;
- a file that becomes 0 frames is written as WAV even in a FLAC flavour: FLAC cannot say "0
  frames" (a STREAMINFO total of 0 means "unknown"; libsndfile then reports 2**63 - 1 frames and
  fails to read), and libsndfile writes 0 bytes for an empty FLAC.

Example:
    >>> derived_path(Path("/c"), "16000hz", "ab" * 32).as_posix()[:22]
    '/c/.derived/16000hz/ab'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from casdb.audio.augment import encode_params
from casdb.audio.flavour import FORMATS, Flavour, Target, local_path
from casdb.audio.probe import AUDIO_EXTENSIONS, extension
from casdb.checkouts.layout import DERIVED, DERIVED_DB
from casdb.core.atomic import temp_name
from casdb.core.errors import IntegrityError, InvalidDataset, InvalidInput, storage_error
from casdb.core.progress import Progress

if TYPE_CHECKING:
    import pyarrow as pa

    from casdb.core.engine import Engine



def derived_fingerprints(root: Path):
    """The records of the converted files under the cache ``root``."""
    from casdb.store.fingerprints import Fingerprints

    return Fingerprints(root / DERIVED_DB)


def derived_path(root: Path, flavour_id: str, blob: str) -> Path:
    return root / DERIVED / flavour_id / blob[:2] / blob[2:]


def plan(index: pa.Table, media: Sequence[str], flavour: Flavour) -> dict[str, Target]:
    """Media files that need converting -> their target (files not listed are linked)."""
    if flavour.is_original:
        return {}
    from casdb.audio.convert import resampled_frames

    wanted = set(media)
    columns = [index.column(c).to_pylist() for c in (
        "file", "blob", "format", "sampling_rate", "channels", "bit_depth", "duration")]
    augment = flavour.augment
    out = {}
    for path, blob, fmt, rate, channels, depth, duration in zip(*columns, strict=True):
        if path not in wanted:
            continue
        if not rate and extension(path) in AUDIO_EXTENSIONS:
            out[path] = _undecodable(flavour, extension(path))
            continue
        # Parameters are drawn from (seed, blob): the same bytes get the same augmentation in
        # every version and dataset. A file without frames has nothing to augment.
        params = augment.draw(blob, flavour.sampling_rate or rate) if (
            augment is not None and rate and channels and duration) else None
        target = flavour.target(fmt, rate, channels, depth, force=params is not None)
        if target is None:
            continue
        if params is not None:
            target = target._replace(augment=encode_params(params))
        if target.format == "flac" and resampled_frames(
                round(duration * rate), rate, target.sampling_rate) == 0:
            target = target._replace(format="wav")  # FLAC cannot hold 0 frames
        out[path] = target
    return out


def _undecodable(flavour: Flavour, ext: str) -> Target:
    """The target of a file named as audio that is not (reported, never converted)."""
    fmt = flavour.format or (ext if ext in FORMATS else "wav")
    return Target(fmt, flavour.sampling_rate or 0, flavour.channels or (), flavour.mixdown, 0)


def is_undecodable(target: Target) -> bool:
    return target.bit_depth == 0


def local_paths(paths: Sequence[str], targets: dict[str, Target]) -> dict[str, str]:
    """Path in the folder of every file; ``InvalidInput`` if two would share a name."""
    out = {p: local_path(p, targets.get(p)) for p in paths}
    if len(set(out.values())) != len(out):
        seen: dict[str, str] = {}
        for p, local in out.items():
            if local in seen:
                raise InvalidInput(f"the flavour would write {seen[local]} and {p} to the same "
                                   f"file {local}")
            seen[local] = p
    return out


def check_channels(flavour: Flavour, index: pa.Table, media: Sequence[str]) -> None:
    """A channel index must exist in at least one audio file of the selection."""
    if not flavour.channels:
        return
    wanted = set(media)
    most = max((c for f, c in zip(index.column("file").to_pylist(),
                                  index.column("channels").to_pylist(), strict=True)
                if f in wanted), default=0)
    if most and max(flavour.channels) >= most:
        raise InvalidInput(f"channel {max(flavour.channels)} is out of range: the files have at "
                           f"most {most} channel{'s' if most > 1 else ''} (indices from 0)")


def convert_missing(
    root: Path,
    flavour: Flavour,
    todo: Sequence[tuple[str, str, str, int, Target]],
    progress: bool | None,
    record=None,
    engine: Engine | None = None,
) -> int:
    """Convert ``(path, blob, source file, size, target)`` not yet in the derived store.

    ``record(blob, final path)`` is called for each file converted (to keep its hash). Returns
    the number converted. Raises ``InvalidDataset`` naming the files that failed (or
    ``IntegrityError`` if a converted file came out wrong), after keeping every file that
    succeeded. A converted file is checked before it is moved into place, so nothing wrong or
    half-written is ever published. With a Dask ``engine`` the conversions run on its workers
    (which write only the temporary files named here); moving them into place and ``record``
    stay in this process.
    """
    from casdb.audio.convert import Task, convert_many

    tasks, seen = [], set()
    failed, wrong = [], []
    for path, _, _, _, target in todo:
        if is_undecodable(target):
            failed.append(f"{path}: not audio libsndfile can decode (committed with "
                          "allow_undecodable; a flavour holds audio only)")
    for path, blob, source, size, target in todo:
        if is_undecodable(target):
            continue
        final = derived_path(root, flavour.id, blob)
        if blob in seen or final.exists():
            continue
        seen.add(blob)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, str(final.parent)) from exc
        tmp = temp_name(final.parent)
        tasks.append(Task(path, source, str(tmp) + "." + target.format, target, size))
    blob_of = {p: b for p, b, *_ in todo}
    done = 0
    with Progress("converting", sum(t.size for t in tasks), len(tasks), enabled=progress) as bar:
        for task, error in convert_many(tasks, engine=engine):
            bar.advance(task.size)
            if error is not None:
                (wrong if error.integrity else failed).append(f"{task.key}: {error.message}")
                continue
            final = derived_path(root, flavour.id, blob_of[task.key])
            try:
                os.chmod(task.dest, 0o444)
                os.replace(task.dest, final)
            except OSError as exc:
                raise storage_error(exc, str(final)) from exc
            if record is not None:
                record(blob_of[task.key], str(final))
            done += 1
    if wrong:
        more = f" (and {len(wrong) + len(failed) - 1} more failed)" if len(wrong) + len(
            failed) > 1 else ""
        raise IntegrityError(f"converting {wrong[0]}{more}; nothing wrong was kept, the other "
                             "files are converted and kept")
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise InvalidDataset(f"cannot convert {failed[0]}{more}; the other files are converted "
                             "and kept")
    return done


AUGMENTATION_TABLE = "augmentation"
"""The filewise table of an augmented checkout: what was applied to each audio file."""
AUGMENTATION_COLUMNS = ("augmented", "augmentations", "parameters")


def augmentation_table(index: pa.Table, present: Sequence[str], local: dict[str, str],
                       targets: dict[str, Target]) -> pa.Table:
    """One row per audio file of ``present`` (by its path in the folder): whether it was
    augmented, the augmentations applied (comma-separated, in the order applied) and their
    drawn parameters (JSON)."""
    import json

    import pyarrow as pa

    from casdb.audio.augment import AUGMENTATIONS

    wanted = set(present)
    files, flags, names, params = [], [], [], []
    for path, rate in zip(index.column("file").to_pylist(),
                          index.column("sampling_rate").to_pylist(), strict=True):
        if path not in wanted or not rate:
            continue
        target = targets.get(path)
        drawn = target.augment if target is not None else None
        files.append(local[path])
        flags.append(drawn is not None)
        applied = json.loads(drawn) if drawn is not None else {}
        names.append(",".join(n for n in AUGMENTATIONS if n in applied))
        params.append(drawn or "{}")
    return pa.table({"file": pa.array(files, pa.string()), "augmented": pa.array(flags, pa.bool_()),
                     "augmentations": pa.array(names, pa.string()),
                     "parameters": pa.array(params, pa.string())})


def flavoured_header(header: dict, flavour: Flavour) -> dict:
    """The header of a flavoured folder: audio media entries state the flavour's format; an
    augmented flavour adds the ``augmentation`` table (``InvalidInput`` if the version has a
    table of that name)."""
    if flavour.is_original:
        return header
    out = dict(header)
    if flavour.augment is not None:
        taken = set(header.get("tables") or {}) | set(header.get("misc_tables") or {})
        if AUGMENTATION_TABLE in taken:
            raise InvalidInput(f"the version has a table {AUGMENTATION_TABLE!r}: an augmented "
                               "checkout adds its own table of that name")
        out["tables"] = {**(header.get("tables") or {}), AUGMENTATION_TABLE: {
            "type": "filewise", "description": "augmentations applied by the casdb flavour",
            "columns": {c: {} for c in AUGMENTATION_COLUMNS}}}
    media = {}
    for media_id, spec in (header.get("media") or {}).items():
        spec = dict(spec or {})
        if spec.get("type", "audio") in ("audio", "video"):
            if flavour.format:
                spec["format"] = flavour.format
            if flavour.sampling_rate:
                spec["sampling_rate"] = flavour.sampling_rate
            if flavour.mixdown:
                spec["channels"] = 1
            elif flavour.channels:
                spec["channels"] = len(flavour.channels)
            if flavour.bit_depth:
                spec["bit_depth"] = flavour.bit_depth
            spec["flavour"] = flavour.as_dict()
        media[media_id] = spec
    if media:
        out["media"] = media
    return out
