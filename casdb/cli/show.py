"""casdb show NAME[@VERSION]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo, split_ref


@click.command("show")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.pass_context
def command(ctx: click.Context, ref: str) -> None:
    """Show one version of a dataset: header fields, tables, media."""
    from casdb.ids import short
    from casdb.summary import summarize
    from casdb.units import human_size, local_time

    name, version = split_ref(ref)
    s = summarize(open_repo(ctx), name, version)
    label = ", ".join(s.versions) if s.versions else "unversioned"
    click.echo(f"{s.dataset} {label}  (commit {short(s.commit_id)}, "
               f"{local_time(s.commit.time, s.commit.tz_offset)}, {s.commit.author})")
    for key, value in s.fields.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        click.echo(f"  {key + ':':<14}{text.strip()}")
    click.echo(f"tables ({len(s.tables)}):")
    width = max((len(t.name) for t in s.tables), default=0)
    for t in s.tables:
        click.echo(f"  {t.name:<{width}}  {t.type:<9}  {t.rows:>9} rows  {', '.join(t.columns)}")
    click.echo(f"media: {s.media_files} files, {human_size(s.media_bytes)}")
