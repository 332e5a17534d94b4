"""casdb fsck"""

from __future__ import annotations

import click

from casdb.cli.common import emit_json, json_option, open_repo


@click.command("fsck")
@click.option("--no-blobs", is_flag=True, help="Check that blobs exist without re-hashing them.")
@json_option
@click.pass_context
def command(ctx: click.Context, no_blobs: bool, as_json: bool) -> None:
    """Re-verify every object reachable from every ref; report unreachable ones."""
    from casdb.api import fsck
    from casdb.core.errors import IntegrityError
    from casdb.core.units import human_size, plural

    report = fsck(repo=open_repo(ctx), verify_blobs=not no_blobs)
    if as_json:
        emit_json({"ok": report.ok, "objects": report.objects, "blobs": report.blobs,
                   "blob_bytes": report.blob_bytes, "problems": report.problems,
                   "unreachable_objects": len(report.unreachable_objects),
                   "unreachable_blobs": len(report.unreachable_blobs),
                   "temporary_files": report.temporary_files, "purged": report.purged})
        if not report.ok:
            ctx.exit(7)
        return
    click.echo(f"checked {report.objects} objects and {report.blobs} blobs "
               f"({human_size(report.blob_bytes)})")
    if report.purged:
        click.echo(f"purged: {report.purged} blobs (expected absences; casdb purged)")
    click.echo(f"unreachable: {len(report.unreachable_objects)} objects, "
               f"{len(report.unreachable_blobs)} blobs, {report.temporary_files} temporary files "
               "(removed by gc)")
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    if not report.ok:
        raise IntegrityError(f"{plural(len(report.problems), 'problem')} found")
    click.echo("ok")
