"""casdb log NAME [--branch B]"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_for


@click.command("log")
@click.argument("name")
@click.option("--branch", "-b", default="main", show_default=True)
@click.option("--limit", "-n", type=int, help="Show at most this many commits.")
@json_option
@click.pass_context
def command(ctx: click.Context, name: str, branch: str, limit: int | None, as_json: bool) -> None:
    """Show the history of dataset NAME, newest first."""
    from casdb.core.units import local_time

    repo = open_for(ctx, name)
    entries = repo.log(name, branch=branch, limit=limit)
    if as_json:
        emit_json([{
            "commit": e.id, "versions": e.versions, "parents": list(e.commit.parents),
            "time": local_time(e.commit.time, e.commit.tz_offset), "unix_time": e.commit.time,
            "author": e.commit.author, "message": e.commit.message,
            "files": {"added": e.added, "changed": e.changed, "removed": e.removed},
            "tables_changed": e.tables, "header_changed": e.header_changed,
            "purged": repo.purged_paths(e.id)} for e in entries])
        return
    for entry in entries:
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
