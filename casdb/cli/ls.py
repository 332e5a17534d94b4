"""casdb ls"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, explicit_repo, json_option, open_browsable


@click.command("ls")
@json_option
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List datasets and their versions (oldest first).

    Without --repo or CASDB_REPO, every repository of the config file's ``repositories`` is
    searched; each dataset is listed once, from the first repository that has it.
    """
    if explicit_repo(ctx) is None:
        from casdb.api import search_datasets, search_list

        if len(search_list()) > 1:
            _ls_list(search_datasets(), as_json)
            return
    repo = open_browsable(ctx)
    names = repo.datasets()
    if as_json:
        emit_json([{"dataset": n, "versions": repo.versions(n), "branches": repo.branches(n)}
                   for n in names])
        return
    if not names:
        click.echo("no datasets")
    width = max((len(n) for n in names), default=0)
    for name in names:
        versions = repo.versions(name)
        click.echo(f"{name:<{width}}  {' '.join(versions) if versions else '(no versions)'}")


def _ls_list(found: list, as_json: bool) -> None:
    """The datasets of the repository list, each with the repository that serves it."""
    from casdb.api import open_repository

    opened: dict[str, object] = {}
    rows = []
    for f in found:
        repo = opened.setdefault(f.location, open_repository(f.location))
        rows.append({"dataset": f.dataset, "versions": repo.versions(f.dataset),
                     "branches": repo.branches(f.dataset), "repository": f.location})
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no datasets")
    width = max((len(r["dataset"]) for r in rows), default=0)
    for r in rows:
        versions = " ".join(r["versions"]) or "(no versions)"
        click.echo(f"{r['dataset']:<{width}}  {versions}  [{r['repository']}]")
