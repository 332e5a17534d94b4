"""casdb ls"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("ls")
@click.pass_context
def command(ctx: click.Context) -> None:
    """List datasets and their versions (oldest first)."""
    repo = open_repo(ctx)
    names = repo.datasets()
    if not names:
        click.echo("no datasets")
    width = max((len(n) for n in names), default=0)
    for name in names:
        versions = repo.versions(name)
        click.echo(f"{name:<{width}}  {' '.join(versions) if versions else '(no versions)'}")
