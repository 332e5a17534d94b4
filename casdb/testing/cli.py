"""Running the installed ``casdb`` command as a subprocess, as users do (for tests).

Example (not run here: it starts a process)::

    done = run_casdb("ls", repo=repo_path)
    assert done.returncode == 0, done.stderr
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CASDB = str(Path(sys.executable).parent / "casdb")
"""The ``casdb`` entry point of the running interpreter's environment."""


def run_casdb(*args: str, repo: Path | None = None, check: bool = False,
              **kw) -> subprocess.CompletedProcess:
    """Run ``casdb [--repo REPO] ARGS...``; text output captured (``check``: raise on failure)."""
    cmd = [CASDB] + (["--repo", str(repo)] if repo else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=check, **kw)
