"""casdb init [PATH]"""

from __future__ import annotations

import click


@click.command("init")
@click.argument("path", required=False)
@click.pass_context
def command(ctx: click.Context, path: str | None) -> None:
    """Create an empty repository at PATH (default: --repo)."""
    from casdb.api import Repository

    repo = Repository.init(path or ctx.find_root().obj)
    click.echo(f"initialised empty casdb repository in {repo.path}")
