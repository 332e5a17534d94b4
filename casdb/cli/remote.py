"""casdb remote add NAME URL | remote ls"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.group("remote")
def command() -> None:
    """Manage the remotes of the repository."""


@command.command("add")
@click.argument("name")
@click.argument("url")
@click.pass_context
def add(ctx: click.Context, name: str, url: str) -> None:
    """Remember URL (a folder or s3://bucket/prefix) as remote NAME."""
    open_repo(ctx).remote_add(name, url)
    click.echo(f"added remote {name}: {url}")


@command.command("ls")
@click.pass_context
def ls(ctx: click.Context) -> None:
    """List the remotes."""
    for name, url in sorted(open_repo(ctx).remotes().items()):
        click.echo(f"{name}\t{url}")
