"""Human-readable figures for the terminal.

Example:
    >>> human_size(1_100_000_000), human_size(512)
    ('1.1 GB', '512 B')
"""

from __future__ import annotations

import datetime as dt


def human_size(n: float) -> str:
    """Bytes in decimal units, as ``du --si`` and file managers show them."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    while n >= 1000 and len(units) > 1:
        n /= 1000
        units.pop(0)
    return f"{n:.0f} B" if units[0] == "B" else f"{n:.1f} {units[0]}"


def human_duration(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 20 s``, ``4.5 s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.1f} s"


def plural(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def local_time(seconds: int, tz_offset_minutes: int) -> str:
    """``2026-11-22 14:03 +0100`` in the time zone the commit was made in."""
    tz = dt.timezone(dt.timedelta(minutes=tz_offset_minutes))
    stamp = dt.datetime.fromtimestamp(seconds, tz)
    return stamp.strftime("%Y-%m-%d %H:%M %z")


def parse_size(text: str) -> int:
    """Bytes in ``500M``, ``10G``, ``1.5T``, ``2048`` (binary units; ``B`` and ``iB`` optional).

    Example:
        >>> parse_size("10G"), parse_size("1.5k"), parse_size("2048")
        (10737418240, 1536, 2048)
    """
    from casdb.core.errors import InvalidInput

    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1] if t and t[-1] in "kmgt" else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise InvalidInput(f"invalid size {text!r}: use e.g. 500M, 10G") from None
    if value < 0:
        raise InvalidInput(f"invalid size {text!r}: it cannot be negative")
    return int(value * units[unit])
