"""Killing a process at a chosen moment, and telling how far a killed clone got.

A kill point is a trigger (a function that turns true when the moment comes: a file appears, a
count is reached) and a delay after it. The process gets SIGKILL, as from the OOM killer or a
power cut of the process alone: no handler runs, no ``finally``.

Example:
    >>> import subprocess, sys
    >>> proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    >>> kill_at(proc, lambda: True)
    True
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from casdb.history.repository import CLONE_MARKER


class Forked:
    """``fn(*args)`` in a forked child: no interpreter start, so a kill test stays quick.

    Has the part of ``subprocess.Popen`` that :func:`kill_at` uses (``pid``, ``poll``,
    ``wait``, ``kill``). The child exits 0 if ``fn`` returned, 1 if it raised.
    """

    def __init__(self, fn: Callable[..., object], *args: object) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                fn(*args)
                code = 0
            except BaseException:  # noqa: BLE001 - shown, then the child ends with 1
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


Process = subprocess.Popen | Forked


def kill_at(proc: Process, trigger: Callable[[], bool], delay: float = 0.0,
            timeout: float = 60.0) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after ``trigger()`` turns true; reaped on return.

    Returns whether it was killed (False: it ended on its own before the moment came).
    """
    deadline = time.monotonic() + timeout
    while not trigger():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise TimeoutError(f"the kill point never came within {timeout} s")
        time.sleep(0.0005)
    if delay:
        time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def clone_stage(path: Path) -> str:
    """How far a clone into ``path`` got: ``nothing`` (no folder or an empty one), ``marker``
    (the marker's temporary file), ``layout`` (marker, no config), ``fetch`` (config, no ref),
    ``refs`` (some refs, marker still there) or ``done`` (no marker, a repository)."""
    if not path.exists() or not any(path.iterdir()):
        return "nothing"
    if not (path / CLONE_MARKER).exists():
        return "done" if (path / "config").exists() else "marker"
    if not (path / "config").exists():
        return "layout"
    refs = path / "refs"
    if refs.is_dir() and any(p.is_file() for p in refs.rglob("*")):
        return "refs"
    return "fetch"


def all_refs(repo) -> dict[str, dict[str, str]]:
    """Every ref of a repository: dataset -> {``tags/v`` or ``heads/b``: commit id}."""
    return {d: {**{f"tags/{v}": c for v, c in repo.refs.tags(d).items()},
                **{f"heads/{b}": c for b, c in repo.refs.heads(d).items()}}
            for d in repo.datasets()}
