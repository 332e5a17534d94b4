"""Where casdb's heavy loops run: on this machine (the default) or on a Dask cluster.

An *engine* is named by the caller (``engine=`` in Python, ``--engine`` in the CLI,
``CASDB_ENGINE``, or ``engine:`` in the config file; docs/scale.md):

    None, "threads", "local"   the built-in pools: threads for copying and hashing, worker
                               processes for conversions (what casdb always did)
    "dask://HOST:PORT"         a running Dask distributed scheduler (``tcp://`` underneath)
    a distributed.Client       in Python: a client the caller already holds (not closed here)

Dask is imported only when a Dask engine is asked for, so ``import casdb`` and ``casdb --help``
never load it. A loop hands its work out as *partitions* (lists of items, e.g. files) through
:meth:`Engine.map`, which yields each partition's result as it completes. Every task a loop
submits must be idempotent per partition: a worker killed mid-task makes the scheduler run the
partition again elsewhere, and the second run must leave the same result. Only the driver (the
process that called casdb) writes refs, records and published objects; workers write only
temporary or content-addressed files that the driver checks and moves into place.

Example:
    >>> parse_engine(None) is None, parse_engine("threads") is None
    (True, True)
    >>> parse_engine("dask://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> parse_engine("spark://x:1")
    Traceback (most recent call last):
    ...
    casdb.core.errors.InvalidInput: unknown engine 'spark://x:1': use threads or dask://HOST:PORT
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from casdb.core.errors import EngineError, InvalidInput

ENGINE_ENV = "CASDB_ENGINE"
CONNECT_TIMEOUT = 5.0
"""Seconds to reach a scheduler before giving up (a closed port fails at once)."""
LOCAL = ("threads", "local")
_DASK = re.compile(r"dask://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?P<port>\d{1,5})")

EngineSpec = Any
"""None, "threads", "dask://HOST:PORT", a ``distributed.Client`` or an :class:`Engine`."""


def parse_engine(spec: str | None) -> str | None:
    """The scheduler address a spelling names (None: the built-in pools); ``InvalidInput``
    for any other spelling."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise InvalidInput(f"engine must be a string, a distributed.Client or None, got "
                           f"{type(spec).__name__}")
    text = spec.strip()
    if text == "" or text.lower() in LOCAL:
        return None
    match = _DASK.fullmatch(text)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise InvalidInput(f"unknown engine {spec!r}: use threads or dask://HOST:PORT")
    return f"tcp://{match['host']}:{int(match['port'])}"


def check_engine(spec: EngineSpec) -> None:
    """``InvalidInput`` unless ``spec`` names an engine (checked without connecting)."""
    if spec is None or isinstance(spec, Engine) or _is_client(spec):
        return
    parse_engine(spec)


def _is_client(obj: object) -> bool:
    # by name: checking isinstance would import distributed
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def engine_setting(explicit: EngineSpec, configured: str | None = None,
                   environ: Mapping[str, str] | None = None) -> EngineSpec:
    """The engine in effect: the argument, else ``$CASDB_ENGINE``, else the config file's."""
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    return env.get(ENGINE_ENV) or configured


class Engine:
    """A Dask distributed client that runs partitions of a loop (see the module docstring)."""

    def __init__(self, client: Any, *, owned: bool) -> None:
        self.client = client
        self._owned = owned

    @property
    def address(self) -> str:
        return str(self.client.scheduler.address)

    def map(self, fn: Callable[..., Any], partitions: Sequence[Any], *args: Any,
            ) -> Iterator[tuple[int, Any]]:
        """Run ``fn(partition, *args)`` for every partition on the cluster; yield
        ``(index, result)`` as each completes. A task that raises re-raises here; a worker lost
        mid-task makes the scheduler rerun its partition (up to Dask's
        ``distributed.scheduler.allowed-failures``), which is why ``fn`` must be idempotent."""
        from distributed import as_completed

        if not partitions:
            return
        # pure=False: a rerun of the same call (a retry after a failure) computes again
        # instead of reusing a result the scheduler may still hold.
        futures = [self.client.submit(fn, part, *args, pure=False) for part in partitions]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                try:
                    result = future.result()
                except Exception as exc:
                    if _is_casdb_error(exc):
                        raise
                    raise EngineError(f"a task failed on the Dask cluster at {self.address}: "
                                      f"{type(exc).__name__}: {_first_line(exc)}") from exc
                yield index[future.key], result
                future.release()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoEngine:
    """The built-in pools: a context manager that gives None (loops run as they always did)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def open_engine(spec: EngineSpec, configured: str | None = None) -> Engine | _NoEngine:
    """A context manager giving the :class:`Engine` of ``spec`` (or None for the built-in pools).

    ``spec`` None falls back on ``$CASDB_ENGINE`` and then ``configured`` (the config file's
    ``engine``). A scheduler address is connected to now, with a short timeout: an unreachable
    scheduler is :class:`EngineError` before any work starts. A client the caller passed stays
    open when the context ends; one opened here is closed.
    """
    spec = engine_setting(spec, configured)
    if isinstance(spec, Engine):
        return Engine(spec.client, owned=False)
    if spec is not None and not isinstance(spec, str):
        if _is_client(spec):
            return Engine(spec, owned=False)
        raise InvalidInput(f"engine must be a string, a distributed.Client or None, got "
                           f"{type(spec).__name__}")
    address = parse_engine(spec)
    if address is None:
        return _NoEngine()
    return Engine(_connect(address, spec), owned=True)


def _connect(address: str, spec: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise InvalidInput(f"engine {spec} needs Dask: pip install 'casdb[dask]'") from exc
    import dask

    _probe(address, spec)
    # connect-timeout bounds each attempt; Client(timeout=) bounds the whole handshake.
    with dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s"}):
        try:
            return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {spec}: "
                              f"{_first_line(exc) or type(exc).__name__}") from None


def _probe(address: str, spec: str) -> None:
    """One plain TCP connection first: a refused port fails at once (Dask's own connect retries
    until its timeout), and a host that does not answer within the timeout fails then."""
    import socket

    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {spec}: "
                          f"{exc.strerror or type(exc).__name__}") from None


def _is_casdb_error(exc: BaseException) -> bool:
    from casdb.core.errors import Error

    return isinstance(exc, Error)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def partitions(items: Sequence[Any], *, count: int, weight: Callable[[Any], int] | None = None,
               size: int = 0) -> list[list[Any]]:
    """``items`` cut into runs of at most ``count`` items (and ``size`` in summed ``weight``,
    if given), in order: the partitions a loop hands to :meth:`Engine.map`.

    Example:
        >>> partitions(list(range(5)), count=2)
        [[0, 1], [2, 3], [4]]
    """
    out: list[list[Any]] = []
    run: list[Any] = []
    total = 0
    for item in items:
        run.append(item)
        total += weight(item) if weight is not None else 0
        if len(run) >= count or (size and total >= size):
            out.append(run)
            run, total = [], 0
    if run:
        out.append(run)
    return out
