"""How many threads to run for I/O-bound work (copying, hashing, verifying).

Example:
    >>> workers() >= 1
    True
"""

from __future__ import annotations

import os


def workers() -> int:
    """Threads for copying and hashing: file I/O and blake3 release the GIL, so a few per core."""
    return min(32, 4 * (os.cpu_count() or 1))
