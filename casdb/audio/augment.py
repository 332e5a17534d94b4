"""Augmentation flavours: seeded, per-file random augmentations of audio (the value object).

An :class:`Augment` says which augmentations to apply, with which parameter ranges, to which
share of the files, under which seed. It is part of a :class:`~casdb.audio.flavour.Flavour`
(``Flavour(augment=...)``), so its id names the cache folder and the store of converted files:
an augmented file is computed once per (source blob, flavour) and reused.

Per-file parameters are drawn from generators seeded by ``blake3(seed, blob id, name)``, so a file
(its bytes) gets the same augmentation in every version and dataset, and adding or removing one
augmentation does not change the parameters another draws. The id also holds the versions of the
libraries that compute the signal, so an upgrade never mixes outputs of two versions in one cache.
The signal processing itself is :mod:`casdb.audio.augmenters`.

Example:
    >>> a = Augment(seed=7, share=1.0, augmentations={"time_stretch": {"rate": [0.9, 1.2]}})
    >>> a.as_dict()["augmentations"]
    {'time_stretch': {'rate': [0.9, 1.2], 'p': 1.0}}
    >>> p = a.draw("ab" * 32, 16000)
    >>> 0.9 <= p["time_stretch"]["rate"] <= 1.2, p == a.draw("ab" * 32, 16000)
    (True, True)
    >>> Augment(share=1.5)
    Traceback (most recent call last):
    ...
    casdb.core.errors.InvalidInput: invalid augment share 1.5: use a number from 0 to 1
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from casdb.core.errors import InvalidInput


class Param(NamedTuple):
    """One parameter: its default, the bounds a value or range must keep, and its kind."""

    default: Any
    low: float
    high: float
    kind: str = "range"
    """``range`` (a number or ``[low, high]``, drawn uniformly), ``int`` (an integer range, drawn
    uniformly), ``bool``."""


# The augmentations, in the order they are applied (fade last: the edges end quiet; masks after
# noise: a masked span is silent, as in SpecAugment).
AUGMENTATIONS: dict[str, dict[str, Param]] = {
    "time_stretch": {"rate": Param((0.9, 1.2), 0.5, 2.0)},
    "time_shift": {"shift": Param((-0.1, 0.1), -0.5, 0.5),
                   "rollover": Param(True, 0, 1, "bool")},
    "equalisation": {"highpass_hz": Param((20.0, 400.0), 1.0, 192_000.0),
                     "lowpass_hz": Param((3000.0, 8000.0), 1.0, 192_000.0),
                     "order": Param((9, 9), 1, 20, "int")},
    "reverb": {"room_size": Param((0.0, 0.2), 0.0, 1.0),
               "wet_level": Param((0.0, 0.5), 0.0, 1.0),
               "dry_level": Param((0.4, 0.4), 0.0, 1.0),
               "damping": Param((0.5, 0.5), 0.0, 1.0),
               "width": Param((1.0, 1.0), 0.0, 1.0)},
    "pink_noise": {"snr_db": Param((10.0, 30.0), -20.0, 100.0)},
    "frequency_mask": {"width": Param((0.02, 0.1), 0.0, 0.5),
                       "masks": Param((1, 2), 1, 10, "int")},
    "time_mask": {"width": Param((0.02, 0.1), 0.0, 0.5),
                  "masks": Param((1, 2), 1, 10, "int")},
    "fade": {"fade_in": Param((0.0, 0.1), 0.0, 0.1),
             "fade_out": Param((0.0, 0.1), 0.0, 0.1)},
}
"""Name -> parameters. Every augmentation also takes ``p`` (default 1): the chance that it is
applied to a file chosen for augmentation."""

LIBRARIES = ("numpy", "scipy", "librosa", "soxr", "soundfile", "pedalboard", "colorednoise")
"""Distributions whose versions can change augmented bytes (recorded in the flavour id)."""
NEEDS = {"reverb": "pedalboard", "pink_noise": "colorednoise", "time_stretch": "librosa",
         "equalisation": "scipy", "frequency_mask": "scipy"}
MAX_COPIES = 100


@dataclass(frozen=True)
class Augment:
    """Seeded augmentations of a share of the files (see docs/flavours.md, "Augmentation").

    - ``seed``: an integer >= 0; with the blob id it seeds every draw for a file;
    - ``share``: 0 to 1, the share of files augmented (each file is picked with this chance,
      drawn from the seed and its blob: the same files are picked in every version);
    - ``copies``: augmented copies per file (only 1 is supported so far);
    - ``augmentations``: name -> parameters (a number, or a ``[low, high]`` range drawn per
      file); unnamed parameters take their defaults.
    """

    seed: int = 0
    share: float = 1.0
    augmentations: Any = field(default_factory=dict)
    copies: int = 1

    def __post_init__(self) -> None:
        if not _is_int(self.seed) or self.seed < 0:
            raise InvalidInput(f"invalid augment seed {self.seed!r}: use an integer >= 0")
        if (not _is_number(self.share) or not 0 <= self.share <= 1):
            raise InvalidInput(f"invalid augment share {self.share!r}: use a number from 0 to 1")
        object.__setattr__(self, "share", float(self.share))
        if not _is_int(self.copies) or not 1 <= self.copies <= MAX_COPIES:
            raise InvalidInput(f"invalid augment copies {self.copies!r}: use an integer from 1 to "
                               f"{MAX_COPIES}")
        if self.copies != 1:
            raise InvalidInput(f"augment copies {self.copies}: only copies: 1 is supported so far")
        specs = self.augmentations
        if isinstance(specs, tuple):  # already normalised (a copy of another Augment)
            specs = {name: dict(params) for name, params in specs}
        if not isinstance(specs, dict):
            raise InvalidInput(f"invalid augmentations {specs!r}: use a mapping of augmentation "
                               f"names ({', '.join(AUGMENTATIONS)}) to their parameters")
        unknown = sorted(str(n) for n in specs if n not in AUGMENTATIONS)
        if unknown:
            raise InvalidInput(f"unknown augmentation {unknown[0]!r}: use "
                               f"{', '.join(AUGMENTATIONS)}")
        normal = []
        for name in AUGMENTATIONS:  # the order of application, whatever the order given
            if name in specs:
                normal.append((name, tuple(_params(name, specs[name]).items())))
        object.__setattr__(self, "augmentations", tuple(normal))
        for name, _ in normal:
            _require(name)

    @classmethod
    def of(cls, value: Augment | dict[str, Any] | str | Path | None) -> Augment | None:
        """An Augment from an Augment, a mapping of its fields, a YAML file's path, or None."""
        if value is None or isinstance(value, Augment):
            return value
        if isinstance(value, str | Path):
            value = _read_yaml(Path(value))
        if not isinstance(value, dict):
            raise InvalidInput(f"invalid augment {value!r}: use a mapping with seed, share and "
                               "augmentations")
        value = {k: v for k, v in value.items() if k != "libraries"}  # as recorded: ignored
        unknown = sorted(str(k) for k in set(value) - {"seed", "share", "augmentations", "copies"})
        if unknown:
            raise InvalidInput(f"unknown augment field {unknown[0]!r}: use seed, share, copies, "
                               "augmentations")
        return cls(**value)

    def as_dict(self, libraries: bool = False) -> dict[str, Any]:
        """The spec with every default filled in (and the library versions, if asked)."""
        out: dict[str, Any] = {"seed": self.seed, "share": self.share}
        if self.copies != 1:
            out["copies"] = self.copies
        out["augmentations"] = {
            name: {k: list(v) if isinstance(v, tuple) else v for k, v in params}
            for name, params in self.augmentations}
        if libraries:
            out["libraries"] = dict(self.libraries)
        return out

    @cached_property
    def libraries(self) -> tuple[tuple[str, str], ...]:
        """``(distribution, version)`` of every library that computes augmented audio."""
        from importlib.metadata import PackageNotFoundError, version

        out = []
        for name in LIBRARIES:
            try:
                out.append((name, version(name)))
            except PackageNotFoundError:
                out.append((name, "absent"))
        return tuple(out)

    @cached_property
    def id(self) -> str:
        """``aug-`` and 12 hex digits of blake3 over the spec and the library versions."""
        from casdb.core.ids import hash_bytes

        text = json.dumps(self.as_dict(libraries=True), sort_keys=True, separators=(",", ":"))
        return "aug-" + hash_bytes(text.encode())[:12]

    def draw(self, blob: str, sampling_rate: int) -> dict[str, dict[str, Any]] | None:
        """The parameters applied to the file with bytes ``blob`` at ``sampling_rate`` (the
        output rate); None if the file is not picked (or no augmentation fell to it)."""
        if not _rng(self.seed, blob, "share").random() < self.share:
            return None
        out = {}
        for name, params in self.augmentations:
            rng = _rng(self.seed, blob, name)
            values = dict(params)
            if not rng.random() < values.pop("p"):
                continue
            out[name] = _DRAW[name](rng, values, sampling_rate)
        return out or None


def encode_params(params: dict[str, dict[str, Any]]) -> str:
    """Canonical JSON of drawn parameters (what a converted file's target carries)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _rng(seed: int, blob: str, name: str):
    import numpy as np

    from casdb.core.ids import hash_bytes

    key = hash_bytes(f"casdb-augment\0{seed}\0{blob}\0{name}".encode())
    return np.random.default_rng(int(key[:32], 16))


def _params(name: str, given: Any) -> dict[str, Any]:
    """The parameters of one augmentation, checked, with defaults filled in."""
    table = AUGMENTATIONS[name]
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidInput(f"invalid parameters for {name}: {given!r}; use a mapping such as "
                           f"{{{next(iter(table))}: ...}}")
    unknown = sorted(str(k) for k in set(given) - set(table) - {"p"})
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r} of {name}: use "
                           f"{', '.join([*table, 'p'])}")
    out: dict[str, Any] = {}
    for key, spec in table.items():
        out[key] = _value(name, key, given.get(key, spec.default), spec)
    p = given.get("p", 1.0)
    if not _is_number(p) or not 0 <= p <= 1:
        raise InvalidInput(f"invalid {name} p {p!r}: use a number from 0 to 1")
    out["p"] = float(p)
    if name == "equalisation" and out["highpass_hz"][1] >= out["lowpass_hz"][0]:
        raise InvalidInput(f"invalid equalisation: highpass_hz {list(out['highpass_hz'])} must "
                           f"stay below lowpass_hz {list(out['lowpass_hz'])}")
    return out


def _value(name: str, key: str, value: Any, spec: Param) -> Any:
    where = f"{name} {key}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInput(f"invalid {where} {value!r}: use true or false")
        return value
    integer = spec.kind == "int"
    ok = _is_int if integer else _is_number
    if isinstance(value, list | tuple):
        if len(value) != 2 or not all(ok(v) for v in value):
            raise InvalidInput(f"invalid {where} {value!r}: use a {'whole ' if integer else ''}"
                               "number or a range [low, high]")
        low, high = value
    elif ok(value):
        low = high = value
    else:
        raise InvalidInput(f"invalid {where} {value!r}: use a {'whole ' if integer else ''}"
                           "number or a range [low, high]")
    if low > high:
        raise InvalidInput(f"invalid {where} range {[low, high]}: low is above high")
    if low < spec.low or high > spec.high:
        raise InvalidInput(f"{where} {value!r} is out of range: keep within "
                           f"[{spec.low:g}, {spec.high:g}]")
    return (int(low), int(high)) if integer else (float(low), float(high))


def _uniform(rng, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return low if low == high else float(rng.uniform(low, high))


def _integer(rng, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _masks(rng, values: dict, rate: int) -> dict:
    spans = []
    for _ in range(_integer(rng, values["masks"])):
        width = _uniform(rng, values["width"])
        spans.append([float(rng.uniform(0.0, 1.0 - width)), width])
    return {"masks": spans}


def _equalisation(rng, values: dict, rate: int) -> dict:
    high, low, order = (_uniform(rng, values["highpass_hz"]), _uniform(rng, values["lowpass_hz"]),
                        _integer(rng, values["order"]))
    nyquist = rate / 2
    # A cutoff at or above Nyquist filters nothing the file holds (and scipy refuses it).
    return {"highpass_hz": high if high < 0.99 * nyquist else None,
            "lowpass_hz": low if low < 0.99 * nyquist else None, "order": order}


_DRAW = {
    "time_stretch": lambda rng, v, rate: {"rate": _uniform(rng, v["rate"])},
    "time_shift": lambda rng, v, rate: {"shift": _uniform(rng, v["shift"]),
                                        "rollover": v["rollover"]},
    "equalisation": _equalisation,
    "reverb": lambda rng, v, rate: {k: _uniform(rng, v[k]) for k in AUGMENTATIONS["reverb"]},
    "pink_noise": lambda rng, v, rate: {"snr_db": _uniform(rng, v["snr_db"]),
                                        "noise_seed": int(rng.integers(2**63))},
    "frequency_mask": _masks,
    "time_mask": _masks,
    "fade": lambda rng, v, rate: {"fade_in": _uniform(rng, v["fade_in"]),
                                  "fade_out": _uniform(rng, v["fade_out"])},
}


def _require(name: str) -> None:
    """The library an augmentation uses must be installed (the error says how)."""
    from importlib.util import find_spec

    module = NEEDS.get(name)
    if module is not None and find_spec(module) is None:
        raise InvalidInput(f"the augmentation {name} needs {module}: pip install 'casdb[augment]'")


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read the augment spec {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the augment spec {path} is not text (UTF-8)") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidInput(f"the augment spec {path} is not valid YAML{where}: "
                           f"{getattr(exc, 'problem', None) or exc}") from exc


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
