"""A Ray worker killed in the middle of a casdb read task (tests of :mod:`casdb.ray`).

:class:`KilledOnce` is the casdb datasource with one change: the first attempt of its first
read task SIGKILLs its own worker process after handing Ray the task's first block, as the
OOM killer or a lost node would, with no handler and no ``finally``. A marker file (created
before the kill) makes the retry run through, so the test can check that Ray's retry gives
every row exactly once and the same rows as an undisturbed read.

Example (needs a running Ray instance):
    >>> import ray  # doctest: +SKIP
    >>> source = KilledOnce(spec, rows, size, marker=tmp / "killed")  # doctest: +SKIP
    >>> ray.data.read_datasource(source).take_all()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from casdb.ray import CasdbDatasource, ReadTask, Spec


class KilledOnce(CasdbDatasource):
    """The casdb datasource whose first task kills its worker once, mid-task."""

    def __init__(self, spec: Spec, rows: int, size: int, *, marker: Path) -> None:
        super().__init__(spec, rows, size)
        self.marker = str(marker)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: Any = None) -> list[ReadTask]:
        tasks = super().get_read_tasks(parallelism, per_task_row_limit, data_context)
        if tasks:
            first, marker = tasks[0], self.marker
            tasks[0] = ReadTask(lambda: _die_once(first.read_fn, marker), first.metadata,
                                per_task_row_limit=first.per_task_row_limit)
        return tasks


def _die_once(read: Callable[[], Iterable[Any]], marker: str) -> Iterator[Any]:
    for n, block in enumerate(read()):
        yield block
        if n == 0:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue  # the retry: read on
            os.kill(os.getpid(), signal.SIGKILL)
