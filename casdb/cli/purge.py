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
              help="A checkout cache to purge too (or set CASDB_CACHE); every cache that "
              "loaded from this repository is purged as well.")
@click.pass_context
def command(ctx: click.Context, name: str, paths: tuple[str, ...], reason: str, dry_run: bool,
            cache_root: str | None) -> None:
    """Delete the bytes of media PATHs of dataset NAME from every version, every dataset
    holding the same bytes, the remotes and the caches; versions stay loadable without them.
    Folders checked out with `casdb checkout NAME DEST` that hold them are listed, not deleted."""
    from casdb.core.units import plural

    report = open_repo(ctx).purge(name, list(paths), reason, dry_run=dry_run,
                                  cache_root=cache_root)
    click.echo(f"{plural(len(report.blobs), 'blob')} held by:")
    for dataset, version, path in report.holders:
        click.echo(f"  {dataset} {version} {path}")
    if dry_run:
        click.echo("dry run: nothing deleted")
    else:
        click.echo(f"purged: {report.deleted_blobs} blobs deleted from the repository, "
                   f"{len(report.cache_folders)} cache folders and {report.derived} converted or "
                   f"cached copies removed from {plural(len(report.cache_roots), 'cache root')}")
        for root in report.cache_roots:
            click.echo(f"  cache {root}")
        for remote, outcome in sorted(report.remotes.items()):
            click.echo(f"  remote {remote}: {outcome}")
    if report.checkouts:
        # Folders the user named (casdb checkout NAME DEST) are user data: listed, not deleted.
        click.echo(f"{plural(len(report.checkouts), 'checkout folder')} still "
                   f"hold{'s' if len(report.checkouts) == 1 else ''} purged files; delete "
                   f"{'it' if len(report.checkouts) == 1 else 'them'} yourself:")
        for folder in report.checkouts:
            click.echo(f"  {folder}")
    for problem in report.problems:
        click.echo(f"casdb: warning: {problem}", err=True)
