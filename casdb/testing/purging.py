"""What the purge tests remove: one media file every version of their datasets holds.

The ``versions`` fixture (tests/conftest.py) builds synth 1.0.0 .. 3.0.0 around it and a
dataset ``copy`` holding the same bytes under another name; the tests purge it and look for
its bytes everywhere.
"""

from __future__ import annotations

SECRET = "audio/000/000003.wav"
"""The file the purge tests remove (present in every synthetic dataset of 4 files or more)."""
