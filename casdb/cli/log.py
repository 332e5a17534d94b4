"""casdb log NAME [--branch B]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("log")
@click.argument("name")
@click.option("--branch", "-b", default="main", show_default=True)
@click.option("--limit", "-n", type=int, help="Show at most this many commits.")
@click.pass_context
def command(ctx: click.Context, name: str, branch: str, limit: int | None) -> None:
    """Show the history of dataset NAME, newest first."""
    from casdb.core.units import local_time
    repo = open_repo(ctx)
    for entry in repo.log(name, branch=branch, limit=limit):
        c = entry.commit
        tags = f" ({', '.join(entry.versions)})" if entry.versions else ""
        click.echo(f"{click.style(entry.short_id, fg='yellow')}{tags}  "
                   f"{local_time(c.time, c.tz_offset)}  {c.author}")
        line = f"    files: +{entry.added} added, ~{entry.changed} changed, -{entry.removed} removed"
        if entry.tables:
            line += f"; tables changed: {', '.join(entry.tables)}"
        if entry.header_changed and c.parents:
            line += "; header changed"
        click.echo(line)
        gone = repo.purged_paths(entry.id)
        if gone:
            click.secho(f"    purged: {len(gone)} file{'s' if len(gone) > 1 else ''} "
                        f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''})", fg="red")
        if c.message:
            for line in c.message.splitlines():
                click.echo(f"    {line}")
