"""casdb ls"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_browsable


@click.command("ls")
@json_option
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List datasets and their versions (oldest first)."""
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
