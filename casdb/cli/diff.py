"""casdb diff NAME V1 V2"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("diff")
@click.argument("name")
@click.argument("old")
@click.argument("new")
@click.option("--stat", is_flag=True, help="Only counts, not the paths.")
@click.pass_context
def command(ctx: click.Context, name: str, old: str, new: str, stat: bool) -> None:
    """Show what changed in dataset NAME from version OLD to version NEW."""
    from casdb.units import plural

    d = open_repo(ctx).diff(name, old, new)
    click.echo(f"files: {d.count('added')} added, {d.count('removed')} removed, "
               f"{d.count('changed')} changed")
    if not stat:
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for change in d.media:
            click.echo(f"  {marks[change.kind]} {change.path}")
    click.echo(f"tables: {plural(len(d.tables), 'table')} added, removed or changed")
    for t in d.tables.values():
        rows = {"added": f"{t.new_rows} rows", "removed": f"{t.old_rows} rows",
                "changed": f"{t.old_rows} -> {t.new_rows} rows"}[t.kind]
        click.echo(f"  {t.kind:<8} {t.name}  ({rows})")
    click.echo(f"header: {'changed' if d.header_changed else 'unchanged'}")
