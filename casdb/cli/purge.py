"""casdb purge NAME PATH... --reason TEXT [--dry-run]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("purge")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--reason", required=True, help="Why the bytes must go (kept in the tombstone).")
@click.option("--dry-run", is_flag=True, help="Only list every version and path holding them.")
@click.option("--cache", "cache_root", envvar="CASDB_CACHE", metavar="PATH",
              help="The checkout cache to purge too (or set CASDB_CACHE).")
@click.pass_context
def command(ctx: click.Context, name: str, paths: tuple[str, ...], reason: str, dry_run: bool,
            cache_root: str | None) -> None:
    """Delete the bytes of media PATHs of dataset NAME from every version, every dataset
    holding the same bytes, the remotes and the cache; versions stay loadable without them."""
    from casdb.units import plural

    report = open_repo(ctx).purge(name, list(paths), reason, dry_run=dry_run,
                                  cache_root=cache_root)
    click.echo(f"{plural(len(report.blobs), 'blob')} held by:")
    for dataset, version, path in report.holders:
        click.echo(f"  {dataset} {version} {path}")
    if dry_run:
        click.echo("dry run: nothing deleted")
        return
    click.echo(f"purged: {report.deleted_blobs} blobs deleted from the repository, "
               f"{len(report.cache_folders)} cache folders and {report.derived} converted or "
               "cached copies removed")
    for remote, outcome in sorted(report.remotes.items()):
        click.echo(f"  remote {remote}: {outcome}")
