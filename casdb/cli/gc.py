"""casdb gc [--dry-run] [--grace DURATION]"""

from __future__ import annotations

import click

from casdb.cli.common import open_repo


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--grace", default="1h", show_default=True, metavar="DURATION",
              help="Spare what changed this recently (a commit in progress).")
@click.option("--remote", metavar="NAME", help="Collect this remote instead of the repository.")
@click.pass_context
def command(ctx: click.Context, dry_run: bool, grace: str, remote: str | None) -> None:
    """Delete the objects and blobs that no ref reaches."""
    from casdb.api import gc
    from casdb.core.errors import IntegrityError
    from casdb.core.units import human_size

    if remote is not None:
        r = gc(repo=open_repo(ctx), grace=grace, dry_run=dry_run, remote=remote)
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{remote}: {verb} {r.blobs} blobs and {r.entries} packed entries "
                   f"({r.packs_rewritten} packs rewritten, {r.packs_deleted} deleted); kept "
                   f"{r.kept_young} unreachable entries younger than {grace}")
        return
    report = gc(repo=open_repo(ctx), grace=grace, dry_run=dry_run)
    if report.problems:
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
        raise IntegrityError("gc stopped before deleting anything: the repository has problems "
                             "(see casdb fsck)")
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {report.objects} objects, {report.blobs} blobs and {report.temporary} "
               f"temporary files ({human_size(report.bytes)}); kept {report.kept_objects} "
               f"reachable objects and {report.kept_blobs} blobs, and {report.kept_young} "
               f"unreachable files younger than {grace}")
