"""Shell completion of datasets, ``NAME@VERSION`` references, branches and remotes.

Click completes commands and options itself (``_CASDB_COMPLETE=bash_source casdb``: see
docs/cli.md, "Shell completion"); these callbacks add the values only the repository knows.
They read the repository named by ``--repo`` / ``CASDB_REPO`` on the command line being
completed, only its refs (a listing of small files: fast), and never fail: no repository, a
remote URL (completion must not reach the network) or a damaged one just completes nothing.

:func:`attach` gives the arguments of every command their callback by name (``name``,
``dataset``: a dataset; ``ref``: ``NAME[@VERSION]``; ``old`` / ``new``: a version of ``name``;
``remote``: a configured remote), so command modules need not each declare them.

Example:
    >>> import click
    >>> @click.command()
    ... @click.argument("ref")
    ... def show(ref): ...
    >>> attach(show).params[0]._custom_shell_complete is complete_ref
    True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from casdb.api import Repository


def _repository(ctx: click.Context) -> Repository | None:
    """The local repository of the command line being completed, or None."""
    root = ctx.find_root()
    where = root.params.get("repo") or os.environ.get("CASDB_REPO") or "~/.casdb/repo"
    if "://" in str(where):
        return None  # a remote: completing must not reach the network
    path = os.path.expanduser(str(where))
    if not os.path.isfile(os.path.join(path, "config")):
        return None
    try:
        from casdb.api import Repository

        return Repository(path)
    except Exception:  # noqa: BLE001 - completion never fails, it completes nothing
        return None


def _datasets(ctx: click.Context) -> list[str]:
    repo = _repository(ctx)
    try:
        return repo.datasets() if repo is not None else []
    except Exception:  # noqa: BLE001
        return []


def _refs(ctx: click.Context, dataset: str) -> list[str]:
    """Versions (newest first) then branches of ``dataset``."""
    repo = _repository(ctx)
    if repo is None:
        return []
    try:
        versions = repo.versions(dataset)[::-1]
        return versions + [b for b in sorted(repo.branches(dataset)) if b not in versions]
    except Exception:  # noqa: BLE001
        return []


def _named(ctx: click.Context) -> str | None:
    """The dataset the command line names (its ``name`` argument). While an option's value is
    completed, click leaves the arguments unparsed in ``ctx.args``: the first one is it."""
    name = ctx.params.get("name")
    if name:
        return name
    words = [a for a in ctx.args if not a.startswith("-")]
    return words[0] if words else None


def complete_dataset(ctx: click.Context, param: click.Parameter, incomplete: str
                     ) -> list[CompletionItem]:
    """Dataset names starting with ``incomplete``."""
    return [CompletionItem(d) for d in _datasets(ctx) if d.startswith(incomplete)]


def complete_ref(ctx: click.Context, param: click.Parameter, incomplete: str
                 ) -> list[CompletionItem]:
    """``NAME`` (before an ``@``) or ``NAME@VERSION`` / ``NAME@BRANCH`` (after one)."""
    if "@" not in incomplete:
        return complete_dataset(ctx, param, incomplete)
    name, _, start = incomplete.partition("@")
    return [CompletionItem(f"{name}@{r}") for r in _refs(ctx, name) if r.startswith(start)]


def complete_version(ctx: click.Context, param: click.Parameter, incomplete: str
                     ) -> list[CompletionItem]:
    """A version or branch of the dataset given as the command's ``name`` argument."""
    name = _named(ctx)
    if not name:
        return []
    return [CompletionItem(r) for r in _refs(ctx, name) if r.startswith(incomplete)]


def complete_branch(ctx: click.Context, param: click.Parameter, incomplete: str
                    ) -> list[CompletionItem]:
    """A branch of the dataset given as the command's ``name`` argument."""
    repo, name = _repository(ctx), _named(ctx)
    if repo is None or not name:
        return []
    try:
        branches = sorted(repo.branches(name))
    except Exception:  # noqa: BLE001
        return []
    return [CompletionItem(b) for b in branches if b.startswith(incomplete)]


def complete_remote(ctx: click.Context, param: click.Parameter, incomplete: str
                    ) -> list[CompletionItem]:
    """Names of the repository's remotes."""
    repo = _repository(ctx)
    try:
        names = sorted(repo.remotes()) if repo is not None else []
    except Exception:  # noqa: BLE001
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


BY_NAME = {
    "name": complete_dataset,
    "dataset": complete_dataset,
    "ref": complete_ref,
    "old": complete_version,
    "new": complete_version,
    "remote": complete_remote,
}
"""Argument name -> its completion, for arguments that declare none themselves."""


def attach(command: click.Command) -> click.Command:
    """Give ``command``'s arguments (and its subcommands') completions by name; return it."""
    if command.name == "remote":
        return command  # ``remote add NAME URL`` names something new: nothing to complete
    for param in command.params:
        if isinstance(param, click.Argument) and param._custom_shell_complete is None:
            param._custom_shell_complete = BY_NAME.get(param.name or "")
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach(sub)
    return command
