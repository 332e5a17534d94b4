"""Helpers the command modules share: opening the repository, parsing ``NAME@VERSION``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from casdb.api import Repository


def open_repo(ctx: click.Context) -> Repository:
    """The repository named by ``--repo`` / ``CASDB_REPO``."""
    from casdb.api import Repository

    return Repository(ctx.find_root().obj)


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
    return (f"{verb} {plural(result.objects, 'object')} and {plural(result.blobs, 'blob')} "
            f"({human_size(result.bytes)}, {plural(result.requests, 'request')}); {refs}")
