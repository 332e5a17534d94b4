"""Flavours: the format a checkout converts audio to (sampling rate, channels, bit depth, file format).

A :class:`Flavour` is a validated value; its :attr:`~Flavour.id` names the cache folder
(``<cache>/<dataset>/<version>/<flavour-id>/``) and the store of converted files. Nothing set
means the original media (id ``original``).

For one file, :meth:`Flavour.target` says what to write, or None when the file is linked as it
is: files that are not audio, and audio already in the flavour. Unset parts keep the file's own
value; a file that is neither WAV nor FLAC is written as WAV when it must be converted.

Example:
    >>> f = Flavour(sampling_rate=16000, mixdown=True, format="flac")
    >>> f.id
    '16000hz-mix-flac'
    >>> f.target("wav", 48000, 2, 16)
    Target(format='flac', sampling_rate=16000, channels=(0, 1), mixdown=True, bit_depth=16, augment=None)
    >>> Flavour(sampling_rate=16000).target("wav", 16000, 1, 16) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from casdb.audio.augment import Augment
from casdb.core.errors import InvalidInput

ORIGINAL = "original"
FORMATS = ("wav", "flac")
BIT_DEPTHS = (16, 24, 32)
MAX_SAMPLING_RATE = 384_000
MAX_CHANNEL = 1023


class Target(NamedTuple):
    """What one file becomes: format, rate, source channels to take, mixdown, bit depth."""

    format: str
    sampling_rate: int
    channels: tuple[int, ...]
    """Source channel indices, in output order (before mixdown)."""
    mixdown: bool
    bit_depth: int
    augment: str | None = None
    """The augmentations applied to this file: canonical JSON of the drawn parameters
    (:func:`casdb.audio.augment.encode_params`), or None."""

    @property
    def out_channels(self) -> int:
        return 1 if self.mixdown else len(self.channels)


@dataclass(frozen=True)
class Flavour:
    """A conversion of audio media; every part optional.

    - ``sampling_rate``: 1 to 384000 Hz (soxr high-quality resampling);
    - ``channels``: a channel index or a list of them, in output order; an index beyond a
      file's channels repeats its channels (index modulo the file's channels);
    - ``mixdown``: average the selected channels (all, if none selected) into one;
    - ``bit_depth``: 16, 24 or 32 (integer PCM; FLAC holds 16 or 24);
    - ``format``: ``wav`` or ``flac``;
    - ``augment``: seeded augmentations (an :class:`~casdb.audio.augment.Augment`, a mapping of
      its fields, or the path of a YAML file holding them).

    Raises ``InvalidInput`` on construction for anything else.
    """

    sampling_rate: int | None = None
    channels: int | Sequence[int] | None = None
    mixdown: bool = False
    bit_depth: int | None = None
    format: str | None = None
    augment: Augment | dict[str, Any] | str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", Augment.of(self.augment))
        rate = self.sampling_rate
        if rate is not None and (not _is_int(rate) or not 0 < rate <= MAX_SAMPLING_RATE):
            raise InvalidInput(f"invalid sampling rate {rate!r}: use an integer from 1 to "
                               f"{MAX_SAMPLING_RATE} Hz")
        channels = self.channels
        if channels is not None:
            listed = (channels,) if _is_int(channels) else tuple(channels) if isinstance(
                channels, Sequence) and not isinstance(channels, str) else None
            if not listed or not all(_is_int(c) and 0 <= c <= MAX_CHANNEL for c in listed):
                raise InvalidInput(f"invalid channels {channels!r}: use a channel index (from 0) "
                                   "or a non-empty list of them")
            object.__setattr__(self, "channels", listed)
        if not isinstance(self.mixdown, bool):
            raise InvalidInput(f"invalid mixdown {self.mixdown!r}: use True or False")
        if self.bit_depth is not None and self.bit_depth not in BIT_DEPTHS:
            raise InvalidInput(f"invalid bit depth {self.bit_depth!r}: use 16, 24 or 32")
        fmt = self.format
        if fmt is not None:
            if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
                raise InvalidInput(f"invalid format {fmt!r}: use wav or flac")
            object.__setattr__(self, "format", fmt.lower())
        if self.format == "flac" and self.bit_depth == 32:
            raise InvalidInput("invalid flavour: FLAC holds 16 or 24 bits, not 32")

    @classmethod
    def of(cls, value: Flavour | dict[str, Any] | None) -> Flavour:
        """A flavour from a Flavour, a mapping of its fields, or None (the original)."""
        if value is None:
            return cls()
        if isinstance(value, Flavour):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"sampling_rate", "channels", "mixdown", "bit_depth", "format",
                                  "augment"}
            if unknown:
                raise InvalidInput(f"unknown flavour field {sorted(unknown)[0]!r}")
            return cls(**value)
        raise InvalidInput(f"invalid flavour {value!r}")

    @property
    def is_original(self) -> bool:
        return self == Flavour()

    @property
    def id(self) -> str:
        """A readable, stable id: ``original``, or the parts set, e.g. ``16000hz-ch0+1-mix-16bit-flac``."""
        parts = []
        if self.sampling_rate is not None:
            parts.append(f"{self.sampling_rate}hz")
        if self.channels is not None:
            parts.append("ch" + "+".join(map(str, self.channels)))
        if self.mixdown:
            parts.append("mix")
        if self.bit_depth is not None:
            parts.append(f"{self.bit_depth}bit")
        if self.format is not None:
            parts.append(self.format)
        if self.augment is not None:
            parts.append(self.augment.id)
        return "-".join(parts) or ORIGINAL

    def as_dict(self) -> dict[str, Any]:
        """The parts that are set (recorded in the checked-out header)."""
        out: dict[str, Any] = {}
        if self.sampling_rate is not None:
            out["sampling_rate"] = self.sampling_rate
        if self.channels is not None:
            out["channels"] = list(self.channels)
        if self.mixdown:
            out["mixdown"] = True
        if self.bit_depth is not None:
            out["bit_depth"] = self.bit_depth
        if self.format is not None:
            out["format"] = self.format
        if self.augment is not None:
            out["augment"] = self.augment.as_dict(libraries=True)
        return out

    def target(self, fmt: str, sampling_rate: int, channels: int, bit_depth: int,
               force: bool = False) -> Target | None:
        """What a file with these properties becomes; None: link it unchanged (unless
        ``force``: a file to augment is written even when it is in the flavour already)."""
        if not sampling_rate or not channels or (self.is_original and not force):
            return None  # not audio (or the original flavour)
        out_format = self.format or (fmt if fmt in FORMATS else "wav")
        selected = tuple(c % channels for c in self.channels) if self.channels else tuple(
            range(channels))
        rate = self.sampling_rate or sampling_rate
        depth = self.bit_depth or (bit_depth if bit_depth in BIT_DEPTHS else 16)
        if out_format == "flac" and depth == 32:
            depth = 24
        same_channels = (selected == tuple(range(channels)) and not self.mixdown) or (
            self.mixdown and channels == 1 and selected == (0,))
        if (out_format == fmt and rate == sampling_rate and same_channels
                and depth == bit_depth and not force):
            return None
        return Target(out_format, rate, selected, self.mixdown, depth)


def local_path(path: str, target: Target | None) -> str:
    """The path of a file in a flavoured folder: its extension follows a changed format.

    Example:
        >>> local_path("audio/a.WAV", Target("flac", 16000, (0,), False, 16))
        'audio/a.flac'
    """
    if target is None:
        return path
    stem, dot, ext = path.rpartition(".")
    if dot and "/" not in ext:
        if ext.lower() == target.format:
            return path
        return f"{stem}.{target.format}"
    return f"{path}.{target.format}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
