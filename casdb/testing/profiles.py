"""Hypothesis profiles: ``dev`` (the default: few examples, a quick inner loop) and ``ci`` (many
examples), chosen by ``$HYPOTHESIS_PROFILE``; :func:`examples` scales a test's own example count
by the active profile.

``tests/conftest.py`` calls :func:`load_profile` before any test module is imported, so
``@settings(max_examples=examples(300))`` sees the chosen profile.

Example (not run: loading a profile changes it for every later test)::

    load_profile("ci")         # settings().max_examples == 200
    examples(300)              # 600; 75 under dev
"""

from __future__ import annotations

import os

PROFILES = {"dev": 25, "ci": 200}
"""Profile name -> ``max_examples`` (hypothesis' own default is 100)."""
ENV = "HYPOTHESIS_PROFILE"


def load_profile(name: str | None = None) -> str:
    """Register both profiles and load ``name`` (default: ``$HYPOTHESIS_PROFILE``, else dev)."""
    from hypothesis import HealthCheck, settings

    for profile, count in PROFILES.items():
        # No deadline: the machines running tests are shared, and a slow example is not a bug.
        settings.register_profile(profile, max_examples=count, deadline=None,
                                  print_blob=profile == "ci",
                                  suppress_health_check=[HealthCheck.too_slow])
    name = name or os.environ.get(ENV) or "dev"
    if name not in PROFILES:
        from casdb.core.errors import InvalidInput

        raise InvalidInput(f"${ENV}={name!r}: use one of {', '.join(PROFILES)}")
    settings.load_profile(name)
    return name


def examples(n: int) -> int:
    """``n`` (a count chosen for hypothesis' default of 100) scaled to the active profile."""
    from hypothesis import settings

    return max(5, round(n * settings().max_examples / 100))
