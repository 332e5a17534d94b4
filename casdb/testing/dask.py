"""A real Dask ``LocalCluster`` for tests and benchmarks of the engine (docs/scale.md).

Example (not run here: it starts processes)::

    with local_cluster(workers=2) as (cluster, engine):
        casdb.load("emodb", flavour=..., engine=engine)   # engine == "dask://127.0.0.1:PORT"
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def local_cluster(workers: int = 2) -> Iterator[tuple[Any, str]]:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes (each under a nanny,
    which restarts it if it dies), and its address as casdb spells an engine; closed at the
    end. The workers inherit this process's environment (``PYTHONPATH`` too), so they import
    the same casdb."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, scheduler_port=0,
                           silence_logs=40)
    try:
        port = int(cluster.scheduler_address.rsplit(":", 1)[1])
        yield cluster, f"dask://127.0.0.1:{port}"
    finally:
        cluster.close()


def worker_pids(client: Any) -> dict[str, int]:
    """Worker address -> the pid of its process."""
    return client.run(os.getpid)


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
