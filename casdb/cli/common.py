"""Helpers the command modules share: opening the repository, parsing ``NAME@VERSION``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from casdb.api import BaseRepository, Repository


def open_repo(ctx: click.Context) -> Repository:
    """The repository named by ``--repo`` / ``CASDB_REPO``."""
    from casdb.api import Repository

    return Repository(ctx.find_root().obj)


def open_browsable(ctx: click.Context) -> BaseRepository:
    """The repository named by ``--repo`` / ``CASDB_REPO`` for commands that only read: a
    remote URL (or a folder remote) opens as a remote view that fetches refs and metadata,
    never media (``ls``, ``log``, ``show``, ``diff``, ``purged``)."""
    from casdb.api import open_repository

    return open_repository(ctx.find_root().obj)


def open_for(ctx: click.Context, dataset: str) -> BaseRepository:
    """The repository that serves ``dataset`` for a read: ``--repo`` / ``CASDB_REPO`` if given
    (a remote URL opens as a remote view), else the first repository of the config file's
    ``repositories`` that has it (casdb.api.search)."""
    if explicit_repo(ctx) is not None:
        return open_browsable(ctx)
    from casdb.api import find_repository

    return find_repository(dataset)


def explicit_repo(ctx: click.Context) -> str | None:
    """The repository given by ``--repo`` or ``CASDB_REPO``; None when neither is, so that
    ``ls`` (and ``info``) search the config file's ``repositories`` (casdb.api.search)."""
    from click.core import ParameterSource

    root = ctx.find_root()
    if root.get_parameter_source("repo") in (None, ParameterSource.DEFAULT):
        return None
    return root.obj


def split_ref(text: str) -> tuple[str, str | None]:
    """``emodb@1.0.0`` -> ``("emodb", "1.0.0")``; ``emodb`` -> ``("emodb", None)``."""
    name, _, version = text.partition("@")
    return name, version or None


def transfer_summary(verb: str, result) -> str:
    """One line for a push or pull result."""
    from casdb.core.units import human_size, plural

    refs = ", ".join(result.refs) if result.refs else "no refs changed"
    deleted = f"; deleted {', '.join(result.deleted)}" if result.deleted else ""
    return (f"{verb} {plural(result.objects, 'object')} and {plural(result.blobs, 'blob')} "
            f"({human_size(result.bytes)}, {plural(result.requests, 'request')}); {refs}"
            + deleted)


JSON_HELP = "Print JSON instead of text (schema: docs/cli.md, \"JSON output\")."
engine_option = click.option(
    "--engine", metavar="threads|dask://HOST:PORT", default=None,
    help="Where the heavy work runs: this machine (threads, the default) or a Dask scheduler "
         "(default: CASDB_ENGINE, else the config file's engine; docs/scale.md).")
json_option = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


def emit_json(value: object) -> None:
    """Print ``value`` as JSON on stdout: dataclasses as objects, paths as text, counters and
    mappings with text keys (``None`` becomes ``"none"``), sets sorted, times as given."""
    import dataclasses
    import json
    from collections.abc import Mapping
    from pathlib import PurePath

    def plain(v: object) -> object:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Mapping):
            return {("none" if k is None else str(k)): plain(x) for k, x in v.items()}
        if isinstance(v, set | frozenset):
            return sorted(plain(x) for x in v)
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, PurePath):
            return str(v)
        if hasattr(v, "item") and callable(v.item):  # numpy scalars
            return v.item()
        return v

    click.echo(json.dumps(plain(value), indent=2, ensure_ascii=False, default=str))
